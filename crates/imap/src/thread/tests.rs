//! Tables for both threading algorithms: the RFC 5256 examples, each rule of
//! REFERENCES step by step, and header reading.

use super::*;

/// A message built field by field.
fn msg(id: u32, sent: i64, subject: &str) -> Message {
    Message {
        id,
        subject: subject.to_owned(),
        sent,
        ..Message::default()
    }
}

impl Message {
    fn mid(mut self, id: &str) -> Self {
        self.message_id = Some(id.to_owned());
        self
    }
    fn refs(mut self, refs: &str) -> Self {
        self.references = Some(refs.to_owned());
        self
    }
    fn irt(mut self, irt: &str) -> Self {
        self.in_reply_to = Some(irt.to_owned());
        self
    }
}

fn refs(messages: &[Message]) -> String {
    thread(Algorithm::References, messages).render()
}

fn ordered(messages: &[Message]) -> String {
    thread(Algorithm::OrderedSubject, messages).render()
}

#[test]
fn algorithm_names() {
    assert_eq!(
        Algorithm::from_name("references"),
        Some(Algorithm::References)
    );
    assert_eq!(
        Algorithm::from_name("OrderedSubject"),
        Some(Algorithm::OrderedSubject)
    );
    assert_eq!(Algorithm::from_name("REFS"), None);
}

#[test]
fn rfc_5256_references_example() {
    // RFC 5256 §4: "(2)(3 6 (4 23)(44 7 96))". 44 is the parent of 7, a message that
    // came into the mailbox earlier ("moved from some other mailbox").
    let m = |id: u32, sent, subject: &str, refs: &str| {
        msg(id, sent, subject)
            .mid(&format!("<m{id}@example.org>"))
            .refs(refs)
    };
    let messages = [
        m(2, 100, "Lunch", ""),
        m(3, 200, "Release plan", ""),
        m(
            4,
            400,
            "Re: Release plan",
            "<m3@example.org> <m6@example.org>",
        ),
        m(6, 300, "Re: Release plan", "<m3@example.org>"),
        m(
            7,
            600,
            "Re: Release plan",
            "<m3@example.org> <m6@example.org> <m44@example.org>",
        ),
        m(
            23,
            450,
            "Re: Release plan",
            "<m3@example.org> <m6@example.org> <m4@example.org>",
        ),
        m(
            44,
            500,
            "Re: Release plan",
            "<m3@example.org> <m6@example.org>",
        ),
        m(
            96,
            700,
            "Re: Release plan",
            "<m3@example.org> <m6@example.org> <m44@example.org> <m7@example.org>",
        ),
    ];
    assert_eq!(refs(&messages), "(2)(3 6 (4 23)(44 7 96))");
}

#[test]
fn rfc_5256_dummy_parent_example() {
    // RFC 5256 §4: "((3)(5))", 3 and 5 siblings under a message not in the mailbox.
    let messages = [
        msg(3, 10, "Re: party").mid("<3@x>").refs("<gone@x>"),
        msg(5, 20, "Re: party").mid("<5@x>").refs("<gone@x>"),
    ];
    assert_eq!(refs(&messages), "((3)(5))");
}

#[test]
fn rfc_5256_orderedsubject_example() {
    // RFC 5256 §4, A283: the same response rebuilt. Each parenthesised thread has its
    // own subject; sent dates follow the order the response lists the messages in, so
    // e.g. 181 was sent before 180 and 172 before 170.
    let expected = "(166)(167)(168)(169)(172)(170)(171)(173)(174 (175)(176)(178)(181)(180))\
                    (179)(177 (183)(182)(188)(184)(185)(186)(187)(189))(190)(191)(192)(193)\
                    (194 195)(196 (197)(198))(199)(200 202)(201)(203)(204)(205)(206 207)(208)";
    let mut input = Vec::new();
    let (mut depth, mut group, mut sent) = (0, 0, 0);
    let mut number = String::new();
    for c in expected.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        if !number.is_empty() {
            let id: u32 = number.parse().expect("number");
            number.clear();
            sent += 1;
            // Replies and forwards thread with their originals.
            let subject = match id % 3 {
                0 => format!("Re: topic {group}"),
                1 => format!("[list] Fwd: topic {group}"),
                _ => format!("topic {group}"),
            };
            input.push(msg(id, sent, &subject));
        }
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    group += 1;
                }
            }
            _ => {}
        }
    }
    input.sort_by_key(|m| m.id); // mailbox (sequence) order
    assert_eq!(ordered(&input), expected);
    // A284: no messages, no threads.
    assert_eq!(ordered(&[]), "");
}

