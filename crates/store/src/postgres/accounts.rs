//! TODO(issue 15): PostgreSQL accounts.

#![allow(unused_variables, unused_imports)]

use message::{Address, Domain, Envelope, QueueId};

use super::PgStore;
use crate::*;

pub(super) async fn domain_add(s: &PgStore, domain: &Domain) -> Result<()> {
    todo!("postgres domain_add")
}

pub(super) async fn domain_remove(s: &PgStore, domain: &Domain) -> Result<()> {
    todo!("postgres domain_remove")
}

pub(super) async fn domain_list(s: &PgStore) -> Result<Vec<Domain>> {
    todo!("postgres domain_list")
}

pub(super) async fn domain_is_local(s: &PgStore, domain: &Domain) -> Result<bool> {
    todo!("postgres domain_is_local")
}

pub(super) async fn account_add(s: &PgStore, address: &Address, password_hash: &str) -> Result<AccountId> {
    todo!("postgres account_add")
}

pub(super) async fn account_set_password(s: &PgStore, address: &Address, password_hash: &str) -> Result<()> {
    todo!("postgres account_set_password")
}

pub(super) async fn account_remove(s: &PgStore, address: &Address) -> Result<()> {
    todo!("postgres account_remove")
}

pub(super) async fn account_list(s: &PgStore) -> Result<Vec<Account>> {
    todo!("postgres account_list")
}

pub(super) async fn account_get(s: &PgStore, address: &Address) -> Result<Option<Account>> {
    todo!("postgres account_get")
}

pub(super) async fn resolve_recipient(s: &PgStore, address: &Address) -> Result<Option<Account>> {
    todo!("postgres resolve_recipient")
}
