//! Property tests: threading never panics, keeps every message exactly once, keeps
//! the shape RFC 5256 allows, sorts siblings, renders what imap-codec parses back, and
//! rebuilds a reply tree exactly from truthful (even trimmed) References.

use super::*;
use imap_codec::ResponseCodec;
use imap_codec::decode::Decoder;
use imap_codec::imap_types::response::{Data, Response};
use proptest::prelude::*;
use std::collections::HashMap;

const SUBJECTS: [&str; 8] = [
    "",
    "a",
    "Re: a",
    "b",
    "Fwd: B",
    "[l] c (fwd)",
    "Re: Re: c",
    "[fwd: a]",
];

/// A Message-ID, References or In-Reply-To value from a small pool, so that IDs
/// collide, go missing, repeat and loop.
fn id_text(n: u8) -> String {
    match n % 16 {
        13 => "junk".to_owned(),
        14 => "<no-at-sign>".to_owned(),
        15 => "(comment) \"<q@x>\"".to_owned(),
        k => format!("<id{k}@x>"),
    }
}

fn message() -> impl Strategy<Value = (usize, i64, Option<u8>, Option<Vec<u8>>, Option<u8>)> {
    (
        0..SUBJECTS.len(),
        0i64..6,
        proptest::option::of(any::<u8>()),
        proptest::option::of(proptest::collection::vec(any::<u8>(), 0..6)),
        proptest::option::of(any::<u8>()),
    )
}

fn mailbox() -> impl Strategy<Value = Vec<Message>> {
    (
        proptest::collection::vec(message(), 0..40),
        proptest::collection::vec(1u32..4, 40),
    )
        .prop_map(|(specs, gaps)| {
            let mut id = 0;
            specs
                .into_iter()
                .zip(gaps)
                .map(|((subject, sent, mid, refs, irt), gap)| {
                    id += gap; // ascending, like UIDs
                    Message {
                        id,
                        subject: SUBJECTS[subject].to_owned(),
                        sent,
                        message_id: mid.map(id_text),
                        references: refs
                            .map(|r| r.into_iter().map(id_text).collect::<Vec<_>>().join(" ")),
                        in_reply_to: irt.map(id_text),
                    }
                })
                .collect()
        })
}

/// Every message once, dummies only at the top with two or more children, siblings in
/// sent-date order.
fn check_shape(messages: &[Message], threads: &Threads) -> Result<(), TestCaseError> {
    let mut ids = threads.ids();
    ids.sort_unstable();
    let mut want: Vec<u32> = messages.iter().map(|m| m.id).collect();
    want.sort_unstable();
    prop_assert_eq!(ids, want, "every message exactly once");
    let key_of: HashMap<u32, (i64, usize)> = messages
        .iter()
        .enumerate()
        .map(|(i, m)| (m.id, (m.sent, i)))
        .collect();
    let key = |n: usize| {
        let node = &threads.nodes[n];
        let id = node
            .id
            .or_else(|| node.children.first().and_then(|&c| threads.nodes[c].id));
        id.map(|id| key_of[&id])
    };
    let sorted = |list: &[usize]| list.windows(2).all(|w| key(w[0]) <= key(w[1]));
    prop_assert!(sorted(&threads.roots), "threads in sent-date order");
    for (n, node) in threads.nodes.iter().enumerate() {
        prop_assert!(sorted(&node.children), "siblings in sent-date order");
        if node.id.is_none() {
            prop_assert!(threads.roots.contains(&n), "a dummy below the top");
            prop_assert!(
                node.children.len() >= 2,
                "a dummy with fewer than two children"
            );
        }
    }
    Ok(())
}

