//! A queue entry from its stored rows, for every SQL backend: the `queue` row (the
//! head) and its `queue_recipients` rows, checked and turned into a [`QueuedMessage`].
//!
//! Where it sits: the SQLite (`crate::sqlite::queue`) and PostgreSQL
//! (`crate::postgres::queue`) backends read the same columns, each in its own
//! dialect, and hand them here, so the validation (what counts as damage) is one.
//!
//! Everything read back is validated: an address that no longer parses, a recipient
//! index out of order, an unknown status or NOTIFY value, a negative size or attempt
//! count is [`StoreError::Damaged`] naming the entry, never a panic.

use message::dsn::{Dsn, Notify, RecipientDsn, Ret};
use message::{Address, BodyType, Envelope, QueueId};

use crate::{QueuedMessage, QueuedRecipient, RecipientStatus, Result, StoreError};

/// The `queue` row's columns, as stored.
pub(crate) struct Head {
    pub id: i64,
    pub sender: Option<String>,
    pub body_type: String,
    pub smtputf8: bool,
    pub require_tls: bool,
    pub size: i64,
    pub queued_at: i64,
    pub dsn_ret: Option<String>,
    pub dsn_envid: Option<String>,
    pub held: bool,
    pub warned: bool,
}

/// One `queue_recipients` row's columns, as stored.
pub(crate) struct Recipient {
    pub index: i64,
    pub address: String,
    pub status: String,
    pub attempts: i64,
    pub next_attempt: i64,
    pub last_error: Option<String>,
    pub notify: Option<String>,
    pub orcpt: Option<String>,
}

/// The entry `head` and its `rows` (in index order) describe; `Damaged` when they do
/// not make one (no recipients, an index out of place, a value that does not parse).
pub(crate) fn assemble(head: Head, rows: Vec<Recipient>) -> Result<QueuedMessage> {
    let id = QueueId::from_u64(head.id as u64);
    let damaged = |what: String| StoreError::Damaged(format!("queue entry {id}: {what}"));
    let sender = match &head.sender {
        None => None,
        Some(s) => Some(Address::parse(s).map_err(|e| damaged(format!("sender {s:?}: {e}")))?),
    };
    if rows.is_empty() {
        return Err(damaged("no recipients".into()));
    }
    let mut addresses = Vec::with_capacity(rows.len());
    let mut recipients = Vec::with_capacity(rows.len());
    let mut recipient_dsn = Vec::with_capacity(rows.len());
    for (expected, row) in rows.into_iter().enumerate() {
        let notify = match row.notify {
            None => Notify::default(),
            Some(n) => Notify::from_param(&n).ok_or_else(|| damaged(format!("notify {n:?}")))?,
        };
        recipient_dsn.push(RecipientDsn {
            notify,
            orcpt: row.orcpt,
        });
        let index = row.index;
        if usize::try_from(index).ok() != Some(expected) {
            return Err(damaged(format!(
                "recipient index {index}, expected {expected}"
            )));
        }
        let address = Address::parse(&row.address)
            .map_err(|e| damaged(format!("recipient {:?}: {e}", row.address)))?;
        let status = match row.status.as_str() {
            "pending" => RecipientStatus::Pending {
                attempts: u32::try_from(row.attempts)
                    .map_err(|_| damaged(format!("attempts {}", row.attempts)))?,
                next_attempt: row.next_attempt,
                last_error: row.last_error,
            },
            "delivered" => RecipientStatus::Delivered,
            "failed" => RecipientStatus::Failed(row.last_error.unwrap_or_default()),
            other => return Err(damaged(format!("recipient status {other:?}"))),
        };
        addresses.push(address.clone());
        recipients.push(QueuedRecipient { address, status });
    }
    let size = u64::try_from(head.size).map_err(|_| damaged(format!("size {}", head.size)))?;
    Ok(QueuedMessage {
        id,
        envelope: Envelope {
            sender,
            recipients: addresses,
            body_type: BodyType::from_name(&head.body_type),
            smtputf8: head.smtputf8,
            require_tls: head.require_tls,
            dsn: Dsn {
                ret: head.dsn_ret.as_deref().and_then(Ret::from_name),
                envid: head.dsn_envid,
                recipients: recipient_dsn,
            },
        },
        recipients,
        queued_at: head.queued_at,
        size,
        held: head.held,
        warned: head.warned,
    })
}
