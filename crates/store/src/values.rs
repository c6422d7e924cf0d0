//! The server's own small values and named leases (`Store::value_put`, `lease_take`):
//! the checks every backend shares.
//!
//! Where it sits: the memory (`memory/values.rs`), SQLite (`sqlite/values.rs`) and
//! PostgreSQL (`postgres/values.rs`) backends call [`check_key`] and [`check_value`]
//! before they touch anything, so a too-long key or value is `Invalid` on every
//! backend alike; the suite (`suite/values.rs`) holds them to one contract.

use crate::{Result, StoreError, VALUE_KEY_MAX, VALUE_MAX};

/// `Invalid` for an empty key (or lease name) or one longer than [`VALUE_KEY_MAX`].
pub(crate) fn check_key(key: &str) -> Result<()> {
    if key.is_empty() || key.len() > VALUE_KEY_MAX {
        return Err(StoreError::Invalid(format!(
            "value key of {} bytes (1 to {VALUE_KEY_MAX})",
            key.len()
        )));
    }
    Ok(())
}

/// `Invalid` for a value longer than [`VALUE_MAX`].
pub(crate) fn check_value(value: &[u8]) -> Result<()> {
    if value.len() > VALUE_MAX {
        return Err(StoreError::Invalid(format!(
            "value of {} bytes (at most {VALUE_MAX})",
            value.len()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_values_are_bounded() {
        assert!(check_key("").is_err());
        assert!(check_key(&"k".repeat(VALUE_KEY_MAX)).is_ok());
        assert!(check_key(&"k".repeat(VALUE_KEY_MAX + 1)).is_err());
        assert!(check_value(&vec![0; VALUE_MAX]).is_ok());
        assert!(check_value(&vec![0; VALUE_MAX + 1]).is_err());
    }
}