/// The rendering parses as a THREAD response (when imap-codec's nesting limit allows)
/// and prints back the same.
fn check_render(threads: &Threads) -> Result<(), TestCaseError> {
    let text = threads.render();
    let mut depth = 0i32;
    let mut deepest = 0;
    for c in text.chars() {
        depth += if c == '(' {
            1
        } else if c == ')' {
            -1
        } else {
            0
        };
        deepest = deepest.max(depth);
    }
    prop_assert_eq!(depth, 0);
    if deepest > 8 {
        return Ok(());
    }
    let line = if text.is_empty() {
        "* THREAD\r\n".to_owned()
    } else {
        format!("* THREAD {text}\r\n")
    };
    match ResponseCodec::default().decode(line.as_bytes()) {
        Ok((rest, Response::Data(Data::Thread(list)))) => {
            prop_assert!(rest.is_empty());
            let again: String = list.iter().map(ToString::to_string).collect();
            prop_assert_eq!(again, text);
        }
        other => prop_assert!(false, "{line:?} does not parse: {other:?}"),
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn references_keeps_every_message_once(messages in mailbox()) {
        let threads = thread(Algorithm::References, &messages);
        check_shape(&messages, &threads)?;
        check_render(&threads)?;
    }

    #[test]
    fn orderedsubject_is_one_flat_thread_per_subject(messages in mailbox()) {
        let threads = thread(Algorithm::OrderedSubject, &messages);
        check_shape(&messages, &threads)?;
        check_render(&threads)?;
        let subject: HashMap<u32, String> =
            messages.iter().map(|m| (m.id, base_subject(&m.subject))).collect();
        let mut seen = std::collections::HashSet::new();
        for &r in &threads.roots {
            let root = &threads.nodes[r];
            let id = root.id.expect("no dummies in ORDEREDSUBJECT");
            prop_assert!(seen.insert(subject[&id].clone()), "one thread per subject");
            for &c in &root.children {
                let child = &threads.nodes[c];
                prop_assert!(child.children.is_empty(), "no grandchildren");
                prop_assert_eq!(&subject[&child.id.expect("a message")], &subject[&id]);
            }
        }
    }

    /// A true reply tree (any parent order against the mailbox order), each message's
    /// References an ordered selection of its ancestors ending with its parent,
    /// distinct subjects: REFERENCES gives back exactly that tree.
    #[test]
    fn truthful_references_rebuild_the_tree(
        ranks in Just((0..30usize).collect::<Vec<_>>()).prop_shuffle(),
        picks in proptest::collection::vec((any::<u8>(), any::<u32>()), 30),
        dates in proptest::collection::vec(0i64..5, 30),
        n in 0usize..30,
    ) {
        // parent[i]: a message of lower rank, or none.
        let ranks = &ranks[..n];
        let mut parent: Vec<Option<usize>> = vec![None; n];
        for i in 0..n {
            let older: Vec<usize> = (0..n).filter(|&j| ranks[j] < ranks[i]).collect();
            let (p, _) = picks[i];
            if !older.is_empty() && p % 4 != 0 {
                parent[i] = Some(older[p as usize % older.len()]);
            }
        }
        let messages: Vec<Message> = (0..n)
            .map(|i| {
                let mut chain = Vec::new();
                let mut at = parent[i];
                while let Some(a) = at {
                    chain.push(a);
                    at = parent[a];
                }
                chain.reverse();
                // Keep the parent and a random selection of the other ancestors.
                let mask = picks[i].1;
                let last = chain.len().saturating_sub(1);
                let refs: Vec<String> = chain
                    .iter()
                    .enumerate()
                    .filter(|&(k, _)| k == last || mask & (1 << (k % 32)) != 0)
                    .map(|(_, &a)| format!("<m{a}@x>"))
                    .collect();
                Message {
                    id: i as u32 + 1,
                    subject: format!("subject {i}"),
                    sent: dates[i],
                    message_id: Some(format!("<m{i}@x>")),
                    references: (!refs.is_empty()).then(|| refs.join("\r\n ")),
                    in_reply_to: None,
                }
            })
            .collect();
        let mut want = Threads::default();
        let mut children: Vec<Vec<usize>> = vec![Vec::new(); n];
        let mut roots = Vec::new();
        for (i, &p) in parent.iter().enumerate() {
            match p {
                Some(p) => children[p].push(i),
                None => roots.push(i),
            }
        }
        // Build bottom-up in rank order reversed so children exist before parents.
        let mut by_rank: Vec<usize> = (0..n).collect();
        by_rank.sort_by_key(|&i| std::cmp::Reverse(ranks[i]));
        let mut index = vec![0usize; n];
        for &i in &by_rank {
            let mut kids = children[i].clone();
            kids.sort_by_key(|&k| (dates[k], k));
            let kids = kids.iter().map(|&k| index[k]).collect();
            index[i] = want.push(Some(i as u32 + 1), kids);
        }
        roots.sort_by_key(|&r| (dates[r], r));
        want.roots = roots.iter().map(|&r| index[r]).collect();
        let got = thread(Algorithm::References, &messages);
        prop_assert_eq!(got.render(), want.render());
    }
}

proptest! {
    /// A stored summary yields the same threading record as the message bytes.
    #[test]
    fn summaries_and_headers_agree(
        lines in proptest::collection::vec(
            (
                prop::sample::select(vec![
                    "Subject", "Message-ID", "References", "In-Reply-To", "Date", "X-Junk",
                ]),
                "[ -~]{0,30}",
                any::<bool>(),
            ),
            0..6,
        ),
        body in "[ -~\r\n]{0,20}",
    ) {
        let mut raw = String::new();
        for (name, value, folded) in &lines {
            let sep = if *folded { "\r\n " } else { " " };
            raw.push_str(&format!("{name}:{sep}{value}\r\n"));
        }
        raw.push_str("\r\n");
        raw.push_str(&body);
        let summary = crate::summary::Summary::compute(raw.as_bytes());
        let a = Message::from_header(1, raw.as_bytes(), 7);
        let b = Message::from_summary(1, &summary, 7);
        prop_assert_eq!(&a.subject, &b.subject);
        prop_assert_eq!(a.sent, b.sent);
        let ids = |v: &Option<String>| v.as_deref().map(msgid::ids).unwrap_or_default();
        prop_assert_eq!(ids(&a.message_id), ids(&b.message_id));
        prop_assert_eq!(ids(&a.references), ids(&b.references));
        prop_assert_eq!(ids(&a.in_reply_to), ids(&b.in_reply_to));
    }
}
