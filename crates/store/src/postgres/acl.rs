//! TODO(issue 15): PostgreSQL acl.

#![allow(unused_variables, unused_imports)]

use message::{Address, Domain, Envelope, QueueId};

use super::PgStore;
use crate::*;

pub(super) async fn acl_set(s: &PgStore, mailbox: MailboxId, grantee: Grantee, rights: &str) -> Result<()> {
    todo!("postgres acl_set")
}

pub(super) async fn acl_list(s: &PgStore, mailbox: MailboxId) -> Result<Vec<AclEntry>> {
    todo!("postgres acl_list")
}

pub(super) async fn acl_shared_with(s: &PgStore, account: AccountId) -> Result<Vec<SharedMailbox>> {
    todo!("postgres acl_shared_with")
}
