//! Local submission: putting a message straight into the Postie queue of a data
//! directory, for `postie send` without `--server` and for `postie sendmail` (cron,
//! PHP's `mail()`, scripts).
//!
//! Where it sits: beside the SMTP server, and going through the same door into the
//! queue ([`delivery::accept`]): this module does what RCPT and the size limit do over
//! SMTP (an unknown user in a local domain is refused, as RCPT would be with 550 5.1.1;
//! the `smtp.max_message_size` limit, RFC 1870), then hands the message over as a
//! local submission ([`delivery::accept::Source::Local`]): forged
//! `Authentication-Results` fields naming our host removed (RFC 8601 §5), a
//! `Received:` trace field naming the submitting uid (RFC 5321 §4.4), `Date:` and
//! `Message-ID:` when missing (RFC 6409 §8.2, §8.3), DKIM signatures with the domain's
//! keys (RFC 6376), never SPF/DMARC checks. Local recipients are filed into their
//! mailboxes at once, in the same atomic store call that queues the message for the
//! others, so they have it when `submit` returns, whether a server runs or not; remote
//! recipients wait for the server's queue runner, which looks at the queue every
//! second.
//!
//! Security: whoever can write the data directory can queue mail as anyone, exactly as
//! with Postfix's `postdrop`; this module adds no further check of the sender.

use std::sync::Arc;

use delivery::accept::{AcceptError, Door, Source};
use delivery::route::{Resolver, Route};
use message::{Address, BodyType, Dsn, Envelope, QueueId, headers};
use store::Store;

/// Why a message was not queued.
#[derive(Debug, thiserror::Error)]
pub enum LocalError {
    /// No recipient was given.
    #[error("no recipients")]
    NoRecipients,
    /// Recipients in a local domain that have no account or alias.
    #[error("unknown local recipient(s): {}", .0.join(", "))]
    UnknownRecipients(Vec<String>),
    /// Over `smtp.max_message_size`.
    #[error("the message is {size} octets, over the limit of {limit}")]
    TooBig {
        /// The message's size.
        size: usize,
        /// The configured limit.
        limit: u64,
    },
    /// The store failed (or the work was interrupted): nothing was queued.
    #[error("cannot queue the message: {0}")]
    Store(#[from] store::StoreError),
}

impl From<AcceptError> for LocalError {
    fn from(e: AcceptError) -> Self {
        match e {
            AcceptError::Store(e) => LocalError::Store(e),
            // A local submission is never checked, so DMARC cannot refuse it; an
            // interruption left nothing queued, like a store failure (try again).
            other => LocalError::Store(store::StoreError::Io(other.to_string())),
        }
    }
}

/// A queue to submit into.
pub struct LocalQueue {
    store: Arc<dyn Store>,
    resolver: Resolver,
    hostname: String,
    max_size: u64,
    signer: Option<pipeline::MailAuth>,
}

/// Who submitted, for the trace field.
#[derive(Debug, Clone)]
pub struct Submitter {
    /// The Unix user id of the submitting process.
    pub uid: u32,
}

impl LocalQueue {
    /// A queue in `store`, for the server named `hostname`, with its postmaster and
    /// message size limit (`0`: none).
    pub fn new(
        store: Arc<dyn Store>,
        hostname: &str,
        postmaster: Option<Address>,
        max_size: u64,
    ) -> Self {
        LocalQueue {
            resolver: Resolver::new(store.clone(), hostname, postmaster),
            store,
            hostname: hostname.to_string(),
            max_size,
            signer: None,
        }
    }

    /// Signs what it queues with the DKIM keys `signer` has (the data directory's,
    /// [`pipeline::MailAuth::signing_only`]), as the server signs submitted mail.
    pub fn with_signer(self, signer: pipeline::MailAuth) -> Self {
        LocalQueue {
            signer: Some(signer),
            ..self
        }
    }

