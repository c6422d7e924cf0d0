//! A mailbox's [`Record`]s, ascending by UID, in chunks of at most [`CHUNK`] records,
//! each chunk behind its own `Arc`.
//!
//! Why: the snapshot of a 100,000-message mailbox moves forward with every STORE,
//! APPEND and EXPUNGE of any of its sessions, and every session then compares its view
//! with the new snapshot. With one flat list each of those is a copy or walk of all
//! the records; with chunks, [`Records::apply`] copies only the chunks a change
//! touches (the rest are shared with the list it came from, plus one pointer per
//! chunk), and `diff` skips every pair of chunks that are the same `Arc`, so both
//! cost O(n / CHUNK + changes · CHUNK) instead of O(n).
//!
//! Invariants: no chunk is empty, and no chunk holds more than `CHUNK` records;
//! `ends[i]` is the number of records in `chunks[..=i]`. Records ascend strictly by
//! UID across the whole list. [`Records::apply`] merges a chunk it touched with a
//! neighbour when both fit into one, so the number of chunks stays near n / CHUNK
//! however the mailbox shrinks.

use std::sync::Arc;

use super::Record;

/// The most records in one chunk (small in tests, so that they cross chunk edges).
pub const CHUNK: usize = if cfg!(test) { 4 } else { 256 };

type Chunk = Arc<Vec<Record>>;

/// Records ascending by UID in shared chunks; see the module docs.
#[derive(Debug, Clone, Default)]
pub struct Records {
    chunks: Vec<Chunk>,
    ends: Vec<usize>,
}

impl PartialEq for Records {
    fn eq(&self, other: &Records) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl Eq for Records {}

impl Records {
    /// The records of `sorted` (strictly ascending by UID).
    pub fn from_sorted(sorted: Vec<Record>) -> Records {
        debug_assert!(sorted.windows(2).all(|w| w[0].uid < w[1].uid));
        let mut builder = Builder::default();
        for r in sorted {
            builder.push(r);
        }
        builder.finish()
    }

    /// How many records.
    pub fn len(&self) -> usize {
        self.ends.last().copied().unwrap_or(0)
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.chunks.is_empty()
    }

    /// How many chunks (for tests and memory figures).
    pub fn chunk_count(&self) -> usize {
        self.chunks.len()
    }

    /// The record at `index` (0-based, in UID order).
    pub fn get(&self, index: usize) -> Option<&Record> {
        let c = self.ends.partition_point(|&e| e <= index);
        let chunk = self.chunks.get(c)?;
        chunk.get(index - self.start(c))
    }

    /// The first record.
    pub fn first(&self) -> Option<&Record> {
        self.chunks.first().and_then(|c| c.first())
    }

    /// The last record (the highest UID).
    pub fn last(&self) -> Option<&Record> {
        self.chunks.last().and_then(|c| c.last())
    }

    /// Every record, ascending by UID.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &Record> + '_ {
        self.chunks.iter().flat_map(|c| c.iter())
    }

