//! `postie store migrate --to postgres://…`: copies an embedded store (the SQLite
//! database and the body files of a data directory) into an empty PostgreSQL database,
//! then checks the counts.
//!
//! Where it sits: called by the CLI (`crates/postie/src/store_cli.rs`), once, while the
//! embedded store's server is stopped (mail accepted during the copy would stay behind).
//!
//! How: the target's schema is created by [`PgStore::connect`] as for any node; the
//! target must hold no domain, account or queue entry. The source is read in one
//! SQLite read transaction (a consistent snapshot) and written in one PostgreSQL
//! transaction, table by table with `COPY … FROM STDIN BINARY`, row ids, UIDs,
//! UIDVALIDITY, mod-sequences, flags, summaries, quotas, display names and administrator
//! flags, app passwords, API tokens, the server's own values, ACLs and the
//! queue (with its recipients' states) as they are; every body a message or queue
//! entry names goes into `blobs`. Queue leases, named leases and POP3 maildrop locks are not copied
//! (they belong to the processes that held them). The DKIM key files of `DATA_DIR/dkim`
//! go into `dkim_keys` (`super::dkim_keys::import_files`), so every node signs with
//! them. The identity sequences are moved
//! past the copied ids. Nothing is committed unless every table and body was copied
//! and the counts match: a failed migration leaves the target as empty as it was.
//!
//! Memory: rows stream from SQLite to PostgreSQL; one body is held at a time.

use std::path::Path;
use std::pin::pin;

use rusqlite::Connection;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{ToSql, Type};

use super::{PgOptions, PgStore, db_err, now_unix};
use crate::sqlite::blobs::Blobs;
use crate::{Result, StoreError};

/// How a column is read from SQLite and written to PostgreSQL.
#[derive(Clone, Copy)]
enum Kind {
    /// `bigint`.
    Int,
    /// `text`.
    Text,
    /// `bytea`.
    Bytes,
    /// `boolean`, stored by SQLite as 0/1.
    Bool,
    /// A `bigint` not copied: written as NULL.
    NullInt,
    /// A `text` not copied: written as NULL.
    NullText,
}

impl Kind {
    fn pg_type(self) -> Type {
        match self {
            Kind::Int => Type::INT8,
            Kind::Text => Type::TEXT,
            Kind::Bytes => Type::BYTEA,
            Kind::Bool => Type::BOOL,
            Kind::NullInt => Type::INT8,
            Kind::NullText => Type::TEXT,
        }
    }
}

use Kind::{Bool, Bytes, Int, Text};

/// The tables copied, in an order that satisfies the foreign keys, with their columns
/// (the same names on both sides).
const TABLES: &[(&str, &[(&str, Kind)])] = &[
    ("meta", &[("key", Text), ("value", Int)]),
    ("domains", &[("name", Text)]),
    (
        "accounts",
        &[
            ("id", Int),
            ("address_key", Text),
            ("address", Text),
            ("domain", Text),
            ("password_hash", Text),
            ("quota_storage", Int),
            ("quota_messages", Int),
            ("display_name", Text),
            ("admin", Bool),
        ],
    ),
    (
        "aliases",
        &[("address", Text), ("display", Text), ("account_id", Int)],
    ),
    (
        "app_passwords",
        &[
            ("account_id", Int),
            ("name", Text),
            ("id", Text),
            ("hash", Text),
            ("created_at", Int),
            ("last_used", Int),
        ],
    ),
    (
        "api_tokens",
        &[
            ("name", Text),
            ("id", Text),
            ("hash", Text),
            ("created_at", Int),
            ("last_used", Int),
        ],
    ),
    ("server_values", &[("key", Text), ("value", Bytes)]),
    (
        "mailboxes",
        &[
            ("id", Int),
            ("account_id", Int),
            ("name", Text),
            ("uid_validity", Int),
            ("uid_next", Int),
            ("highest_modseq", Int),
            ("special_use", Text),
            ("recent_uid", Int),
        ],
    ),
    ("subscriptions", &[("account_id", Int), ("name", Text)]),
    (
        "messages",
        &[
            ("mailbox_id", Int),
            ("uid", Int),
            ("blob_id", Text),
            ("prefix", Bytes),
            ("body_size", Int),
            ("size", Int),
            ("received_at", Int),
            ("queue_id", Int),
            ("recipient_index", Int),
            ("flags", Text),
            ("modseq", Int),
            ("summary", Bytes),
        ],
    ),
    (
        "expunged",
        &[("mailbox_id", Int), ("uid", Int), ("modseq", Int)],
    ),
    (
        "mailbox_acl",
        &[("mailbox_id", Int), ("grantee_id", Int), ("rights", Text)],
    ),
    (
        "queue",
        &[
            ("id", Int),
            ("sender", Text),
            ("body_type", Text),
            ("smtputf8", Bool),
            ("blob_id", Text),
            ("size", Int),
            ("queued_at", Int),
            ("dsn_ret", Text),
            ("dsn_envid", Text),
            ("held", Bool),
            ("warned", Bool),
            ("require_tls", Bool),
            ("lease_node", Kind::NullText),
            ("lease_until", Kind::NullInt),
        ],
    ),
    (
        "queue_recipients",
        &[
            ("queue_id", Int),
            ("idx", Int),
            ("address", Text),
            ("status", Text),
            ("attempts", Int),
            ("next_attempt", Int),
            ("last_error", Text),
            ("notify", Text),
            ("orcpt", Text),
        ],
    ),
];

