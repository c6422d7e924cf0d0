//! Local submission: putting a message straight into the Postie queue of a data
//! directory, for `postie send` without `--server` and for `postie sendmail` (cron,
//! PHP's `mail()`, scripts).
//!
//! Where it sits: beside the SMTP server's submission path, and giving a message what
//! that path gives it (see `server::smtp_driver` and the pipeline crate): forged
//! `Authentication-Results` fields naming our host removed (RFC 8601 §5), a `Received:`
//! trace field (RFC 5321 §4.4), `Date:` and `Message-ID:` when missing (RFC 6409 §8.2,
//! §8.3), DKIM signatures with the domain's keys (RFC 6376, through
//! [`pipeline::MailAuth::signed`]), the same recipient checks (an unknown user in a local domain is refused, as
//! RCPT would be with 550 5.1.1) and size limit (RFC 1870). The entry is written with
//! `Store::enqueue`, which returns only once it is on stable storage; the running
//! server's queue runner, which looks at the queue every second, then delivers it into
//! local mailboxes or relays it.
//!
//! Security: whoever can write the data directory can queue mail as anyone, exactly as
//! with Postfix's `postdrop`; this module adds no further check of the sender.

use std::sync::Arc;

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
    /// The store failed.
    #[error("cannot queue the message: {0}")]
    Store(#[from] store::StoreError),
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
    /// `recipients`; returns the queue id once the entry is durable.
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
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let id = QueueId::generate(now.as_millis() as u64);
        let message = mailauth::strip::strip_ours(message, &self.hostname);
        let mut body = prepare(
            &self.hostname,
            &id.to_string(),
            submitter,
            now.as_secs() as i64,
            &message,
        );
        if let Some(signer) = &self.signer {
            // Signing comes last, over the finished header (RFC 6376 §5).
            body = signer.signed(sender, body);
        }
        if self.max_size > 0 && body.len() as u64 > self.max_size {
            return Err(LocalError::TooBig {
                size: body.len(),
                limit: self.max_size,
            });
        }
        let envelope = Envelope {
            sender: sender.cloned(),
            smtputf8: sender.is_some_and(Address::is_utf8)
                || unique.iter().any(Address::is_utf8)
                || !headers::header_block(&message).is_ascii(),
            recipients: unique,
            body_type: if message.is_ascii() {
                BodyType::SevenBit
            } else {
                BodyType::EightBitMime
            },
            dsn: Dsn::default(),
        };
        self.store.enqueue(id, &envelope, &body).await?;
        tracing::info!(queue_id = %id, from = %envelope.sender_path(), recipients = envelope.recipients.len(), "queued locally");
        Ok(id)
    }
}

/// The message as queued: our trace field, a `Date:` and `Message-ID:` if it has none,
/// then the submitted bytes unchanged.
pub fn prepare(
    hostname: &str,
    queue_id: &str,
    submitter: &Submitter,
    unix_seconds: i64,
    message: &[u8],
) -> Vec<u8> {
    // RFC 5321 §4.4 trace field; a local submission has no "from" host, so it says who
    // submitted instead (as Postfix's pickup does).
    let mut added = format!(
        "Received: by {hostname} (Postie, from userid {})\r\n\tid {queue_id}; {}\r\n",
        submitter.uid,
        headers::rfc5322_date(unix_seconds)
    );
    if !headers::has_header(message, "Date") {
        added.push_str(&format!(
            "Date: {}\r\n",
            headers::rfc5322_date(unix_seconds)
        ));
    }
    if !headers::has_header(message, "Message-ID") {
        let id = headers::new_message_id(hostname, unix_seconds);
        added.push_str(&format!("Message-ID: {id}\r\n"));
    }
    let mut out = Vec::with_capacity(added.len() + message.len());
    out.extend_from_slice(added.as_bytes());
    out.extend_from_slice(message);
    out
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

    #[test]
    fn keeps_present_date_and_message_id() {
        let msg = b"Date: Mon, 1 Jan 2024 00:00:00 +0000\r\nMessage-ID: <a@b>\r\n\r\nx\r\n";
        let out = String::from_utf8(prepare("h", "1", &Submitter { uid: 5 }, 0, msg)).unwrap();
        assert_eq!(out.matches("Date:").count(), 1);
        assert_eq!(out.matches("Message-ID:").count(), 1);
        assert!(out.contains("from userid 5"));
    }
}
