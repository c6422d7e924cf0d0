//! Live search and sort results: the UPDATE return option of CONTEXT=SEARCH and
//! CONTEXT=SORT (RFC 5267 §4.3), and the CANCELUPDATE command (§4.3.5).
//!
//! Where it sits: `SEARCH RETURN (... UPDATE ...)` ([`super::esearch`]) and
//! `SORT RETURN (... UPDATE ...)` ([`super::sort`]) open a context here holding the
//! search program, the sort criteria and the result as UIDs in the requested order.
//! [`Session::send_updates`] (`select.rs`) calls in twice: [`Session::context_marks`]
//! before the view moves (the sequence numbers the client still knows) and
//! [`Session::write_updates`] to write its EXPUNGE/EXISTS/FETCH lines, around which
//! each context whose mailbox changed re-runs its program on the new view and
//! reports the difference: `* ESEARCH (TAG "t") [UID] REMOVEFROM (...)` before the
//! lines (§4.3.4: sequence numbers of expunged messages MUST come before the EXPUNGE)
//! and `ADDTO (...)` after them (§4.3.3: new messages' numbers only after EXISTS).
//!
//! Rules, RFC 5267:
//! - §4.3.2: numbers are UIDs for UID SEARCH/UID SORT, sequence numbers otherwise.
//! - §4.3.3/§4.3.4: for SEARCH the context position is 0 and the set is in mailbox
//!   order; for SORT each run carries its 1-based position, removals counted in the
//!   list as it stands after the earlier removals, insertions at the position the
//!   first of the run takes (so applying them in order rebuilds the new result).
//!   Sort keys never change for a message (they are its headers, size and arrival),
//!   so a message only ever enters or leaves a sorted result, it never moves.
//! - §4.3: a tag that already names an updating context makes the command a `BAD`;
//!   updates stop at CANCELUPDATE or when the mailbox is no longer selected.
//! - §4.3.1: past [`MAX_CONTEXTS`] per session an untagged `NO [NOUPDATE "tag"]`,
//!   the other return options still answered.
//!
//! Limits (security stance: client input, bounded): at most [`MAX_CONTEXTS`] contexts
//! a session; each re-runs only when its mailbox's snapshot or message count changed.
//! Sequence-number keys are turned into the UIDs they name when the context opens
//! (§4.3: evaluated when the command is received). SELECT and EXAMINE (even of the
//! same mailbox), UNSELECT and CLOSE end every context.

use super::extended::Line;
use super::sort::{Criterion, ordered_set};
use super::wire::string;
use super::{Session, Status};
use crate::selected::Snapshot;
use crate::sequence::SequenceSet;
use imap_codec::imap_types::search::SearchKey;
use std::collections::HashMap;
use std::sync::Arc;

/// RFC 5267 §4.3.1: updating contexts one session may hold (the RFC asks for at least
/// one; ten is plenty for a client's views and bounds the work per update).
pub const MAX_CONTEXTS: usize = 10;

/// One updating context.
struct Live {
    tag: String,
    /// UID SEARCH / UID SORT: report UIDs (§4.3.2).
    uid: bool,
    /// `None` for SEARCH (mailbox order, position 0).
    sort: Option<Vec<Criterion>>,
    keys: Vec<SearchKey<'static>>,
    mailbox: store_api::MailboxId,
    /// The result the client holds: UIDs in the requested order.
    results: Vec<u32>,
    /// The snapshot and message count the result was computed against.
    seen: (Arc<Snapshot>, u32),
}

/// A session's updating contexts.
#[derive(Default)]
pub struct Contexts {
    list: Vec<Live>,
}

impl Contexts {
    /// Whether `tag` names an updating context (RFC 5267 §4.3: reuse is a `BAD`).
    pub fn has(&self, tag: &str) -> bool {
        self.list.iter().any(|c| c.tag == tag)
    }
}

/// The sequence numbers the client knew before the view moved (`uid -> seq`); only
/// gathered when a sequence-number context needs them.
pub struct Before(Option<HashMap<u32, u32>>);

