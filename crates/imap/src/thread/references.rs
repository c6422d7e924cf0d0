//! REFERENCES threading (RFC 5256 §3), step by step.
//!
//! Messages and the dummies standing for messages the mailbox does not hold live in
//! one arena of [`Container`]s. While links are made (step 1) only parent pointers are
//! kept, so breaking a link is O(1); children lists are built from them afterwards.
//! Every walk is a loop with an explicit stack, never recursion, so a reply chain of
//! any depth is safe.
//!
//! Cost: linking a reference walks up from the would-be parent to check for a loop,
//! O(depth) per reference. A References header of more than [`MAX_REFERENCES`] IDs is
//! cut to its first and last ones, as mail user agents themselves trim it (RFC 5322
//! §3.6.4 only asks for the parent's IDs to be carried, RFC 5256 §3 expects
//! truncation), so a hostile header cannot make threading quadratic in its length.

use super::subject::{self, BaseSubject};
use super::{Message, Threads, msgid};
use std::collections::HashMap;

/// The most references used from one message: the first, and the last ones.
pub(super) const MAX_REFERENCES: usize = 128;

/// A message (`msg` is its index in the input) or a dummy (`msg` is `None`).
#[derive(Debug, Clone, Default)]
struct Container {
    msg: Option<usize>,
    parent: Option<usize>,
    /// How many containers have this one as parent (step 1 only).
    child_count: usize,
    /// Built after step 1.
    children: Vec<usize>,
}

/// The working state: the arena and the Message ID table.
struct Arena<'m> {
    messages: &'m [Message],
    nodes: Vec<Container>,
    by_id: HashMap<String, usize>,
}

pub(super) fn thread(messages: &[Message]) -> Threads {
    let mut arena = Arena {
        messages,
        nodes: Vec::with_capacity(messages.len() * 2),
        by_id: HashMap::with_capacity(messages.len()),
    };
    arena.add_messages();
    for i in 0..messages.len() {
        arena.link(i);
    }
    let root = arena.build_children();
    arena.prune(root);
    let subjects: Vec<BaseSubject> = messages
        .iter()
        .map(|m| subject::analyse(&m.subject))
        .collect();
    // Step 4: the top-level siblings by sent date (a dummy by its first child).
    arena.sort_children(root);
    arena.gather_subjects(root, &subjects);
    // Step 6: every set of siblings by sent date, children before their parents so a
    // dummy's first child is known when the dummy is placed.
    for n in 0..arena.nodes.len() {
        if n != root {
            arena.sort_children(n);
        }
    }
    arena.sort_children(root);
    arena.output(root)
}

