//! Capture mode (`postie capture`, `[capture] enabled`, issue 17): the developers' mail
//! catcher. Every message the `smtp` listener accepts is filed **once** (not per
//! recipient) into the INBOX of the inbox its SMTP AUTH user name names (`default`
//! without AUTH), an ordinary account `NAME@capture.invalid` ([`message::capture`])
//! made on first use with a random password; it is never queued. IMAP and POP3 logins
//! take any password and open the inbox the user name names.
//!
//! Where it sits: made once by [`crate::run_with_store`] when capture mode is on and
//! kept in the listeners' shared state; the SMTP driver hands finished messages to
//! [`Capture::file`] instead of the queue's door, and [`crate::login`] asks
//! [`Capture::login`] instead of checking a password. After each filing (and each
//! pruning) the events counter goes up: the web face's capture API (`wait`, the UI's
//! live updates) listens to its receiver ([`web::capture::CaptureHooks`]).
//!
//! The cap (`capture.max_messages`): an index of every captured INBOX message, ordered
//! by arrival (the queue id, milliseconds first), is read from the store once at start
//! and kept up to date in memory, so each filing costs one insert and, past the cap,
//! one removal per message dropped, never a listing. Messages deleted by other means
//! (IMAP, POP3, the web API) stay in the index until it is read again: that happens
//! when the cap is reached and the last reading is older than [`RESYNC_AFTER`], so the
//! count is never below the truth and the cap always holds.
//!
//! Security stance: anyone who can reach the listeners reads and writes every inbox;
//! capture mode is for a developer's machine and CI (it listens on 127.0.0.1 by
//! default). Writes only through the `Store` trait.

use message::capture::{capture_domain, inbox_address, inbox_name};
use message::{Envelope, QueueId};
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use store::{Account, MailboxId, Store, StoreError};
use tokio::sync::watch;

/// The index is read again from the store, when the cap is reached, at most this often.
pub(crate) const RESYNC_AFTER: Duration = Duration::from_secs(30);

/// One captured message in the index: its arrival (the milliseconds of its queue id,
/// [`arrival`]), mailbox and UID, so it sorts by arrival, then by UID within a mailbox.
type Entry = (u64, i64, u32);

/// The arrival time, in milliseconds, a queue id carries (its random bits dropped).
fn arrival(id: QueueId) -> u64 {
    id.as_u64() >> 24
}

/// An inbox: its account and the account's INBOX.
#[derive(Debug, Clone)]
struct Inbox {
    account: Account,
    mailbox: MailboxId,
}

/// The in-memory index of captured messages.
#[derive(Debug, Default)]
struct Index {
    entries: BTreeSet<Entry>,
    read_at: Option<Instant>,
}

/// Capture mode's state, shared by every connection.
pub(crate) struct Capture {
    store: Arc<dyn Store>,
    max_messages: u64,
    events: watch::Sender<u64>,
    inboxes: tokio::sync::Mutex<HashMap<String, Inbox>>,
    index: Mutex<Index>,
}

impl std::fmt::Debug for Capture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Capture")
            .field("max_messages", &self.max_messages)
            .finish_non_exhaustive()
    }
}

impl Capture {
    /// Capture mode over `store`, keeping at most `max_messages`, telling `events` of
    /// every change; reads the index of what earlier runs captured and prunes it to the
    /// cap.
    pub(crate) async fn start(
        store: Arc<dyn Store>,
        max_messages: u64,
        events: watch::Sender<u64>,
    ) -> Result<Arc<Capture>, StoreError> {
        let capture = Arc::new(Capture {
            store,
            max_messages: max_messages.max(1),
            events,
            inboxes: Default::default(),
            index: Default::default(),
        });
        capture.read_index().await?;
        capture.prune(false).await?;
        Ok(capture)
    }

    /// How many messages the index counts.
    #[cfg(test)]
    pub(crate) fn count(&self) -> usize {
        self.index.lock().expect("index lock").entries.len()
    }