#[test]
fn orderedsubject_rules() {
    let messages = [
        msg(1, 50, "Re: b"),
        msg(2, 10, "a"),
        msg(3, 40, "B"),
        msg(4, 40, "Fwd: A"),
        msg(5, 30, ""),
        msg(6, 20, ""),
    ];
    // a: 2 (10) then 4 (40); "": 6 (20), 5 (30); b: 3 (40) then 1 (50). Threads go by
    // their first message's date; no grandchildren.
    assert_eq!(ordered(&messages), "(2 4)(6 5)(3 1)");
    // Equal dates: the lower sequence number first.
    let tie = [msg(1, 5, "x"), msg(2, 5, "x"), msg(3, 5, "y")];
    assert_eq!(ordered(&tie), "(1 2)(3)");
}

#[test]
fn in_reply_to_is_used_without_references() {
    let messages = [
        msg(1, 1, "Question").mid("<q@x>"),
        msg(2, 2, "Answer").mid("<a@x>").irt("<q@x>"),
        // References with no valid ID: In-Reply-To's first valid ID instead.
        msg(3, 3, "More")
            .mid("<m@x>")
            .refs("garbage <nope>")
            .irt("junk <a@x> <q@x>"),
    ];
    assert_eq!(refs(&messages), "(1 2 3)");
    // References wins over In-Reply-To when it has an ID.
    let messages = [
        msg(1, 1, "one").mid("<1@x>"),
        msg(2, 2, "two").mid("<2@x>"),
        msg(3, 3, "three").mid("<3@x>").refs("<1@x>").irt("<2@x>"),
    ];
    assert_eq!(refs(&messages), "(1 3)(2)");
}

#[test]
fn message_ids_are_normalised_and_case_sensitive() {
    let messages = [
        msg(1, 1, "a").mid("<\"abc\"@x.example>"),
        msg(2, 2, "b").refs("<abc@x.example>"),
        msg(3, 3, "c").refs("<ABC@x.example>"),
    ];
    // 3's parent is a different (missing) message, so 3 stands alone.
    assert_eq!(refs(&messages), "(1 2)(3)");
}

#[test]
fn messages_without_valid_or_with_duplicate_ids_get_unique_ones() {
    let messages = [
        msg(1, 1, "first").mid("<dup@x>"),
        msg(2, 2, "second").mid("<dup@x>"),
        msg(3, 3, "reply").refs("<dup@x>"),
        msg(4, 4, "none").mid("not an id"),
        msg(5, 5, "none").mid("not an id"),
    ];
    // The reply goes under the first holder of the ID; 4 and 5 are two messages (same
    // subject, neither a reply: siblings under a dummy).
    assert_eq!(refs(&messages), "(1 3)(2)((4)(5))");
}

#[test]
fn loops_are_never_made() {
    // Each claims the other as parent: the first link stands, the second would loop.
    let messages = [
        msg(1, 1, "a").mid("<a@x>").refs("<b@x>"),
        msg(2, 2, "b").mid("<b@x>").refs("<a@x>"),
    ];
    assert_eq!(refs(&messages), "(2 1)");
    // A message referring to itself has no parent.
    let messages = [msg(1, 1, "a").mid("<a@x>").refs("<a@x>")];
    assert_eq!(refs(&messages), "(1)");
    // A References line that loops through existing messages.
    let messages = [
        msg(1, 1, "x").mid("<1@x>"),
        msg(2, 2, "y").mid("<2@x>").refs("<1@x>"),
        msg(3, 3, "z").mid("<3@x>").refs("<2@x> <1@x> <2@x>"),
    ];
    assert_eq!(refs(&messages), "(1 2 3)");
}

#[test]
fn existing_links_stand_and_the_last_reference_is_the_parent() {
    let messages = [
        msg(1, 1, "r").mid("<1@x>"),
        msg(2, 2, "s").mid("<2@x>").refs("<1@x>"),
        // 1.A: other -> 2 is not linked, 2 already has its parent 1.
        msg(3, 3, "t").mid("<3@x>").refs("<other@x> <2@x>"),
        // 1.A: 5 -> 3 is not linked (3 has a parent), 3 -> 4 is; then 1.B breaks it:
        // the last reference is 4 itself, which would be a loop, so 4 has no parent.
        msg(4, 4, "u").mid("<4@x>").refs("<5@x> <3@x> <4@x>"),
        msg(5, 5, "v").mid("<5@x>"),
    ];
    assert_eq!(refs(&messages), "(1 2 3)(4)(5)");
    // 1.B replaces a parent that another message's References gave: 3 made 4 a child
    // of 1, 4's own References say 2.
    let messages = [
        msg(1, 1, "a").mid("<1@x>"),
        msg(2, 2, "b").mid("<2@x>"),
        msg(3, 3, "c").mid("<3@x>").refs("<1@x> <4@x>"),
        msg(4, 4, "d").mid("<4@x>").refs("<2@x>"),
    ];
    assert_eq!(refs(&messages), "(1)(2 4 3)");
}

