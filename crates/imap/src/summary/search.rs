//! What SEARCH's header keys (RFC 3501 §6.4.4) and SORT's keys (RFC 5256 §3, RFC 5957)
//! read from a summary, and the same tests over a raw message for header fields a
//! summary does not keep.
//!
//! Where it sits: the server's SEARCH and SORT hold one decoded [`Summary`] per
//! candidate message and ask it here. String keys are ASCII case-insensitive
//! substring matches ([`contains_ignore_case`]) over each occurrence of the field in
//! the message's own header, unfolded (RFC 5322 §2.2.3) and trimmed; SUBJECT also
//! matches the RFC 2047-decoded subject. An empty string matches every message that
//! has the field (RFC 3501 §6.4.4 HEADER).

use std::borrow::Cow;

use super::parts::{id_of, name};
use super::{Subject, Summary};
use crate::fetch::{Parsed, header, unfold};

/// A first address as SORT reads it: (display name, addr-spec), both decoded.
pub type NameAndAddress<'s> = (Option<Cow<'s, str>>, Option<Cow<'s, str>>);

/// An address field SORT reads (RFC 5256 §3 FROM/TO/CC, RFC 5957 DISPLAYFROM/TO).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressField {
    /// From.
    From,
    /// To.
    To,
    /// Cc.
    Cc,
}

impl Summary<'_> {
    /// Whether any `name` field of the message's header contains `needle`; `None`
    /// when the summary does not keep that field (then [`raw_header_contains`] on the
    /// message bytes answers).
    pub fn header_contains(&self, name: &[u8], needle: &[u8]) -> Option<bool> {
        Some(self.field_contains(id_of(name)?, needle))
    }

    /// SEARCH FROM/TO/CC/BCC (RFC 3501 §6.4.4): whether any `name` field contains
    /// `needle` as sent (unfolded), or any of its addresses written out plainly
    /// contains it (`name <mailbox@host>`, comments dropped: see
    /// `summary/address.rs`), as Dovecot matches them. `None` for a field that is not
    /// one of those four.
    pub fn address_contains(&self, name: &[u8], needle: &[u8]) -> Option<bool> {
        let id =
            id_of(name).filter(|id| matches!(*id, name::FROM | name::TO | name::CC | name::BCC))?;
        if self.field_contains(id, needle) {
            return Some(true);
        }
        if self.parts[0].first(id).is_none() {
            return Some(false);
        }
        let e = crate::fetch::envelope_of(&self.parts[0]);
        let list = match id {
            name::FROM => e.from,
            name::TO => e.to,
            name::CC => e.cc,
            _ => e.bcc,
        };
        Some(super::address::plain(&list).any(|a| contains_ignore_case(&a, needle)))
    }

    /// Whether any field with id `id` contains `needle`, unfolded.
    fn field_contains(&self, id: u8, needle: &[u8]) -> bool {
        self.parts[0].all(id).any(|v| unfolded_contains(v, needle))
    }

    /// SUBJECT (RFC 3501 §6.4.4): the raw field or the decoded subject contains it.
    pub fn subject_contains(&self, needle: &[u8]) -> bool {
        self.field_contains(name::SUBJECT, needle)
            || matches!(&self.subject, Subject::Decoded(s) if contains_ignore_case(s.as_slice(), needle))
    }

    /// The Date header's calendar day in the sender's zone (SENTBEFORE, SENTON,
    /// SENTSINCE), as (year, month, day); `None` without a readable Date.
    pub fn sent_day(&self) -> Option<(i32, u8, u8)> {
        self.sent.map(|s| (i32::from(s.year), s.month, s.day))
    }

    /// The Date header as unix seconds (SORT's DATE); `None` without a readable Date.
    pub fn sent_timestamp(&self) -> Option<i64> {
        self.sent.map(|s| s.timestamp)
    }

    /// The subject, RFC 2047-decoded (SORT's SUBJECT takes its base subject).
    pub fn subject_text(&self) -> Option<Cow<'_, str>> {
        match &self.subject {
            Subject::Absent => None,
            Subject::Decoded(s) => Some(s.text()),
            Subject::AsSent => {
                let raw = self.parts[0].first(name::SUBJECT)?;
                Some(Cow::Owned(
                    String::from_utf8_lossy(&unfold(raw)).into_owned(),
                ))
            }
        }
    }

    /// The first address of `field` as (display name, addr-spec), decoded; `None`
    /// when the field has no address.
    pub fn first_address(&self, field: AddressField) -> Option<NameAndAddress<'_>> {
        let a = match field {
            AddressField::From => &self.from,
            AddressField::To => &self.to,
            AddressField::Cc => &self.cc,
        };
        a.as_ref().map(|a| {
            (
                a.name.as_ref().map(|n| n.text()),
                a.address.as_ref().map(|n| n.text()),
            )
        })
    }
}

/// [`Summary::header_contains`] for any field name, over the raw message: the
/// message's own header as the part tree finds it, with the same unfolding and
/// matching, so both ways give the same answer for a kept field.
pub fn raw_header_contains(raw: &[u8], name: &[u8], needle: &[u8]) -> bool {
    let parsed = Parsed::new(raw);
    let block = raw.get(parsed.root().header.clone()).unwrap_or_default();
    header::fields(block)
        .iter()
        .filter(|f| f.name.eq_ignore_ascii_case(name))
        .any(|f| unfolded_contains(f.value, needle))
}

/// [`contains_ignore_case`] over a raw value as unfolded: a value on one line is only
/// trimmed (no copy); a folded one is unfolded first.
fn unfolded_contains(value: &[u8], needle: &[u8]) -> bool {
    if value.iter().any(|&b| b == b'\r' || b == b'\n') {
        contains_ignore_case(&unfold(value), needle)
    } else {
        contains_ignore_case(header::trim(value), needle)
    }
}

/// ASCII case-insensitive substring test (RFC 3501 §6.4.4); the empty needle is always
/// found.
pub fn contains_ignore_case(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty()
        || haystack
            .windows(needle.len())
            .any(|w| w.eq_ignore_ascii_case(needle))
}
