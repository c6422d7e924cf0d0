//! The one door into the queue: what becomes of a message once someone hands it to
//! Postie, whoever that is: a server or a user over SMTP (`server::smtp_driver`), or a
//! local process (`postie sendmail`, `postie send` without `--server`, bulk runs into
//! the local queue: `send::local`).
//!
//! Where it sits: between the callers' own checks (SMTP's replies, spooling, limits
//! and RCPT lookups; the local queue's recipient check and size limit) and the store.
//! [`Door::prepare`] runs the pipeline (the `pipeline` crate: forged
//! `Authentication-Results` stripped, SPF/DKIM/DMARC checks for inbound mail, trace
//! and missing `Date`/`Message-ID` fields, DKIM signing of our users' mail) and says
//! whether DMARC refuses the message; [`Door::file`] files it at once for its local
//! recipients (with their IMAP summaries) and queues it for the rest in one atomic
//! store call ([`store::Store::enqueue_and_file`], or `_junk` for a DMARC quarantine),
//! then queues the success reports (RFC 3461 NOTIFY=SUCCESS) for what it filed. The
//! two steps are separate so that a caller can run the CPU-heavy first one where it
//! stalls nothing (the SMTP driver does, for a large message); [`Door::accept`] runs
//! both.
//!
//! So mail to a local user is in the mailbox when the submitter hears "queued", over
//! SMTP or locally, and whether a server is running or not; only remote recipients
//! (and filings a full mailbox could not take) wait for the queue runner.
//!
//! Where a message came from ([`Source`]) decides its stages: mail from another
//! server is checked and never signed; our users' mail, over SMTP or local, is signed
//! and never checked. A local submission has no client host, so its trace field names
//! the submitting Unix user instead (`Received: by HOST (Postie, from userid UID)`, as
//! Postfix's pickup does), composed here from the pipeline's stages as its module doc
//! describes.
//!
//! Recipients filed here are counted as delivered (`queue::metrics`), as the queue
//! runner counts those it delivers.
//!
//! Security: writes only through the `Store` trait; the summaries are computed on a
//! blocking thread, and a parser panic on hostile input costs the summary (IMAP
//! computes a missing one on first use), never the message.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::SystemTime;

use message::{Envelope, QueueId, headers};
use pipeline::{Disposition, MailAuth, Processed, Trust};
use queue::notify::{Event, Notifier};
use store::{AccountId, Filing, Store, StoreError};

use crate::route::{Resolver, Route};

/// Messages up to this size have their IMAP summaries made on the async worker when
/// they are filed (parsing 64 KiB takes well under a millisecond, less than a trip to
/// the blocking pool); larger ones on a blocking thread.
const INLINE_SUMMARY_BYTES: usize = 64 * 1024;

/// The SMTP client a message came from.
#[derive(Debug, Clone, Copy)]
pub struct Client<'a> {
    /// Its address.
    pub ip: IpAddr,
    /// Its EHLO/HELO name.
    pub helo: &'a str,
    /// The `with` protocol for `Received:` (`ESMTPSA`, …).
    pub protocol: &'a str,
}

/// Where a message came from; decides the stages it goes through.
#[derive(Debug, Clone, Copy)]
pub enum Source<'a> {
    /// Another server over SMTP, unauthenticated: SPF, DKIM and DMARC are checked (a
    /// DMARC reject refuses it, a quarantine files it into Junk); never signed.
    Inbound(Client<'a>),
    /// One of our users over SMTP (authenticated): never checked, DKIM-signed; a
    /// missing `Date:`/`Message-ID:` is added when it came in on a submission
    /// listener (587/465, RFC 6409 §8.2, §8.3).
    Submission {
        /// The client.
        client: Client<'a>,
        /// It came in on a submission listener.
        submission_listener: bool,
    },
    /// A local process run by Unix user `uid` (`postie sendmail`, `postie send`
    /// without `--server`): treated like submitted mail (signed, never checked, a
    /// missing `Date:`/`Message-ID:` added); its trace field names the uid.
    Local {
        /// The submitting process's user id.
        uid: u32,
    },
}

