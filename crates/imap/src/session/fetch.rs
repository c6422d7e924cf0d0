//! FETCH and UID FETCH (RFC 3501 §6.4.5, §7.4.2).
//!
//! Where it sits: called by [`super::Session::command`] in the selected state. The
//! metadata items (FLAGS, UID, INTERNALDATE, RFC822.SIZE, MODSEQ) come from the
//! mailbox's snapshot in memory ([`crate::selected::Snapshot`], brought up to date
//! first); ENVELOPE, BODYSTRUCTURE and BODY from the message's stored summary
//! ([`crate::summary`], read a batch at a time by [`super::summaries`]: no message file
//! is opened); `BODY[section]<partial>`, BINARY and RFC822.* from the message bytes,
//! rendered by [`crate::fetch`]. The response is built as imap-codec types and encoded
//! by imap-codec, which chooses quoted strings or literals, through
//! [`crate::fetch::response`], which also writes the one item those types cannot say
//! (a partial BINARY's `<origin>`, RFC 3516 §4.2).
//!
//! A non-PEEK `BODY[...]`, `BINARY[...]`, `RFC822` or `RFC822.TEXT` sets `\Seen` when
//! the mailbox is read-write (one store call for the whole command), and the response
//! then carries the new FLAGS (RFC 3501 §6.4.5). A response that shows a message's
//! FLAGS tells the client of them, so no unsolicited FETCH repeats them afterwards
//! ([`crate::selected::Selected::note_fetched`], RFC 3501 §7.4.2). BINARY[part] and BINARY.SIZE
//! (RFC 3516) decode the part's transfer encoding and answer with a literal8. Messages
//! whose EXPUNGE is pending are skipped and a FETCH by number ends `NO
//! [EXPUNGEISSUED]` (RFC 2180 §4.1.2, RFC 5530); a UID FETCH ignores them (RFC 3501
//! §6.4.8), its EXPUNGE going out before the OK. A PARTIAL modifier (RFC 9394 §3.3,
//! [`super::fetch_partial`]) narrows the targets to its window once the snapshot is
//! fresh, before `\Seen` is set or anything is read.

use super::fetch_partial;
use super::partial::Range;
use super::summaries::{self, BATCH, Repairs};
use super::{Session, Status, cpu, store_failed, wire};
use crate::fetch::response::{self, Item};
use crate::selected::{Record, Snapshot};
use crate::summary::Summary;
use imap_codec::imap_types::IntoStatic;
use imap_codec::imap_types::core::{IString, Literal, LiteralMode, NString, NString8};
use imap_codec::imap_types::datetime::DateTime;
use imap_codec::imap_types::extensions::binary::Literal8;
use imap_codec::imap_types::fetch::{
    Macro, MacroOrMessageDataItemNames, MessageDataItem, MessageDataItemName, Section,
};
use imap_codec::imap_types::flag::{Flag, FlagFetch};
use imap_codec::imap_types::sequence::SequenceSet;
use std::collections::BTreeSet;
use std::num::NonZeroU32;
use std::sync::Arc;
use store_api::FlagChange;

/// The tagged NO of a FETCH that names messages expunged by another session, which
/// this one was not told of yet (RFC 5530 `EXPUNGEISSUED`).
pub(super) const EXPUNGE_ISSUED: &str =
    "[EXPUNGEISSUED] Some of the requested messages no longer exist";

