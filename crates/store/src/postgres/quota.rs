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

/// `OverQuota` unless `account` can take `count` more messages of `octets` octets in
/// all; an unknown account passes (the filing itself reports it). Shared by every
/// filing path (append, copy, delivery). When the account has a limit, it locks the
/// account's row (`FOR UPDATE`) before reading the usage, so two transactions filing
/// for one account (on any node) check one after the other and cannot both squeeze
/// under the limit; without limits it only reads the row.
pub(super) async fn admit(
    tx: &deadpool_postgres::Transaction<'_>,
    account: AccountId,
    octets: u64,
    count: u64,
) -> Result<()> {
    todo!("postgres quota::admit")
}
