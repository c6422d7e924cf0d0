//! CONDSTORE (RFC 7162 §3.1): which of CONDSTORE and QRESYNC a session has enabled,
//! ENABLE (RFC 5161) for them, and the command modifiers that enable CONDSTORE on the
//! way (FETCH `MODSEQ` / `CHANGEDSINCE`, STORE `UNCHANGEDSINCE`, SEARCH `MODSEQ`).
//!
//! Where it sits: [`super::Session`] keeps an [`Enabled`] for the whole connection
//! (ENABLE lasts until logout, across SELECTs, RFC 5161 §3.1) and copies it into each
//! newly selected [`crate::selected::Selected`], which then puts MODSEQ into every
//! FETCH update and, with QRESYNC, turns expunges into VANISHED (RFC 7162 §3.2.10).
//! The per-command work lives with the commands: `fetch.rs` filters by CHANGEDSINCE,
//! `flags.rs` passes UNCHANGEDSINCE to the store and reports `[MODIFIED]`, `search.rs`
//! tests the MODSEQ key; QRESYNC's SELECT parameter and VANISHED (EARLIER) are in
//! [`super::qresync`].

use super::partial::Range;
use super::{Session, Status, wire};
use imap_codec::imap_types::command::{FetchModifier, StoreModifier};
use imap_codec::imap_types::extensions::enable::CapabilityEnable;
use imap_codec::imap_types::fetch::{MacroOrMessageDataItemNames, MessageDataItemName};
use imap_codec::imap_types::search::SearchKey;
use imap_codec::imap_types::sequence::SequenceSet;

/// The capabilities this file makes good on (RFC 7162 §3.1, §3.2).
pub const CAPABILITIES: [&str; 2] = ["CONDSTORE", "QRESYNC"];

/// What the client has enabled on this connection.
#[derive(Debug, Default, Clone, Copy)]
pub struct Enabled {
    /// CONDSTORE, by ENABLE or by any CONDSTORE enabling command (RFC 7162 §3.1).
    pub condstore: bool,
    /// QRESYNC, only by ENABLE (RFC 7162 §3.2.3); implies `condstore`.
    pub qresync: bool,
    /// UTF8=ACCEPT (RFC 6855 §3): names and quoted strings in UTF-8 (see `names.rs`).
    pub utf8: bool,
    /// IMAP4rev2 (RFC 9051): UTF-8 names too, and rev2's responses (see `prepare.rs`).
    pub rev2: bool,
}

/// FETCH's modifiers (RFC 7162 §3.1.4, §3.2.6).
#[derive(Debug, Default, Clone, Copy)]
pub struct FetchMods {
    /// `CHANGEDSINCE m`: only messages whose mod-sequence is above `m`.
    pub changed_since: Option<u64>,
    /// `VANISHED`: report the expunged UIDs of the set first (UID FETCH only).
    pub vanished: bool,
}

impl FetchMods {
    pub fn new(modifiers: &[FetchModifier]) -> Self {
        let mut mods = FetchMods::default();
        for m in modifiers {
            match m {
                FetchModifier::ChangedSince(n) => mods.changed_since = Some(n.get()),
                FetchModifier::Vanished => mods.vanished = true,
            }
        }
        mods
    }
}