impl Session<'_> {
    pub(super) async fn fetch(
        &mut self,
        set: &SequenceSet,
        names: MacroOrMessageDataItemNames<'static>,
        uid: bool,
        changed_since: Option<u64>,
    ) -> Status {
        self.fetch_window(set, names, uid, changed_since, None)
            .await
    }

    /// FETCH, limited to the messages a PARTIAL range names (RFC 9394 §3.3, see
    /// `fetch_partial.rs`) when one is given.
    pub(super) async fn fetch_window(
        &mut self,
        set: &SequenceSet,
        names: MacroOrMessageDataItemNames<'static>,
        uid: bool,
        changed_since: Option<u64>,
        partial: Option<Range>,
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
        // RFC 4314 §4: without the `s` right BODY[] does not set \Seen.
        let read_only =
            open.view.read_only() || !open.access.rights.contains(crate::acl::Rights::SEEN);
        let mailbox = open.mailbox.id;
        let sets_seen = !read_only && names.iter().any(sets_seen);
        let needs_body = names.iter().any(needs_body);
        let needs_summary = names.iter().any(needs_summary);
        let needs_tree = names.iter().any(needs_tree);
        let store = self.shared.store();
        // Answer from the newest snapshot.
        self.resync().await;
        let targets = match (partial, &self.selected) {
            // RFC 9394 §3.3, §3.4: the range counts the messages of the set that
            // exist and pass CHANGEDSINCE, in UID order.
            (Some(range), Some(open)) => {
                let latest = open.view.latest();
                fetch_partial::window(range, targets, |&(_, uid)| {
                    latest
                        .get(uid)
                        .is_some_and(|r| changed_since.is_none_or(|m| r.modseq > m))
                })
            }
            _ => targets,
        };
        let seen_now = if sets_seen {
            match self.mark_seen(&targets, changed_since).await {
                Ok(uids) => uids,
                Err(status) => return status,
            }
        } else {
            BTreeSet::new()
        };
        // A keyword new to the mailbox is announced before a FETCH shows it.
        self.announce_keywords();
        let Some(open) = &self.selected else {
            return Status::Bad("No mailbox selected".into());
        };
        let latest: Arc<Snapshot> = Arc::clone(open.view.latest());
        let mut expunged = false;
        let mut repairs = Repairs::default();
        for chunk in targets.chunks(BATCH) {
            let summaries = if needs_summary {
                let uids: Vec<u32> = chunk.iter().map(|&(_, u)| u).collect();
                match summaries::load(store.as_ref(), mailbox, &uids).await {
                    Ok(batch) => Some(batch),
                    Err(e) => return store_failed("FETCH", &e),
                }
            } else {
                None
            };
            for &(seq, uid) in chunk {
                // A look-up in the snapshot's chunks (no flat copy of the mailbox).
                let Some(record) = latest.get(uid) else {
                    expunged = true;
                    continue;
                };
                // RFC 7162 §3.1.4.1: CHANGEDSINCE m keeps the messages changed after m.
                if changed_since.is_some_and(|m| record.modseq <= m) {
                    continue;
                }
                let raw = if needs_body {
                    match store.message_read(mailbox, uid).await {
                        Ok(raw) => Some(raw),
                        Err(store_api::StoreError::NotFound(_)) => {
                            expunged = true;
                            continue;
                        }
                        Err(e) => return store_failed("FETCH", &e),
                    }
                } else {
                    None
                };
                let fresh;
                let summary = match summaries.as_ref().and_then(|b| b.entry(uid)) {
                    Some(Ok(summary)) => Some(summary),
                    Some(Err(e)) => {
                        fresh = match repairs.fix(store.as_ref(), mailbox, uid, &e).await {
                            Ok(fresh) => fresh,
                            Err(e) => return store_failed("FETCH", &e),
                        };
                        fresh.as_deref().and_then(|b| Summary::decode(b).ok())
                    }
                    None => None,
                };
                if needs_summary && summary.is_none() {
                    // Gone between the snapshot and the read.
                    expunged = true;
                    continue;
                }
                // A big message is parsed and rendered off the async workers.
                let big = raw.as_ref().is_some_and(|r| r.len() > cpu::HEAVY_BYTES);
                let rendered = cpu::maybe_heavy(big, || {
                    // The part tree, only for items that look inside the message.
                    let parsed = raw
                        .as_deref()
                        .filter(|_| needs_tree)
                        .map(crate::fetch::Parsed::new);
                    let message = Message {
                        uid,
                        record,
                        latest: &latest,
                        raw: raw.as_deref(),
                        parsed: parsed.as_ref(),
                        summary: summary.as_ref(),
                    };
                    let mut items = Vec::new();
                    for name in &names {
                        match item(name, &message) {
                            Ok(item) => items.push(item),
                            // RFC 3516 §4.3: a transfer encoding we cannot undo.
                            // (The only way rendering fails; the crate's
                            // `SectionError` is `non_exhaustive` for others.)
                            Err(crate::fetch::SectionError::UnknownCte(_)) => {
                                return Err("[UNKNOWN-CTE] Cannot decode the part");
                            }
                        }
                    }
                    Ok(items)
                });
                let mut items = match rendered {
                    Ok(items) => items,
                    Err(text) => return Status::No(text.into()),
                };
                let flags_changed = seen_now.contains(&uid);
                let asks_flags = names.contains(&MessageDataItemName::Flags);
                let asks_modseq = names.contains(&MessageDataItemName::ModSeq);
                if flags_changed && !asks_flags {
                    items.push(Item::Codec(MessageDataItem::Flags(flag_fetch(
                        latest.flags(record.flags),
                    ))));
                }
                // RFC 7162 §3.1.2: a FETCH that set \Seen reports the new MODSEQ too.
                let adds_modseq = flags_changed && condstore && !asks_modseq;
                if adds_modseq {
                    items.push(Item::Codec(MessageDataItem::ModSeq(modseq(record.modseq))));
                }
                self.write_fetch(seq, items);
                // The client now has these flags (and MODSEQ, if sent): no unsolicited
                // FETCH repeats them, only a later change is reported (RFC 3501 §7.4.2).
                if (asks_flags || flags_changed)
                    && let Some(open) = &mut self.selected
                {
                    let shown = (asks_modseq || adds_modseq).then_some(record.modseq);
                    open.view.note_fetched(uid, record.flags, shown);
                }
            }
            // Other sessions get the worker between batches.
            cpu::breathe().await;
        }
        repairs.flush(store.as_ref(), mailbox).await;
        if !seen_now.is_empty() {
            // The client was told the new flags above, each with its response.
            self.publish_change();
        }
        // RFC 3501 §6.4.8: a UID FETCH ignores UIDs that name no message, and its
        // EXPUNGE may go out before the tagged OK; a FETCH by number may not tell
        // (RFC 3501 §7.4.1), so it says some are gone (RFC 2180 §4.1.2, RFC 5530;
        // Dovecot's words, which clients and test tools know).
        if expunged && !uid {
            return Status::No(EXPUNGE_ISSUED.into());
        }
        Status::Ok("FETCH completed".into())
    }

    /// Sets `\Seen` on the targets that lack it (and pass CHANGEDSINCE) in one store
    /// call, then takes in the result; returns the UIDs it changed.
    async fn mark_seen(
        &mut self,
        targets: &[(u32, u32)],
        changed_since: Option<u64>,
    ) -> Result<BTreeSet<u32>, Status> {
        let Some(open) = &self.selected else {
            return Ok(BTreeSet::new());
        };
        let latest = open.view.latest();
        let unseen: Vec<u32> = targets
            .iter()
            .filter_map(|&(_, uid)| latest.get(uid).map(|r| (uid, r)))
            .filter(|(_, r)| changed_since.is_none_or(|m| r.modseq > m))
            .filter(|(_, r)| !latest.has_flag(r.flags, "\\Seen"))
            .map(|(uid, _)| uid)
            .collect();
        if unseen.is_empty() {
            return Ok(BTreeSet::new());
        }
        let store = self.shared.store();
        let result = store
            .message_flags_set(
                open.mailbox.id,
                &unseen,
                FlagChange::Add,
                &["\\Seen".into()],
                None,
            )
            .await
            .map_err(|e| store_failed("FETCH", &e))?;
        // The snapshot that holds the change, for the flags this FETCH reports.
        self.resync().await;
        Ok(result.changed.iter().map(|m| m.uid).collect())
    }

    fn write_fetch(&mut self, seq: u32, mut items: Vec<Item>) {
        let Some(seq) = NonZeroU32::new(seq) else {
            return;
        };
        // \Recent is this session's, not the store's (select.rs, RFC 3501 §2.3.2).
        if let Some(open) = &self.selected
            && open
                .view
                .uid_of(seq.get())
                .is_some_and(|u| open.view.is_recent(u))
        {
            for item in &mut items {
                if let Item::Codec(MessageDataItem::Flags(flags)) = item {
                    // After the system flags, before the keywords, as Dovecot has it.
                    let at =
                        flags.partition_point(|f| !matches!(f, FlagFetch::Flag(Flag::Keyword(_))));
                    flags.insert(at, FlagFetch::Recent);
                }
            }
        }
        self.out.extend_from_slice(&response::encode(seq, items));
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
            | MessageDataItemName::Envelope
            | MessageDataItemName::Body
            | MessageDataItemName::BodyStructure
    )
}