/// The door: the store, routing and mail authentication it works with.
pub struct Door<'a> {
    /// Where messages are queued and filed.
    pub store: &'a Arc<dyn Store>,
    /// Which recipients are local accounts.
    pub resolver: &'a Resolver,
    /// Checks and signing keys; `None`: no checks and no signing (a local queue
    /// without keys, tests).
    pub auth: Option<&'a MailAuth>,
    /// Our host name (trace fields, `Message-ID:`, forged results to strip).
    pub hostname: &'a str,
}

/// A message through the pipeline, ready to be filed and queued.
#[derive(Debug)]
pub struct Prepared {
    /// The queue id it will be stored under (its trace field names it).
    pub id: QueueId,
    /// The message as it will be stored.
    pub message: Vec<u8>,
    /// DMARC said quarantine: local recipients get it in their Junk mailbox.
    pub quarantine: bool,
    /// The checks' one-line summary for the log, when checks ran.
    pub checks: Option<String>,
}

/// A message refused by the DMARC policy of its author's domain (RFC 7489 §6.6.4):
/// SMTP answers 550 5.7.1 with `reason`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct Rejected {
    /// The text for the reply.
    pub reason: String,
    /// The checks' one-line summary, for the log.
    pub checks: Option<String>,
}

/// One local recipient filed at acceptance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Filed {
    /// The recipient's index in the envelope.
    pub recipient: usize,
    /// The account whose mailbox has it.
    pub account: AccountId,
}

/// What [`Door::file`] did.
#[derive(Debug, Clone)]
pub struct Queued {
    /// The queue id.
    pub id: QueueId,
    /// The recipients filed into their mailboxes; the others are pending in the queue.
    pub filed: Vec<Filed>,
    /// Every recipient was filed: the queue entry is finished (the runner only has to
    /// remove it).
    pub all_filed: bool,
    /// Filed into Junk (DMARC quarantine).
    pub quarantine: bool,
    /// The checks' one-line summary, when checks ran.
    pub checks: Option<String>,
    /// The stored message's size in octets.
    pub size: usize,
    /// A success report (NOTIFY=SUCCESS) for a filed recipient was queued.
    pub report_queued: bool,
}

/// Why a message was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum AcceptError {
    /// DMARC refused it.
    #[error(transparent)]
    Rejected(#[from] Rejected),
    /// The store failed; nothing was queued.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The summarizing task could not finish (the runtime is shutting down); nothing
    /// was queued.
    #[error("interrupted: {0}")]
    Interrupted(String),
}