    /// Reads the index from the store: every capture account's INBOX.
    async fn read_index(&self) -> Result<(), StoreError> {
        let mut entries = BTreeSet::new();
        for account in self.store.account_list().await? {
            if message::capture::inbox_of(&account.address).is_none() {
                continue;
            }
            let Some(inbox) = self.store.mailbox_get(account.id, "INBOX").await? else {
                continue;
            };
            for m in self.store.message_list(inbox.id).await? {
                entries.insert((arrival(m.queue_id), inbox.id.0, m.uid));
            }
        }
        let mut index = self.index.lock().expect("index lock");
        index.entries = entries;
        index.read_at = Some(Instant::now());
        Ok(())
    }

    /// The inbox `name` names (made by [`inbox_name`]), made on first use: the domain
    /// `capture.invalid`, the account with a random password, its INBOX.
    async fn inbox(&self, name: &str) -> Result<Inbox, StoreError> {
        let mut inboxes = self.inboxes.lock().await;
        if let Some(inbox) = inboxes.get(name) {
            return Ok(inbox.clone());
        }
        let address = inbox_address(name);
        let account = match self.store.account_get(&address).await? {
            Some(account) => account,
            None => {
                let domain = capture_domain();
                if !self.store.domain_is_local(&domain).await? {
                    match self.store.domain_add(&domain).await {
                        Ok(()) | Err(StoreError::Exists(_)) => {}
                        Err(e) => return Err(e),
                    }
                }
                let secret: [u8; 24] = rand::random();
                let secret: String = secret.iter().map(|b| format!("{b:02x}")).collect();
                let hash = tokio::task::spawn_blocking(move || store::password::hash(&secret))
                    .await
                    .map_err(|e| StoreError::Io(e.to_string()))??;
                match self.store.account_add(&address, &hash).await {
                    Ok(_) | Err(StoreError::Exists(_)) => {}
                    Err(e) => return Err(e),
                }
                tracing::info!(inbox = name, "capture inbox created");
                self.store
                    .account_get(&address)
                    .await?
                    .ok_or_else(|| StoreError::NotFound(address.to_string()))?
            }
        };
        let mailbox = match self.store.mailbox_get(account.id, "INBOX").await? {
            Some(mailbox) => mailbox.id,
            None => {
                self.store
                    .mailbox_create(account.id, "INBOX", None)
                    .await?
                    .id
            }
        };
        let inbox = Inbox { account, mailbox };
        inboxes.insert(name.to_owned(), inbox.clone());
        Ok(inbox)
    }

    /// A login of any protocol with any password: the account of the inbox `username`
    /// names.
    pub(crate) async fn login(&self, username: &str) -> Result<Account, StoreError> {
        Ok(self.inbox(&inbox_name(Some(username))).await?.account)
    }

    /// Files `message` (through the pipeline already: it has its trace field), which
    /// `envelope` brought in as user `login` (if any), into its inbox; durable when
    /// this returns. Then prunes past the cap and tells the events counter. Returns the
    /// inbox's account and the new message's UID.
    pub(crate) async fn file(
        &self,
        login: Option<&str>,
        envelope: &Envelope,
        id: QueueId,
        message: Vec<u8>,
    ) -> Result<(Account, u32), StoreError> {
        let name = inbox_name(login);
        let inbox = self.inbox(&name).await?;
        let mut full = prefix(envelope, &inbox.account.address).into_bytes();
        full.extend_from_slice(&message);
        drop(message);
        let (full, summary) = tokio::task::spawn_blocking(move || {
            let summary =
                std::panic::catch_unwind(|| imap::summary::Summary::compute(&full).encode()).ok();
            (full, summary)
        })
        .await
        .map_err(|e| StoreError::Io(e.to_string()))?;
        let received_at = queue::now_unix();
        let uid = self
            .store
            .message_append_with(inbox.mailbox, &full, &[], received_at, summary.as_deref())
            .await?;
        // The stored row's own queue id (an arrival id the store made) orders it
        // among the others at the next reading; `id` is as close (and as ordered).
        self.index
            .lock()
            .expect("index lock")
            .entries
            .insert((arrival(id), inbox.mailbox.0, uid));
        self.changed();
        if let Err(e) = self.prune(true).await {
            tracing::error!(error = %e, "capture: could not drop the oldest messages");
        }
        Ok((inbox.account, uid))
    }

