//! TODO(issue 15): PostgreSQL queue.

#![allow(unused_variables, unused_imports)]

use message::{Address, Domain, Envelope, QueueId};

use super::PgStore;
use crate::*;

pub(super) async fn enqueue(s: &PgStore, id: QueueId, envelope: &Envelope, body: &[u8]) -> Result<()> {
    todo!("postgres enqueue")
}

pub(super) async fn enqueue_and_file(s: &PgStore, id: QueueId, envelope: &Envelope, body: &[u8], filings: &[Filing]) -> Result<Vec<usize>> {
    todo!("postgres enqueue_and_file")
}

pub(super) async fn enqueue_and_file_junk(s: &PgStore, id: QueueId, envelope: &Envelope, body: &[u8], filings: &[Filing]) -> Result<Vec<usize>> {
    todo!("postgres enqueue_and_file_junk")
}

pub(super) async fn queue_due(s: &PgStore, now_unix: i64, limit: usize) -> Result<Vec<QueuedMessage>> {
    todo!("postgres queue_due")
}

pub(super) async fn queue_claim(s: &PgStore, node: &str, now_unix: i64, lease_until: i64, limit: usize) -> Result<Vec<QueueId>> {
    todo!("postgres queue_claim")
}

pub(super) async fn queue_renew(s: &PgStore, node: &str, ids: &[QueueId], lease_until: i64) -> Result<Vec<QueueId>> {
    todo!("postgres queue_renew")
}

pub(super) async fn queue_release(s: &PgStore, node: &str, id: QueueId) -> Result<()> {
    todo!("postgres queue_release")
}

pub(super) async fn queue_list(s: &PgStore) -> Result<Vec<QueuedMessage>> {
    todo!("postgres queue_list")
}

pub(super) async fn queue_get(s: &PgStore, id: QueueId) -> Result<Option<QueuedMessage>> {
    todo!("postgres queue_get")
}

pub(super) async fn queue_body(s: &PgStore, id: QueueId) -> Result<Vec<u8>> {
    todo!("postgres queue_body")
}

pub(super) async fn queue_hold(s: &PgStore, id: QueueId, held: bool) -> Result<()> {
    todo!("postgres queue_hold")
}

pub(super) async fn queue_flush(s: &PgStore, id: Option<QueueId>, domain: Option<&Domain>, now_unix: i64) -> Result<usize> {
    todo!("postgres queue_flush")
}

pub(super) async fn queue_delete(s: &PgStore, id: QueueId) -> Result<()> {
    todo!("postgres queue_delete")
}

pub(super) async fn queue_set_warned(s: &PgStore, id: QueueId) -> Result<()> {
    todo!("postgres queue_set_warned")
}

pub(super) async fn deliver_to_mailbox(s: &PgStore, id: QueueId, recipient: usize, account: AccountId, prefix: &[u8]) -> Result<Option<u32>> {
    todo!("postgres deliver_to_mailbox")
}

pub(super) async fn queue_mark(s: &PgStore, id: QueueId, recipient: usize, outcome: &RecipientOutcome) -> Result<()> {
    todo!("postgres queue_mark")
}

pub(super) async fn queue_collect(s: &PgStore) -> Result<usize> {
    todo!("postgres queue_collect")
}