#[test]
fn dummies_are_pruned() {
    // A missing message between two present ones disappears.
    let messages = [
        msg(1, 1, "a").mid("<1@x>"),
        msg(2, 2, "b").mid("<2@x>").refs("<1@x> <gone@x>"),
    ];
    assert_eq!(refs(&messages), "(1 2)");
    // A missing thread root with one child: the child is the root.
    let messages = [msg(5, 1, "Re: a").mid("<5@x>").refs("<gone@x>")];
    assert_eq!(refs(&messages), "(5)");
    // Missing root with a missing child that has two children: one dummy, at the top.
    let messages = [
        msg(1, 1, "x").refs("<g1@x> <g2@x>"),
        msg(2, 2, "y").refs("<g1@x> <g2@x>"),
    ];
    assert_eq!(refs(&messages), "((1)(2))");
    // Under a message, a dummy's children are spliced in with its siblings.
    let messages = [
        msg(1, 1, "a").mid("<1@x>"),
        msg(2, 3, "b").refs("<1@x> <gone@x>"),
        msg(3, 2, "c").refs("<1@x> <gone@x>"),
        msg(4, 4, "d").refs("<1@x>"),
    ];
    assert_eq!(refs(&messages), "(1 (3)(2)(4))");
    // Pruned deepest first: 1 first put 2 under x, then 2's own References moved it
    // under y, leaving top -> {x (empty), y -> 2 -> 1}. x goes, y is spliced, and top,
    // left with one child, gives way to it.
    let messages = [
        msg(1, 1, "a").refs("<top@x> <x@x> <b@x>"),
        msg(2, 2, "b").mid("<b@x>").refs("<top@x> <y@x>"),
    ];
    assert_eq!(refs(&messages), "(2 1)");
}

#[test]
fn threads_with_the_same_subject_are_gathered() {
    // Neither is a reply: siblings under a new dummy.
    assert_eq!(refs(&[msg(1, 1, "hello"), msg(2, 2, "Hello")]), "((1)(2))");
    // A reply (by subject only) goes under the original.
    assert_eq!(refs(&[msg(1, 1, "hello"), msg(2, 2, "Re: hello")]), "(1 2)");
    // Even when the reply was sent first, the original takes the table's place.
    assert_eq!(
        refs(&[msg(1, 1, "Fwd: hello"), msg(2, 2, "hello")]),
        "(2 1)"
    );
    assert_eq!(
        refs(&[msg(1, 1, "hello (fwd)"), msg(2, 2, "hello")]),
        "(2 1)"
    );
    // Two replies: siblings under a dummy.
    assert_eq!(refs(&[msg(1, 1, "Re: x"), msg(2, 2, "RE: x")]), "((1)(2))");
    // Empty subjects are never gathered.
    assert_eq!(refs(&[msg(1, 1, ""), msg(2, 2, "Re:")]), "(1)(2)");
    // A dummy thread takes in a lone message with its subject.
    let messages = [
        msg(1, 1, "Re: plan").refs("<gone@x>"),
        msg(2, 3, "Re: plan").refs("<gone@x>"),
        msg(3, 2, "plan"),
    ];
    assert_eq!(refs(&messages), "((1)(3)(2))");
    // Two dummy threads with one subject become one.
    let messages = [
        msg(1, 1, "Re: q").refs("<g1@x>"),
        msg(2, 2, "Re: q").refs("<g1@x>"),
        msg(3, 3, "Re: q").refs("<g2@x>"),
        msg(4, 4, "Re: q").refs("<g2@x>"),
    ];
    assert_eq!(refs(&messages), "((1)(2)(3)(4))");
    // Only thread roots are gathered: a reply deep in a thread stays put.
    let messages = [
        msg(1, 1, "a").mid("<1@x>"),
        msg(2, 2, "b").mid("<2@x>").refs("<1@x>"),
        msg(3, 3, "b"),
    ];
    assert_eq!(refs(&messages), "(1 2)(3)");
}

