//! FETCH and UID FETCH (RFC 3501 §6.4.5, §7.4.2).
//!
//! Where it sits: called by [`super::Session::command`] in the selected state. The
//! metadata items (FLAGS, UID, INTERNALDATE, RFC822.SIZE) come from the store's
//! listing; ENVELOPE, BODYSTRUCTURE and `BODY[section]<partial>` from the message bytes,
//! rendered by [`imap::fetch`]. The response is built as imap-codec types and encoded
//! by imap-codec, which chooses quoted strings or literals.
//!
//! A non-PEEK `BODY[...]`, `BINARY[...]`, `RFC822` or `RFC822.TEXT` sets `\Seen` when
//! the mailbox is read-write, and the response then carries the new FLAGS (RFC 3501
//! §6.4.5). BINARY[part] and BINARY.SIZE (RFC 3516) decode the part's transfer encoding
//! and answer with a literal8. Messages whose EXPUNGE is pending are skipped and the
//! command ends `NO [EXPUNGEISSUED]` (RFC 2180 §4.1.2, RFC 5530).

use super::{Session, Status, store_failed, wire};
use imap_codec::ResponseCodec;
use imap_codec::encode::Encoder;
use imap_codec::imap_types::IntoStatic;
use imap_codec::imap_types::core::{IString, Literal, LiteralMode, NString, NString8, Vec1};
use imap_codec::imap_types::datetime::DateTime;
use imap_codec::imap_types::extensions::binary::Literal8;
use imap_codec::imap_types::fetch::{
    Macro, MacroOrMessageDataItemNames, MessageDataItem, MessageDataItemName, Section,
};
use imap_codec::imap_types::flag::{Flag, FlagFetch};
use imap_codec::imap_types::response::{Data, Response};
use imap_codec::imap_types::sequence::SequenceSet;
use std::collections::HashMap;
use std::num::NonZeroU32;
use store::{FlagChange, ImapMessage};

