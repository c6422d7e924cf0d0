//! TODO(issue 15): PostgreSQL app_passwords.

#![allow(unused_variables, unused_imports)]

use message::{Address, Domain, Envelope, QueueId};

use super::PgStore;
use crate::*;

pub(super) async fn app_password_add(s: &PgStore, account: AccountId, name: &str, id: &str, hash: &str, created_at: i64) -> Result<()> {
    todo!("postgres app_password_add")
}

pub(super) async fn app_password_list(s: &PgStore, account: AccountId) -> Result<Vec<AppPassword>> {
    todo!("postgres app_password_list")
}

pub(super) async fn app_password_get(s: &PgStore, account: AccountId, id: &str) -> Result<Option<AppPassword>> {
    todo!("postgres app_password_get")
}

pub(super) async fn app_password_revoke(s: &PgStore, account: AccountId, name: &str) -> Result<()> {
    todo!("postgres app_password_revoke")
}

pub(super) async fn app_password_used(s: &PgStore, account: AccountId, id: &str, when: i64) -> Result<()> {
    todo!("postgres app_password_used")
}
