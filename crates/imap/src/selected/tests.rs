//! Worked examples of the selected-mailbox rules, one rule per test. The property tests
//! in `proptests.rs` check the same invariants over random histories.

use super::*;
use crate::sequence::SequenceSet;

fn msg(uid: u32, flags: &[&str], modseq: u64) -> MessageState {
    MessageState {
        uid,
        flags: flags.iter().map(|f| f.to_string()).collect(),
        modseq,
        ..MessageState::default()
    }
}

/// A session on a fresh snapshot of `messages`.
fn selected(
    uid_validity: u32,
    messages: Vec<MessageState>,
    read_only: bool,
    modseq: u64,
) -> Selected {
    Selected::new(
        uid_validity,
        Arc::new(Snapshot::new(messages, modseq)),
        read_only,
    )
}

/// Syncs to the store holding exactly `messages` now (a snapshot of the same lineage).
fn sync(s: &mut Selected, messages: Vec<MessageState>, modseq: u64) {
    let next = s.latest().replace(messages, modseq);
    s.sync(Arc::new(next));
}

fn plain(uids: &[u32]) -> Vec<MessageState> {
    uids.iter().map(|&u| msg(u, &[], 1)).collect()
}

fn set(text: &str) -> SequenceSet {
    SequenceSet::parse(text).expect("valid set")
}

fn fetch(seq: u32, uid: u32, flags: &[&str], modseq: Option<u64>) -> Update {
    Update::Fetch {
        seq,
        uid,
        flags: flags.iter().map(|f| f.to_string()).collect(),
        modseq,
    }
}

/// Uids 10, 20, 30, 40, 50 at sequence numbers 1..=5.
fn five() -> Selected {
    selected(7, plain(&[10, 20, 30, 40, 50]), false, 1)
}

#[test]
fn numbers_and_uids_map_both_ways() {
    let s = five();
    assert_eq!((s.exists(), s.uid_validity(), s.read_only()), (5, 7, false));
    assert_eq!(
        (s.uid_of(1), s.uid_of(5), s.uid_of(0), s.uid_of(6)),
        (Some(10), Some(50), None, None)
    );
    assert_eq!((s.seq_of(30), s.seq_of(31)), (Some(3), None));
    assert_eq!(s.uid_next_hint(), 51);
    let all: Vec<_> = s.messages().collect();
    assert_eq!(all, vec![(1, 10), (2, 20), (3, 30), (4, 40), (5, 50)]);
}

#[test]
fn new_sorts_the_stores_list() {
    let s = selected(1, plain(&[30, 10, 20]), true, 1);
    assert_eq!(
        s.messages().collect::<Vec<_>>(),
        vec![(1, 10), (2, 20), (3, 30)]
    );
    assert!(s.read_only());
}

#[test]
fn resolves_sequence_and_uid_sets() {
    let s = five();
    assert_eq!(
        s.resolve(&set("4:*,1"), false),
        Ok(vec![(1, 10), (4, 40), (5, 50)])
    );
    assert_eq!(
        s.resolve(&set("6"), false),
        Err(SeqError::OutOfRange {
            value: 6,
            exists: 5
        })
    );
    assert_eq!(
        s.resolve(&set("15:35,99"), true),
        Ok(vec![(2, 20), (3, 30)])
    );
    // RFC 3501 §6.4.8: 559:* includes the last message even above every UID.
    assert_eq!(s.resolve(&set("559:*"), true), Ok(vec![(5, 50)]));
    let empty = selected(1, Vec::new(), false, 1);
    assert_eq!(empty.resolve(&set("1:*"), false), Err(SeqError::Empty));
    assert_eq!(empty.resolve(&set("1:*"), true), Ok(Vec::new()));
}