impl Session<'_> {
    pub(super) async fn fetch(
        &mut self,
        set: &SequenceSet,
        names: MacroOrMessageDataItemNames<'static>,
        uid: bool,
        changed_since: Option<u64>,
    ) -> Status {
        let Some(open) = &self.selected else {
            return Status::Bad("No mailbox selected".into());
        };
        let targets = match open.view.resolve(&wire::sequence_set(set), uid) {
            Ok(t) => t,
            Err(e) => return Status::Bad(format!("Invalid sequence set: {e}")),
        };
        let mut names = expand(names);
        if uid && !names.contains(&MessageDataItemName::Uid) {
            // RFC 3501 §6.4.8: UID FETCH always includes the UID.
            names.insert(0, MessageDataItemName::Uid);
        }
        // RFC 7162 §3.1.4.1: CHANGEDSINCE implies MODSEQ.
        if changed_since.is_some() && !names.contains(&MessageDataItemName::ModSeq) {
            names.push(MessageDataItemName::ModSeq);
        }
        let condstore = open.view.condstore();
        let (mailbox, read_only) = (open.mailbox.id, open.view.read_only());
        let sets_seen = !read_only && names.iter().any(sets_seen);
        let needs_body = names.iter().any(needs_body);
        let store = self.shared.store.clone();
        let listing = match store.message_list_imap(mailbox).await {
            Ok(l) => l,
            Err(e) => return store_failed("FETCH", &e),
        };
        let by_uid: HashMap<u32, &ImapMessage> = listing.iter().map(|m| (m.uid, m)).collect();
        let mut expunged = false;
        let mut seen_now = Vec::new();
        for (seq, uid) in targets {
            let Some(&meta) = by_uid.get(&uid) else {
                expunged = true;
                continue;
            };
            // RFC 7162 §3.1.4.1: CHANGEDSINCE m keeps the messages changed after m.
            if changed_since.is_some_and(|m| meta.modseq <= m) {
                continue;
            }
            let mut meta = meta.clone();
            let mut flags = meta.flags.clone();
            let mut flags_changed = false;
            if sets_seen && !flags.iter().any(|f| f == "\\Seen") {
                match store
                    .message_flags_set(mailbox, &[uid], FlagChange::Add, &["\\Seen".into()], None)
                    .await
                {
                    Ok(result) => {
                        if let Some(m) = result.changed.first() {
                            flags = m.flags.clone();
                            meta.modseq = m.modseq;
                        }
                        flags_changed = true;
                        seen_now.push(uid);
                    }
                    Err(e) => return store_failed("FETCH", &e),
                }
            }
            let raw = if needs_body {
                match store.message_read(mailbox, uid).await {
                    Ok(raw) => Some(raw),
                    Err(store::StoreError::NotFound(_)) => {
                        expunged = true;
                        continue;
                    }
                    Err(e) => return store_failed("FETCH", &e),
                }
            } else {
                None
            };
            let parsed = raw.as_deref().map(imap::fetch::Parsed::new);
            let mut items = Vec::new();
            for name in &names {
                match item(name, uid, &meta, &flags, raw.as_deref(), parsed.as_ref()) {
                    Ok(item) => items.push(item),
                    // RFC 3516 §4.3: a transfer encoding we cannot undo.
                    Err(imap::fetch::SectionError::UnknownCte(_)) => {
                        return Status::No("[UNKNOWN-CTE] Cannot decode the part".into());
                    }
                    Err(_) => return Status::No("Cannot render the part".into()),
                }
            }
            if flags_changed && !names.contains(&MessageDataItemName::Flags) {
                items.push(MessageDataItem::Flags(flag_fetch(&flags)));
            }
            // RFC 7162 §3.1.2: a FETCH that set \Seen reports the new MODSEQ too.
            if flags_changed && condstore && !names.contains(&MessageDataItemName::ModSeq) {
                let modseq = std::num::NonZeroU64::new(meta.modseq);
                items.push(MessageDataItem::ModSeq(
                    modseq.unwrap_or(std::num::NonZeroU64::MIN),
                ));
            }
            self.write_fetch(seq, items);
        }
        if !seen_now.is_empty() {
            // `note_own_store` wants the snapshot that holds the change.
            self.resync().await;
            if let Some(open) = &mut self.selected {
                // The client was just told the new flags.
                open.view.note_own_store(&seen_now, true);
            }
            self.publish_change();
        }
        if expunged {
            return Status::No("[EXPUNGEISSUED] Some messages were expunged".into());
        }
        Status::Ok("FETCH completed".into())
    }

    fn write_fetch(&mut self, seq: u32, items: Vec<MessageDataItem<'static>>) {
        let (Some(seq), Ok(items)) = (NonZeroU32::new(seq), Vec1::try_from(items)) else {
            return;
        };
        let response = Response::Data(Data::Fetch { seq, items });
        self.out
            .extend_from_slice(&ResponseCodec::default().encode(&response).dump());
    }
}