    /// Queues `message` (CRLF line ends) from `sender` (`None`: the null sender) to
    /// `recipients`, filing it at once for the local ones; returns the queue id once
    /// the entry is durable.
    pub async fn submit(
        &self,
        sender: Option<&Address>,
        recipients: &[Address],
        message: &[u8],
        submitter: &Submitter,
    ) -> Result<QueueId, LocalError> {
        let mut unique: Vec<Address> = Vec::new();
        for r in recipients {
            if !unique.iter().any(|u| u.normalized() == r.normalized()) {
                unique.push(r.clone());
            }
        }
        if unique.is_empty() {
            return Err(LocalError::NoRecipients);
        }
        let mut unknown = Vec::new();
        for r in &unique {
            if self.resolver.route(r).await? == Route::Unknown {
                unknown.push(r.to_string());
            }
        }
        if !unknown.is_empty() {
            return Err(LocalError::UnknownRecipients(unknown));
        }
        let envelope = Envelope {
            sender: sender.cloned(),
            smtputf8: sender.is_some_and(Address::is_utf8)
                || unique.iter().any(Address::is_utf8)
                || !headers::header_block(message).is_ascii(),
            recipients: unique,
            require_tls: false,
            body_type: if message.is_ascii() {
                BodyType::SevenBit
            } else {
                BodyType::EightBitMime
            },
            dsn: Dsn::default(),
        };
        let door = Door {
            store: &self.store,
            resolver: &self.resolver,
            auth: self.signer.as_ref(),
            hostname: &self.hostname,
        };
        let source = Source::Local { uid: submitter.uid };
        let prepared = door
            .prepare(&source, &envelope, message, std::time::SystemTime::now())
            .await
            .map_err(AcceptError::from)?;
        if self.max_size > 0 && prepared.message.len() as u64 > self.max_size {
            return Err(LocalError::TooBig {
                size: prepared.message.len(),
                limit: self.max_size,
            });
        }
        let queued = door.file(&envelope, prepared).await?;
        tracing::info!(
            queue_id = %queued.id,
            from = %envelope.sender_path(),
            recipients = envelope.recipients.len(),
            filed = queued.filed.len(),
            "queued locally"
        );
        Ok(queued.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use store::memory::MemoryStore;

    fn address(text: &str) -> Address {
        Address::parse(text).unwrap()
    }

    async fn queue() -> (Arc<MemoryStore>, LocalQueue) {
        let store = Arc::new(MemoryStore::new());
        store
            .domain_add(&message::Domain::parse("example.org").unwrap())
            .await
            .unwrap();
        store
            .account_add(&address("alice@example.org"), "x")
            .await
            .unwrap();
        let q = LocalQueue::new(store.clone(), "mx.example.org", None, 1000);
        (store, q)
    }

    #[tokio::test]
    async fn queues_with_trace_date_and_message_id() {
        let (store, q) = queue().await;
        let id = q
            .submit(
                Some(&address("root@mx.example.org")),
                &[
                    address("alice@example.org"),
                    address("ALICE@example.org"),
                    address("x@example.net"),
                ],
                b"Subject: hi\r\n\r\nbody\r\n",
                &Submitter { uid: 0 },
            )
            .await
            .unwrap();
        let entry = store.queue_get(id).await.unwrap().unwrap();
        let rcpts: Vec<String> = entry
            .envelope
            .recipients
            .iter()
            .map(|a| a.to_string())
            .collect();
        assert_eq!(rcpts, ["alice@example.org", "x@example.net"]);
        assert_eq!(entry.envelope.sender_path(), "<root@mx.example.org>");
        let body = String::from_utf8(store.queue_body(id).await.unwrap()).unwrap();
        assert!(
            body.starts_with(&format!(
                "Received: by mx.example.org (Postie, from userid 0)\r\n\tid {id}; "
            )),
            "{body}"
        );
        assert!(body.contains("\r\nDate: "), "{body}");
        assert!(body.contains("\r\nMessage-ID: <"), "{body}");
        assert!(body.ends_with("Subject: hi\r\n\r\nbody\r\n"), "{body}");
        // The local recipient has it already; the remote one waits for the runner.
        assert_eq!(
            entry.recipients[0].status,
            store::RecipientStatus::Delivered
        );
        assert!(matches!(
            entry.recipients[1].status,
            store::RecipientStatus::Pending { .. }
        ));
        let alice = store
            .resolve_recipient(&address("alice@example.org"))
            .await
            .unwrap()
            .unwrap();
        let inbox = store.mailbox_get(alice.id, "INBOX").await.unwrap().unwrap();
        let [filed] = &store.message_list(inbox.id).await.unwrap()[..] else {
            panic!("one message expected in INBOX");
        };
        assert_eq!(filed.queue_id, id);
    }

    #[tokio::test]
    async fn all_local_mail_is_filed_and_leaves_a_finished_entry() {
        let (store, q) = queue().await;
        let id = q
            .submit(
                None,
                &[address("alice@example.org")],
                b"Subject: hi\r\n\r\nbody\r\n",
                &Submitter { uid: 0 },
            )
            .await
            .unwrap();
        // Nothing left for the queue runner but removing it.
        let entry = store.queue_get(id).await.unwrap().unwrap();
        assert_eq!(
            entry.recipients[0].status,
            store::RecipientStatus::Delivered
        );
        assert_eq!(store.queue_collect().await.unwrap(), 1);
    }

    #[tokio::test]
    async fn refuses_unknown_local_users_and_big_messages() {
        let (store, q) = queue().await;
        let err = q
            .submit(
                None,
                &[address("nobody@example.org")],
                b"x\r\n",
                &Submitter { uid: 1 },
            )
            .await
            .unwrap_err();
        assert!(err.to_string().contains("nobody@example.org"), "{err}");
        let big = vec![b'a'; 2000];
        let err = q
            .submit(
                None,
                &[address("alice@example.org")],
                &big,
                &Submitter { uid: 1 },
            )
            .await
            .unwrap_err();
        assert!(matches!(err, LocalError::TooBig { .. }), "{err}");
        assert!(matches!(
            q.submit(None, &[], b"x", &Submitter { uid: 1 }).await,
            Err(LocalError::NoRecipients)
        ));
        assert!(store.queue_list().await.unwrap().is_empty());
    }
}