/// What a migration copied: rows per table, then `blobs` (message bodies).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportReport {
    /// (table, rows copied), in copy order, then `blobs` (bodies) and `dkim_keys` (the
    /// data directory's DKIM key files).
    pub counts: Vec<(String, u64)>,
}

/// Copies the embedded store of `data_dir` into the empty database of `target` (see
/// the module docs). The embedded store is opened (and migrated) first, so a data
/// directory from an older Postie is copied at today's schema.
pub async fn embedded_to_postgres(data_dir: &Path, target: &PgOptions) -> Result<ImportReport> {
    // Opening migrates the embedded schema to the version the tables above describe.
    drop(crate::sqlite::SqliteStore::open(data_dir)?);
    let source = crate::sqlite::schema::open_reader(&data_dir.join(crate::sqlite::DB_FILE))?;
    let bodies = Blobs::open(data_dir.join(crate::sqlite::BLOB_DIR))?;
    let store = PgStore::connect(target).await?;
    let mut client = store.client().await?;
    let tx = client.transaction().await.map_err(db_err)?;
    let present: i64 = tx
        .query_one(
            "SELECT (SELECT count(*) FROM domains) + (SELECT count(*) FROM accounts)
                  + (SELECT count(*) FROM queue) + (SELECT count(*) FROM blobs)
                  + (SELECT count(*) FROM api_tokens) + (SELECT count(*) FROM server_values)",
            &[],
        )
        .await
        .map_err(db_err)?
        .get(0);
    if present > 0 {
        return Err(StoreError::Invalid(format!(
            "the database {} is not empty (it has domains, accounts, queue entries, \
             bodies, API tokens or server values): migrate into a new, empty database",
            store.url_shown()
        )));
    }
    // One snapshot of the source for every table and body list.
    source.execute_batch("BEGIN")?;
    // The schema's own rows (last_uid_validity) are replaced by the source's.
    tx.execute("DELETE FROM meta", &[]).await.map_err(db_err)?;
    let mut counts = Vec::new();
    for (table, columns) in TABLES {
        let copied = copy_table(&source, &tx, table, columns).await?;
        let in_target: i64 = tx
            .query_one(&format!("SELECT count(*) FROM {table}"), &[])
            .await
            .map_err(db_err)?
            .get(0);
        if in_target != copied as i64 {
            return Err(StoreError::Damaged(format!(
                "{table}: copied {copied} rows but the database holds {in_target}"
            )));
        }
        counts.push((table.to_string(), copied));
    }
    let blobs = copy_bodies(&source, &bodies, &tx).await?;
    counts.push(("blobs".to_string(), blobs));
    source.execute_batch("COMMIT")?;
    // The data directory's DKIM key files: with a shared store every node signs with them.
    let keys = super::dkim_keys::import_files(&tx, data_dir).await?;
    counts.push(("dkim_keys".to_string(), keys));
    // Row ids continue after the copied ones (identity columns never reuse an id).
    for table in ["accounts", "mailboxes"] {
        tx.execute(
            &format!(
                "SELECT setval(pg_get_serial_sequence('{table}', 'id'),
                               coalesce((SELECT max(id) FROM {table}), 0) + 1, false)"
            ),
            &[],
        )
        .await
        .map_err(db_err)?;
    }
    super::commit(tx).await?;
    Ok(ImportReport { counts })
}

