//! TODO(issue 15): PostgreSQL quota.

#![allow(unused_variables, unused_imports)]

use message::{Address, Domain, Envelope, QueueId};

use super::PgStore;
use crate::*;

pub(super) async fn quota_set(s: &PgStore, address: &Address, quota: Quota) -> Result<()> {
    todo!("postgres quota_set")
}

pub(super) async fn quota_get(s: &PgStore, account: AccountId) -> Result<Quota> {
    todo!("postgres quota_get")
}

pub(super) async fn quota_usage(s: &PgStore, account: AccountId) -> Result<QuotaUsage> {
    todo!("postgres quota_usage")
}