#[test]
fn expunges_go_out_highest_first_so_each_number_is_current() {
    let mut s = five();
    sync(&mut s, plain(&[10, 30, 50]), 2);
    assert_eq!(
        s.take_updates(true),
        vec![Update::Expunge(4), Update::Expunge(2)]
    );
    assert_eq!(s.exists(), 3);
    assert_eq!(
        s.messages().collect::<Vec<_>>(),
        vec![(1, 10), (2, 30), (3, 50)]
    );
    assert!(s.take_updates(true).is_empty(), "nothing is sent twice");
}

#[test]
fn pending_expunges_keep_their_numbers_until_allowed() {
    let mut s = five();
    sync(&mut s, plain(&[10, 30, 50, 60]), 2);
    // A FETCH 1:* is in progress: no EXPUNGE, but the new message may be announced,
    // counted after the two that are still numbered (RFC 3501 §7.3.1, §7.4.1).
    assert_eq!(s.take_updates(false), vec![Update::Exists(6)]);
    assert_eq!(s.pending_expunges(), 2);
    assert_eq!(s.resolve(&set("2,4"), false), Ok(vec![(2, 20), (4, 40)]));
    assert!(s.is_expunged(20) && s.is_expunged(40));
    assert!(!s.is_expunged(30) && !s.is_expunged(99));
    assert_eq!(s.seq_of(60), Some(6));
    // NOOP: now they go, and 60 moves from 6 to 4.
    assert_eq!(
        s.take_updates(true),
        vec![Update::Expunge(4), Update::Expunge(2)]
    );
    assert_eq!((s.exists(), s.seq_of(60)), (4, Some(4)));
    assert!(!s.is_expunged(20) && s.seq_of(20).is_none());
}

#[test]
fn exists_never_shrinks_while_expunges_wait() {
    let mut s = five();
    sync(&mut s, plain(&[60]), 2);
    assert_eq!(s.take_updates(false), vec![Update::Exists(6)]);
    let expunges: Vec<_> = (1..=5).rev().map(Update::Expunge).collect();
    assert_eq!(s.take_updates(true), expunges);
    assert_eq!(s.messages().collect::<Vec<_>>(), vec![(1, 60)]);
}

#[test]
fn qresync_sends_one_vanished_instead() {
    let mut s = five();
    s.enable_qresync();
    assert!(s.condstore() && s.qresync());
    sync(&mut s, plain(&[10, 30, 50]), 2);
    assert_eq!(s.take_updates(false), Vec::new());
    assert_eq!(s.take_updates(true), vec![Update::Vanished(vec![20, 40])]);
    assert_eq!(s.exists(), 3);
}

#[test]
fn a_message_that_came_and_went_unseen_is_never_mentioned() {
    let mut s = five();
    sync(&mut s, plain(&[10, 20, 30, 40, 50, 60]), 2);
    sync(&mut s, plain(&[10, 20, 30, 40, 50]), 3);
    assert_eq!(s.take_updates(true), Vec::new());
    assert_eq!(s.uid_next_hint(), 61);
    // A later arrival is still recognised as new.
    sync(&mut s, plain(&[10, 20, 30, 40, 50, 70]), 4);
    assert_eq!(s.take_updates(true), vec![Update::Exists(6)]);
    assert_eq!(s.uid_of(6), Some(70));
}

#[test]
fn flag_changes_by_others_are_fetched() {
    let mut s = five();
    let mut now = plain(&[10, 20, 30, 40, 50]);
    now[2] = msg(30, &["\\Seen", "\\Flagged"], 5);
    sync(&mut s, now.clone(), 5);
    assert_eq!(
        s.take_updates(false),
        vec![fetch(3, 30, &["\\Flagged", "\\Seen"], None)]
    );
    assert_eq!(
        s.flags(30),
        Some(&["\\Flagged".to_string(), "\\Seen".to_string()][..])
    );
    // Same set in another order is no change.
    now[2] = msg(30, &["\\Flagged", "\\Seen", "\\Seen"], 5);
    sync(&mut s, now, 5);
    assert_eq!(s.take_updates(false), Vec::new());
}

