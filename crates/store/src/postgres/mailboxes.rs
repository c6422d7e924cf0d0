//! TODO(issue 15): PostgreSQL mailboxes.

#![allow(unused_variables, unused_imports)]

use message::{Address, Domain, Envelope, QueueId};

use super::PgStore;
use crate::*;

pub(super) async fn mailbox_list(s: &PgStore, account: AccountId) -> Result<Vec<Mailbox>> {
    todo!("postgres mailbox_list")
}

pub(super) async fn mailbox_get(s: &PgStore, account: AccountId, name: &str) -> Result<Option<Mailbox>> {
    todo!("postgres mailbox_get")
}

pub(super) async fn mailbox_create(s: &PgStore, account: AccountId, name: &str, special_use: Option<&str>) -> Result<Mailbox> {
    todo!("postgres mailbox_create")
}

pub(super) async fn mailbox_delete(s: &PgStore, account: AccountId, name: &str) -> Result<()> {
    todo!("postgres mailbox_delete")
}

pub(super) async fn mailbox_rename(s: &PgStore, account: AccountId, from: &str, to: &str) -> Result<()> {
    todo!("postgres mailbox_rename")
}

pub(super) async fn mailbox_subscribe(s: &PgStore, account: AccountId, name: &str, subscribed: bool) -> Result<()> {
    todo!("postgres mailbox_subscribe")
}

pub(super) async fn mailbox_subscriptions(s: &PgStore, account: AccountId) -> Result<Vec<String>> {
    todo!("postgres mailbox_subscriptions")
}

pub(super) async fn mailbox_recent_claim(s: &PgStore, mailbox: MailboxId, up_to: u32) -> Result<u32> {
    todo!("postgres mailbox_recent_claim")
}
