//! Addresses as SORT and SEARCH read them, parsed the way ENVELOPE parses them
//! (RFC 5322 §3.4 with the obsolete forms of §4.4; `fetch/address.rs`), so SORT,
//! SEARCH and FETCH ENVELOPE agree on what an address field says.
//!
//! Where it sits: [`super::Summary::compute`] keeps each field's first address
//! ([`first`]) for SORT (RFC 5256 §3 FROM/TO/CC, RFC 5957 DISPLAYFROM/DISPLAYTO);
//! SEARCH's FROM/TO/CC/BCC also match each address written out plainly
//! ([`plain`]), so `<user (comment)@ (comment) domain.org>` is found by
//! `user@domain.org`: comments inside an addr-spec are not part of the address
//! (RFC 5322 §3.2.2, CFWS).
//!
//! Groups (`name: member, member;`, RFC 5322 §3.4) are read as Dovecot reads them
//! (its `index-sort.c` takes the first entry of `message_address_parse`, where a group
//! starts with an entry whose mailbox is the group's name and whose host is empty):
//! the first address of `Cc: user2: blah@domain1.org;` is the group itself, so SORT
//! CC sorts on `user2` and DISPLAYCC/DISPLAYTO on `user2` too, not on `blah`, the
//! first member. An empty group (`undisclosed-recipients:;`) sorts on its name the
//! same way.

use std::borrow::Cow;

use imap_codec::imap_types::core::NString;
use imap_codec::imap_types::envelope::Address;

use super::{Bytes, FirstAddress};

/// The first address of an ENVELOPE address list, as SORT keeps it: the display name
/// RFC 2047-decoded, and `mailbox@host`; a group start gives its name as the
/// addr-spec (no host) and no display name (see the module docs).
pub(crate) fn first(list: &[Address<'_>]) -> Option<FirstAddress<'static>> {
    let a = list.first()?;
    let mailbox = bytes(&a.mailbox)?;
    let address = match bytes(&a.host) {
        Some(host) => [mailbox, b"@", host].concat(),
        None => mailbox.to_vec(),
    };
    let name = bytes(&a.name).map(decode_phrase).filter(|n| !n.is_empty());
    Some(FirstAddress {
        name: name.map(|n| Bytes(Cow::Owned(n.into_bytes()))),
        address: Some(Bytes(Cow::Owned(address))),
    })
}

/// Each address of an ENVELOPE address list written out as SEARCH matches it:
/// `name <mailbox@host>` (or `mailbox@host` without a name), the group name for a
/// group start, nothing for a group end.
pub(crate) fn plain<'a>(list: &'a [Address<'a>]) -> impl Iterator<Item = Vec<u8>> + 'a {
    list.iter().filter_map(|a| {
        let mailbox = bytes(&a.mailbox)?;
        let Some(host) = bytes(&a.host) else {
            return Some(mailbox.to_vec());
        };
        let spec = [mailbox, b"@", host].concat();
        Some(match bytes(&a.name) {
            Some(name) => [name, b" <", &spec, b">"].concat(),
            None => spec,
        })
    })
}

/// The bytes of a non-NIL string.
fn bytes<'n>(n: &'n NString<'_>) -> Option<&'n [u8]> {
    n.0.as_ref().map(|s| s.as_ref())
}

/// A display-name phrase with its RFC 2047 encoded words decoded (ENVELOPE leaves
/// them encoded for the client; SORT compares the text, RFC 5957 §3).
fn decode_phrase(raw: &[u8]) -> String {
    let mut line = raw.to_vec();
    line.push(b'\n');
    match mail_parser::parsers::MessageStream::new(&line).parse_unstructured() {
        mail_parser::HeaderValue::Text(text) => text.trim().to_owned(),
        _ => String::from_utf8_lossy(raw).trim().to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use crate::summary::{AddressField, Summary};

    fn first(header: &str) -> (Option<String>, Option<String>) {
        let raw = format!("{header}\r\n\r\nbody\r\n");
        let summary = Summary::compute(raw.as_bytes());
        let field = match header.split(':').next() {
            Some("From") => AddressField::From,
            Some("To") => AddressField::To,
            _ => AddressField::Cc,
        };
        let (name, spec) = summary.first_address(field).expect("an address");
        (name.map(|n| n.into_owned()), spec.map(|s| s.into_owned()))
    }

    #[test]
    fn first_addresses_as_dovecot_sorts_them() {
        // A group is its own first entry: its name, no host (Dovecot's index-sort).
        assert_eq!(
            first("Cc: user2: blah@domain1.org;"),
            (None, Some("user2".into()))
        );
        assert_eq!(
            first("To: undisclosed-recipients:;"),
            (None, Some("undisclosed-recipients".into()))
        );
        // Comments inside the addr-spec are not part of it.
        assert_eq!(
            first("From: <user-from (comment)@ (comment) domain.org>"),
            (None, Some("user-from@domain.org".into()))
        );
        // A trailing comment is the name, as ENVELOPE has it.
        assert_eq!(
            first("From: user-from@domain.org (RealFrom)"),
            (Some("RealFrom".into()), Some("user-from@domain.org".into()))
        );
        // Encoded words in the name are decoded for SORT (RFC 5957 §3).
        assert_eq!(
            first("From: =?UTF-8?Q?J=C3=B6rg?= <jorg@x.example>, b@y"),
            (Some("Jörg".into()), Some("jorg@x.example".into()))
        );
        assert_eq!(
            first("To: \"Quoted, Name\" <q@x.example>"),
            (Some("Quoted, Name".into()), Some("q@x.example".into()))
        );
    }

    #[test]
    fn search_matches_addresses_written_plainly() {
        let raw = b"From: <user-from (comment)@ (comment) domain.org>\r\n\
            To: groupname: groupuser1@domain.org, groupuser2@domain.org;,\r\n \
            groupname2: groupuser3@domain.org;\r\n\
            Cc: RealCc <user-cc@domain.org>\r\n\r\nbody\r\n";
        let s = Summary::compute(raw);
        let yes = |f: &[u8], n: &[u8]| s.address_contains(f, n) == Some(true);
        assert!(yes(b"From", b"user-from@domain.org"));
        assert!(yes(b"from", b"USER-FROM@DOMAIN"));
        assert!(yes(b"From", b"comment"), "the raw field still matches");
        assert!(!yes(b"To", b"user-from@domain.org"));
        for n in [
            &b"groupname"[..],
            b"groupname2",
            b"groupuser1",
            b"groupuser3",
        ] {
            assert!(yes(b"To", n));
        }
        assert!(!yes(b"To", b"groupuser4"));
        assert!(yes(b"Cc", b"RealCc <user-cc@domain.org>"));
        assert!(!yes(b"Bcc", b""), "no Bcc field");
        assert_eq!(s.address_contains(b"X-Other", b"a"), None);
    }
}
