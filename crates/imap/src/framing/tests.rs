use super::*;

/// Everything the gate makes of `input` fed in chunks of `chunk` octets: lines and
/// whole literals as text, refusals as `BAD`/`BYE` lines.
fn run(gate: &mut Gate, input: &[u8], chunk: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut literal = Vec::new();
    for piece in input.chunks(chunk.max(1)) {
        let mut rest = piece;
        loop {
            let (used, step) = gate.next(rest);
            rest = &rest[used..];
            match step {
                Step::NeedMore => break,
                Step::Line(line) => out.push(String::from_utf8_lossy(&line).into_owned()),
                Step::Literal { bytes, last } => {
                    literal.extend_from_slice(bytes);
                    if last {
                        out.push(format!("<{}>", String::from_utf8_lossy(&literal)));
                        literal.clear();
                    }
                }
                Step::Refuse(r) => {
                    let tag = r.tag.unwrap_or_else(|| "*".into());
                    out.push(format!("{tag} BAD {}", r.text));
                    if r.close {
                        out.push("* BYE".into());
                    }
                }
            }
        }
    }
    out
}

fn authenticated() -> Limits {
    Limits::authenticated(64 * 1024, 1024 * 1024)
}

const CHUNKS: [usize; 11] = [1, 2, 3, 4, 8, 16, 32, 64, 128, 256, 512];

#[test]
fn lines_and_literals_frame_alike_in_any_chunks() {
    let table: Vec<(&[u8], Vec<&str>)> = vec![
        (b"a NOOP\r\n", vec!["a NOOP\r\n"]),
        (b"a NOOP\nb NOOP\r\n", vec!["a NOOP\n", "b NOOP\r\n"]),
        (
            b"a LOGIN {3}\r\nbob {4+}\r\npass\r\n",
            vec!["a LOGIN {3}\r\n", "<bob>", " {4+}\r\n", "<pass>", "\r\n"],
        ),
        // A literal's bytes are data, line ends and all.
        (
            b"a APPEND INBOX {6}\r\nx\r\n(((\r\n",
            vec!["a APPEND INBOX {6}\r\n", "<x\r\n(((>", "\r\n"],
        ),
        (b"a X {0}\r\n\r\n", vec!["a X {0}\r\n", "\r\n"]),
        // Not announcements: inside the line, or no digits.
        (b"a X {3} y\r\n", vec!["a X {3} y\r\n"]),
        (b"a X {}\r\n", vec!["a X {}\r\n"]),
        (b"a X {99999999999}\r\n", vec!["a X {99999999999}\r\n"]),
    ];
    for (input, expected) in table {
        for chunk in CHUNKS {
            let mut gate = Gate::new(authenticated());
            assert_eq!(run(&mut gate, input, chunk), expected, "chunk {chunk}");
            assert!(!gate.in_command());
        }
    }
}

#[test]
fn announcements_read_like_the_fragmentizer() {
    assert_eq!(literal_announcement(b"a {12}"), Some((12, false)));
    assert_eq!(literal_announcement(b"a ~{12+}"), Some((12, true)));
    assert_eq!(literal_announcement(b"a {+12}"), None);
    assert_eq!(
        literal_announcement(b"a {4294967295}"),
        Some((u32::MAX, false))
    );
    assert_eq!(literal_announcement(b"a {4294967296}"), None);
    assert_eq!(literal_announcement(b"a 12}"), None);
}

fn nested(prefix: &str, unit: &str, n: usize, suffix: &str) -> Vec<u8> {
    let mut line = format!("a1 SEARCH {prefix}");
    for _ in 0..n {
        line.push_str(unit);
    }
    line.push_str(suffix);
    line.push_str("\r\n");
    line.into_bytes()
}

