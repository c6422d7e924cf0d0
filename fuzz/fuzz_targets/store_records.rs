//! Fuzzes the store's damaged-record paths: data read back from disk is validated like
//! network input, so a damaged record is an error (`StoreError::Damaged`, a summary
//! recomputed), never a panic.
//!
//! The first byte picks what is damaged; the rest is the damage:
//! - `0`: the rest is a stored IMAP summary (`imap::summary::Summary::decode`); when it
//!   decodes, everything the server does with a decoded summary runs on it (ENVELOPE,
//!   BODYSTRUCTURE, SEARCH/SORT keys, THREAD record).
//! - `1`: the rest is `message NUL edits`: the message's own summary is encoded, then
//!   damaged by the edits (3 bytes each: position high, low, new byte; an edit at
//!   position 0xFFFF truncates at the new byte's value), and decoded as in `0`. This
//!   reaches the checks past postcard's framing much faster than random bytes.
//! - `2`: a live SQLite store (one per process, on /dev/shm when it exists) holding an
//!   account, an alias, an app password, a quota, messages with summaries and flags, and
//!   queue entries with DSN fields and a failure reason. The rest is up to four edits,
//!   each `column, kind, length, value`: the column picks a (table, column) of that
//!   store, the kind how the value is written (text, invalid-UTF-8 text, blob,
//!   integer, real, NULL). Then every read the servers and the queue runner make runs
//!   (accounts, aliases, app passwords, quotas, mailboxes, message lists, bodies, IMAP
//!   listings and changes, summaries decoded, queue listings and bodies, the stored
//!   failure reason parsed as a DSN does), and the rows are put back.
//! - `3`: the rest replaces a body file on disk (truncated, longer, different), read
//!   back through the mailbox and the queue.
//!
//! Run: `scripts/fuzz store_records`.
#![no_main]

use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

use imap::summary::{AddressField, Summary};
use imap::thread::{Algorithm, Message, thread};
use libfuzzer_sys::fuzz_target;
use message::{Address, BodyType, Domain, Envelope, QueueId};
use rusqlite::Connection;
use rusqlite::types::Value;
use store::sqlite::SqliteStore;
use store::{AccountId, FlagChange, MailboxId, Quota, RecipientOutcome, Store, StoreError};

/// (table, column) pairs the damage goes to: every column a read decodes.
const COLUMNS: &[(&str, &str)] = &[
    ("domains", "name"),
    ("accounts", "id"),
    ("accounts", "address_key"),
    ("accounts", "address"),
    ("accounts", "domain"),
    ("accounts", "password_hash"),
    ("accounts", "quota_storage"),
    ("accounts", "quota_messages"),
    ("aliases", "address"),
    ("aliases", "display"),
    ("aliases", "account_id"),
    ("app_passwords", "name"),
    ("app_passwords", "id"),
    ("app_passwords", "hash"),
    ("app_passwords", "created_at"),
    ("app_passwords", "last_used"),
    ("mailboxes", "id"),
    ("mailboxes", "account_id"),
    ("mailboxes", "name"),
    ("mailboxes", "uid_validity"),
    ("mailboxes", "uid_next"),
    ("mailboxes", "special_use"),
    ("mailboxes", "highest_modseq"),
    ("messages", "uid"),
    ("messages", "blob_id"),
    ("messages", "prefix"),
    ("messages", "body_size"),
    ("messages", "size"),
    ("messages", "received_at"),
    ("messages", "queue_id"),
    ("messages", "recipient_index"),
    ("messages", "flags"),
    ("messages", "modseq"),
    ("messages", "summary"),
    ("expunged", "uid"),
    ("expunged", "modseq"),
    ("subscriptions", "name"),
    ("queue", "id"),
    ("queue", "sender"),
    ("queue", "body_type"),
    ("queue", "smtputf8"),
    ("queue", "blob_id"),
    ("queue", "size"),
    ("queue", "queued_at"),
    ("queue", "dsn_ret"),
    ("queue", "dsn_envid"),
    ("queue", "held"),
    ("queue", "warned"),
    ("queue", "require_tls"),
    ("inline_blobs", "id"),
    ("inline_blobs", "body"),
    ("queue_recipients", "idx"),
    ("queue_recipients", "address"),
    ("queue_recipients", "status"),
    ("queue_recipients", "attempts"),
    ("queue_recipients", "next_attempt"),
    ("queue_recipients", "last_error"),
    ("queue_recipients", "notify"),
    ("queue_recipients", "orcpt"),
    ("meta", "value"),
];

