//! Counting logged-in sessions per account, so that one account cannot hold every
//! connection slot (config `imap.max_sessions_per_user`; Dovecot's
//! `mail_max_userip_connections` is the same idea per user and address).
//!
//! Where it sits: [`crate::listen::Shared`] owns one [`UserSessions`]; the IMAP session
//! takes a [`UserSlot`] when a login succeeds (the IMAP session's `auth`) and keeps it
//! until the connection ends, when dropping it gives the slot back.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Logged-in sessions by account id.
#[derive(Debug)]
pub(crate) struct UserSessions {
    max_per_user: usize,
    open: Mutex<HashMap<i64, usize>>,
}

/// One logged-in session of an account; gives its place back when dropped.
#[derive(Debug)]
pub(crate) struct UserSlot {
    sessions: Arc<UserSessions>,
    account: i64,
}

impl UserSessions {
    pub fn new(max_per_user: usize) -> Arc<Self> {
        Arc::new(UserSessions {
            max_per_user,
            open: Mutex::new(HashMap::new()),
        })
    }

    /// A slot for one more session of `account`, or `None` when it has the most
    /// it may have.
    pub fn acquire(self: &Arc<Self>, account: i64) -> Option<UserSlot> {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let count = open.entry(account).or_insert(0);
        if *count >= self.max_per_user {
            return None;
        }
        *count += 1;
        Some(UserSlot {
            sessions: self.clone(),
            account,
        })
    }

    /// Sessions `account` has now.
    #[cfg(test)]
    fn count(&self, account: i64) -> usize {
        let open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        open.get(&account).copied().unwrap_or(0)
    }
}

impl Drop for UserSlot {
    fn drop(&mut self) {
        let mut open = self.sessions.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = open.get_mut(&self.account) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.account);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::UserSessions;

    #[test]
    fn each_account_has_its_own_limit_and_slots_come_back() {
        let sessions = UserSessions::new(2);
        let a1 = sessions.acquire(1).expect("first");
        let a2 = sessions.acquire(1).expect("second");
        assert!(sessions.acquire(1).is_none(), "third of account 1 refused");
        let b = sessions.acquire(2).expect("account 2 is not affected");
        drop(a1);
        assert_eq!(sessions.count(1), 1);
        let a3 = sessions.acquire(1).expect("a freed slot is reusable");
        drop((a2, a3, b));
        assert_eq!(sessions.count(1), 0);
        assert_eq!(sessions.count(2), 0);
    }
}