#[test]
fn condstore_adds_modseq_and_reports_modseq_only_changes() {
    let mut s = five();
    let mut now = plain(&[10, 20, 30, 40, 50]);
    now[0].modseq = 6; // e.g. a flag set and cleared again
    sync(&mut s, now.clone(), 6);
    assert_eq!(
        s.take_updates(true),
        Vec::new(),
        "no CONDSTORE: flags are all that count"
    );
    assert_eq!(s.modseq(10), Some(6));
    s.enable_condstore();
    now[1] = msg(20, &["\\Seen"], 7);
    now[3].modseq = 7;
    sync(&mut s, now, 7);
    assert_eq!(
        s.take_updates(true),
        vec![
            fetch(2, 20, &["\\Seen"], Some(7)),
            fetch(4, 40, &[], Some(7))
        ]
    );
    assert_eq!(s.highest_modseq(), 7);
}

#[test]
fn fetch_numbers_count_pending_expunges() {
    let mut s = five();
    let mut now = plain(&[10, 30, 40, 50]);
    now[2] = msg(40, &["\\Deleted"], 3);
    sync(&mut s, now, 3);
    assert_eq!(
        s.take_updates(false),
        vec![fetch(4, 40, &["\\Deleted"], None)]
    );
    // No FETCH for the message that is gone.
    assert_eq!(s.take_updates(true), vec![Update::Expunge(2)]);
}

#[test]
fn new_arrivals_come_with_their_flags_not_as_fetch() {
    let mut s = five();
    let mut now = plain(&[10, 20, 30, 40, 50, 60]);
    sync(&mut s, now.clone(), 2);
    now[5] = msg(60, &["\\Seen"], 3);
    sync(&mut s, now, 3);
    assert_eq!(s.take_updates(false), vec![Update::Exists(6)]);
    assert_eq!(s.flags(60), Some(&["\\Seen".to_string()][..]));
}

#[test]
fn own_store_echoes_unless_silent() {
    let mut s = five();
    let mut now = plain(&[10, 20, 30, 40, 50]);
    now[0] = msg(10, &["\\Seen"], 2);
    sync(&mut s, now.clone(), 2);
    // STORE 1:2 FLAGS (..) set 10's flags and left 20's as they were: both are echoed.
    s.note_own_store(&[10, 20], false);
    assert_eq!(
        s.take_updates(false),
        vec![fetch(1, 10, &["\\Seen"], None), fetch(2, 20, &[], None)]
    );
    now[2] = msg(30, &["\\Answered"], 3);
    sync(&mut s, now.clone(), 3);
    s.note_own_store(&[30], true);
    assert_eq!(
        s.take_updates(false),
        Vec::new(),
        ".SILENT: the client knows"
    );
    assert_eq!(s.flags(30), Some(&["\\Answered".to_string()][..]));
    // A later change by someone else to the same message is still reported.
    now[2] = msg(30, &[], 4);
    sync(&mut s, now, 4);
    assert_eq!(s.take_updates(false), vec![fetch(3, 30, &[], None)]);
}

#[test]
fn silent_store_still_fetches_modseq_under_condstore() {
    let mut s = five();
    s.enable_condstore();
    let mut now = plain(&[10, 20, 30, 40, 50]);
    now[4] = msg(50, &["\\Seen"], 2);
    sync(&mut s, now, 2);
    s.note_own_store(&[50, 99], true);
    assert_eq!(
        s.take_updates(false),
        vec![fetch(5, 50, &["\\Seen"], Some(2))]
    );
}

#[test]
fn own_store_on_an_expunged_message_is_not_echoed() {
    let mut s = five();
    sync(&mut s, plain(&[10, 30, 40, 50]), 2);
    s.note_own_store(&[20], false);
    assert_eq!(s.take_updates(false), Vec::new());
}