/// The store every input of kinds 2 and 3 damages and reads.
struct Fixture {
    runtime: tokio::runtime::Runtime,
    store: SqliteStore,
    /// A second connection to the same database, for the damage.
    db: Connection,
    dir: PathBuf,
    account: AccountId,
    address: Address,
    mailboxes: Vec<MailboxId>,
    queued: Vec<QueueId>,
    /// The tables in COLUMNS that exist in this schema, copied as they were.
    tables: Vec<String>,
}

fn addr(s: &str) -> Address {
    Address::parse(s).expect("fixture address")
}

const MESSAGES: [&[u8]; 3] = [
    b"From: A <a@remote.example>\r\nTo: alice@example.org\r\nSubject: =?utf-8?q?caf=C3=A9?=\r\n\
      Message-ID: <1@x>\r\nDate: Mon, 7 Feb 1994 21:52:25 -0800\r\n\
      Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\n\
      hello\r\n--b\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\n\r\ninner\r\n--b--\r\n",
    b"Subject: Re: cafe\r\nIn-Reply-To: <1@x>\r\nReferences: <0@x> <1@x>\r\n\r\nreply\r\n",
    b"no header at all",
];

impl Fixture {
    fn new() -> Fixture {
        let base = ["/dev/shm", "/tmp"]
            .into_iter()
            .map(PathBuf::from)
            .find(|p| p.is_dir())
            .unwrap_or_else(std::env::temp_dir);
        // libFuzzer ends the process with _exit, so no destructor removes the store:
        // remove those left by processes that are gone.
        for entry in std::fs::read_dir(&base).into_iter().flatten().flatten() {
            let name = entry.file_name();
            let pid = name
                .to_str()
                .and_then(|n| n.strip_prefix("postie-fuzz-store-"));
            if pid.is_some_and(|pid| !std::path::Path::new("/proc").join(pid).exists()) {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
        let dir = base.join(format!("postie-fuzz-store-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let store = SqliteStore::open(&dir).expect("open store");
        let (account, address, mailboxes, queued) = runtime.block_on(async {
            store
                .domain_add(&Domain::parse("example.org").expect("domain"))
                .await
                .expect("domain");
            let alice = addr("alice@example.org");
            let account = store
                .account_add(&alice, "$argon2id$x")
                .await
                .expect("account");
            store
                .alias_add(&addr("al@example.org"), &alice)
                .await
                .expect("alias");
            store
                .app_password_add(account, "phone", "0123456789abcdef", "$argon2id$y", 1000)
                .await
                .expect("app password");
            let quota = Quota {
                storage: Some(1 << 30),
                messages: Some(1000),
            };
            store.quota_set(&alice, quota).await.expect("quota");
            let mailboxes: Vec<MailboxId> = store
                .mailbox_list(account)
                .await
                .expect("list")
                .iter()
                .map(|m| m.id)
                .collect();
            for (i, raw) in MESSAGES.iter().enumerate() {
                let summary = Summary::compute(raw).encode();
                let flags = vec!["\\Seen".to_owned(), format!("$label{i}")];
                store
                    .message_append_with(mailboxes[0], raw, &flags, 1000 + i as i64, Some(&summary))
                    .await
                    .expect("append");
            }
            store
                .message_flags_set(
                    mailboxes[0],
                    &[2],
                    FlagChange::Add,
                    &["\\Deleted".into()],
                    None,
                )
                .await
                .expect("flags");
            store
                .message_expunge(mailboxes[0], Some(&[2]))
                .await
                .expect("expunge");
            let mut dsn = message::dsn::Dsn::default();
            dsn.envid = Some("env+2Bid".into());
            dsn.ret = Some(message::dsn::Ret::Headers);
            let envelope = Envelope {
                sender: Some(addr("a@remote.example")),
                recipients: vec![addr("alice@example.org"), addr("x@remote.example")],
                body_type: BodyType::EightBitMime,
                smtputf8: false,
                require_tls: true,
                dsn,
            };
            let mut queued = Vec::new();
            for n in 1..=2u64 {
                let id = QueueId::from_u64(n);
                store
                    .enqueue(id, &envelope, MESSAGES[0])
                    .await
                    .expect("enqueue");
                queued.push(id);
            }
            store
                .deliver_to_mailbox(queued[0], 0, account, b"Received: x\r\n")
                .await
                .expect("deliver");
            let reason = "host mx.remote.example said: 550 5.1.1 <x@remote.example>: no such user";
            store
                .queue_mark(
                    queued[0],
                    1,
                    &RecipientOutcome::Deferred {
                        next_attempt: 5000,
                        reason: reason.into(),
                    },
                )
                .await
                .expect("mark");
            (account, alice, mailboxes, queued)
        });
        let db = Connection::open(dir.join("postie.db")).expect("second connection");
        db.busy_timeout(std::time::Duration::from_secs(10))
            .expect("busy timeout");
        // Damage need not keep references valid (a dangling account id is damage too),
        // and the restore deletes parents before children.
        db.execute_batch("PRAGMA foreign_keys = OFF")
            .expect("foreign keys off");
        let mut tables: Vec<String> = COLUMNS.iter().map(|(t, _)| (*t).to_owned()).collect();
        tables.dedup();
        tables.retain(|t| {
            db.execute_batch(&format!("CREATE TABLE fuzz_orig_{t} AS SELECT * FROM {t}"))
                .is_ok()
        });
        Fixture {
            runtime,
            store,
            db,
            dir,
            account,
            address,
            mailboxes,
            queued,
            tables,
        }
    }

    /// Writes the damage `data` describes; see the module docs.
    fn damage(&self, mut data: &[u8]) {
        for _ in 0..4 {
            let [column, kind, len, rest @ ..] = data else {
                return;
            };
            let (table, column) = COLUMNS[*column as usize % COLUMNS.len()];
            let len = (*len as usize).min(rest.len());
            let (bytes, rest) = rest.split_at(len);
            data = rest;
            let value = match kind % 6 {
                0 => Value::Text(String::from_utf8_lossy(bytes).into_owned()),
                1 => Value::Blob(bytes.to_vec()),
                2 => {
                    let mut n = [0u8; 8];
                    n[..len.min(8)].copy_from_slice(&bytes[..len.min(8)]);
                    Value::Integer(i64::from_le_bytes(n))
                }
                3 => Value::Real(
                    f64::from(u32::from_le_bytes(
                        [bytes, &[0; 4]].concat()[..4].try_into().expect("4 bytes"),
                    )) / 7.0,
                ),
                4 => Value::Null,
                // Text that is not UTF-8: SQLite stores what it is given.
                _ => Value::Blob(bytes.to_vec()),
            };
            let sql = if kind % 6 == 5 {
                format!("UPDATE {table} SET {column} = CAST(?1 AS TEXT)")
            } else {
                format!("UPDATE {table} SET {column} = ?1")
            };
            // Constraint failures (NOT NULL, CHECK, UNIQUE) leave the row as it was.
            let _ = self.db.execute(&sql, [value]);
        }
    }

    /// Puts every row back as it was before `damage`.
    fn restore(&self) {
        let mut sql = String::from("BEGIN;");
        for t in &self.tables {
            sql.push_str(&format!(
                "DELETE FROM {t}; INSERT INTO {t} SELECT * FROM fuzz_orig_{t};"
            ));
        }
        sql.push_str("COMMIT;");
        self.db.execute_batch(&sql).expect("restore the fixture");
    }

    /// Every read the servers and the queue runner make; none may panic.
    fn read_everything(&self) {
        let s = &self.store;
        self.runtime.block_on(async {
            let _ = s.domain_list().await;
            let _ = s
                .domain_is_local(&Domain::parse("example.org").expect("domain"))
                .await;
            let _ = s.account_list().await;
            let _ = s.account_get(&self.address).await;
            let _ = s.resolve_recipient(&addr("al@example.org")).await;
            let _ = s.resolve_recipient(&self.address).await;
            let _ = s.alias_list().await;
            let _ = s.app_password_list(self.account).await;
            let _ = s.app_password_get(self.account, "0123456789abcdef").await;
            let _ = s.quota_get(self.account).await;
            let _ = s.quota_usage(self.account).await;
            let _ = s.quota_full(self.account).await;
            let _ = s.mailbox_subscriptions(self.account).await;
            let _ = s.mailbox_get(self.account, "INBOX").await;
            if let Ok(boxes) = s.mailbox_list(self.account).await {
                for m in boxes.iter().take(8) {
                    let _ = s.mailbox_get(self.account, &m.name).await;
                }
            }
            for &mailbox in &self.mailboxes[..2] {
                if let Ok(list) = s.message_list(mailbox).await {
                    for m in list.iter().take(8) {
                        let _ = s.message_read(mailbox, m.uid).await;
                    }
                }
                let _ = s.message_list_imap(mailbox).await;
                let _ = s.message_changes_since(mailbox, 0).await;
                let _ = s.message_changes_since(mailbox, 2).await;
                let _ = s.mailbox_expunged_since(mailbox, 0).await;
                for uid in 1..=4 {
                    let _ = s.message_read(mailbox, uid).await;
                }
                if let Ok(summaries) = s.message_summaries(mailbox, &[1, 2, 3, 4]).await {
                    for (uid, bytes) in summaries {
                        if let Some(bytes) = bytes {
                            use_summary(uid, &bytes);
                        }
                    }
                }
            }
            let _ = s.queue_due(i64::MAX, 100).await;
            let _ = s.queue_due_ids(i64::MAX, 100).await;
            if let Ok(list) = s.queue_list().await {
                for q in &list {
                    // What the bounce and delay notices read back (crates/queue/src/notify.rs).
                    for r in &q.recipients {
                        match &r.status {
                            store::RecipientStatus::Pending {
                                last_error: Some(reason),
                                ..
                            }
                            | store::RecipientStatus::Failed(reason) => {
                                let _ = queue::notify::parse_reason(reason);
                            }
                            _ => {}
                        }
                    }
                    for i in 0..q.envelope.recipients.len() {
                        let dsn = q.envelope.dsn.recipient(i);
                        let _ = dsn.notify.to_param();
                        if let Some(orcpt) = &dsn.orcpt {
                            let _ = orcpt
                                .split_once(';')
                                .map(|(_, x)| message::dsn::xtext_decode(x));
                        }
                    }
                    if let Some(envid) = &q.envelope.dsn.envid {
                        let _ = message::dsn::xtext_encode(envid);
                    }
                }
            }
            for &id in &self.queued {
                let _ = s.queue_get(id).await;
                let _ = s.queue_body(id).await;
            }
        });
    }

    /// The body files on disk.
    fn blobs(&self) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for sub in std::fs::read_dir(self.dir.join("blobs"))
            .into_iter()
            .flatten()
            .flatten()
        {
            for f in std::fs::read_dir(sub.path())
                .into_iter()
                .flatten()
                .flatten()
            {
                out.push(f.path());
            }
        }
        out.sort();
        out
    }
}

/// What the server does with a stored summary that decodes.
fn use_summary(id: u32, bytes: &[u8]) {
    let Ok(summary) = Summary::decode(bytes) else {
        return;
    };
    let _ = summary.envelope();
    let _ = summary.body_structure(true);
    let _ = summary.body_structure(false);
    for part in summary.parts() {
        let _ = part.kind();
    }
    let _ = summary.subject_contains(b"caf");
    let _ = summary.header_contains(b"Message-ID", b"@");
    let _ = summary.header_contains(b"References", b"");
    let _ = (
        summary.sent_day(),
        summary.sent_timestamp(),
        summary.subject_text(),
    );
    for field in [AddressField::From, AddressField::To, AddressField::Cc] {
        let _ = summary.first_address(field);
    }
    let owned = summary.clone().into_owned();
    assert_eq!(owned, summary);
    let again = summary.encode();
    assert_eq!(
        Summary::decode(&again).ok(),
        Some(summary.clone()),
        "re-encoding changes it"
    );
    let records = [
        Message::from_summary(id, &summary, 0),
        Message::from_summary(id + 1, &owned, 0),
    ];
    for algorithm in [Algorithm::References, Algorithm::OrderedSubject] {
        let mut ids = thread(algorithm, &records).ids();
        ids.sort_unstable();
        assert_eq!(ids, [id, id + 1]);
    }
}

/// A message's own summary, damaged by `edits` (see the module docs).
fn edited_summary(data: &[u8]) {
    let (raw, edits) = match data.iter().position(|&b| b == 0) {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &[][..]),
    };
    let mut stored = Summary::compute(raw).encode();
    for edit in edits.chunks_exact(3) {
        let at = usize::from(u16::from_be_bytes([edit[0], edit[1]]));
        if at == 0xFFFF {
            stored.truncate(usize::from(edit[2]));
        } else if !stored.is_empty() {
            let at = at % stored.len();
            stored[at] = edit[2];
        }
    }
    use_summary(1, &stored);
}

fn fixture() -> &'static Mutex<Fixture> {
    static FIXTURE: OnceLock<Mutex<Fixture>> = OnceLock::new();
    FIXTURE.get_or_init(|| Mutex::new(Fixture::new()))
}

fuzz_target!(|data: &[u8]| {
    let Some((&kind, rest)) = data.split_first() else {
        return;
    };
    match kind % 4 {
        0 => use_summary(1, rest),
        1 => edited_summary(rest),
        2 => {
            let f = fixture().lock().unwrap_or_else(|e| e.into_inner());
            f.damage(rest);
            f.read_everything();
            f.restore();
        }
        _ => {
            let f = fixture().lock().unwrap_or_else(|e| e.into_inner());
            let blobs = f.blobs();
            let Some(path) =
                blobs.get(usize::from(rest.first().copied().unwrap_or(0)) % blobs.len().max(1))
            else {
                return;
            };
            let original = std::fs::read(path).expect("read a body file");
            std::fs::write(path, rest.get(1..).unwrap_or_default()).expect("damage a body file");
            f.read_everything();
            std::fs::write(path, original).expect("restore a body file");
            // A body that reads back wrong must be an error, never other bytes.
            let read = f.runtime.block_on(f.store.message_read(f.mailboxes[0], 1));
            assert!(
                !matches!(read, Err(StoreError::Damaged(_))),
                "restored body still damaged"
            );
        }
    }
});