impl Door<'_> {
    /// Both steps: [`Door::prepare`] at the current time, then [`Door::file`].
    pub async fn accept(
        &self,
        source: &Source<'_>,
        envelope: &Envelope,
        body: &[u8],
    ) -> Result<Queued, AcceptError> {
        let prepared = self
            .prepare(source, envelope, body, SystemTime::now())
            .await?;
        self.file(envelope, prepared).await
    }

    /// Gives the message a queue id and runs the pipeline on `body` (CRLF line ends),
    /// which `envelope` brought in from `source` at `now`. CPU work proportional to the
    /// message (DKIM hashing), with DNS look-ups for inbound checks.
    pub async fn prepare(
        &self,
        source: &Source<'_>,
        envelope: &Envelope,
        body: &[u8],
        now: SystemTime,
    ) -> Result<Prepared, Rejected> {
        let now = now
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let id = QueueId::generate(now.as_millis() as u64);
        let unix_seconds = now.as_secs() as i64;
        let processed = match *source {
            Source::Local { uid } => {
                let stripped = mailauth::strip::strip_ours(body, self.hostname);
                let added =
                    local_trace(self.hostname, &id.to_string(), uid, unix_seconds, &stripped);
                let mut message = Vec::with_capacity(added.len() + stripped.len());
                message.extend_from_slice(added.as_bytes());
                message.extend_from_slice(&stripped);
                // Signing comes last, over the finished header (RFC 6376 §5).
                let message = match self.auth {
                    Some(auth) => auth.signed(envelope.sender.as_ref(), message),
                    None => message,
                };
                Processed {
                    message,
                    disposition: Disposition::Deliver,
                    checks: None,
                }
            }
            Source::Inbound(client) | Source::Submission { client, .. } => {
                let (trust, submission) = match *source {
                    Source::Submission {
                        submission_listener,
                        ..
                    } => (Trust::Submitted, submission_listener),
                    _ => (Trust::Inbound { ip: client.ip }, false),
                };
                let id_text = id.to_string();
                let peer_ip = client.ip.to_string();
                let single =
                    (envelope.recipients.len() == 1).then(|| envelope.recipients[0].to_string());
                let arrival = pipeline::Arrival {
                    hostname: self.hostname,
                    helo: client.helo,
                    peer_ip: &peer_ip,
                    protocol: client.protocol,
                    submission,
                    queue_id: &id_text,
                    single_recipient: single.as_deref(),
                    unix_seconds,
                };
                match self.auth {
                    Some(auth) => pipeline::process(auth, &arrival, trust, envelope, body).await,
                    None => Processed {
                        message: pipeline::prepare(
                            &arrival,
                            &mailauth::strip::strip_ours(body, self.hostname),
                        ),
                        disposition: Disposition::Deliver,
                        checks: None,
                    },
                }
            }
        };
        let quarantine = match processed.disposition {
            Disposition::Deliver => false,
            Disposition::Quarantine => true,
            Disposition::Reject(reason) => {
                return Err(Rejected {
                    reason,
                    checks: processed.checks,
                });
            }
        };
        Ok(Prepared {
            id,
            message: processed.message,
            quarantine,
            checks: processed.checks,
        })
    }

    /// Files the prepared message for its local recipients (into Junk when
    /// quarantined) and queues it for the others, in one atomic store call; then queues
    /// the success reports for the recipients filed. Returns once it is durable.
    pub async fn file(
        &self,
        envelope: &Envelope,
        prepared: Prepared,
    ) -> Result<Queued, AcceptError> {
        self.file_with(envelope, prepared, summary).await
    }

    /// [`Door::file`] with the summary function given (tests make it panic).
    async fn file_with(
        &self,
        envelope: &Envelope,
        prepared: Prepared,
        summarize: fn(&[u8]) -> Vec<u8>,
    ) -> Result<Queued, AcceptError> {
        let Prepared {
            id,
            message,
            quarantine,
            checks,
        } = prepared;
        let filings = self.local_filings(envelope).await;
        let (message, mut filings) = if filings.is_empty() {
            (message, filings)
        } else if message.len() <= INLINE_SUMMARY_BYTES {
            // Microseconds of parsing: cheaper here than a blocking-pool round trip.
            let mut filings = filings;
            summarize_all(&mut filings, &message, summarize);
            (message, filings)
        } else {
            tokio::task::spawn_blocking(move || {
                let mut filings = filings;
                summarize_all(&mut filings, &message, summarize);
                (message, filings)
            })
            .await
            .map_err(|e| AcceptError::Interrupted(e.to_string()))?
        };
        let filed = if quarantine {
            self.store
                .enqueue_and_file_junk(id, envelope, &message, &filings)
                .await?
        } else {
            self.store
                .enqueue_and_file(id, envelope, &message, &filings)
                .await?
        };
        // A filing its account's quota could not take stays for the queue.
        filings.retain(|f| filed.contains(&f.recipient));
        for f in &filings {
            let recipient = &envelope.recipients[f.recipient];
            queue::metrics::delivery(queue::metrics::Outcome::Delivered, id, recipient, "");
        }
        let report_queued = self.report_filed(id, envelope, &filings).await;
        Ok(Queued {
            id,
            all_filed: filings.len() == envelope.recipients.len(),
            filed: filings
                .iter()
                .map(|f| Filed {
                    recipient: f.recipient,
                    account: f.account,
                })
                .collect(),
            quarantine,
            checks,
            size: message.len(),
            report_queued,
        })
    }

    /// The local recipients of `envelope`, with their accounts and trace lines. A
    /// recipient whose look-up fails is left to the queue.
    async fn local_filings(&self, envelope: &Envelope) -> Vec<Filing> {
        let mut filings = Vec::new();
        for (recipient, address) in envelope.recipients.iter().enumerate() {
            if let Ok(Route::Local(account)) = self.resolver.route(address).await {
                filings.push(Filing {
                    recipient,
                    account: account.id,
                    prefix: crate::local::trace_prefix(envelope, &account.address),
                    summary: None,
                });
            }
        }
        filings
    }

    /// Success reports (RFC 3461 NOTIFY=SUCCESS) for the recipients filed at
    /// acceptance: those never pass through the queue runner, which sends the others.
    /// A failure here is logged; the message itself is safe. True when one was queued.
    async fn report_filed(&self, id: QueueId, envelope: &Envelope, filings: &[Filing]) -> bool {
        let events: Vec<Event> = filings
            .iter()
            .filter(|f| envelope.dsn.recipient(f.recipient).notify.success)
            .map(|f| Event {
                recipient: f.recipient,
                action: dsn::Action::Delivered,
                reason: None,
            })
            .collect();
        if events.is_empty() || envelope.sender.is_none() {
            return false;
        }
        let notifier = Notifier::new(self.store.clone(), self.hostname);
        let report = async {
            let Some(message) = self.store.queue_get(id).await? else {
                return Ok(None);
            };
            notifier
                .send(&message, &events, queue::now_unix(), None)
                .await
        };
        match report.await {
            Ok(Some(_)) => true,
            Ok(None) => false,
            Err(e) => {
                tracing::error!(queue_id = %id, error = %e, "success report not queued");
                false
            }
        }
    }
}