#[test]
fn highest_modseq_waits_for_pending_expunges() {
    let mut s = five();
    s.enable_condstore();
    let mut now = plain(&[10, 30, 40, 50]);
    now[0] = msg(10, &["\\Seen"], 9);
    sync(&mut s, now, 9); // 20 expunged at modseq 8, 10 flagged at 9
    assert_eq!(s.highest_modseq(), 1, "nothing sent yet");
    assert_eq!(
        s.take_updates(false),
        vec![fetch(1, 10, &["\\Seen"], Some(9))]
    );
    assert_eq!(
        s.highest_modseq(),
        1,
        "must stay below the unsent expunge (RFC 7162 §3.2)"
    );
    assert_eq!(s.take_updates(true), vec![Update::Expunge(2)]);
    assert_eq!(s.highest_modseq(), 9);
}

#[test]
fn an_up_to_date_view_shares_the_snapshot() {
    let base = Arc::new(Snapshot::new(plain(&[10, 20, 30]), 1));
    let mut a = Selected::new(7, Arc::clone(&base), false);
    let mut b = Selected::new(7, Arc::clone(&base), false);
    assert!(a.shares_snapshot() && b.shares_snapshot());
    // 20 is expunged and 40 arrives; a FETCH is running in `a`, `b` is idle.
    let next = Arc::new(base.apply(vec![msg(40, &["$Junk"], 3)], &[20], 3));
    a.sync(Arc::clone(&next));
    b.sync(Arc::clone(&next));
    assert_eq!(a.take_updates(false), vec![Update::Exists(4)]);
    assert!(
        !a.shares_snapshot(),
        "a pending expunge needs a view of its own"
    );
    assert_eq!(
        b.take_updates(true),
        vec![Update::Expunge(2), Update::Exists(3)]
    );
    assert!(b.shares_snapshot());
    // `b` moving on changed nothing for `a`: 20 still has its number there.
    assert_eq!(
        (a.exists(), a.seq_of(20), a.is_expunged(20)),
        (4, Some(2), true)
    );
    assert_eq!((b.exists(), b.seq_of(20)), (3, None));
    assert_eq!(a.take_updates(true), vec![Update::Expunge(2)]);
    assert!(a.shares_snapshot());
    assert_eq!(next.keywords(), vec!["$Junk"]);
}

#[test]
fn a_silent_store_in_one_session_is_still_news_to_another() {
    let base = Arc::new(Snapshot::new(plain(&[10, 20]), 1));
    let mut a = Selected::new(7, Arc::clone(&base), false);
    let mut b = Selected::new(7, Arc::clone(&base), false);
    let next = Arc::new(base.apply(vec![msg(20, &["\\Seen"], 2)], &[], 2));
    a.sync(Arc::clone(&next));
    b.sync(next);
    a.note_own_store(&[20], true);
    assert_eq!(a.flags(20), Some(&["\\Seen".to_string()][..]));
    assert_eq!(b.flags(20), Some(&[][..]), "b was not shown the change yet");
    assert_eq!(a.take_updates(true), Vec::new());
    assert_eq!(b.take_updates(true), vec![fetch(2, 20, &["\\Seen"], None)]);
}

#[test]
fn deltas_move_a_snapshot_like_a_full_reread() {
    let mut m = plain(&[1, 2, 3, 4]);
    m[1] = msg(2, &["\\Seen", "\\Deleted"], 1);
    let base = Snapshot::new(m, 4);
    let next = base.apply(
        vec![msg(3, &["\\Seen"], 6), msg(9, &[], 7), msg(5, &["kw"], 5)],
        &[2, 4, 8],
        7,
    );
    let uids: Vec<u32> = next.records().iter().map(|r| r.uid).collect();
    assert_eq!(uids, [1, 3, 5, 9]);
    assert_eq!(next.highest_modseq(), 7);
    assert!(next.same_lineage(&base));
    let seen = next.get(3).expect("3").flags;
    assert!(next.has_flag(seen, "\\SEEN") && !next.has_flag(seen, "\\Deleted"));
    assert!(next.has_flag(next.get(5).expect("5").flags, "KW"));
    // The same set gets the same id, whichever snapshot of the lineage interned it.
    assert_eq!(base.get(1).map(|r| r.flags), next.get(9).map(|r| r.flags));
    assert!(!Snapshot::new(plain(&[1]), 1).same_lineage(&base));
}