impl Session<'_> {
    /// Opens an updating context for `tag` over `hits` (`(seq, uid)` in the requested
    /// order), or says `NO [NOUPDATE]` past the limit (RFC 5267 §4.3.1).
    pub(super) fn open_context(
        &mut self,
        tag: &str,
        uid: bool,
        sort: Option<Vec<Criterion>>,
        keys: Vec<SearchKey<'static>>,
        hits: &[(u32, u32)],
    ) {
        let Some(open) = &self.selected else { return };
        // RFC 5267 §4.3: sequence numbers count as they are now, for good.
        let messages: Vec<(u32, u32)> = open.view.messages().collect();
        let keys = super::search::pin_sequence_numbers(&keys, &messages, open.view.exists());
        if self.contexts.list.len() >= MAX_CONTEXTS {
            self.untagged(&format!(
                "NO [NOUPDATE {}] Too many contexts (at most {MAX_CONTEXTS})",
                string(tag)
            ));
            return;
        }
        let live = Live {
            tag: tag.to_owned(),
            uid,
            sort,
            keys,
            mailbox: open.mailbox.id,
            results: hits.iter().map(|&(_, id)| id).collect(),
            seen: (Arc::clone(open.view.latest()), open.view.exists()),
        };
        tracing::debug!(tag = %tag, "IMAP update context opened");
        self.contexts.list.push(live);
    }

    /// `CANCELUPDATE "tag" ...` (RFC 5267 §4.3.5, `command-select`); `line` stands
    /// after the command name.
    pub(super) fn cancel_update(&mut self, line: &mut Line<'_>) -> Status {
        if self.selected.is_none() {
            return Status::Bad("No mailbox selected".into());
        }
        let mut tags = Vec::new();
        // RFC 5267 §5: `"CANCELUPDATE" 1*(SP quoted)`.
        while line.space() {
            if line.peek() != Some(b'"') {
                return Status::Bad("CANCELUPDATE takes quoted tags".into());
            }
            match line.astring() {
                Some(tag) => tags.push(tag),
                None => return Status::Bad("Invalid tag".into()),
            }
        }
        if tags.is_empty() || !line.at_end() {
            return Status::Bad("Expected quoted tags".into());
        }
        self.contexts.list.retain(|c| !tags.contains(&c.tag));
        Status::Ok("No further updates".into())
    }

    /// Ends every update context: the mailbox is deselected (hook in SELECT/EXAMINE,
    /// RFC 5267 §4.3: updates cease when the mailbox is no longer selected).
    pub fn end_contexts(&mut self) {
        self.contexts.list.clear();
    }

    /// Before the view moves (hook in `send_updates`): ends the contexts of a mailbox
    /// no longer selected (RFC 5267 §4.3) and keeps the sequence numbers the client
    /// knows, for the REMOVEFROMs of sequence-number contexts.
    pub fn context_marks(&mut self) -> Before {
        if self.contexts.list.is_empty() {
            return Before(None);
        }
        let Some(open) = &self.selected else {
            self.contexts.list.clear();
            return Before(None);
        };
        let id = open.mailbox.id;
        self.contexts.list.retain(|c| c.mailbox == id);
        if self.contexts.list.iter().all(|c| c.uid) {
            return Before(None);
        }
        Before(Some(open.view.messages().map(|(s, u)| (u, s)).collect()))
    }

    /// Writes the selected mailbox's update `lines` with each context's REMOVEFROM
    /// before them and ADDTO after them (hook in `send_updates`).
    pub async fn write_updates(&mut self, lines: Vec<String>, before: Before) {
        let (removals, additions) = self.context_changes(&before).await;
        for line in removals {
            self.untagged(&line);
        }
        for line in lines {
            self.untagged(&line);
        }
        for line in additions {
            self.untagged(&line);
        }
    }

    /// The REMOVEFROM and ADDTO responses the contexts owe, after re-running the
    /// programs of those whose mailbox changed.
    async fn context_changes(&mut self, before: &Before) -> (Vec<String>, Vec<String>) {
        let (mut removals, mut additions) = (Vec::new(), Vec::new());
        for i in 0..self.contexts.list.len() {
            let Some(open) = &self.selected else { break };
            let now = (Arc::clone(open.view.latest()), open.view.exists());
            let live = &self.contexts.list[i];
            if Arc::ptr_eq(&live.seen.0, &now.0) && live.seen.1 == now.1 {
                continue;
            }
            let (keys, sort) = (live.keys.clone(), live.sort.clone());
            let Ok(hits) = self.search_current(&keys).await else {
                continue;
            };
            let hits = match &sort {
                Some(criteria) => match self.sorted(criteria, &hits).await {
                    Ok(sorted) => sorted,
                    Err(_) => continue,
                },
                None => hits,
            };
            let live = &mut self.contexts.list[i];
            let new: Vec<u32> = hits.iter().map(|&(_, id)| id).collect();
            let seq_now: HashMap<u32, u32> = hits.iter().map(|&(s, u)| (u, s)).collect();
            let sorted = live.sort.is_some();
            let head = format!(
                "ESEARCH (TAG {}){}",
                string(&live.tag),
                if live.uid { " UID" } else { "" }
            );
            // RFC 5267 §4.3.2: UIDs, or the sequence numbers valid when sent.
            let number_before = |uid: u32| match &before.0 {
                _ if live.uid => Some(uid),
                Some(map) => map.get(&uid).copied(),
                None => None,
            };
            let number_now = |uid: u32| {
                if live.uid {
                    Some(uid)
                } else {
                    seq_now.get(&uid).copied()
                }
            };
            let removed = changes(&live.results, &new, false);
            if let Some(data) = render(&removed, sorted, number_before) {
                removals.push(format!("{head} REMOVEFROM ({data})"));
            }
            let added = changes(&live.results, &new, true);
            if let Some(data) = render(&added, sorted, number_now) {
                additions.push(format!("{head} ADDTO ({data})"));
            }
            live.results = new;
            live.seen = now;
        }
        (removals, additions)
    }
}