    /// The records from `index` on.
    pub fn iter_from(&self, index: usize) -> impl Iterator<Item = &Record> + '_ {
        let c = self.ends.partition_point(|&e| e <= index);
        let skip = index.saturating_sub(self.start(c));
        self.chunks[c.min(self.chunks.len())..]
            .iter()
            .flat_map(|c| c.iter())
            .skip(skip)
    }

    /// How many records have a UID below `uid` (where `uid` is or would be).
    pub fn lower_bound(&self, uid: u32) -> usize {
        let c = self
            .chunks
            .partition_point(|c| c.last().is_some_and(|r| r.uid < uid));
        match self.chunks.get(c) {
            Some(chunk) => self.start(c) + chunk.partition_point(|r| r.uid < uid),
            None => self.len(),
        }
    }

    /// The index of the record with `uid`.
    pub fn index_of(&self, uid: u32) -> Option<usize> {
        let i = self.lower_bound(uid);
        self.get(i).filter(|r| r.uid == uid).map(|_| i)
    }

    /// The record with `uid`.
    pub fn by_uid(&self, uid: u32) -> Option<&Record> {
        let c = self
            .chunks
            .partition_point(|c| c.last().is_some_and(|r| r.uid < uid));
        let chunk = self.chunks.get(c)?;
        let i = chunk.binary_search_by_key(&uid, |r| r.uid).ok()?;
        chunk.get(i)
    }

    /// The records at `indices` (ascending, each below [`Records::len`]), in order.
    pub fn at_sorted<'a>(
        &'a self,
        indices: impl IntoIterator<Item = usize> + 'a,
    ) -> impl Iterator<Item = (usize, &'a Record)> + 'a {
        let mut c = 0;
        indices.into_iter().filter_map(move |i| {
            while self.ends.get(c).is_some_and(|&e| e <= i) {
                c += 1;
            }
            let chunk = self.chunks.get(c)?;
            chunk.get(i - self.start(c)).map(|r| (i, r))
        })
    }

    /// Whether both are the very same chunks (no record compared).
    pub fn shares_all(&self, other: &Records) -> bool {
        self.chunks.len() == other.chunks.len()
            && self
                .chunks
                .iter()
                .zip(&other.chunks)
                .all(|(a, b)| Arc::ptr_eq(a, b))
    }

    /// A flat copy (O(n)).
    pub fn to_vec(&self) -> Vec<Record> {
        let mut out = Vec::with_capacity(self.len());
        for c in &self.chunks {
            out.extend_from_slice(c);
        }
        out
    }

    /// How many records have a UID up to `uid`.
    pub fn upper_bound(&self, uid: u32) -> usize {
        match uid.checked_add(1) {
            Some(next) => self.lower_bound(next),
            None => self.len(),
        }
    }

    /// Appends `records` (ascending, above every UID here).
    pub fn extend(&mut self, records: impl IntoIterator<Item = Record>) {
        let mut records = records.into_iter().peekable();
        if records.peek().is_none() {
            return;
        }
        if let Some(last) = self.chunks.last_mut() {
            let room = CHUNK.saturating_sub(last.len());
            if room > 0 {
                Arc::make_mut(last).extend(records.by_ref().take(room));
            }
        }
        let mut builder = Builder::default();
        records.for_each(|r| builder.push(r));
        builder.chunks_into(self);
    }

    fn start(&self, chunk: usize) -> usize {
        match chunk.checked_sub(1) {
            Some(p) => self.ends.get(p).copied().unwrap_or_else(|| self.len()),
            None => 0,
        }
    }

    /// These records with `changed` (strictly ascending by UID) replacing or joining
    /// them and the `gone` UIDs (ascending) removed; a UID in both is gone. Chunks no
    /// change touches are shared with `self`. `edit` hears of every record that
    /// leaves (`Some` first) and every one that enters (`Some` second).
    pub fn apply(
        &self,
        changed: &[Record],
        gone: &[u32],
        mut edit: impl FnMut(Option<&Record>, Option<&Record>),
    ) -> Records {
        let mut chunks: Vec<Chunk> = self.chunks.clone();
        let mut touched = vec![false; chunks.len()];
        let mut tail: Vec<Record> = Vec::new();
        let last_uid = self.last().map_or(0, |r| r.uid);
        // Each edit goes to the first chunk whose last UID (before any edit) is at
        // least its UID; edits above every UID are appended.
        let chunk_of = |uid: u32| {
            self.chunks
                .partition_point(|c| c.last().is_some_and(|r| r.uid < uid))
        };
        let mut gone_iter = gone.iter().copied().peekable();
        for n in changed {
            while let Some(g) = gone_iter.next_if(|&g| g < n.uid) {
                remove(&mut chunks, &mut touched, chunk_of(g), g, &mut edit);
            }
            if gone_iter.next_if_eq(&n.uid).is_some() {
                remove(&mut chunks, &mut touched, chunk_of(n.uid), n.uid, &mut edit);
                continue;
            }
            if n.uid > last_uid {
                tail.push(*n);
                edit(None, Some(n));
                continue;
            }
            let c = chunk_of(n.uid);
            let chunk = Arc::make_mut(&mut chunks[c]);
            touched[c] = true;
            match chunk.binary_search_by_key(&n.uid, |r| r.uid) {
                Ok(i) => {
                    let old = std::mem::replace(&mut chunk[i], *n);
                    edit(Some(&old), Some(n));
                }
                Err(i) => {
                    chunk.insert(i, *n);
                    edit(None, Some(n));
                }
            }
        }
        for g in gone_iter {
            remove(&mut chunks, &mut touched, chunk_of(g), g, &mut edit);
        }
        // Rebuild the chunk list: drop empty chunks, split overfull ones, merge a
        // touched chunk with its neighbour when both fit into one.
        let mut out: Vec<Chunk> = Vec::with_capacity(chunks.len() + tail.len() / CHUNK + 1);
        let mut out_touched: Vec<bool> = Vec::with_capacity(out.capacity());
        // A chunk that went away leaves its neighbours side by side: the next one
        // counts as touched, so the two may merge.
        let mut gap = false;
        for (chunk, t) in chunks.into_iter().zip(touched) {
            if chunk.is_empty() {
                gap = true;
                continue;
            }
            let t = t || std::mem::take(&mut gap);
            if chunk.len() > CHUNK {
                for part in chunk.chunks(CHUNK) {
                    out.push(Arc::new(part.to_vec()));
                    out_touched.push(true);
                }
                continue;
            }
            match (out.last_mut(), out_touched.last().copied()) {
                (Some(prev), Some(pt)) if (t || pt) && prev.len() + chunk.len() <= CHUNK => {
                    Arc::make_mut(prev).extend_from_slice(&chunk);
                    *out_touched.last_mut().expect("a last") = true;
                }
                _ => {
                    out.push(chunk);
                    out_touched.push(t);
                }
            }
        }
        let mut tail = tail.into_iter();
        if let Some(last) = out.last_mut() {
            let room = CHUNK - last.len().min(CHUNK);
            if room > 0 && tail.len() > 0 {
                Arc::make_mut(last).extend(tail.by_ref().take(room));
            }
        }
        let rest: Vec<Record> = tail.collect();
        for part in rest.chunks(CHUNK) {
            out.push(Arc::new(part.to_vec()));
        }
        let mut records = Records {
            chunks: out,
            ends: Vec::new(),
        };
        records.reindex();
        records
    }

    fn reindex(&mut self) {
        let mut end = 0;
        self.ends = self
            .chunks
            .iter()
            .map(|c| {
                end += c.len();
                end
            })
            .collect();
    }
}

