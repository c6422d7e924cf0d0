//! Reading the address arguments a user gives (`--from "Zoë <zoe@example.org>"`,
//! `--to "a@example.org, Bob <b@example.org>"`) into mailboxes: an optional display
//! name and an address that is also valid in the SMTP envelope.
//!
//! Where it sits: called by [`super::compose`] for From, To, Cc, Bcc and Reply-To, and
//! by `postie sendmail -t` for the recipient headers of a finished message. The RFC 5322
//! §3.4 syntax (quoted names, comments, groups, encoded words) is parsed by mail-parser;
//! each address is then checked with [`message::Address::parse`], the same parser the
//! SMTP server uses.

use mail_parser::MessageParser;
use message::Address;

use super::ComposeError;

/// One mailbox: `name <address>` or a bare address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mailbox {
    /// The display name, decoded (may be non-ASCII).
    pub name: Option<String>,
    /// The address.
    pub address: Address,
}

/// Parses an address list as written in a header or on the command line; `what` names
/// the field in errors. An empty list is an error.
pub fn parse_list(text: &str, what: &str) -> Result<Vec<Mailbox>, ComposeError> {
    if text.contains(['\r', '\n']) {
        return Err(ComposeError::Address {
            field: what.to_string(),
            text: text.to_string(),
            reason: "contains a line break".into(),
        });
    }
    let raw = format!("To: {text}\r\n\r\n");
    let parsed = MessageParser::new().parse_headers(raw.as_bytes());
    let list = parsed
        .as_ref()
        .and_then(|m| m.to())
        .map(|a| a.iter().cloned().collect::<Vec<_>>())
        .unwrap_or_default();
    if list.is_empty() {
        return Err(ComposeError::Address {
            field: what.to_string(),
            text: text.to_string(),
            reason: "no address found".into(),
        });
    }
    list.into_iter()
        .map(|addr| {
            let spec = addr.address.as_deref().unwrap_or_default().trim();
            let address = Address::parse(spec).map_err(|e| ComposeError::Address {
                field: what.to_string(),
                text: text.to_string(),
                reason: if spec.is_empty() {
                    "no address found".to_string()
                } else {
                    format!("{spec:?}: {e}")
                },
            })?;
            let name = addr
                .name
                .map(|n| n.trim().to_string())
                .filter(|n| !n.is_empty());
            Ok(Mailbox { name, address })
        })
        .collect()
}

/// Parses several arguments (each may hold a list) into one list.
pub fn parse_all(texts: &[String], what: &str) -> Result<Vec<Mailbox>, ComposeError> {
    let mut out = Vec::new();
    for text in texts {
        out.extend(parse_list(text, what)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_names_and_addresses() {
        let list = parse_list(
            "alice@example.org, \"Smith, Bob\" <bob@example.org>, Zoë <zoe@example.org>",
            "To",
        )
        .unwrap();
        let got: Vec<(Option<&str>, String)> = list
            .iter()
            .map(|m| (m.name.as_deref(), m.address.to_string()))
            .collect();
        assert_eq!(
            got,
            [
                (None, "alice@example.org".to_string()),
                (Some("Smith, Bob"), "bob@example.org".to_string()),
                (Some("Zoë"), "zoe@example.org".to_string()),
            ]
        );
    }

    #[test]
    fn decodes_encoded_words_in_names() {
        let list = parse_list("=?utf-8?B?0JjQstCw0L0=?= <ivan@example.org>", "From").unwrap();
        assert_eq!(list[0].name.as_deref(), Some("Иван"));
    }

    #[test]
    fn refuses_what_is_not_an_address() {
        for bad in ["", "bob", "Bob <>", "a@b\r\nBcc: x@y", "<a b@example.org>"] {
            assert!(parse_list(bad, "To").is_err(), "{bad:?}");
        }
    }
}