/// The runs that turn `old` into `new` (both UIDs in the requested order, keeping
/// each other's relative order): with `add` false the removals as `(position, UIDs)`
/// with positions counted after the earlier runs are removed (RFC 5267 §4.3.4); with
/// `add` true the insertions as `(position, UIDs)`, the first UID of a run taking that
/// position (§4.3.3), to apply after the removals.
fn changes(old: &[u32], new: &[u32], add: bool) -> Vec<(usize, Vec<u32>)> {
    let (from, other) = if add { (new, old) } else { (old, new) };
    let other: std::collections::HashSet<u32> = other.iter().copied().collect();
    let mut runs: Vec<(usize, Vec<u32>)> = Vec::new();
    let mut kept = 0;
    let mut in_run = false;
    for (i, &uid) in from.iter().enumerate() {
        if other.contains(&uid) {
            kept += 1;
            in_run = false;
            continue;
        }
        match runs.last_mut() {
            Some((_, run)) if in_run => run.push(uid),
            // Removals: the place after what is kept; insertions: its final index.
            _ => runs.push((if add { i + 1 } else { kept + 1 }, vec![uid])),
        }
        in_run = true;
    }
    runs
}

/// The payload of an ADDTO/REMOVEFROM: `pos set` pairs for SORT, `0 set` in mailbox
/// order for SEARCH (RFC 5267 §4.3.3: position 0 allowed and the shortest set
/// recommended); `None` when there is nothing to say.
fn render(
    runs: &[(usize, Vec<u32>)],
    sorted: bool,
    number: impl Fn(u32) -> Option<u32>,
) -> Option<String> {
    if sorted {
        let pairs: Vec<String> = runs
            .iter()
            .filter_map(|(pos, uids)| {
                let numbers: Vec<u32> = uids.iter().filter_map(|&u| number(u)).collect();
                (!numbers.is_empty()).then(|| format!("{pos} {}", ordered_set(&numbers)))
            })
            .collect();
        (!pairs.is_empty()).then(|| pairs.join(" "))
    } else {
        let numbers: Vec<u32> = runs
            .iter()
            .flat_map(|(_, uids)| uids.iter().filter_map(|&u| number(u)))
            .collect();
        (!numbers.is_empty()).then(|| format!("0 {}", SequenceSet::from_values(&numbers)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Applies REMOVEFROM then ADDTO runs as a client would (RFC 5267 §4.3.3-4).
    fn apply(old: &[u32], removed: &[(usize, Vec<u32>)], added: &[(usize, Vec<u32>)]) -> Vec<u32> {
        let mut list = old.to_vec();
        for (pos, run) in removed {
            for uid in run {
                assert_eq!(list[pos - 1], *uid, "removal at {pos}");
                list.remove(pos - 1);
            }
        }
        for (pos, run) in added {
            for (k, uid) in run.iter().enumerate() {
                list.insert(pos - 1 + k, *uid);
            }
        }
        list
    }

    #[test]
    fn positions_rebuild_the_new_result() {
        // (old, new, expected removals, expected insertions)
        type Runs = Vec<(usize, Vec<u32>)>;
        let table: Vec<(Vec<u32>, Vec<u32>, Runs, Runs)> = vec![
            (vec![5, 3, 9], vec![5, 3, 9], vec![], vec![]),
            (vec![5, 3, 9], vec![5, 9], vec![(2, vec![3])], vec![]),
            (
                vec![5, 3, 9, 1],
                vec![9],
                vec![(1, vec![5, 3]), (2, vec![1])],
                vec![],
            ),
            (vec![5, 9], vec![5, 7, 9], vec![], vec![(2, vec![7])]),
            (
                vec![5, 9],
                vec![8, 7, 5, 9, 2],
                vec![],
                vec![(1, vec![8, 7]), (5, vec![2])],
            ),
            (
                vec![2734, 2735],
                vec![2731, 2732, 2733, 2734, 2735],
                vec![],
                vec![(1, vec![2731, 2732, 2733])],
            ),
            (
                vec![4, 1, 6],
                vec![8, 1, 2],
                vec![(1, vec![4]), (2, vec![6])],
                vec![(1, vec![8]), (3, vec![2])],
            ),
            (vec![], vec![3, 1], vec![], vec![(1, vec![3, 1])]),
            (vec![3, 1], vec![], vec![(1, vec![3, 1])], vec![]),
        ];
        for (old, new, removals, insertions) in table {
            let r = changes(&old, &new, false);
            let a = changes(&old, &new, true);
            assert_eq!(r, removals, "{old:?} -> {new:?}");
            assert_eq!(a, insertions, "{old:?} -> {new:?}");
            assert_eq!(apply(&old, &r, &a), new, "{old:?} -> {new:?}");
        }
    }

    #[test]
    fn every_pair_of_subsets_is_rebuilt() {
        // A sort order (not ascending) and every old/new pair of results drawn from it:
        // REMOVEFROM then ADDTO, applied in order, always give the new result.
        let order = [6, 2, 9, 4, 1, 7];
        let subset = |mask: u32| -> Vec<u32> {
            (0..order.len())
                .filter(|i| mask & (1 << i) != 0)
                .map(|i| order[i])
                .collect()
        };
        for a in 0..64 {
            for b in 0..64 {
                let (old, new) = (subset(a), subset(b));
                let (r, x) = (changes(&old, &new, false), changes(&old, &new, true));
                assert_eq!(apply(&old, &r, &x), new, "{old:?} -> {new:?}");
            }
        }
    }

    #[test]
    fn payloads_for_sort_and_search() {
        let runs = vec![(1, vec![8, 7]), (5, vec![2, 3])];
        assert_eq!(render(&runs, true, Some).as_deref(), Some("1 8,7 5 2:3"));
        // SEARCH: position 0, mailbox order, shortest set.
        assert_eq!(render(&runs, false, Some).as_deref(), Some("0 2:3,7:8"));
        assert_eq!(render(&[], true, Some), None);
        // Sequence numbers: a UID the client never had a number for is left out.
        let seq = |u| (u != 7).then_some(u + 100);
        assert_eq!(render(&runs, true, seq).as_deref(), Some("1 108 5 102:103"));
    }
}