/// The IMAP summary ([`imap::summary`]: ENVELOPE, BODYSTRUCTURE, SEARCH and SORT keys)
/// of a message as filed.
fn summary(full: &[u8]) -> Vec<u8> {
    imap::summary::Summary::compute(full).encode()
}

/// Parses the message once, as filed, and hands the summary to every filing. One
/// parse serves them all: the filings differ only in their trace prefix
/// (`Return-Path:`, `Delivered-To:`), fields a summary does not keep. A panic leaves
/// every filing without a summary.
fn summarize_all(filings: &mut [Filing], body: &[u8], summarize: fn(&[u8]) -> Vec<u8>) {
    let Some(first) = filings.first() else {
        return;
    };
    let full = [first.prefix.as_slice(), body].concat();
    let parsed = std::panic::catch_unwind(|| summarize(&full));
    match parsed {
        Ok(summary) => filings
            .iter_mut()
            .for_each(|f| f.summary = Some(summary.clone())),
        Err(_) => {
            tracing::warn!("summarizing a message failed; filed without its summary");
            filings.iter_mut().for_each(|f| f.summary = None);
        }
    }
}

/// The fields a local submission gets in front of its bytes: our trace field (RFC
/// 5321 §4.4; no "from" host, so it says who submitted instead, as Postfix's pickup
/// does), and a `Date:` and `Message-ID:` if it has none (RFC 6409 §8.2, §8.3).
fn local_trace(
    hostname: &str,
    queue_id: &str,
    uid: u32,
    unix_seconds: i64,
    message: &[u8],
) -> String {
    let date = headers::rfc5322_date(unix_seconds);
    let mut added = format!(
        "Received: by {hostname} (Postie, from userid {uid})\r\n\tid {queue_id}; {date}\r\n"
    );
    if !headers::has_header(message, "Date") {
        added.push_str(&format!("Date: {date}\r\n"));
    }
    if !headers::has_header(message, "Message-ID") {
        let id = headers::new_message_id(hostname, unix_seconds);
        added.push_str(&format!("Message-ID: {id}\r\n"));
    }
    added
}

#[cfg(test)]
mod tests;
