//! SASL helpers for AUTH PLAIN (RFC 4616) and AUTH LOGIN (draft-murchison-sasl-login),
//! shared by SMTP AUTH (RFC 4954), POP3 AUTH (RFC 5034) and IMAP AUTHENTICATE.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// Why a SASL exchange failed before a password check.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SaslError {
    /// The client sent `*` (RFC 4954 §4).
    #[error("cancelled by client")]
    Cancelled,
    /// Not valid base64.
    #[error("invalid base64")]
    BadBase64,
    /// Decoded, but not the shape the mechanism needs.
    #[error("malformed SASL message")]
    Malformed,
}

/// Credentials a mechanism produced, to be checked against the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// Authorization identity; empty means the same as `username`.
    pub authzid: String,
    /// The login name.
    pub username: String,
    /// The password as given.
    pub password: String,
}

/// Decodes one client line of a SASL exchange (without CRLF). `*` is a cancel;
/// `=` is an empty initial response (RFC 4954 §4).
pub fn decode_line(line: &str) -> Result<Vec<u8>, SaslError> {
    let line = line.trim_end_matches(['\r', '\n']);
    if line == "*" {
        return Err(SaslError::Cancelled);
    }
    if line == "=" {
        return Ok(Vec::new());
    }
    STANDARD
        .decode(line.trim())
        .map_err(|_| SaslError::BadBase64)
}

/// Encodes a server challenge for a `334` line.
pub fn encode(data: &[u8]) -> String {
    STANDARD.encode(data)
}

/// Parses a decoded PLAIN message: `authzid NUL authcid NUL passwd` (RFC 4616 §2).
pub fn parse_plain(decoded: &[u8]) -> Result<Credentials, SaslError> {
    let mut parts = decoded.split(|&b| b == 0);
    let (Some(authzid), Some(user), Some(pass), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(SaslError::Malformed);
    };
    let text = |b: &[u8]| String::from_utf8(b.to_vec()).map_err(|_| SaslError::Malformed);
    let creds = Credentials {
        authzid: text(authzid)?,
        username: text(user)?,
        password: text(pass)?,
    };
    if creds.username.is_empty() {
        return Err(SaslError::Malformed);
    }
    Ok(creds)
}

/// Turns a decoded LOGIN field (user name or password) into text.
pub fn login_field(decoded: Vec<u8>) -> Result<String, SaslError> {
    String::from_utf8(decoded).map_err(|_| SaslError::Malformed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_table() {
        type Expected = Result<(&'static str, &'static str, &'static str), SaslError>;
        let cases: &[(&[u8], Expected)] = &[
            (b"\0alice\0secret", Ok(("", "alice", "secret"))),
            (b"admin\0alice\0secret", Ok(("admin", "alice", "secret"))),
            (b"\0alice\0", Ok(("", "alice", ""))),
            (b"alice\0secret", Err(SaslError::Malformed)),
            (b"\0\0secret", Err(SaslError::Malformed)),
            (b"\0a\0b\0c", Err(SaslError::Malformed)),
            (b"\0\xff\0x", Err(SaslError::Malformed)),
        ];
        for (input, want) in cases {
            let got = parse_plain(input);
            match want {
                Ok((z, u, p)) => {
                    let c = got.unwrap();
                    assert_eq!(
                        (c.authzid.as_str(), c.username.as_str(), c.password.as_str()),
                        (*z, *u, *p)
                    );
                }
                Err(e) => assert_eq!(got.unwrap_err(), *e),
            }
        }
    }

    #[test]
    fn decode_lines() {
        assert_eq!(decode_line("*"), Err(SaslError::Cancelled));
        assert_eq!(decode_line("="), Ok(vec![]));
        assert_eq!(decode_line("YWxpY2U=\r\n"), Ok(b"alice".to_vec()));
        assert_eq!(decode_line("!!!"), Err(SaslError::BadBase64));
        assert_eq!(encode(b"Username:"), "VXNlcm5hbWU6");
    }
}
