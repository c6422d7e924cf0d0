//! ORDEREDSUBJECT threading (RFC 5256 §3): "poor man's threading".
//!
//! Messages are sorted by base subject, then sent date; each base subject is one
//! thread; threads are sorted by the sent date of their first message. The first
//! message is the thread's root, every later one its child: no grandchildren. Equal
//! sent dates go by sequence number (RFC 5256 §2.2), i.e. position in the input.

use super::{Message, Threads, base_subject};
use std::collections::HashMap;

pub(super) fn thread(messages: &[Message]) -> Threads {
    let key = |i: usize| (messages[i].sent, i);
    // Group by base subject, keeping the order groups were first seen in.
    let mut groups: Vec<Vec<usize>> = Vec::new();
    let mut by_subject: HashMap<String, usize> = HashMap::new();
    for (i, m) in messages.iter().enumerate() {
        let group = *by_subject
            .entry(base_subject(&m.subject))
            .or_insert_with(|| {
                groups.push(Vec::new());
                groups.len() - 1
            });
        groups[group].push(i);
    }
    for group in &mut groups {
        group.sort_by_key(|&i| key(i));
    }
    // Every group has at least one member.
    groups.sort_by_key(|g| g.first().map(|&i| key(i)));
    let mut threads = Threads::default();
    for group in groups {
        let Some((&first, rest)) = group.split_first() else {
            continue;
        };
        let children = rest
            .iter()
            .map(|&i| threads.push(Some(messages[i].id), Vec::new()))
            .collect();
        let root = threads.push(Some(messages[first].id), children);
        threads.roots.push(root);
    }
    threads
}
