//! TODO(issue 15): PostgreSQL maildrop.

#![allow(unused_variables, unused_imports)]

use message::{Address, Domain, Envelope, QueueId};

use super::PgStore;
use crate::*;

pub(super) async fn maildrop_lock(s: &PgStore, mailbox: MailboxId, holder: &str, now_unix: i64, until_unix: i64) -> Result<bool> {
    todo!("postgres maildrop_lock")
}

pub(super) async fn maildrop_unlock(s: &PgStore, mailbox: MailboxId, holder: &str) -> Result<()> {
    todo!("postgres maildrop_unlock")
}
