//! The server's own values and named leases for [`super::MemoryStore`], as methods on
//! the locked state.
//!
//! Where it sits: the `Store` impl in `memory.rs` calls these while holding the
//! state's lock, so taking a lease is one atomic check-and-set, as the SQLite
//! backend's writer job is (`sqlite/values.rs`); the suite (`src/suite/values.rs`)
//! holds the backends to one contract.

use super::State;
use crate::Result;
use crate::values::{check_key, check_value};

/// A named lease: who holds it, until when (unix seconds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Lease {
    holder: String,
    until: i64,
}

impl State {
    pub(super) fn value_put(&mut self, key: &str, value: &[u8]) -> Result<()> {
        check_key(key)?;
        check_value(value)?;
        self.values.insert(key.to_owned(), value.to_vec());
        Ok(())
    }

    pub(super) fn value_list(&self, prefix: &str) -> Vec<(String, Vec<u8>)> {
        self.values
            .range(prefix.to_owned()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    pub(super) fn lease_take(
        &mut self,
        name: &str,
        holder: &str,
        now: i64,
        until: i64,
    ) -> Result<bool> {
        check_key(name)?;
        let free = self
            .leases
            .get(name)
            .is_none_or(|l| l.until <= now || l.holder == holder);
        if free {
            self.leases.insert(
                name.to_owned(),
                Lease {
                    holder: holder.to_owned(),
                    until,
                },
            );
        }
        Ok(free)
    }

    pub(super) fn lease_drop(&mut self, name: &str, holder: &str) {
        if self.leases.get(name).is_some_and(|l| l.holder == holder) {
            self.leases.remove(name);
        }
    }
}