/// Copies one table's rows; returns how many.
async fn copy_table(
    source: &Connection,
    tx: &deadpool_postgres::Transaction<'_>,
    table: &str,
    columns: &[(&str, Kind)],
) -> Result<u64> {
    let names: Vec<&str> = columns.iter().map(|(name, _)| *name).collect();
    let read: Vec<&str> = columns
        .iter()
        .map(|(name, kind)| match kind {
            Kind::NullInt | Kind::NullText => "NULL",
            _ => name,
        })
        .collect();
    let types: Vec<Type> = columns.iter().map(|(_, kind)| kind.pg_type()).collect();
    let sink = tx
        .copy_in(&format!(
            "COPY {table} ({}) FROM STDIN BINARY",
            names.join(", ")
        ))
        .await
        .map_err(db_err)?;
    let mut writer = pin!(BinaryCopyInWriter::new(sink, &types));
    let mut stmt = source.prepare(&format!("SELECT {} FROM {table}", read.join(", ")))?;
    let mut rows = stmt.query([])?;
    let mut copied = 0u64;
    while let Some(row) = rows.next()? {
        let mut values: Vec<Box<dyn ToSql + Sync + Send>> = Vec::with_capacity(columns.len());
        for (i, (name, kind)) in columns.iter().enumerate() {
            let damaged = |e: rusqlite::Error| StoreError::Damaged(format!("{table}.{name}: {e}"));
            values.push(match kind {
                Kind::Int => Box::new(row.get::<_, Option<i64>>(i).map_err(damaged)?),
                Kind::Text => Box::new(row.get::<_, Option<String>>(i).map_err(damaged)?),
                Kind::Bytes => Box::new(row.get::<_, Option<Vec<u8>>>(i).map_err(damaged)?),
                Kind::Bool => Box::new(
                    row.get::<_, Option<i64>>(i)
                        .map_err(damaged)?
                        .map(|v| v != 0),
                ),
                Kind::NullInt => Box::new(None::<i64>),
                Kind::NullText => Box::new(None::<String>),
            });
        }
        let refs: Vec<&(dyn ToSql + Sync)> = values
            .iter()
            .map(|v| v.as_ref() as &(dyn ToSql + Sync))
            .collect();
        writer.as_mut().write(&refs).await.map_err(db_err)?;
        copied += 1;
    }
    writer.finish().await.map_err(db_err)?;
    Ok(copied)
}