impl Session<'_> {
    /// ENABLE (RFC 5161): CONDSTORE, QRESYNC, UTF8=ACCEPT (RFC 6855 §3) and IMAP4rev2
    /// (RFC 9051 §6.3.1) are switched on; anything else is left off. `* ENABLED` lists
    /// what this command newly enabled (RFC 5161 §3.2).
    pub(super) fn enable_extensions(&mut self, asked: &[CapabilityEnable<'static>]) -> Status {
        let mut listed = Vec::new();
        for cap in asked {
            let name = cap.to_string().to_ascii_uppercase();
            match name.as_str() {
                "CONDSTORE" if !self.enabled.condstore => {
                    self.use_condstore();
                    listed.push("CONDSTORE");
                }
                "QRESYNC" if !self.enabled.qresync => {
                    self.use_qresync();
                    listed.push("QRESYNC");
                }
                "UTF8=ACCEPT" if !self.enabled.utf8 => {
                    self.enabled.utf8 = true;
                    listed.push("UTF8=ACCEPT");
                }
                "IMAP4REV2" if !self.enabled.rev2 => {
                    self.enabled.rev2 = true;
                    // RFC 9051 has no \Recent: stop showing it now, not at the next
                    // SELECT (see `select.rs`).
                    if let Some(open) = &mut self.selected {
                        open.view.stop_recent();
                    }
                    listed.push("IMAP4rev2");
                }
                _ => {}
            }
        }
        if listed.is_empty() {
            self.untagged("ENABLED");
        } else {
            self.untagged(&format!("ENABLED {}", listed.join(" ")));
        }
        Status::Ok("ENABLE completed".into())
    }

    /// A CONDSTORE enabling command ran (RFC 7162 §3.1): from now on every FETCH
    /// update carries MODSEQ. The first one in a selected mailbox also gets
    /// `* OK [HIGHESTMODSEQ n]` (RFC 7162 §3.1: the server sends HIGHESTMODSEQ when
    /// the first CONDSTORE enabling command is issued; Dovecot does so here too),
    /// which the client may not have taken note of at SELECT.
    pub(super) fn use_condstore(&mut self) {
        self.enabled.condstore = true;
        if let Some(open) = &mut self.selected
            && !open.view.condstore()
        {
            open.view.enable_condstore();
            let highest = open.view.highest_modseq();
            self.untagged(&format!("OK [HIGHESTMODSEQ {highest}] Highest"));
        }
    }

    /// ENABLE QRESYNC (RFC 7162 §3.2.3): implies CONDSTORE; expunges become VANISHED.
    fn use_qresync(&mut self) {
        self.enabled.condstore = true;
        self.enabled.qresync = true;
        if let Some(open) = &mut self.selected {
            open.view.enable_qresync();
        }
    }

    /// Gives a freshly selected mailbox what the session has enabled.
    pub(super) fn apply_enabled(&mut self) {
        let enabled = self.enabled;
        if let Some(open) = &mut self.selected {
            if enabled.qresync {
                open.view.enable_qresync();
            } else if enabled.condstore {
                open.view.enable_condstore();
            }
        }
    }

    /// STORE's modifiers (RFC 7162 §3.1.3): the UNCHANGEDSINCE value, which is a
    /// CONDSTORE enabling use.
    pub(super) fn store_modifiers(&mut self, modifiers: &[StoreModifier]) -> Option<u64> {
        // The only store modifier RFC 7162 defines (§3.1.3).
        let mut since = modifiers.iter().map(|m| match m {
            StoreModifier::UnchangedSince(n) => *n,
        });
        let since = since.next_back();
        if since.is_some() {
            self.use_condstore();
        }
        since
    }

    /// SEARCH with the MODSEQ key (RFC 7162 §3.1.5) enables CONDSTORE, and a non-empty
    /// result ends with ` (MODSEQ n)`, the highest mod-sequence among the hits
    /// (`(sequence number, UID)` pairs). Empty for any other SEARCH.
    pub(super) async fn search_modseq_suffix(
        &mut self,
        criteria: &[SearchKey<'_>],
        hits: &[(u32, u32)],
    ) -> String {
        if !mentions_modseq(criteria) {
            return String::new();
        }
        self.use_condstore();
        let Some(open) = &self.selected else {
            return String::new();
        };
        // The snapshot the SEARCH was answered from.
        let latest = open.view.latest();
        let top = hits
            .iter()
            .filter_map(|&(_, uid)| latest.get(uid))
            .map(|m| m.modseq)
            .max();
        top.map(|m| format!(" (MODSEQ {m})")).unwrap_or_default()
    }

    /// FETCH and UID FETCH with RFC 7162 modifiers: VANISHED (EARLIER) first when
    /// asked, then the FETCH itself, limited by CHANGEDSINCE.
    pub(super) async fn fetch_with(
        &mut self,
        set: &SequenceSet,
        names: MacroOrMessageDataItemNames<'static>,
        uid: bool,
        modifiers: &[FetchModifier],
    ) -> Status {
        self.fetch_with_partial(set, names, uid, modifiers, None)
            .await
    }

    /// [`Session::fetch_with`] plus the PARTIAL modifier (RFC 9394 §3.3, see
    /// `fetch_partial.rs`): the window is taken after CHANGEDSINCE (§3.4); VANISHED
    /// (EARLIER) still covers the whole set.
    pub(super) async fn fetch_with_partial(
        &mut self,
        set: &SequenceSet,
        names: MacroOrMessageDataItemNames<'static>,
        uid: bool,
        modifiers: &[FetchModifier],
        partial: Option<Range>,
    ) -> Status {
        let mods = match self.fetch_modifiers(&names, modifiers, uid) {
            Ok(m) => m,
            Err(status) => return status,
        };
        if let (true, Some(since)) = (mods.vanished, mods.changed_since)
            && let Err(status) = self
                .vanished_earlier(Some(&wire::sequence_set(set)), since)
                .await
        {
            return status;
        }
        self.fetch_window(set, names, uid, mods.changed_since, partial)
            .await
    }

    /// FETCH's modifiers, checked (RFC 7162 §3.2.6: VANISHED only in UID FETCH, with
    /// CHANGEDSINCE, once QRESYNC is enabled). `MODSEQ` or `CHANGEDSINCE` enables
    /// CONDSTORE (RFC 7162 §3.1).
    fn fetch_modifiers(
        &mut self,
        names: &MacroOrMessageDataItemNames<'_>,
        modifiers: &[FetchModifier],
        uid: bool,
    ) -> Result<FetchMods, Status> {
        let mods = FetchMods::new(modifiers);
        if mods.vanished && !(uid && self.enabled.qresync && mods.changed_since.is_some()) {
            return Err(Status::Bad(
                "VANISHED needs UID FETCH, CHANGEDSINCE and ENABLE QRESYNC".into(),
            ));
        }
        let asks_modseq = matches!(
            names,
            MacroOrMessageDataItemNames::MessageDataItemNames(list)
                if list.contains(&MessageDataItemName::ModSeq)
        );
        if asks_modseq || mods.changed_since.is_some() {
            self.use_condstore();
        }
        Ok(mods)
    }
}

/// Whether SEARCH criteria use the MODSEQ key (RFC 7162 §3.1.5), at any depth: such a
/// SEARCH enables CONDSTORE and its result ends with `(MODSEQ n)`.
pub fn mentions_modseq(keys: &[SearchKey<'_>]) -> bool {
    keys.iter().any(|key| match key {
        SearchKey::ModSequence { .. } => true,
        SearchKey::Not(inner) => mentions_modseq(std::slice::from_ref(inner.as_ref())),
        SearchKey::Or(a, b) => mentions_modseq(&[a.as_ref().clone(), b.as_ref().clone()]),
        SearchKey::And(list) => mentions_modseq(list.as_ref()),
        _ => false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::num::NonZeroU64;

    #[test]
    fn fetch_modifiers_are_collected() {
        let mods = FetchMods::new(&[
            FetchModifier::ChangedSince(NonZeroU64::new(7).expect("nonzero")),
            FetchModifier::Vanished,
        ]);
        assert_eq!(mods.changed_since, Some(7));
        assert!(mods.vanished);
        let none = FetchMods::new(&[]);
        assert_eq!(none.changed_since, None);
        assert!(!none.vanished);
    }

    #[test]
    fn modseq_key_is_found_inside_not_and_or() {
        let modseq = SearchKey::ModSequence {
            entry: None,
            modseq: 5,
        };
        assert!(mentions_modseq(std::slice::from_ref(&modseq)));
        assert!(mentions_modseq(&[SearchKey::Not(Box::new(modseq.clone()))]));
        assert!(mentions_modseq(&[SearchKey::Or(
            Box::new(SearchKey::All),
            Box::new(modseq)
        )]));
        assert!(!mentions_modseq(&[SearchKey::All, SearchKey::Seen]));
    }
}
