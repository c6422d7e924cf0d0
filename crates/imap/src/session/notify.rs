//! NOTIFY (RFC 5465): the client names mailboxes and events, and the server tells it
//! of them as they happen, between commands as well as during IDLE.
//!
//! Where it sits: imap-codec has no NOTIFY, so the line imap-next rejects reaches
//! `Session::notify` through `extended.rs`, like the other raw-line commands; the
//! command is read from the raw line by `parse` (`notify/parse.rs`: the syntax and
//! the event-to-mailbox mapping, pure and tested as tables). While a NOTIFY is in
//! force and no command is in progress (RFC 5465 §5), the driver wakes on the
//! account's change feed (the server's `imap::changes`) and its one-second poll and calls
//! [`Session::notify_poll`], which compares the account's mailboxes with what it last
//! saw:
//!
//! - a mailbox other than the selected one whose UIDNEXT or HIGHESTMODSEQ moved:
//!   MessageNew (UIDNEXT grew), MessageExpunge (the store has expunged UIDs after the
//!   old mod-sequence), FlagChange (neither, the mod-sequence still moved): a
//!   `* STATUS` with MESSAGES, UIDNEXT and UNSEEN, and HIGHESTMODSEQ once CONDSTORE is
//!   on (§5.1-§5.3 ask for MESSAGES and UIDNEXT, and HIGHESTMODSEQ with CONDSTORE;
//!   UNSEEN is what a client shows for a folder, as Dovecot and mox send);
//! - the selected mailbox, with a SELECTED group: the usual EXISTS/EXPUNGE/FETCH at
//!   once ([`Session::send_updates`]; SELECTED-DELAYED keeps EXPUNGE for a command
//!   that allows it, §6.1), and after an EXISTS a FETCH of MessageNew's attributes for
//!   the new messages (in `select.rs`). Flag FETCHes go out with the rest even without
//!   FlagChange: the selected-state updates cannot be split;
//! - MailboxName (§5.4): a mailbox created, deleted or renamed is a `* LIST` (with
//!   `\NonExistent`, or `OLDNAME`, RFC 5465 §5.4 and RFC 5258);
//! - SubscriptionChange (§5.5): a mailbox whose subscription changed is a `* LIST`
//!   with or without `\Subscribed` (subscriptions of names with no mailbox are not
//!   seen: the store lists them apart and the feed does not say they changed).
//!
//! AnnotationChange and the METADATA events are answered `NO [BADEVENT (...)]` with
//! the events supported (§3). `NOTIFY SET STATUS` writes a STATUS for every mailbox
//! the groups name, the selected one aside (§3, with UIDVALIDITY as in its example).
//! Security: everything it reads is the logged-in account's own mailboxes; a NOTIFY
//! holds at most `parse::MAX_GROUPS` groups and `parse::MAX_NAMES` names (`NO [LIMIT]`), as each
//! wake-up matches every mailbox against them.

mod parse;

use super::extended::Line;
use super::{Session, Status, store_failed};
use imap_codec::imap_types::fetch::MacroOrMessageDataItemNames;
use imap_codec::imap_types::sequence::SequenceSet;
use imap_codec::imap_types::status::StatusDataItemName;
use parse::{
    Change, Events, Filter, Group, Refusal, Request, SUPPORTED, events_for, fetch_items, list_line,
    parse,
};
use std::collections::BTreeMap;

#[derive(Debug, Clone)]
struct Seen {
    name: String,
    uid_next: u32,
    modseq: u64,
    subscribed: bool,
}

/// The NOTIFY in force on a connection.
pub struct Active {
    groups: Vec<Group>,
    /// MessageNew's attributes for the selected mailbox.
    pub fetch: Option<MacroOrMessageDataItemNames<'static>>,
    /// Every mailbox of the account, as last seen, by id.
    seen: BTreeMap<i64, Seen>,
}

impl Active {
    /// The SELECTED group: whether it is SELECTED-DELAYED, and its events.
    pub fn selected(&self) -> Option<(bool, Events)> {
        self.groups.iter().find_map(|g| match g.filter {
            Filter::Selected { delayed } => Some((delayed, g.events)),
            _ => None,
        })
    }
}