/// Copies every body a message or queue entry names into `blobs`, checking each one's
/// length; returns how many.
async fn copy_bodies(
    source: &Connection,
    bodies: &Blobs,
    tx: &deadpool_postgres::Transaction<'_>,
) -> Result<u64> {
    let sink = tx
        .copy_in("COPY blobs (id, data, created_at) FROM STDIN BINARY")
        .await
        .map_err(db_err)?;
    let mut writer = pin!(BinaryCopyInWriter::new(
        sink,
        &[Type::TEXT, Type::BYTEA, Type::INT8]
    ));
    let mut stmt = source.prepare(
        "SELECT blob_id, max(len) FROM
             (SELECT blob_id, body_size AS len FROM messages
              UNION ALL SELECT blob_id, size AS len FROM queue)
         GROUP BY blob_id",
    )?;
    let mut rows = stmt.query([])?;
    let now = now_unix();
    let mut copied = 0u64;
    while let Some(row) = rows.next()? {
        let id: String = row.get(0)?;
        let len: i64 = row.get(1)?;
        let len = u64::try_from(len)
            .map_err(|_| StoreError::Damaged(format!("body {id} has length {len}")))?;
        let data = bodies.read(&id, len)?;
        writer
            .as_mut()
            .write(&[&id, &data, &now])
            .await
            .map_err(db_err)?;
        copied += 1;
    }
    writer.finish().await.map_err(db_err)?;
    Ok(copied)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{FlagChange, Grantee, Quota, Store};
    use message::{Address, BodyType, Domain, Envelope, QueueId};

    fn addr(s: &str) -> Address {
        Address::parse(s).expect("address")
    }

    /// An embedded store with two accounts, flagged and expunged mail, a shared
    /// mailbox, an app password, a quota, an administrator with a display name, two
    /// API tokens (one used) and a queue entry with a pending remote recipient.
    async fn embedded(dir: &Path) -> crate::sqlite::SqliteStore {
        let s = crate::sqlite::SqliteStore::open(dir).expect("open");
        s.domain_add(&Domain::parse("example.org").unwrap())
            .await
            .unwrap();
        let alice = s
            .account_add(&addr("alice@example.org"), "$argon2id$a")
            .await
            .unwrap();
        let bob = s
            .account_add(&addr("bob@example.org"), "$argon2id$b")
            .await
            .unwrap();
        s.alias_add(&addr("al@example.org"), &addr("alice@example.org"))
            .await
            .unwrap();
        s.quota_set(
            &addr("bob@example.org"),
            Quota {
                storage: Some(1_000_000),
                messages: None,
            },
        )
        .await
        .unwrap();
        s.app_password_add(alice, "phone", "abcdefgh", "$argon2id$p", 1_700_000_000)
            .await
            .unwrap();
        s.account_set_admin(&addr("alice@example.org"), true)
            .await
            .unwrap();
        s.account_set_display_name(&addr("alice@example.org"), Some("Alice Ä. Liddell"))
            .await
            .unwrap();
        for (name, id) in [("ci", "cccccccc"), ("backup", "bbbbbbbb")] {
            s.token_add(&crate::ApiToken {
                name: name.into(),
                id: id.into(),
                hash: crate::api_token::hash_secret(name),
                created_at: 1_700_000_000,
                last_used: None,
            })
            .await
            .unwrap();
        }
        s.token_used("cccccccc", 1_700_000_100).await.unwrap();
        s.value_put("acme/account", b"\0key").await.unwrap();
        let inbox = s.mailbox_get(alice, "INBOX").await.unwrap().unwrap();
        for i in 0..3 {
            let mut body = format!("Subject: m{i}\r\n\r\nbody {i}").into_bytes();
            body.extend_from_slice(b"\x00\xff\r\n");
            s.message_append_with(
                inbox.id,
                &body,
                &["\\Seen".into()],
                1_700_000_000 + i,
                Some(b"sum"),
            )
            .await
            .unwrap();
        }
        s.message_flags_set(
            inbox.id,
            &[2],
            FlagChange::Add,
            &["\\Deleted".into(), "$Work".into()],
            None,
        )
        .await
        .unwrap();
        s.message_expunge(inbox.id, None).await.unwrap();
        s.acl_set(inbox.id, Grantee::Account(bob), "lr")
            .await
            .unwrap();
        let envelope = Envelope {
            sender: Some(addr("alice@example.org")),
            recipients: vec![addr("bob@example.org"), addr("carol@remote.example")],
            body_type: BodyType::EightBitMime,
            smtputf8: false,
            require_tls: false,
            dsn: Default::default(),
        };
        let id = QueueId::from_u64(42);
        s.enqueue(id, &envelope, b"Subject: out\r\n\r\nqueued\r\n")
            .await
            .unwrap();
        s.deliver_to_mailbox(id, 0, bob, b"Delivered-To: bob@example.org\r\n")
            .await
            .unwrap();
        s
    }

    #[tokio::test]
    async fn an_embedded_store_arrives_whole_and_keeps_working() {
        let Some(target) = crate::postgres::testing::fresh_store().await else {
            return;
        };
        let dir = tempfile::tempdir().expect("tempdir");
        let source = embedded(dir.path()).await;
        crate::postgres::dkim_keys::tests::write_key_files(dir.path());
        let options = PgOptions::from_url(target.url_for_tests());
        let report = embedded_to_postgres(dir.path(), &options)
            .await
            .expect("migrate");
        let count = |t: &str| report.counts.iter().find(|(n, _)| n == t).unwrap().1;
        assert_eq!(count("accounts"), 2);
        assert_eq!(count("api_tokens"), 2);
        assert_eq!(count("server_values"), 1);
        assert_eq!(count("messages"), 3, "2 appended and kept, 1 delivered");
        assert_eq!(count("expunged"), 1);
        assert_eq!(count("queue"), 1);
        assert_eq!(count("blobs"), 3);
        assert_eq!(count("dkim_keys"), 2, "one key had no record");
        let keys = target.dkim_key_list(None).await.unwrap();
        assert_eq!(keys.len(), 2);
        assert_eq!(keys[0].private_key_pem, "PEM r\n");

        let pg: &dyn Store = &target;
        let src: &dyn Store = &source;
        assert_eq!(
            pg.account_list().await.unwrap(),
            src.account_list().await.unwrap()
        );
        let alice = pg
            .account_get(&addr("alice@example.org"))
            .await
            .unwrap()
            .unwrap();
        assert!(alice.admin);
        assert_eq!(alice.display_name.as_deref(), Some("Alice Ä. Liddell"));
        assert_eq!(
            pg.token_list().await.unwrap(),
            src.token_list().await.unwrap()
        );
        assert_eq!(
            pg.token_get("cccccccc").await.unwrap().unwrap().last_used,
            Some(1_700_000_100)
        );
        assert_eq!(
            pg.alias_list().await.unwrap(),
            src.alias_list().await.unwrap()
        );
        assert_eq!(
            pg.queue_list().await.unwrap(),
            src.queue_list().await.unwrap()
        );
        assert_eq!(
            pg.queue_body(QueueId::from_u64(42)).await.unwrap(),
            src.queue_body(QueueId::from_u64(42)).await.unwrap()
        );
        for account in src.account_list().await.unwrap() {
            let boxes = src.mailbox_list(account.id).await.unwrap();
            assert_eq!(pg.mailbox_list(account.id).await.unwrap(), boxes);
            assert_eq!(
                pg.quota_get(account.id).await.unwrap(),
                src.quota_get(account.id).await.unwrap()
            );
            assert_eq!(
                pg.app_password_list(account.id).await.unwrap(),
                src.app_password_list(account.id).await.unwrap()
            );
            for mailbox in boxes {
                let messages = src.message_list_imap(mailbox.id).await.unwrap();
                assert_eq!(pg.message_list_imap(mailbox.id).await.unwrap(), messages);
                assert_eq!(
                    pg.acl_list(mailbox.id).await.unwrap(),
                    src.acl_list(mailbox.id).await.unwrap()
                );
                assert_eq!(
                    pg.mailbox_expunged_since(mailbox.id, 0).await.unwrap(),
                    src.mailbox_expunged_since(mailbox.id, 0).await.unwrap()
                );
                for m in messages {
                    assert_eq!(
                        pg.message_read(mailbox.id, m.uid).await.unwrap(),
                        src.message_read(mailbox.id, m.uid).await.unwrap()
                    );
                }
            }
        }
        // Ids continue after the copied ones, UIDVALIDITY too.
        let carol = pg
            .account_add(&addr("carol@example.org"), "$argon2id$c")
            .await
            .unwrap();
        assert!(carol.0 > 2, "{carol:?}");
        let old_max = src
            .mailbox_list(crate::AccountId(1))
            .await
            .unwrap()
            .iter()
            .map(|m| m.uid_validity)
            .max()
            .unwrap();
        let fresh = pg.mailbox_list(carol).await.unwrap();
        assert!(fresh.iter().all(|m| m.uid_validity > old_max));
        // And the copy is refused into a database that is no longer empty.
        assert!(matches!(
            embedded_to_postgres(dir.path(), &options).await,
            Err(StoreError::Invalid(m)) if m.contains("not empty")
        ));
    }
}