/// Removes `uid` from `chunks[c]` (if there), telling `edit`.
fn remove(
    chunks: &mut [Chunk],
    touched: &mut [bool],
    c: usize,
    uid: u32,
    edit: &mut impl FnMut(Option<&Record>, Option<&Record>),
) {
    let Some(chunk) = chunks.get(c) else { return };
    if let Ok(i) = chunk.binary_search_by_key(&uid, |r| r.uid) {
        let old = Arc::make_mut(&mut chunks[c]).remove(i);
        touched[c] = true;
        edit(Some(&old), None);
    }
}

/// Builds a [`Records`] from records and whole chunks of another one, in UID order.
#[derive(Debug, Default)]
pub(crate) struct Builder {
    chunks: Vec<Chunk>,
    open: Vec<Record>,
}

impl Builder {
    /// One more record (above every one so far).
    pub fn push(&mut self, r: Record) {
        if self.open.len() == CHUNK {
            self.flush();
        }
        self.open.push(r);
    }

    /// A whole chunk of another list (above every record so far), shared.
    pub fn push_chunk(&mut self, chunk: &Chunk) {
        self.flush();
        self.chunks.push(Arc::clone(chunk));
    }

    fn flush(&mut self) {
        if !self.open.is_empty() {
            let open = std::mem::replace(&mut self.open, Vec::with_capacity(CHUNK));
            self.chunks.push(Arc::new(open));
        }
    }

    /// Appends what was built to `out` (every record above `out`'s).
    pub fn chunks_into(mut self, out: &mut Records) {
        self.flush();
        out.chunks.extend(self.chunks);
        out.reindex();
    }

    /// What was built.
    pub fn finish(self) -> Records {
        let mut out = Records::default();
        self.chunks_into(&mut out);
        out
    }
}