/// Items that need the message's part tree: all that read the bytes except the
/// whole message (`BODY[]`, `RFC822`), which is the bytes as they are.
fn needs_tree(name: &MessageDataItemName<'_>) -> bool {
    needs_body(name)
        && !matches!(
            name,
            MessageDataItemName::Rfc822 | MessageDataItemName::BodyExt { section: None, .. }
        )
}

/// Items rendered from the message's summary.
fn needs_summary(name: &MessageDataItemName<'_>) -> bool {
    matches!(
        name,
        MessageDataItemName::Envelope
            | MessageDataItemName::Body
            | MessageDataItemName::BodyStructure
    )
}

/// What one message's FETCH items are rendered from.
struct Message<'m> {
    uid: u32,
    record: &'m Record,
    latest: &'m Snapshot,
    /// The message bytes, when an item needs them.
    raw: Option<&'m [u8]>,
    parsed: Option<&'m crate::fetch::Parsed<'m>>,
    /// The summary, when an item needs it.
    summary: Option<&'m Summary<'m>>,
}

fn modseq(value: u64) -> std::num::NonZeroU64 {
    std::num::NonZeroU64::new(value).unwrap_or(std::num::NonZeroU64::MIN)
}

/// One FETCH item's value.
fn item(
    name: &MessageDataItemName<'static>,
    m: &Message<'_>,
) -> Result<Item, crate::fetch::SectionError> {
    use MessageDataItemName as N;
    let raw = m.raw.unwrap_or_default();
    let size = MessageDataItem::Rfc822Size(m.record.size);
    Ok(Item::Codec(match (name, m.parsed, m.summary) {
        (N::Flags, ..) => MessageDataItem::Flags(flag_fetch(m.latest.flags(m.record.flags))),
        (N::Uid, ..) => MessageDataItem::Uid(NonZeroU32::new(m.uid).unwrap_or(NonZeroU32::MIN)),
        (N::InternalDate, ..) => MessageDataItem::InternalDate(internal_date(m.record.received_at)),
        (N::Rfc822Size, ..) => size,
        (N::ModSeq, ..) => MessageDataItem::ModSeq(modseq(m.record.modseq)),
        (N::Envelope, _, Some(s)) => MessageDataItem::Envelope(s.envelope()),
        (N::Body, _, Some(s)) => MessageDataItem::Body(s.body_structure(false)),
        (N::BodyStructure, _, Some(s)) => MessageDataItem::BodyStructure(s.body_structure(true)),
        (N::Rfc822, ..) if m.raw.is_some() => {
            MessageDataItem::Rfc822(literal(crate::fetch::whole(raw, None)))
        }
        (
            N::BodyExt {
                section: None,
                partial,
                ..
            },
            ..,
        ) if m.raw.is_some() => MessageDataItem::BodyExt {
            section: None,
            origin: partial.map(|(start, _)| start),
            data: literal(crate::fetch::whole(raw, partial.map(|(a, n)| (a, n.get())))),
        },
        (N::Rfc822Header, Some(p), _) => MessageDataItem::Rfc822Header(literal(
            crate::fetch::section(p, raw, Some(&Section::Header(None)), None),
        )),
        (N::Rfc822Text, Some(p), _) => MessageDataItem::Rfc822Text(literal(crate::fetch::section(
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
            _,
        ) => MessageDataItem::BodyExt {
            section: section.clone(),
            origin: partial.map(|(start, _)| start),
            data: literal(crate::fetch::section(
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
            _,
        ) => {
            let part: Vec<u32> = section.iter().map(|n| n.get()).collect();
            let data = crate::fetch::binary(p, raw, &part, partial.map(|(a, n)| (a, n.get())))?;
            if let Some((origin, _)) = partial {
                // RFC 3516 §4.2, RFC 9051 §7.5.2: `BINARY[part]<origin>`, which
                // imap-types cannot say.
                return Ok(Item::BinaryPartial {
                    section: section.clone(),
                    origin: *origin,
                    data,
                });
            }
            MessageDataItem::Binary {
                section: section.clone(),
                // RFC 3516 §4.2: decoded content may hold NULs, so a literal8.
                value: NString8::Literal8(Literal8 {
                    data: data.into(),
                    mode: LiteralMode::Sync,
                }),
            }
        }
        (N::BinarySize { section }, Some(p), _) => {
            let part: Vec<u32> = section.iter().map(|n| n.get()).collect();
            MessageDataItem::BinarySize {
                section: section.clone(),
                size: crate::fetch::binary_size(p, raw, &part)?,
            }
        }
        // Nothing was read for it (cannot happen: needs_body and needs_summary cover
        // these).
        _ => size,
    }))
}

/// Flags as FETCH reports them.
pub fn flag_fetch(flags: &[String]) -> Vec<FlagFetch<'static>> {
    flags
        .iter()
        .filter_map(|f| Flag::try_from(f.as_str()).ok())
        .map(|f| FlagFetch::Flag(f.into_static()))
        .collect()
}

/// Message bytes as a literal (RFC 3501 §4.3). A literal cannot carry NUL (`CHAR8`),
/// and a `literal8` is for BINARY only (RFC 3516 §4.2, RFC 9051 §4.3.1), so a NUL
/// stored with the message (APPEND keeps it) becomes 0x80, as Dovecot sends it: the
/// length stays that of RFC822.SIZE and partial offsets stay true, and BINARY[] still
/// returns the octets as stored.
fn literal(mut bytes: Vec<u8>) -> NString<'static> {
    for b in bytes.iter_mut() {
        if *b == 0 {
            *b = 0x80;
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
