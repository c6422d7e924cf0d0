//! Per-account quotas (RFC 9208) for [`super::MemoryStore`]: the limits, the usage
//! sum and the checks that filing mail runs first, as methods on the locked state.
//!
//! Where it sits: the `Store` impl in `memory.rs` holds the state's lock across a
//! check and the filing it guards, so the two are one atomic step, as the SQLite
//! backend's writer job is (`sqlite/quota.rs`); the behaviour suite
//! (`src/suite/quota.rs`) holds the two to one contract.

use message::Address;

use super::State;
use crate::{AccountId, MailboxId, Quota, QuotaUsage, Result, StoreError};

impl State {
    /// Sets both limits of the account at `address`.
    pub(super) fn quota_set(&mut self, address: &Address, quota: Quota) -> Result<()> {
        // As the SQLite backend, which stores limits as signed 64-bit integers.
        for (limit, what) in [(quota.storage, "storage"), (quota.messages, "message")] {
            if limit.is_some_and(|l| i64::try_from(l).is_err()) {
                return Err(StoreError::Invalid(format!("{what} limit too large")));
            }
        }
        let id = self
            .by_address
            .get(&address.normalized())
            .copied()
            .ok_or_else(|| StoreError::NotFound(format!("account {address}")))?;
        self.quotas.insert(id, quota);
        Ok(())
    }

    /// The account's limits; `NotFound` for an unknown account.
    pub(super) fn quota_get(&self, account: AccountId) -> Result<Quota> {
        if !self.accounts.contains_key(&account.0) {
            return Err(StoreError::account_gone());
        }
        Ok(self.quotas.get(&account.0).copied().unwrap_or_default())
    }

    /// What the account uses (an unknown account uses nothing).
    pub(super) fn quota_usage(&self, account: AccountId) -> QuotaUsage {
        let mut usage = QuotaUsage::default();
        for folder in self.folders.values().filter(|f| f.account == account) {
            for m in folder.messages.values() {
                usage.storage += (m.prefix.len() + m.body.len()) as u64;
                usage.messages += 1;
            }
        }
        usage
    }

    /// `OverQuota` unless the account can take `count` more messages of `octets` in
    /// all. An unknown account passes: the filing itself reports it.
    pub(super) fn quota_admit(&self, account: AccountId, octets: u64, count: u64) -> Result<()> {
        let Some(quota) = self.quotas.get(&account.0) else {
            return Ok(());
        };
        let used = self.quota_usage(account);
        if quota.admits(&used, octets, count) {
            return Ok(());
        }
        Err(StoreError::OverQuota(format!(
            "account {} uses {used:?} of {quota:?}; {count} more of {octets} octets do not fit",
            account.0
        )))
    }

    /// Before APPEND files `octets` into `mailbox` (an unknown mailbox passes).
    pub(super) fn quota_admit_append(&self, mailbox: MailboxId, octets: u64) -> Result<()> {
        match self.folders.get(&mailbox.0) {
            Some(f) => self.quota_admit(f.account, octets, 1),
            None => Ok(()),
        }
    }

    /// Before COPY files copies of `uids` from `from` into `to`. A MOVE never adds to
    /// the account's usage and is not checked; unknown mailboxes or UIDs pass (COPY
    /// reports or skips them).
    pub(super) fn quota_admit_copy(
        &self,
        from: MailboxId,
        uids: &[u32],
        to: MailboxId,
    ) -> Result<()> {
        let (Some(source), Some(target)) = (self.folders.get(&from.0), self.folders.get(&to.0))
        else {
            return Ok(());
        };
        let mut wanted = uids.to_vec();
        wanted.sort_unstable();
        wanted.dedup();
        let (mut octets, mut count) = (0u64, 0u64);
        for m in wanted.iter().filter_map(|uid| source.messages.get(uid)) {
            octets += (m.prefix.len() + m.body.len()) as u64;
            count += 1;
        }
        if count == 0 {
            return Ok(());
        }
        self.quota_admit(target.account, octets, count)
    }
}