/// A connection's NOTIFY state: `None` until a `NOTIFY SET`, again after `NONE`.
#[derive(Default)]
pub struct State(pub Option<Active>);

impl State {
    /// A NOTIFY is in force (the driver then wakes for changes between commands).
    pub fn active(&self) -> bool {
        self.0.is_some()
    }
}

impl Session<'_> {
    /// NOTIFY SET or NONE (RFC 5465 §3), the cursor after `NOTIFY`. imap-codec has no
    /// NOTIFY: the command reaches here through `extended.rs`, like the other raw ones.
    pub(super) async fn notify(&mut self, line: &mut Line<'_>) -> Status {
        let request = match parse(line) {
            Ok(r) => r,
            Err(Refusal::Bad(why)) => return Status::Bad(why),
            Err(Refusal::Limit) => {
                return Status::No("[LIMIT] Too many event groups or mailbox names".into());
            }
            Err(Refusal::BadEvent(event)) => {
                return Status::No(format!(
                    "[BADEVENT ({SUPPORTED})] Event {event} is not supported"
                ));
            }
        };
        let Request::Set {
            status,
            mut groups,
            fetch,
        } = request
        else {
            self.notify = State(None);
            return Status::Ok("NOTIFY completed".into());
        };
        let fetch = match fetch.map(|atts| fetch_items(&atts)) {
            None => None,
            Some(Some(items)) => Some(items),
            Some(None) => return Status::Bad("Invalid MessageNew fetch attributes".into()),
        };
        for group in &mut groups {
            if let Filter::Subtree(names) | Filter::Mailboxes(names) = &mut group.filter {
                for name in names.iter_mut() {
                    match self.name_in(name.as_bytes()) {
                        Ok(decoded) if decoded.eq_ignore_ascii_case("INBOX") => {
                            *name = "INBOX".into()
                        }
                        Ok(decoded) => *name = decoded,
                        Err(status) => return status,
                    }
                }
            }
        }
        // Its own and the ones shared with it (`access.rs`).
        let mailboxes = match self.visible_mailboxes().await {
            Ok(m) => m,
            Err(e) => return store_failed("NOTIFY", &e),
        };
        let seen = mailboxes
            .iter()
            .map(|m| {
                (
                    m.id.0,
                    Seen {
                        name: m.name.clone(),
                        uid_next: m.uid_next,
                        modseq: m.highest_modseq,
                        subscribed: m.subscribed,
                    },
                )
            })
            .collect();
        if status {
            // RFC 5465 §3: a STATUS for each mailbox the groups name (not the selected
            // one, whose state the client has).
            let selected = self.selected.as_ref().map(|o| o.mailbox.id);
            let mut items = vec![
                StatusDataItemName::Messages,
                StatusDataItemName::UidNext,
                StatusDataItemName::UidValidity,
                StatusDataItemName::Unseen,
            ];
            if self.enabled.condstore {
                items.push(StatusDataItemName::HighestModSeq);
            }
            let mut names: Vec<&store_api::Mailbox> = mailboxes
                .iter()
                .filter(|m| Some(m.id) != selected)
                .filter(|m| events_for(&groups, &m.name, m.subscribed).any_message())
                .collect();
            names.sort_by(|a, b| a.name.cmp(&b.name));
            for m in names {
                // A mailbox deleted meanwhile is left out.
                let _ = self.status(&m.name, &items).await;
            }
        }
        self.notify = State(Some(Active {
            groups,
            fetch,
            seen,
        }));
        Status::Ok("NOTIFY completed".into())
    }

    /// RFC 5465 §5.1: after an EXISTS, a FETCH of MessageNew's attributes for the
    /// messages above UID `known_uid` (the newest the client knew of before), when the
    /// NOTIFY in force has a SELECTED group with them.
    pub async fn notify_fetch_new(&mut self, known_uid: u32) {
        let Some(items) = self.notify.0.as_ref().and_then(|a| a.fetch.clone()) else {
            return;
        };
        let Some(open) = &self.selected else { return };
        let top = open.view.announced_uid();
        if top <= known_uid {
            return;
        }
        let Ok(set) = SequenceSet::try_from(format!("{}:{top}", known_uid + 1).as_str()) else {
            return;
        };
        // By UID: the response carries the UID too (RFC 3501 §6.4.8), which a client
        // needs to file what it is told anyway.
        let _ = self.fetch(&set, items, true, None).await;
    }

    /// Writes what the NOTIFY in force asks for since the last look (RFC 5465 §5):
    /// STATUS for other mailboxes, LIST for names and subscriptions, and with
    /// `selected_too` the selected mailbox's updates. Called by the driver between
    /// commands.
    pub async fn notify_poll(&mut self, selected_too: bool) {
        let Some(active) = &self.notify.0 else { return };
        if selected_too
            && let Some((delayed, events)) = active.selected()
            && events.any_message()
            && self.selected.is_some()
        {
            // §6.1: SELECTED-DELAYED keeps EXPUNGE for a command that allows it.
            self.send_updates(!delayed).await;
        }
        let mailboxes = match self.visible_mailboxes().await {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(error = %e, "NOTIFY cannot list mailboxes");
                return;
            }
        };
        let selected = self.selected.as_ref().map(|o| o.mailbox.id);
        let Some(active) = &mut self.notify.0 else {
            return;
        };
        let mut lines = Vec::new();
        let mut statuses = Vec::new();
        let mut old = std::mem::take(&mut active.seen);
        for m in &mailboxes {
            let events = events_for(&active.groups, &m.name, m.subscribed);
            let before = old.remove(&m.id.0);
            match &before {
                None if events.name => lines.push((vec![], m.name.clone(), None)),
                Some(b) if b.name != m.name => {
                    let was = events_for(&active.groups, &b.name, b.subscribed);
                    if events.name || was.name {
                        lines.push((vec![], m.name.clone(), Some(b.name.clone())));
                    }
                }
                _ => {}
            }
            if let Some(b) = &before
                && b.subscribed != m.subscribed
                && (events.subscription
                    || events_for(&active.groups, &m.name, b.subscribed).subscription)
            {
                let attrs = if m.subscribed {
                    vec!["\\Subscribed"]
                } else {
                    vec![]
                };
                lines.push((attrs, m.name.clone(), None));
            }
            if let Some(b) = &before
                && Some(m.id) != selected
                && events.any_message()
                && (b.uid_next != m.uid_next || b.modseq != m.highest_modseq)
            {
                statuses.push((m.clone(), events, b.uid_next, b.modseq));
            }
            active.seen.insert(
                m.id.0,
                Seen {
                    name: m.name.clone(),
                    uid_next: m.uid_next,
                    modseq: m.highest_modseq,
                    subscribed: m.subscribed,
                },
            );
        }
        // The rest are gone (§5.4: `\NonExistent`).
        for gone in old.into_values() {
            if events_for(&active.groups, &gone.name, gone.subscribed).name {
                lines.push((vec!["\\NonExistent"], gone.name, None));
            }
        }
        for (attrs, name, old_name) in lines {
            let name = self.name_out(&name);
            let old_name = old_name.map(|o| self.name_out(&o));
            self.untagged(&list_line(&attrs, &name, old_name.as_deref()));
        }
        let mut items = vec![
            StatusDataItemName::Messages,
            StatusDataItemName::UidNext,
            StatusDataItemName::Unseen,
        ];
        if self.enabled.condstore {
            items.push(StatusDataItemName::HighestModSeq);
        }
        let store = self.shared.store();
        for (m, events, uid_next, modseq) in statuses {
            let new = m.uid_next > uid_next;
            let expunge = if m.highest_modseq > modseq {
                match store.mailbox_expunged_since(m.id, modseq).await {
                    Ok(uids) => !uids.is_empty(),
                    // Unknown: say it changed.
                    Err(_) => true,
                }
            } else {
                false
            };
            let change = Change {
                new,
                expunge,
                flags: !new && !expunge,
            };
            if events.wants(change) {
                let _ = self.status(&m.name, &items).await;
            }
        }
    }
}