#[test]
fn stop_recent_forgets_every_recent_message_at_once() {
    // ENABLE IMAP4rev2 while selected (RFC 9051 has no \Recent).
    let mut s = selected(1, plain(&[1, 2, 3]), false, 1);
    s.track_recent();
    s.add_recent(0, 3);
    assert!(s.tracks_recent() && s.is_recent(2));
    assert_eq!(s.recent_count(), 3);
    s.stop_recent();
    assert!(!s.tracks_recent() && !s.is_recent(2) && s.recent().is_none());
    assert_eq!(s.recent_count(), 0);
    // A later claim changes nothing.
    sync(&mut s, plain(&[1, 2, 3, 4]), 2);
    s.take_updates(true);
    s.add_recent(3, 4);
    assert!(!s.is_recent(4));
}

#[test]
fn flags_shown_by_a_fetch_are_not_repeated() {
    let mut s = five();
    let mut now = plain(&[10, 20, 30, 40, 50]);
    now[0] = msg(10, &["\\Flagged"], 2);
    now[1] = msg(20, &["\\Seen"], 2);
    sync(&mut s, now.clone(), 2);
    // Another session changed 10 and 20; `FETCH 1 (FLAGS)` showed 10's new flags.
    let flags = s.latest().get(10).expect("10").flags;
    s.note_fetched(10, flags, None);
    assert_eq!(s.flags(10), Some(&["\\Flagged".to_string()][..]));
    // RFC 3501 §7.4.2: 20's change was not shown, so it is still reported.
    assert_eq!(s.take_updates(false), vec![fetch(2, 20, &["\\Seen"], None)]);
    // A change after the FETCH is reported as usual.
    now[0] = msg(10, &[], 3);
    sync(&mut s, now.clone(), 3);
    let shown = s.latest().get(10).expect("10").flags;
    now[0] = msg(10, &["\\Answered"], 4);
    sync(&mut s, now, 4);
    s.note_fetched(10, shown, None);
    assert_eq!(
        s.take_updates(false),
        vec![fetch(1, 10, &["\\Answered"], None)]
    );
}

#[test]
fn under_condstore_a_fetch_without_modseq_still_owes_the_modseq() {
    let mut s = five();
    s.enable_condstore();
    let mut now = plain(&[10, 20, 30, 40, 50]);
    now[0] = msg(10, &["\\Flagged"], 2);
    now[1] = msg(20, &["\\Seen"], 2);
    sync(&mut s, now, 2);
    let ten = *s.latest().get(10).expect("10");
    let twenty = *s.latest().get(20).expect("20");
    // `FETCH 1 (FLAGS MODSEQ)` showed both; `FETCH 2 (FLAGS)` only the flags.
    s.note_fetched(10, ten.flags, Some(ten.modseq));
    s.note_fetched(20, twenty.flags, None);
    assert_eq!(
        s.take_updates(false),
        vec![fetch(2, 20, &["\\Seen"], Some(2))]
    );
}

#[test]
fn a_fetch_of_an_expunged_or_up_to_date_message_records_nothing() {
    let mut s = five();
    sync(&mut s, plain(&[10, 30, 40, 50]), 2);
    let flags = s.latest().get(10).expect("10").flags;
    s.note_fetched(20, flags, None);
    s.note_fetched(10, flags, Some(1));
    assert!(s.adopted.is_empty());
}