/// What [`diff`] reports, in ascending UID order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Diff<'a> {
    /// Only the old list has this record.
    Old(&'a Record),
    /// Only the new list has this record.
    New(&'a Record),
    /// Both have the UID, with different records.
    Changed(&'a Record, &'a Record),
    /// Both have this record (reported only for records outside shared chunks).
    Same(&'a Record),
    /// Both have this whole chunk (the same `Arc`).
    Shared(&'a Chunk),
}

/// Walks `old` and `new` together by UID, calling `f` for each difference and for
/// what they have in common (records, or whole chunks when both have the same one
/// at the same place); chunks that are the same `Arc` are skipped in one step.
pub(crate) fn diff<'a>(old: &'a Records, new: &'a Records, mut f: impl FnMut(Diff<'a>)) {
    let (mut ci, mut ri, mut cj, mut rj) = (0, 0, 0, 0);
    loop {
        let (a, b) = (old.chunks.get(ci), new.chunks.get(cj));
        match (a, b) {
            (None, None) => return,
            (Some(a), Some(b)) if ri == 0 && rj == 0 && Arc::ptr_eq(a, b) => {
                f(Diff::Shared(a));
                ci += 1;
                cj += 1;
            }
            (Some(a), Some(b)) => {
                let (x, y) = (&a[ri], &b[rj]);
                let (step_a, step_b) = if x.uid < y.uid {
                    f(Diff::Old(x));
                    (true, false)
                } else if y.uid < x.uid {
                    f(Diff::New(y));
                    (false, true)
                } else {
                    f(if x == y {
                        Diff::Same(x)
                    } else {
                        Diff::Changed(x, y)
                    });
                    (true, true)
                };
                if step_a {
                    ri += 1;
                    if ri == a.len() {
                        (ci, ri) = (ci + 1, 0);
                    }
                }
                if step_b {
                    rj += 1;
                    if rj == b.len() {
                        (cj, rj) = (cj + 1, 0);
                    }
                }
            }
            (Some(a), None) => {
                a[ri..].iter().for_each(|r| f(Diff::Old(r)));
                (ci, ri) = (ci + 1, 0);
            }
            (None, Some(b)) => {
                b[rj..].iter().for_each(|r| f(Diff::New(r)));
                (cj, rj) = (cj + 1, 0);
            }
        }
    }
}

/// Appends a shared chunk or a record to `b` (for building a view from a [`diff`]).
pub(crate) fn keep(b: &mut Builder, d: Diff<'_>) {
    match d {
        Diff::Shared(c) => b.push_chunk(c),
        Diff::Old(r) | Diff::New(r) | Diff::Same(r) | Diff::Changed(_, r) => b.push(*r),
    }
}

#[cfg(test)]
mod tests {
    use super::super::FlagSetId;
    use super::*;
    use proptest::prelude::*;

    fn rec(uid: u32, flags: u32) -> Record {
        Record {
            modseq: u64::from(flags) + 1,
            received_at: i64::from(uid),
            uid,
            flags: FlagSetId::for_tests(flags),
            size: uid * 10,
        }
    }

    /// Every structural invariant of the module docs, and equality with `model`.
    fn check(r: &Records, model: &[Record]) {
        assert_eq!(r.to_vec(), model);
        assert_eq!(r.len(), model.len());
        assert_eq!(r.is_empty(), model.is_empty());
        assert!(r.chunks.iter().all(|c| !c.is_empty() && c.len() <= CHUNK));
        let mut end = 0;
        for (c, e) in r.chunks.iter().zip(&r.ends) {
            end += c.len();
            assert_eq!(end, *e);
        }
        assert_eq!(r.ends.len(), r.chunks.len());
        // Two neighbours never fit into one chunk: about n / CHUNK chunks at most twice.
        assert!(r.chunks.windows(2).all(|w| w[0].len() + w[1].len() > CHUNK));
        assert_eq!(r.first(), model.first());
        assert_eq!(r.last(), model.last());
        for (i, m) in model.iter().enumerate() {
            assert_eq!(r.get(i), Some(m));
            assert_eq!(r.index_of(m.uid), Some(i));
            assert_eq!(r.by_uid(m.uid), Some(m));
            assert_eq!(r.iter_from(i).next(), Some(m));
        }
        assert_eq!(r.get(model.len()), None);
        assert_eq!(r.iter_from(model.len()).next(), None);
        let top = model.last().map_or(0, |m| m.uid) + 2;
        for uid in 0..top {
            assert_eq!(r.lower_bound(uid), model.partition_point(|m| m.uid < uid));
            assert_eq!(r.upper_bound(uid), model.partition_point(|m| m.uid <= uid));
            if model.iter().all(|m| m.uid != uid) {
                assert_eq!(r.index_of(uid), None);
                assert_eq!(r.by_uid(uid), None);
            }
        }
        assert_eq!(r.upper_bound(u32::MAX), model.len());
        let odd: Vec<usize> = (0..model.len()).filter(|i| i % 3 != 1).collect();
        let got: Vec<(usize, Record)> = r.at_sorted(odd.clone()).map(|(i, m)| (i, *m)).collect();
        let want: Vec<(usize, Record)> = odd.iter().map(|&i| (i, model[i])).collect();
        assert_eq!(got, want);
    }

    /// What `diff` must report, from two plain lists.
    fn plain_diff(old: &[Record], new: &[Record]) -> Vec<(Option<Record>, Option<Record>)> {
        let mut out = Vec::new();
        let (mut i, mut j) = (0, 0);
        while i < old.len() || j < new.len() {
            match (old.get(i), new.get(j)) {
                (Some(a), Some(b)) if a.uid == b.uid => {
                    out.push((Some(*a), Some(*b)));
                    (i, j) = (i + 1, j + 1);
                }
                (Some(a), b) if b.is_none_or(|b| a.uid < b.uid) => {
                    out.push((Some(*a), None));
                    i += 1;
                }
                (_, Some(b)) => {
                    out.push((None, Some(*b)));
                    j += 1;
                }
                _ => unreachable!(),
            }
        }
        out
    }

    fn chunked_diff(old: &Records, new: &Records) -> Vec<(Option<Record>, Option<Record>)> {
        let mut out = Vec::new();
        diff(old, new, |d| match d {
            Diff::Old(a) => out.push((Some(*a), None)),
            Diff::New(b) => out.push((None, Some(*b))),
            Diff::Changed(a, b) => {
                assert_ne!(a, b);
                out.push((Some(*a), Some(*b)));
            }
            Diff::Same(a) => out.push((Some(*a), Some(*a))),
            Diff::Shared(c) => out.extend(c.iter().map(|r| (Some(*r), Some(*r)))),
        });
        out
    }

    #[test]
    fn one_change_copies_one_chunk() {
        let model: Vec<Record> = (1..=100).map(|u| rec(u, 0)).collect();
        let r = Records::from_sorted(model.clone());
        check(&r, &model);
        assert_eq!(r.chunk_count(), 100 / CHUNK);
        let next = r.apply(&[rec(50, 1)], &[], |_, _| {});
        let shared = r
            .chunks
            .iter()
            .zip(&next.chunks)
            .filter(|(a, b)| Arc::ptr_eq(a, b))
            .count();
        assert_eq!(shared, r.chunk_count() - 1);
        let mut want = model.clone();
        want[49] = rec(50, 1);
        check(&next, &want);
        // The walk reports the change and steps over everything else chunk by chunk.
        let mut records = 0;
        diff(&r, &next, |d| {
            if !matches!(d, Diff::Shared(_)) {
                records += 1;
            }
        });
        assert_eq!(records, CHUNK);
        assert!(!r.shares_all(&next) && next.shares_all(&next.clone()));
    }

    #[test]
    fn expunges_merge_chunks_and_appends_fill_the_last() {
        let model: Vec<Record> = (1..=40).map(|u| rec(u, 0)).collect();
        let r = Records::from_sorted(model.clone());
        let gone: Vec<u32> = (1..=40).filter(|u| u % 4 != 0).collect();
        let mut edits = (0, 0);
        let next = r.apply(&[], &gone, |old, new| {
            edits.0 += usize::from(old.is_some());
            edits.1 += usize::from(new.is_some());
        });
        assert_eq!(edits, (30, 0));
        let want: Vec<Record> = model.iter().copied().filter(|m| m.uid % 4 == 0).collect();
        check(&next, &want);
        assert!(next.chunk_count() <= 2 * want.len() / CHUNK + 1);
        let more: Vec<Record> = (41..=50).map(|u| rec(u, 2)).collect();
        let last = next.apply(&more, &[], |_, _| {});
        let mut want = want;
        want.extend(&more);
        check(&last, &want);
        // Changed and expunged in one delta: gone; a UID nobody has: nothing.
        let both = last.apply(&[rec(44, 3), rec(60, 0)], &[44, 60, 1000], |_, _| {});
        want.retain(|m| m.uid != 44);
        check(&both, &want);
    }

    #[derive(Debug, Clone)]
    enum Op {
        /// New messages above every UID.
        Append(u8),
        /// One message's flags change.
        Flags(prop::sample::Index, u8),
        /// The messages whose bit is set go.
        Expunge(u64),
        /// A UID in a gap arrives (never from our store; still kept in order).
        Insert(prop::sample::Index),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            3 => (0u8..12).prop_map(Op::Append),
            3 => (any::<prop::sample::Index>(), any::<u8>()).prop_map(|(i, f)| Op::Flags(i, f)),
            2 => any::<u64>().prop_map(|m| Op::Expunge(m & m.rotate_left(23))),
            1 => any::<prop::sample::Index>().prop_map(Op::Insert),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Chunked records equal a plain sorted Vec under random batches of appends,
        /// flag changes and expunges; untouched chunks stay shared, and `diff` of
        /// any two versions is the plain merge of their lists.
        #[test]
        fn chunks_equal_a_vec(
            initial in 0u32..30,
            batches in prop::collection::vec(prop::collection::vec(op(), 1..6), 0..20),
        ) {
            let mut model: Vec<Record> = (1..=initial).map(|u| rec(2 * u, 0)).collect();
            let mut next_uid = 2 * initial + 2;
            let mut r = Records::from_sorted(model.clone());
            check(&r, &model);
            let mut versions = vec![(r.clone(), model.clone())];
            // UIDs are never used twice (RFC 3501 §2.3.1.1).
            let mut used: std::collections::BTreeSet<u32> = model.iter().map(|m| m.uid).collect();
            for batch in batches {
                let mut changed: std::collections::BTreeMap<u32, Record> = Default::default();
                let mut gone: Vec<u32> = Vec::new();
                let mut now = model.clone();
                for op in batch {
                    match op {
                        Op::Append(n) => {
                            for _ in 0..n {
                                let m = rec(next_uid, 0);
                                next_uid += 2;
                                now.push(m);
                                changed.insert(m.uid, m);
                            }
                        }
                        Op::Flags(i, f) if !now.is_empty() => {
                            let k = i.index(now.len());
                            now[k] = rec(now[k].uid, u32::from(f % 5));
                            changed.insert(now[k].uid, now[k]);
                        }
                        Op::Expunge(mask) => {
                            let mut k = 0;
                            now.retain(|m| {
                                k += 1;
                                let go = mask & (1 << (k % 64)) != 0;
                                if go {
                                    gone.push(m.uid);
                                }
                                !go
                            });
                        }
                        Op::Insert(i) => {
                            let uid = 2 * i.index(next_uid as usize / 2) as u32 + 1;
                            if used.insert(uid) {
                                let m = rec(uid, 4);
                                let at = now.partition_point(|x| x.uid < uid);
                                now.insert(at, m);
                                changed.insert(uid, m);
                            }
                        }
                        Op::Flags(..) => {}
                    }
                }
                gone.sort_unstable();
                // A message changed in the batch and expunged later is in both lists.
                let changed: Vec<Record> = changed.into_values().collect();
                let (mut left, mut entered) = (0usize, 0usize);
                let next = r.apply(&changed, &gone, |old, new| {
                    left += usize::from(old.is_some());
                    entered += usize::from(new.is_some());
                });
                check(&next, &now);
                prop_assert_eq!(model.len() - left + entered, now.len());
                // Chunks without a change are the same Arc.
                let touched: std::collections::BTreeSet<u32> =
                    changed.iter().map(|m| m.uid).chain(gone.iter().copied()).collect();
                for c in &r.chunks {
                    let (lo, hi) = (c[0].uid, c[c.len() - 1].uid);
                    let untouched = touched.range(lo..=hi).next().is_none();
                    let alone = next.chunks.iter().any(|n| n[0].uid == lo && n.len() == c.len());
                    if untouched && alone {
                        prop_assert!(next.chunks.iter().any(|n| Arc::ptr_eq(n, c)));
                    }
                }
                prop_assert_eq!(chunked_diff(&r, &next), plain_diff(&model, &now));
                r = next;
                model = now;
                versions.push((r.clone(), model.clone()));
            }
            // Any two versions, either way round.
            let (first, first_model) = &versions[0];
            prop_assert_eq!(chunked_diff(first, &r), plain_diff(first_model, &model));
            prop_assert_eq!(chunked_diff(&r, first), plain_diff(&model, first_model));
            // Rebuilding a view from a diff, keeping the new side, gives the new list.
            let mut b = Builder::default();
            diff(first, &r, |d| {
                if !matches!(d, Diff::Old(_)) {
                    keep(&mut b, d);
                }
            });
            let rebuilt = b.finish();
            prop_assert_eq!(rebuilt.to_vec(), model.clone());
            let mut extended = Records::from_sorted(model.clone());
            let more: Vec<Record> = (0..7).map(|k| rec(next_uid + 2 * k, 1)).collect();
            extended.extend(more.iter().copied());
            let mut want = model.clone();
            want.extend(&more);
            prop_assert_eq!(extended.to_vec(), want);
        }
    }
}
