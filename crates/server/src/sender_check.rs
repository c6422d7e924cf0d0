//! The sender check for authenticated SMTP sessions (config `smtp.sender_check`): a user
//! may only send as one of their own addresses, the account's address or an alias that
//! points to the account, compared case-insensitively as the store does.
//!
//! Where it sits: the SMTP driver calls [`check_envelope`] when MAIL FROM is about to be
//! accepted and [`check_header`] at the end of DATA/BDAT, before the message goes into
//! the pipeline. RFC 6409 §6.1 lets a submission server check that the sender is
//! authorised; the model is Postfix's `reject_sender_login_mismatch`:
//!
//! - MAIL FROM: the null reverse-path `<>` is allowed (bounces, auto-replies, read
//!   receipts carry no sender), any other address must be the user's.
//! - `From:` (RFC 5322 §3.6.2): every address of every `From:` field must be the
//!   user's; a field naming no address is refused too. A message without `From:` claims
//!   nobody and passes.
//!
//! A refusal is `550 5.7.1` naming the address. Unauthenticated sessions (mail from other
//! servers) are not checked here: SPF, DKIM and DMARC are for those.

use message::Address;
use proto::Reply;
use store::{Account, Store, StoreError};

/// The addresses of the message's `From:` fields, in order; `Err(())` when a `From:`
/// field names no address. An empty list when there is no `From:` field.
pub(crate) fn from_addresses(message: &[u8]) -> Result<Vec<String>, ()> {
    let header = strict_header_block(message);
    let Some(parsed) = mail_parser::MessageParser::new().parse_headers(&header) else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for value in parsed.header_values(mail_parser::HeaderName::From) {
        let addresses: Vec<String> = value
            .as_address()
            .map(|list| {
                list.iter()
                    .filter_map(|a| a.address.as_deref())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        if addresses.is_empty() {
            return Err(());
        }
        out.extend(addresses);
    }
    Ok(out)
}

/// The header block as the strictest reader sees it: a bare CR or a bare LF ends a
/// line too, since other parsers read `Subject: x\rFrom: other@example.org` as two
/// fields (and a check that saw one field would let a forged `From:` through); the block
/// ends at the first empty line of that reading. Lines come back ending in CRLF.
/// (BINARYMIME bodies, RFC 3030 §3, may carry bare CRs; DATA and other BDAT bodies with
/// them are refused before this.)
fn strict_header_block(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut line_is_empty = true;
    let mut i = 0;
    while i < message.len() {
        let b = message[i];
        i += 1;
        let line_end = match b {
            b'\r' => {
                if message.get(i) == Some(&b'\n') {
                    i += 1;
                }
                true
            }
            b'\n' => true,
            _ => false,
        };
        if !line_end {
            out.push(b);
            line_is_empty = false;
            continue;
        }
        out.extend_from_slice(b"\r\n");
        if line_is_empty {
            break;
        }
        line_is_empty = true;
    }
    out
}

/// True when `address` is one of `account`'s: its own or an alias pointing to it.
async fn owns(store: &dyn Store, account: &Account, address: &Address) -> Result<bool, StoreError> {
    if address.normalized() == account.address.normalized() {
        return Ok(true);
    }
    Ok(store
        .resolve_recipient(address)
        .await?
        .is_some_and(|owner| owner.id == account.id))
}

/// The account `login` authenticated as; `None` if it has gone since.
async fn account_of(store: &dyn Store, login: &str) -> Result<Option<Account>, StoreError> {
    match Address::parse(login.trim()) {
        Ok(address) => store.account_get(&address).await,
        Err(_) => Ok(None),
    }
}

/// MAIL FROM of a session authenticated as `login`: `None` when allowed, else the reply.
pub(crate) async fn check_envelope(
    store: &dyn Store,
    login: &str,
    sender: Option<&Address>,
) -> Result<Option<Reply>, StoreError> {
    let Some(sender) = sender else {
        return Ok(None); // <>: see the module docs
    };
    let allowed = match account_of(store, login).await? {
        Some(account) => owns(store, &account, sender).await?,
        None => false,
    };
    if allowed {
        return Ok(None);
    }
    tracing::warn!(user = %login, sender = %sender, "MAIL FROM refused: not the user's address");
    Ok(Some(Reply::sender_not_owned(&sender.to_string())))
}

/// The `From:` fields of a message from a session authenticated as `login`: `None`
/// when allowed, else the reply.
pub(crate) async fn check_header(
    store: &dyn Store,
    login: &str,
    message: &[u8],
) -> Result<Option<Reply>, StoreError> {
    let Ok(addresses) = from_addresses(message) else {
        tracing::warn!(user = %login, "message refused: a From field without an address");
        return Ok(Some(Reply::from_without_address()));
    };
    if addresses.is_empty() {
        return Ok(None);
    }
    let account = account_of(store, login).await?;
    for text in addresses {
        let allowed = match (&account, Address::parse(&text)) {
            (Some(account), Ok(address)) => owns(store, account, &address).await?,
            _ => false,
        };
        if !allowed {
            tracing::warn!(user = %login, from = %text, "message refused: From is not the user's address");
            return Ok(Some(Reply::sender_not_owned(&text)));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use store::memory::MemoryStore;

    #[test]
    fn from_fields_are_read_whole() {
        let one = b"From: Alice <alice@example.org>\r\nSubject: x\r\n\r\nFrom: body@x.test\r\n";
        assert_eq!(from_addresses(one), Ok(vec!["alice@example.org".into()]));
        let many = b"From: a@x.test, \"B\" <b@x.test>\r\nFrom: c@x.test\r\n\r\n";
        assert_eq!(
            from_addresses(many),
            Ok(vec![
                "a@x.test".into(),
                "b@x.test".into(),
                "c@x.test".into()
            ])
        );
        let folded = b"From: Alice\r\n <alice@example.org>\r\n\r\nbody";
        assert_eq!(from_addresses(folded), Ok(vec!["alice@example.org".into()]));
        assert_eq!(
            from_addresses(b"Subject: none\r\n\r\nFrom: x@y.test\r\n"),
            Ok(vec![])
        );
        assert_eq!(from_addresses(b"From: just a name\r\n\r\n"), Err(()));
        assert_eq!(from_addresses(b"From:\r\n\r\n"), Err(()));
    }

    /// A bare CR or LF ends a header line here, as it does for the parsers downstream:
    /// a `From:` hidden behind one is seen.
    #[test]
    fn bare_line_endings_do_not_hide_a_from_field() {
        for message in [
            &b"Subject: x\rFrom: other@example.org\r\n\r\nbody"[..],
            b"Subject: x\nFrom: other@example.org\r\n\r\nbody",
            b"From: alice@example.org\r\nSubject: y\rFrom: other@example.org\r\n\r\n",
        ] {
            let got = from_addresses(message).unwrap();
            assert!(
                got.contains(&"other@example.org".to_owned()),
                "{message:?}: {got:?}"
            );
        }
        // A bare CR or LF on its own is an empty line: the header ends there.
        assert_eq!(
            from_addresses(b"Subject: x\r\n\rFrom: a@x.test\r\n"),
            Ok(vec![])
        );
    }

    async fn store() -> MemoryStore {
        let s = MemoryStore::new();
        s.domain_add(&message::Domain::parse("example.org").unwrap())
            .await
            .unwrap();
        for user in ["alice@example.org", "bob@example.org"] {
            s.account_add(&Address::parse(user).unwrap(), "x")
                .await
                .unwrap();
        }
        s.alias_add(
            &Address::parse("sales@example.org").unwrap(),
            &Address::parse("alice@example.org").unwrap(),
        )
        .await
        .unwrap();
        s
    }

    fn addr(a: &str) -> Address {
        Address::parse(a).unwrap()
    }

    #[tokio::test]
    async fn envelope_senders() {
        let s = store().await;
        let login = "alice@example.org";
        for ok in [
            "alice@example.org",
            "ALICE@Example.ORG",
            "sales@example.org",
        ] {
            assert_eq!(
                check_envelope(&s, login, Some(&addr(ok))).await.unwrap(),
                None,
                "{ok}"
            );
        }
        assert_eq!(
            check_envelope(&s, login, None).await.unwrap(),
            None,
            "<> is allowed"
        );
        for bad in [
            "bob@example.org",
            "alice@elsewhere.test",
            "nobody@example.org",
        ] {
            let reply = check_envelope(&s, login, Some(&addr(bad))).await.unwrap();
            let text = reply.expect(bad).to_string();
            assert!(
                text.starts_with("550 5.7.1 ") && text.contains(bad),
                "{text}"
            );
        }
        // A login whose account is gone may send as nobody.
        let carol = addr("carol@example.org");
        let gone = check_envelope(&s, "carol@example.org", Some(&carol)).await;
        assert!(gone.unwrap().is_some());
    }

    #[tokio::test]
    async fn header_senders() {
        let s = store().await;
        let login = "alice@example.org";
        let check = |m: &'static [u8]| check_header(&s, login, m);
        assert_eq!(
            check(b"From: Alice <alice@example.org>\r\n\r\nhi")
                .await
                .unwrap(),
            None
        );
        assert_eq!(
            check(b"From: sales@example.org, alice@example.org\r\n\r\n")
                .await
                .unwrap(),
            None
        );
        assert_eq!(check(b"Subject: no from\r\n\r\n").await.unwrap(), None);
        let mixed = check(b"From: alice@example.org, bob@example.org\r\n\r\n")
            .await
            .unwrap();
        assert!(mixed.unwrap().to_string().contains("<bob@example.org>"));
        let second = check(b"From: alice@example.org\r\nFrom: ceo@bank.test\r\n\r\n")
            .await
            .unwrap();
        assert!(second.unwrap().to_string().contains("<ceo@bank.test>"));
        let nameless = check(b"From: The Bank\r\n\r\n").await.unwrap();
        assert_eq!(nameless, Some(Reply::from_without_address()));
    }
}