    /// Deletes the oldest messages until at most `max_messages` remain (reading the
    /// index again first when `may_read` and the last reading is old); tells the events
    /// counter when it deleted anything.
    async fn prune(&self, may_read: bool) -> Result<(), StoreError> {
        let stale = {
            let index = self.index.lock().expect("index lock");
            if index.entries.len() as u64 <= self.max_messages {
                return Ok(());
            }
            index.read_at.is_none_or(|at| at.elapsed() >= RESYNC_AFTER)
        };
        if may_read && stale {
            self.read_index().await?;
        }
        let oldest: Vec<Entry> = {
            let mut index = self.index.lock().expect("index lock");
            let mut oldest = Vec::new();
            while index.entries.len() as u64 > self.max_messages {
                match index.entries.pop_first() {
                    Some(entry) => oldest.push(entry),
                    None => break,
                }
            }
            oldest
        };
        if oldest.is_empty() {
            return Ok(());
        }
        let mut by_mailbox: HashMap<i64, Vec<u32>> = HashMap::new();
        for (_, mailbox, uid) in &oldest {
            by_mailbox.entry(*mailbox).or_default().push(*uid);
        }
        for (mailbox, uids) in by_mailbox {
            if let Err(e) = self.store.message_remove(MailboxId(mailbox), &uids).await {
                // Back into the index, so the next filing tries again.
                let mut index = self.index.lock().expect("index lock");
                for entry in oldest.iter().filter(|(_, m, _)| *m == mailbox) {
                    index.entries.insert(*entry);
                }
                return Err(e);
            }
        }
        tracing::info!(
            dropped = oldest.len(),
            max_messages = self.max_messages,
            "capture: oldest messages dropped"
        );
        self.changed();
        Ok(())
    }

    /// The web face deleted captured mail: its lists must refresh, and the index is
    /// read again before the next pruning (so the cap counts what is really kept).
    pub(crate) fn deleted_elsewhere(&self) {
        self.index.lock().unwrap_or_else(|e| e.into_inner()).read_at = None;
        self.changed();
    }

    /// Tells the web face something changed.
    fn changed(&self) {
        self.events.send_modify(|n| *n = n.wrapping_add(1));
    }
}