fn refused(input: &[u8]) -> bool {
    let mut gate = Gate::new(authenticated());
    let out = run(&mut gate, input, 4096);
    match out.as_slice() {
        [line] if line.starts_with("a1 BAD Nesting too deep") => true,
        [line] if line.starts_with("a1 SEARCH") => false,
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn nesting_is_limited_in_every_shape() {
    let limit = MAX_NESTING;
    // Parentheses.
    assert!(!refused(&nested("", "(", limit, &")".repeat(limit))));
    assert!(refused(&nested("", "(", limit + 1, &")".repeat(limit + 1))));
    // NOT chains.
    assert!(!refused(&nested("", "NOT ", limit, "ALL")));
    assert!(refused(&nested("", "NOT ", limit + 1, "ALL")));
    // OR, nested to the left and to the right.
    assert!(!refused(&nested(
        "",
        "OR ",
        limit,
        &" ALL".repeat(limit + 1)
    )));
    assert!(refused(&nested(
        "",
        "OR ",
        limit + 1,
        &" ALL".repeat(limit + 2)
    )));
    assert!(refused(&nested("", "OR SEEN ", limit + 1, "ALL")));
    assert!(!refused(&nested("", "OR SEEN ", limit, "ALL")));
    // Keys with arguments complete their operators.
    assert!(!refused(&nested("", "OR SUBJECT x HEADER a b ", 2_000, "")));
    assert!(refused(&nested("", "NOT (", limit / 2 + 1, "ALL")));
    // Flat is fine, however long.
    assert!(!refused(&nested(
        "",
        "(SEEN) NOT DELETED OR A B ",
        2_000,
        "ALL"
    )));
    // Parentheses in quoted strings are text.
    assert!(!refused(&nested("SUBJECT ", "\"((((\\\"((\"", 1, "")));
    let quoted = format!("SUBJECT \"{}\"", "(".repeat(1000));
    assert!(!refused(&nested(&quoted, "", 0, "")));
}

#[test]
fn nesting_counts_across_literals_but_not_inside_them() {
    let mut gate = Gate::new(authenticated());
    let mut input = b"a1 SEARCH SUBJECT {100}\r\n".to_vec();
    input.extend_from_slice(&[b'('; 100]);
    input.extend_from_slice(b" ALL\r\n");
    let out = run(&mut gate, &input, 7);
    assert_eq!(out.len(), 3, "{out:?}");
    // Deep after a literal: part of the command went on, so the connection closes.
    let mut gate = Gate::new(authenticated());
    let mut input = b"a1 SEARCH SUBJECT {1}\r\nx ".to_vec();
    input.extend_from_slice(&[b'('; 100]);
    input.extend_from_slice(b"\r\nb NOOP\r\n");
    let out = run(&mut gate, &input, 512);
    assert_eq!(
        out,
        [
            "a1 SEARCH SUBJECT {1}\r\n",
            "<x>",
            "a1 BAD Nesting too deep",
            "* BYE"
        ]
    );
}

#[test]
fn a_refused_command_leaves_the_connection_usable() {
    let mut gate = Gate::new(authenticated());
    let mut input = nested("", "NOT ", 1000, "ALL");
    input.extend_from_slice(b"a2 NOOP\r\n");
    let out = run(&mut gate, &input, 100);
    assert_eq!(out, ["a1 BAD Nesting too deep", "a2 NOOP\r\n"]);
}

#[test]
fn deep_input_scans_on_a_small_stack() {
    // Iterative: a megabyte of parentheses or NOTs needs no stack.
    let handle = std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(|| {
            let limits = Limits::authenticated(4 * 1024 * 1024, 1024);
            for unit in ["(", "NOT ", "OR ", "OR ALL "] {
                let mut gate = Gate::new(limits);
                let input = nested("", unit, 1_000_000 / unit.len(), "ALL");
                let out = run(&mut gate, &input, 16 * 1024);
                assert_eq!(out, ["a1 BAD Nesting too deep"], "{unit}");
            }
        })
        .expect("thread");
    handle.join().expect("no overflow");
}

#[test]
fn lines_are_capped_before_login() {
    for chunk in [1, 100, 16 * 1024] {
        let mut gate = Gate::new(Limits::unauthenticated());
        let mut input = b"a1 LOGIN ".to_vec();
        input.extend(std::iter::repeat_n(b'x', 1024 * 1024));
        let out = run(&mut gate, &input, chunk);
        assert_eq!(
            out,
            ["a1 BAD [TOOBIG] Command line too long", "* BYE"],
            "{chunk}"
        );
        // Nothing more is taken in.
        assert!(!gate.in_command());
        assert_eq!(gate.next(b"b NOOP\r\n"), (8, Step::NeedMore));
    }
    // The same line is fine after login.
    let mut gate = Gate::new(authenticated());
    let mut input = b"a1 NOOP ".to_vec();
    input.extend(std::iter::repeat_n(b'x', 32 * 1024));
    input.extend_from_slice(b"\r\n");
    assert_eq!(run(&mut gate, &input, 4096).len(), 1);
}

#[test]
fn literals_are_refused_by_announcement() {
    // Synchronising: the client waits for "+", so a tagged BAD and go on.
    let mut gate = Gate::new(Limits::unauthenticated());
    let out = run(&mut gate, b"a1 LOGIN {100000}\r\na2 NOOP\r\n", 64);
    assert_eq!(out, ["a1 BAD [TOOBIG] Literal too large", "a2 NOOP\r\n"]);
    // Non-synchronising: the data comes anyway, so answer at once and close.
    let mut gate = Gate::new(Limits::unauthenticated());
    let mut input = b"a1 LOGIN {100000000+}\r\n".to_vec();
    input.extend(std::iter::repeat_n(b'a', 64 * 1024));
    let out = run(&mut gate, &input, 4096);
    assert_eq!(out, ["a1 BAD [TOOBIG] Literal too large", "* BYE"]);
    // Several small literals cannot add up past the command limit before login.
    let mut gate = Gate::new(Limits::unauthenticated());
    let mut input = Vec::new();
    input.extend_from_slice(b"a1 ID (");
    for _ in 0..10 {
        input.extend_from_slice(b"{1000+}\r\n");
        input.extend(std::iter::repeat_n(b'a', 1000));
        input.push(b' ');
    }
    let out = run(&mut gate, &input, 512);
    assert_eq!(out.last().map(String::as_str), Some("* BYE"), "{out:?}");
    // After login an APPEND-sized literal passes.
    let mut gate = Gate::new(authenticated());
    let mut input = b"a1 APPEND INBOX {500000+}\r\n".to_vec();
    input.extend(std::iter::repeat_n(b'a', 500_000));
    input.extend_from_slice(b"\r\n");
    let out = run(&mut gate, &input, 16 * 1024);
    assert_eq!(out.len(), 3);
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// However the bytes are cut into reads, the gate makes the same lines,
        /// literals and refusals of them (the chunking rule of DESIGN.md §4).
        #[test]
        fn any_chunking_gives_the_same_steps(
            input in proptest::collection::vec(
                prop_oneof![
                    Just(b'a'), Just(b' '), Just(b'('), Just(b')'), Just(b'"'),
                    Just(b'{'), Just(b'}'), Just(b'+'), Just(b'3'), Just(b'0'),
                    Just(b'\r'), Just(b'\n'), Just(b'N'), Just(b'O'), Just(b'T'),
                ],
                0..600,
            ),
            chunk in 1usize..64,
            line in 8usize..64,
        ) {
            let limits = Limits { line, literal: 40, command: 120, nesting: 3 };
            let whole = run(&mut Gate::new(limits), &input, input.len().max(1));
            let cut = run(&mut Gate::new(limits), &input, chunk);
            prop_assert_eq!(whole, cut);
        }
    }
}
