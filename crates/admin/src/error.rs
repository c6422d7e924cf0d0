//! [`AdminError`]: how an admin operation fails, by kind (which the web face turns
//! into an HTTP status) with the words the command line prints.

use store::StoreError;

/// Why an admin operation failed. The text is complete (it names what was asked
/// for), so a face shows it as it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AdminError {
    /// The request makes no sense: a malformed address, a domain that is not local,
    /// an empty password, an unusable name (HTTP 400).
    #[error("{0}")]
    Invalid(String),
    /// What it names does not exist (HTTP 404).
    #[error("{0}")]
    NotFound(String),
    /// What it would create already exists (HTTP 409).
    #[error("{0}")]
    Exists(String),
    /// The store, the disk or the network failed; nothing about the request is wrong
    /// (HTTP 500).
    #[error("{0}")]
    Failed(String),
}

impl AdminError {
    /// The HTTP status this error answers with.
    pub fn http_status(&self) -> u16 {
        match self {
            AdminError::Invalid(_) => 400,
            AdminError::NotFound(_) => 404,
            AdminError::Exists(_) => 409,
            AdminError::Failed(_) => 500,
        }
    }
}

/// A store error keeps its text (`not found: …`, `already exists: …`, which the CLI
/// has always printed) and becomes the kind it is: a refused request (`Invalid`, and
/// `OverQuota`, which nothing the administrator does here should meet) is `Invalid`;
/// I/O trouble and damaged records are `Failed`.
impl From<StoreError> for AdminError {
    fn from(e: StoreError) -> Self {
        let text = e.to_string();
        match e {
            StoreError::NotFound(_) => AdminError::NotFound(text),
            StoreError::Exists(_) => AdminError::Exists(text),
            StoreError::Invalid(_) | StoreError::OverQuota(_) => AdminError::Invalid(text),
            StoreError::Io(_) | StoreError::Damaged(_) => AdminError::Failed(text),
        }
    }
}

/// A DKIM key file error keeps its text: no such key is `NotFound`, a bad domain or
/// selector `Invalid`, file and crypto trouble `Failed`.
impl From<mailauth::KeyError> for AdminError {
    fn from(e: mailauth::KeyError) -> Self {
        let text = e.to_string();
        match e {
            mailauth::KeyError::NotFound { .. } => AdminError::NotFound(text),
            mailauth::KeyError::Invalid(_) => AdminError::Invalid(text),
            mailauth::KeyError::Io { .. } | mailauth::KeyError::Crypto(_) => {
                AdminError::Failed(text)
            }
        }
    }
}

/// A blocking task (password hashing) that panicked or was cancelled.
impl From<tokio::task::JoinError> for AdminError {
    fn from(e: tokio::task::JoinError) -> Self {
        AdminError::Failed(format!("hashing failed: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_errors_keep_their_text_and_get_a_kind() {
        let e = AdminError::from(StoreError::NotFound("account x".into()));
        assert_eq!(e, AdminError::NotFound("not found: account x".into()));
        assert_eq!(e.http_status(), 404);
        assert_eq!(e.to_string(), "not found: account x");
        let kinds = [
            (StoreError::Exists("a".into()), 409),
            (StoreError::Invalid("a".into()), 400),
            (StoreError::OverQuota("a".into()), 400),
            (StoreError::Io("a".into()), 500),
            (StoreError::Damaged("a".into()), 500),
        ];
        for (e, status) in kinds {
            let text = e.to_string();
            let admin = AdminError::from(e);
            assert_eq!((admin.http_status(), admin.to_string()), (status, text));
        }
    }

    #[test]
    fn key_errors_get_a_kind() {
        let e = AdminError::from(mailauth::KeyError::NotFound {
            domain: "example.org".into(),
            selector: "s".into(),
        });
        assert_eq!(e, AdminError::NotFound("no key s for example.org".into()));
        assert_eq!(
            AdminError::from(mailauth::KeyError::Invalid("bad".into())).http_status(),
            400
        );
    }
}
