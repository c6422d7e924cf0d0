//! QUOTA (RFC 9208): GETQUOTAROOT, GETQUOTA and SETQUOTA, over the per-account limits
//! the administrator sets with `postie user quota`.
//!
//! Where it sits: called by [`super::Session::command`] in the authenticated and
//! selected states. The limits and usage come from the store
//! ([`store_api::Store::quota_get`], [`store_api::Store::quota_usage`]); the store itself
//! refuses an APPEND or COPY that would go past them, which `append.rs` and `copy.rs`
//! answer with `NO [OVERQUOTA]` (RFC 9208 §4.3.1).
//!
//! The model: each account with a limit has one quota root, named `""`, governing all
//! of its mailboxes (RFC 9208 §3.2 lets a server choose its roots). A mailbox another
//! account shares with this one (`access.rs`) has no root the session can see. An account without
//! limits has no quota root: GETQUOTAROOT lists none, and GETQUOTA `""` is
//! `NO [NONEXISTENT]` (§4.1.1 "no such quota root"); a QUOTA response must name at
//! least one resource (§6, `quota-list`), so there is nothing it could say.
//! Limits are the administrator's: SETQUOTA is refused with `NO [NOPERM]`, and the
//! `QUOTASET` capability, which servers that take SETQUOTA announce, is not (§1).

use super::{Session, Status, store_failed, wire};
use store_api::{Quota, QuotaUsage};

/// The one quota root an account with limits has (RFC 9208 §3.2).
const ROOT: &str = "";

/// The capabilities this file implements (RFC 9208 §3.1): the command set, and the
/// two resources of §5.1 and §5.2.
pub const CAPABILITIES: [&str; 3] = ["QUOTA", "QUOTA=RES-STORAGE", "QUOTA=RES-MESSAGE"];

/// STORAGE in units of 1024 octets (RFC 9208 §5.1), rounded up: a non-empty account
/// never shows 0, and since usage and limit round the same way, usage shows above
/// the limit only when it is (the store counts exact octets).
fn kib(octets: u64) -> u64 {
    octets.div_ceil(1024)
}

/// The untagged QUOTA response for the root (RFC 9208 §4.2.1), without `* `; `None`
/// when no resource is limited.
fn quota_response(quota: &Quota, usage: &QuotaUsage) -> Option<String> {
    let mut resources = Vec::new();
    if let Some(limit) = quota.storage {
        resources.push(format!("STORAGE {} {}", kib(usage.storage), kib(limit)));
    }
    if let Some(limit) = quota.messages {
        resources.push(format!("MESSAGE {} {limit}", usage.messages));
    }
    if resources.is_empty() {
        return None;
    }
    Some(format!(
        "QUOTA {} ({})",
        wire::string(ROOT),
        resources.join(" ")
    ))
}

impl Session<'_> {
    /// The QUOTA response for this session's account, read from the store; `Ok(None)`
    /// when the account has no limits.
    async fn account_quota(&self) -> Result<Option<String>, Status> {
        let store = self.shared.store();
        let account = self.account_id();
        let quota = store
            .quota_get(account)
            .await
            .map_err(|e| store_failed("quota lookup", &e))?;
        if quota.is_unlimited() {
            return Ok(None);
        }
        let usage = store
            .quota_usage(account)
            .await
            .map_err(|e| store_failed("quota lookup", &e))?;
        Ok(quota_response(&quota, &usage))
    }

    /// GETQUOTAROOT (RFC 9208 §4.1.2): the roots of `mailbox` (which need not exist),
    /// then a QUOTA response for each.
    pub(super) async fn get_quota_root(&mut self, mailbox: &str) -> Status {
        // Another account's mailbox (ACL, `access.rs`) is under its owner's quota,
        // which is not this session's to see: no root (§4.2.2 allows zero).
        if crate::acl::in_shared_namespace(mailbox) {
            match self.resolve_mailbox(mailbox).await {
                Ok(Some(target)) if target.access.is_shared() => {
                    let name = self.name_out(mailbox);
                    self.untagged(&format!("QUOTAROOT {name}"));
                    return Status::Ok("GETQUOTAROOT completed".into());
                }
                // A personal mailbox of that name (made before sharing existed).
                Ok(Some(_)) => {}
                Ok(None) => return Status::No("[NONEXISTENT] No such mailbox".into()),
                Err(e) => return super::store_failed("GETQUOTAROOT", &e),
            }
        }
        let quota = match self.account_quota().await {
            Ok(q) => q,
            Err(status) => return status,
        };
        // In the connection's name encoding (modified UTF-7 or UTF-8, see `names.rs`).
        let name = self.name_out(mailbox);
        match quota {
            Some(line) => {
                self.untagged(&format!("QUOTAROOT {name} {}", wire::string(ROOT)));
                self.untagged(&line);
            }
            // No limits, no root (§4.2.2: zero or more roots).
            None => self.untagged(&format!("QUOTAROOT {name}")),
        }
        Status::Ok("GETQUOTAROOT completed".into())
    }

    /// GETQUOTA (RFC 9208 §4.1.1): the usage and limits of `root`.
    pub(super) async fn get_quota(&mut self, root: &str) -> Status {
        if root != ROOT {
            return Status::No("[NONEXISTENT] No such quota root".into());
        }
        match self.account_quota().await {
            Ok(Some(line)) => {
                self.untagged(&line);
                Status::Ok("GETQUOTA completed".into())
            }
            Ok(None) => {
                Status::No("[NONEXISTENT] No quota root: this account has no limits".into())
            }
            Err(status) => status,
        }
    }

    /// SETQUOTA (RFC 9208 §4.1.3): limits are set by the administrator, not over IMAP
    /// (RFC 5530 NOPERM).
    pub(super) fn set_quota(&mut self) -> Status {
        Status::No("[NOPERM] Quotas are set by the administrator".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_is_in_kib_rounded_up() {
        let quota = Quota {
            storage: Some(1 << 30),
            messages: None,
        };
        let usage = QuotaUsage {
            storage: 1025,
            messages: 3,
        };
        assert_eq!(
            quota_response(&quota, &usage).as_deref(),
            Some("QUOTA \"\" (STORAGE 2 1048576)")
        );
        let quota = Quota {
            storage: Some(1500),
            messages: Some(50_000),
        };
        let empty = QuotaUsage::default();
        assert_eq!(
            quota_response(&quota, &empty).as_deref(),
            Some("QUOTA \"\" (STORAGE 0 2 MESSAGE 0 50000)")
        );
    }

    #[test]
    fn message_only_and_unlimited() {
        let usage = QuotaUsage {
            storage: 99_999,
            messages: 7,
        };
        let quota = Quota {
            storage: None,
            messages: Some(10),
        };
        assert_eq!(
            quota_response(&quota, &usage).as_deref(),
            Some("QUOTA \"\" (MESSAGE 7 10)")
        );
        assert_eq!(quota_response(&Quota::default(), &usage), None);
    }
}