/// ALL, FAST and FULL (RFC 3501 §6.4.5) as the items they stand for.
fn expand(names: MacroOrMessageDataItemNames<'static>) -> Vec<MessageDataItemName<'static>> {
    use MessageDataItemName as N;
    match names {
        MacroOrMessageDataItemNames::Macro(m) => match m {
            Macro::Fast => vec![N::Flags, N::InternalDate, N::Rfc822Size],
            Macro::All => vec![N::Flags, N::InternalDate, N::Rfc822Size, N::Envelope],
            Macro::Full => vec![
                N::Flags,
                N::InternalDate,
                N::Rfc822Size,
                N::Envelope,
                N::Body,
            ],
            _ => vec![N::Flags, N::InternalDate, N::Rfc822Size],
        },
        MacroOrMessageDataItemNames::MessageDataItemNames(names) => names,
    }
}

fn sets_seen(name: &MessageDataItemName<'_>) -> bool {
    matches!(
        name,
        MessageDataItemName::BodyExt { peek: false, .. }
            | MessageDataItemName::Binary { peek: false, .. }
            | MessageDataItemName::Rfc822
            | MessageDataItemName::Rfc822Text
    )
}

fn needs_body(name: &MessageDataItemName<'_>) -> bool {
    !matches!(
        name,
        MessageDataItemName::Flags
            | MessageDataItemName::Uid
            | MessageDataItemName::InternalDate
            | MessageDataItemName::Rfc822Size
            | MessageDataItemName::ModSeq
    )
}

/// One FETCH item's value.
fn item(
    name: &MessageDataItemName<'static>,
    uid: u32,
    meta: &ImapMessage,
    flags: &[String],
    raw: Option<&[u8]>,
    parsed: Option<&imap::fetch::Parsed>,
) -> Result<MessageDataItem<'static>, imap::fetch::SectionError> {
    use MessageDataItemName as N;
    let raw = raw.unwrap_or_default();
    Ok(match (name, parsed) {
        (N::Flags, _) => MessageDataItem::Flags(flag_fetch(flags)),
        (N::Uid, _) => MessageDataItem::Uid(NonZeroU32::new(uid).unwrap_or(NonZeroU32::MIN)),
        (N::InternalDate, _) => MessageDataItem::InternalDate(internal_date(meta.received_at)),
        (N::Rfc822Size, _) => {
            MessageDataItem::Rfc822Size(meta.size.min(u64::from(u32::MAX)) as u32)
        }
        (N::ModSeq, _) => MessageDataItem::ModSeq(
            std::num::NonZeroU64::new(meta.modseq).unwrap_or(std::num::NonZeroU64::MIN),
        ),
        (N::Envelope, Some(p)) => MessageDataItem::Envelope(imap::fetch::envelope(p)),
        (N::Body, Some(p)) => MessageDataItem::Body(imap::fetch::body_structure(p, false)),
        (N::BodyStructure, Some(p)) => {
            MessageDataItem::BodyStructure(imap::fetch::body_structure(p, true))
        }
        (N::Rfc822, Some(p)) => {
            MessageDataItem::Rfc822(literal(imap::fetch::section(p, raw, None, None)))
        }
        (N::Rfc822Header, Some(p)) => MessageDataItem::Rfc822Header(literal(imap::fetch::section(
            p,
            raw,
            Some(&Section::Header(None)),
            None,
        ))),
        (N::Rfc822Text, Some(p)) => MessageDataItem::Rfc822Text(literal(imap::fetch::section(
            p,
            raw,
            Some(&Section::Text(None)),
            None,
        ))),
        (
            N::BodyExt {
                section, partial, ..
            },
            Some(p),
        ) => MessageDataItem::BodyExt {
            section: section.clone(),
            origin: partial.map(|(start, _)| start),
            data: literal(imap::fetch::section(
                p,
                raw,
                section.as_ref(),
                partial.map(|(a, n)| (a, n.get())),
            )),
        },
        (
            N::Binary {
                section, partial, ..
            },
            Some(p),
        ) => {
            let part: Vec<u32> = section.iter().map(|n| n.get()).collect();
            let data = imap::fetch::binary(p, raw, &part, partial.map(|(a, n)| (a, n.get())))?;
            MessageDataItem::Binary {
                section: section.clone(),
                // RFC 3516 §4.2: decoded content may hold NULs, so a literal8.
                value: NString8::Literal8(Literal8 {
                    data: data.into(),
                    mode: LiteralMode::Sync,
                }),
            }
        }
        (N::BinarySize { section }, Some(p)) => {
            let part: Vec<u32> = section.iter().map(|n| n.get()).collect();
            MessageDataItem::BinarySize {
                section: section.clone(),
                size: imap::fetch::binary_size(p, raw, &part)?,
            }
        }
        // No body was read (cannot happen: needs_body covers these).
        _ => MessageDataItem::Rfc822Size(meta.size.min(u64::from(u32::MAX)) as u32),
    })
}

/// Flags as FETCH reports them.
pub(crate) fn flag_fetch(flags: &[String]) -> Vec<FlagFetch<'static>> {
    flags
        .iter()
        .filter_map(|f| Flag::try_from(f.as_str()).ok())
        .map(|f| FlagFetch::Flag(f.into_static()))
        .collect()
}

/// Message bytes as a literal (RFC 3501 §4.3); a NUL, which a literal cannot carry,
/// becomes a space.
fn literal(mut bytes: Vec<u8>) -> NString<'static> {
    for b in bytes.iter_mut() {
        if *b == 0 {
            *b = b' ';
        }
    }
    let literal = Literal::try_from(bytes).unwrap_or_else(|_| Literal::unvalidated(Vec::new()));
    NString(Some(IString::Literal(literal)))
}

/// INTERNALDATE as imap-codec's date-time, in UTC.
fn internal_date(unix: i64) -> DateTime {
    use chrono::TimeZone;
    let utc = chrono::FixedOffset::east_opt(0).expect("zero offset");
    let t = utc
        .timestamp_opt(unix, 0)
        .single()
        .unwrap_or_else(|| utc.timestamp_opt(0, 0).single().expect("epoch"));
    DateTime::unvalidated(t)
}