impl Arena<'_> {
    fn new_node(&mut self, msg: Option<usize>) -> usize {
        self.nodes.push(Container {
            msg,
            ..Container::default()
        });
        self.nodes.len() - 1
    }

    /// One container per message, in mailbox order. RFC 5256 §3 step 1.A: a message
    /// without a valid Message ID gets a unique one, and of several messages with the
    /// same Message ID only the first keeps it; the others get unique ones. (A unique
    /// ID is simply a container not in the table: nothing can refer to it.)
    fn add_messages(&mut self) {
        for (i, m) in self.messages.iter().enumerate() {
            let n = self.new_node(Some(i));
            if let Some(id) = m.message_id.as_deref().and_then(msgid::first) {
                self.by_id.entry(id).or_insert(n);
            }
        }
    }

    /// The container of Message ID `id`; RFC 5256 §3 step 1.A: a dummy if no message
    /// has it, the same dummy for every later reference.
    fn container(&mut self, id: &str) -> usize {
        if let Some(&n) = self.by_id.get(id) {
            return n;
        }
        let n = self.new_node(None);
        self.by_id.insert(id.to_owned(), n);
        n
    }

    /// The references of message `i` (RFC 5256 §3): the Message IDs of its References
    /// header; if it has none that are valid, the first valid one of In-Reply-To; else
    /// none. At most [`MAX_REFERENCES`]: the first and the last ones.
    fn references(&self, i: usize) -> Vec<String> {
        let m = &self.messages[i];
        let mut refs = m.references.as_deref().map(msgid::ids).unwrap_or_default();
        if refs.is_empty() {
            refs.extend(m.in_reply_to.as_deref().and_then(msgid::first));
        }
        if refs.len() > MAX_REFERENCES {
            refs.drain(1..refs.len() - (MAX_REFERENCES - 1));
        }
        refs
    }

    /// Whether `a` is `b` or lies below it. Walks up from `a`; a container without
    /// children has nothing below it. The walk is bounded by the arena's size, so even
    /// a (never expected) cycle cannot hang it.
    fn is_descendant(&self, a: usize, b: usize) -> bool {
        if a == b {
            return true;
        }
        if self.nodes[b].child_count == 0 {
            return false;
        }
        let mut at = a;
        for _ in 0..self.nodes.len() {
            match self.nodes[at].parent {
                Some(p) if p == b => return true,
                Some(p) => at = p,
                None => return false,
            }
        }
        true
    }

    fn set_parent(&mut self, child: usize, parent: Option<usize>) {
        if let Some(old) = self.nodes[child].parent {
            self.nodes[old].child_count -= 1;
        }
        if let Some(p) = parent {
            self.nodes[p].child_count += 1;
        }
        self.nodes[child].parent = parent;
    }

    /// RFC 5256 §3 step 1 for message `i`.
    fn link(&mut self, i: usize) {
        let refs = self.references(i);
        let chain: Vec<usize> = refs.iter().map(|id| self.container(id)).collect();
        // Step 1.A: each reference is the parent of the next. A container that already
        // has a parent keeps it (the References line may have been truncated), and no
        // link may make a loop (A must not be below B before A becomes B's parent).
        for pair in chain.windows(2) {
            let (a, b) = (pair[0], pair[1]);
            if self.nodes[b].parent.is_none() && !self.is_descendant(a, b) {
                self.set_parent(b, Some(a));
            }
        }
        // Step 1.B: the last reference (or none) is the message's parent, replacing a
        // parent set by another message's (probably truncated) references, unless the
        // link would make a loop; with no references the message has no parent.
        let me = i; // containers 0..n are the messages, in order
        let parent = chain.last().copied();
        if self.nodes[me].parent == parent {
            return;
        }
        self.set_parent(me, None);
        if let Some(p) = parent
            && !self.is_descendant(p, me)
        {
            self.set_parent(me, Some(p));
        }
    }

    /// Step 2: children lists from the parent pointers, and a root container whose
    /// children are all the containers without a parent. Returns the root.
    fn build_children(&mut self) -> usize {
        let root = self.new_node(None);
        for n in 0..root {
            let parent = self.nodes[n].parent.unwrap_or(root);
            self.nodes[parent].children.push(n);
        }
        root
    }

    /// Step 3: prune dummies, deepest first. A dummy without children is deleted; one
    /// with children is replaced by them, except that its children are not promoted to
    /// the root unless there is only one.
    fn prune(&mut self, root: usize) {
        // Post-order without recursion: (container, its children are done).
        let mut stack = vec![(root, false)];
        while let Some((n, done)) = stack.pop() {
            if !done {
                stack.push((n, true));
                stack.extend(self.nodes[n].children.iter().map(|&c| (c, false)));
                continue;
            }
            let old = std::mem::take(&mut self.nodes[n].children);
            let mut kept = Vec::with_capacity(old.len());
            for c in old {
                let child = &self.nodes[c];
                if child.msg.is_some() {
                    kept.push(c);
                } else if child.children.is_empty() {
                    // deleted
                } else if n != root || child.children.len() == 1 {
                    kept.extend(std::mem::take(&mut self.nodes[c].children));
                } else {
                    kept.push(c);
                }
            }
            self.nodes[n].children = kept;
        }
    }

    /// The sort key of RFC 5256 §2.2: sent date, then sequence number; a dummy
    /// sorts as its first child (RFC 5256 §3 steps 4 and 6).
    fn key(&self, n: usize) -> (i64, usize) {
        let mut at = n;
        for _ in 0..self.nodes.len() {
            let node = &self.nodes[at];
            if let Some(i) = node.msg {
                return (self.messages[i].sent, i);
            }
            match node.children.first() {
                Some(&first) => at = first,
                None => break,
            }
        }
        (i64::MAX, usize::MAX)
    }

    /// Sorts `n`'s children by [`Arena::key`]; a dummy child's own children first.
    fn sort_children(&mut self, n: usize) {
        let mut children = std::mem::take(&mut self.nodes[n].children);
        for &c in &children {
            if self.nodes[c].msg.is_none() {
                let mut grand = std::mem::take(&mut self.nodes[c].children);
                grand.sort_by_cached_key(|&g| self.key(g));
                self.nodes[c].children = grand;
            }
        }
        children.sort_by_cached_key(|&c| self.key(c));
        self.nodes[n].children = children;
    }

    /// Step 5: gather threads under the root whose thread subject (the base subject
    /// of the message, or of a dummy's first child) is the same.
    fn gather_subjects(&mut self, root: usize, subjects: &[BaseSubject]) {
        let top = std::mem::take(&mut self.nodes[root].children);
        let thread_subject = |arena: &Self, n: usize| -> Option<usize> {
            let node = &arena.nodes[n];
            node.msg
                .or_else(|| node.children.first().and_then(|&c| arena.nodes[c].msg))
        };
        let subject_of = |m: Option<usize>| m.map_or("", |i| subjects[i].text.as_str());
        let reply = |arena: &Self, n: usize| {
            arena.nodes[n]
                .msg
                .is_some_and(|i| subjects[i].reply_or_forward)
        };
        let is_dummy = |arena: &Self, n: usize| arena.nodes[n].msg.is_none();
        // 5.B: one thread per subject in the table, in sorted order; a dummy, or a
        // non-reply over a reply, takes the place of a message already there.
        let mut table: HashMap<&str, usize> = HashMap::new();
        let keys: Vec<&str> = top
            .iter()
            .map(|&n| subject_of(thread_subject(self, n)))
            .collect();
        for (&n, &subject) in top.iter().zip(&keys) {
            if subject.is_empty() {
                continue; // 5.B.ii
            }
            match table.get(subject) {
                None => {
                    table.insert(subject, n);
                }
                Some(&t) => {
                    if !is_dummy(self, t)
                        && (is_dummy(self, n) || (reply(self, t) && !reply(self, n)))
                    {
                        table.insert(subject, n);
                    }
                }
            }
        }
        // 5.C: merge every other thread with the one in the table.
        let mut at_root: HashMap<usize, bool> = top.iter().map(|&n| (n, true)).collect();
        let mut order = top.clone();
        for (&n, &subject) in top.iter().zip(&keys) {
            if subject.is_empty() {
                continue;
            }
            let Some(&t) = table.get(subject) else {
                continue;
            };
            if t == n {
                continue;
            }
            match (is_dummy(self, t), is_dummy(self, n)) {
                // Both dummies: the children of both become siblings.
                (true, true) => {
                    let moved = std::mem::take(&mut self.nodes[n].children);
                    self.nodes[t].children.extend(moved);
                    at_root.insert(n, false);
                }
                // The table's is a dummy: this message joins its children.
                (true, false) => {
                    self.nodes[t].children.push(n);
                    at_root.insert(n, false);
                }
                // Cannot happen (5.B prefers dummies); kept total: the other way round.
                (false, true) => {
                    self.nodes[n].children.push(t);
                    at_root.insert(t, false);
                    table.insert(subject, n);
                }
                (false, false) if reply(self, n) && !reply(self, t) => {
                    self.nodes[t].children.push(n);
                    at_root.insert(n, false);
                }
                // Otherwise both become children of a new dummy, which takes the
                // table's place.
                (false, false) => {
                    let dummy = self.new_node(None);
                    self.nodes[dummy].children = vec![t, n];
                    at_root.insert(t, false);
                    at_root.insert(n, false);
                    at_root.insert(dummy, true);
                    order.push(dummy);
                    table.insert(subject, dummy);
                }
            }
        }
        self.nodes[root].children = order
            .into_iter()
            .filter(|n| at_root.get(n).copied().unwrap_or(false))
            .collect();
    }

    /// The tree under `root` as [`Threads`], in its final order.
    fn output(&self, root: usize) -> Threads {
        let mut threads = Threads::default();
        // Pre-order: give each reachable container its index, then fill children.
        let mut index: HashMap<usize, usize> = HashMap::new();
        let mut visit: Vec<usize> = Vec::new();
        let mut stack: Vec<usize> = self.nodes[root].children.iter().rev().copied().collect();
        while let Some(n) = stack.pop() {
            if index.contains_key(&n) {
                continue; // cannot happen in a tree; never loop or duplicate
            }
            let id = self.nodes[n].msg.map(|i| self.messages[i].id);
            index.insert(n, threads.push(id, Vec::new()));
            visit.push(n);
            stack.extend(self.nodes[n].children.iter().rev());
        }
        for n in visit {
            let children = self.nodes[n]
                .children
                .iter()
                .filter_map(|c| index.get(c).copied())
                .collect();
            threads.nodes[index[&n]].children = children;
        }
        threads.roots = self.nodes[root]
            .children
            .iter()
            .filter_map(|c| index.get(c).copied())
            .collect();
        threads
    }
}