#[test]
fn siblings_go_by_sent_date_then_sequence_number() {
    let messages = [
        msg(1, 10, "root").mid("<r@x>"),
        msg(2, 30, "c").refs("<r@x>"),
        msg(3, 20, "b").refs("<r@x>"),
        msg(4, 20, "b2").refs("<r@x>"),
        msg(5, 5, "early"),
    ];
    assert_eq!(refs(&messages), "(5)(1 (3)(4)(2))");
}

#[test]
fn long_reference_lists_keep_the_first_and_last() {
    let mut chain: Vec<String> = (0..1000).map(|i| format!("<c{i}@x>")).collect();
    let header = chain.join(" ");
    let messages = [
        msg(1, 1, "root").mid("<c0@x>"),
        msg(2, 2, "parent").mid("<c999@x>"),
        msg(3, 3, "reply").refs(&header),
    ];
    // 0 -> (126 dummies) -> ... -> 999 -> 3, the dummies pruned.
    assert_eq!(refs(&messages), "(1 2 3)");
    chain.truncate(2);
    assert_eq!(
        refs(&[msg(1, 1, "x").refs(&chain.join(" "))]),
        "(1)",
        "a lone message under dummies is a root"
    );
}

#[test]
fn a_deep_chain_is_threaded_without_recursion() {
    let n = 20_000u32;
    let messages: Vec<Message> = (1..=n)
        .map(|i| {
            let m = msg(i, i64::from(i), &format!("m{i}")).mid(&format!("<{i}@x>"));
            if i > 1 {
                m.irt(&format!("<{}@x>", i - 1))
            } else {
                m
            }
        })
        .collect();
    let threads = thread(Algorithm::References, &messages);
    assert_eq!(threads.roots.len(), 1);
    assert_eq!(threads.ids(), (1..=n).collect::<Vec<_>>());
}

#[test]
fn header_blocks_are_read() {
    let raw = b"Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\n\
        Date: Tue, 1 Jul 2003 10:52:37 +0200\r\n\
        Message-ID: <\"a\"@x>\r\n\
        References: <r1@x>\r\n <r2@x>\r\n\
        In-Reply-To: <r2@x>\r\n\
        \r\n\
        Message-ID: <body@x>\r\n";
    let m = Message::from_header(7, raw, 99);
    assert_eq!(m.id, 7);
    assert_eq!(m.subject, "Grüße");
    assert_eq!(m.sent, 1_057_049_557);
    assert_eq!(
        m.message_id.as_deref().and_then(msgid::first).as_deref(),
        Some("a@x")
    );
    assert_eq!(
        m.references.as_deref().map(msgid::ids),
        Some(vec!["r1@x".to_owned(), "r2@x".to_owned()])
    );
    assert!(m.in_reply_to.is_some());
    // 8-bit junk in a field does not hide its IDs.
    let m = Message::from_header(1, b"References: <a@x> \xff\xfe <b@x>\r\n\r\n", 0);
    assert_eq!(
        m.references.as_deref().map(msgid::ids),
        Some(vec!["a@x".to_owned(), "b@x".to_owned()])
    );
    // No Date (or a bad one): the INTERNALDATE (RFC 5256 §2.2); no fields: none.
    let m = Message::from_header(1, b"Date: yesterday\r\n\r\nbody", 99);
    assert_eq!((m.sent, m.subject.as_str(), m.message_id), (99, "", None));
    let m = Message::from_header(1, b"", 5);
    assert_eq!(m.sent, 5);
}

#[test]
fn summaries_give_what_headers_give() {
    let raws: [&[u8]; 4] = [
        b"Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\nDate: Tue, 1 Jul 2003 10:52:37 +0200\r\n\
          Message-ID: <\"a\"@x>\r\nReferences: <r1@x>\r\n <r2@x>\r\nIn-Reply-To: <r2@x>\r\n\r\nbody",
        b"Subject: Re: plain\nIn-Reply-To: junk <p@x>\n\nbody",
        b"X-Other: 1\r\n\r\n",
        b"",
    ];
    for raw in raws {
        let summary = crate::summary::Summary::compute(raw);
        let a = Message::from_header(3, raw, 42);
        let b = Message::from_summary(3, &summary, 42);
        assert_eq!(
            (a.id, &a.subject, a.sent),
            (b.id, &b.subject, b.sent),
            "{raw:?}"
        );
        let ids = |v: &Option<String>| v.as_deref().map(msgid::ids).unwrap_or_default();
        assert_eq!(ids(&a.message_id), ids(&b.message_id));
        assert_eq!(ids(&a.references), ids(&b.references));
        assert_eq!(ids(&a.in_reply_to), ids(&b.in_reply_to));
    }
}