/// The lines `postie capture` prints once it listens: where everything is, with the
/// addresses as bound (`bound`: listener name and address).
pub(crate) fn banner(
    config: &config::Config,
    bound: &[(&'static str, std::net::SocketAddr)],
) -> String {
    let at = |kind: &str| bound.iter().find(|(k, _)| *k == kind).map(|(_, a)| *a);
    let mut lines = vec![format!(
        "postie capture: catching all mail, relaying none (data in {})",
        config.data_dir.display()
    )];
    let rows = [
        ("http", "web UI and API", "http://", "/"),
        ("https", "web over TLS", "https://", "/"),
        (
            "smtp",
            "SMTP",
            "",
            "  any AUTH user name names an inbox; none: default",
        ),
        ("submissions", "SMTP over TLS", "", ""),
        ("imap", "IMAP", "", "  user name = inbox, any password"),
        ("imaps", "IMAP over TLS", "", ""),
        ("pop3", "POP3", "", "  user name = inbox, any password"),
        ("pop3s", "POP3 over TLS", "", ""),
    ];
    for (kind, what, scheme, note) in rows {
        if let Some(addr) = at(kind) {
            lines.push(format!("  {what:<15} {scheme}{addr}{note}"));
        }
    }
    lines.push(format!(
        "  keeps the newest {} messages; Ctrl-C stops\n",
        config.capture.max_messages
    ));
    lines.join("\n")
}

/// The fields in front of a captured message: `Return-Path:` and `Delivered-To:` as a
/// local delivery writes them, and `X-Postie-Envelope-To:` listing the envelope's
/// recipients (what the capture API shows as Bcc, and where a release would go).
fn prefix(envelope: &Envelope, inbox: &message::Address) -> String {
    let recipients: Vec<String> = envelope
        .recipients
        .iter()
        .map(|r| {
            if envelope.smtputf8 {
                r.to_string()
            } else {
                r.to_ascii_domain()
            }
        })
        .collect();
    let mut fields = format!(
        "Return-Path: {}\r\nDelivered-To: {}\r\n",
        envelope.sender_path(),
        inbox.to_ascii_domain()
    );
    if !recipients.is_empty() {
        fields.push_str(&format!(
            "X-Postie-Envelope-To: {}\r\n",
            recipients.join(",\r\n ")
        ));
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::*;
    use store::memory::MemoryStore;

    fn envelope(to: &[&str]) -> Envelope {
        Envelope {
            sender: Some(message::Address::parse("app@example.com").unwrap()),
            recipients: to
                .iter()
                .map(|r| message::Address::parse(r).unwrap())
                .collect(),
            body_type: Default::default(),
            smtputf8: false,
            require_tls: false,
            dsn: Default::default(),
        }
    }

    async fn inbox_messages(store: &Arc<dyn Store>, name: &str) -> Vec<Vec<u8>> {
        let account = store
            .account_get(&inbox_address(name))
            .await
            .unwrap()
            .unwrap();
        let inbox = store
            .mailbox_get(account.id, "INBOX")
            .await
            .unwrap()
            .unwrap();
        let mut out = Vec::new();
        for m in store.message_list(inbox.id).await.unwrap() {
            out.push(store.message_read(inbox.id, m.uid).await.unwrap());
        }
        out
    }

    fn body(n: u32) -> Vec<u8> {
        format!("Subject: m{n}\r\n\r\nbody {n}\r\n").into_bytes()
    }

    #[tokio::test]
    async fn files_once_into_the_named_inbox_and_keeps_the_newest() {
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        let (tx, rx) = watch::channel(0u64);
        let capture = Capture::start(store.clone(), 3, tx).await.unwrap();
        let to = envelope(&["a@example.org", "b@example.net"]);
        for n in 0..5u32 {
            let inbox = if n == 0 { Some("Project A") } else { None };
            let id = QueueId::generate(1_000 + u64::from(n));
            capture.file(inbox, &to, id, body(n)).await.unwrap();
        }
        assert_eq!(capture.count(), 3);
        assert!(*rx.borrow() >= 5);
        // The one in project-a was the oldest: dropped.
        assert!(inbox_messages(&store, "project-a").await.is_empty());
        let kept = inbox_messages(&store, "default").await;
        assert_eq!(kept.len(), 3);
        for (message, n) in kept.iter().zip(2..) {
            let text = String::from_utf8_lossy(message);
            assert!(text.contains(&format!("Subject: m{n}")), "{text}");
            assert!(
                text.starts_with("Return-Path: <app@example.com>\r\n"),
                "{text}"
            );
            assert!(text.contains("X-Postie-Envelope-To: a@example.org,\r\n b@example.net\r\n"));
        }
        // A restart reads the index back.
        let (tx, _rx) = watch::channel(0u64);
        let again = Capture::start(store.clone(), 2, tx).await.unwrap();
        assert_eq!(again.count(), 2);
        assert_eq!(inbox_messages(&store, "default").await.len(), 2);
    }

    #[tokio::test]
    async fn any_login_names_an_inbox() {
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        let (tx, _rx) = watch::channel(0u64);
        let capture = Capture::start(store.clone(), 10, tx).await.unwrap();
        let a = capture.login("CI Runner").await.unwrap();
        assert_eq!(a.address.to_string(), "ci-runner@capture.invalid");
        let b = capture.login("ci-runner").await.unwrap();
        assert_eq!(a.id, b.id);
        assert!(store.domain_is_local(&capture_domain()).await.unwrap());
    }
}
