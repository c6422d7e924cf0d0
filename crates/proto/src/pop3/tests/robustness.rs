//! Robustness transcripts: long lines, pipelining, damaged driver data, chunk
//! boundaries and random input.

use super::*;
use crate::testing::XorShift;

#[test]
fn long_lines() {
    let mut t = T::clear();
    // 255 octets including CRLF is the limit (RFC 2449 §4).
    let fits = format!("NOOP{}", " ".repeat(MAX_COMMAND_LINE - 6));
    t.exact(&fits, "-ERR Command not valid before login\r\n");
    t.exact(&format!("{fits} "), "-ERR Line too long\r\n");
    t.exact(
        &format!("USER {}", "a".repeat(300)),
        "-ERR Line too long\r\n",
    );
    // A long line arriving in pieces is refused once and skipped to its end.
    assert_eq!(t.raw(&[b'x'; 200]), "");
    assert_eq!(t.raw(&[b'x'; 200]), "-ERR Line too long\r\n");
    assert_eq!(t.raw(&[b'x'; 2000]), "");
    assert_eq!(t.raw(b"xxx\r\n"), "");
    t.login();
}

#[test]
fn pipelined_commands_answer_in_order() {
    let mut t = T::clear();
    let got =
        t.raw(b"CAPA\r\nUSER alice\r\nPASS secret\r\nSTAT\r\nRETR 2\r\nDELE 1\r\nLIST\r\nQUIT\r\n");
    let status: Vec<&str> = got
        .split("\r\n")
        .filter(|l| l.starts_with("+OK") || l.starts_with("-ERR"))
        .collect();
    assert_eq!(
        status,
        [
            "+OK Capability list follows",
            "+OK Send PASS",
            "+OK maildrop has 3 messages (137 octets)",
            "+OK 3 137",
            "+OK 42 octets",
            "+OK Message 1 deleted",
            "+OK 2 messages (86 octets)",
            "+OK pop.example.org POP3 Postie signing off (2 messages left)",
        ]
    );
    assert_eq!(t.commits(), [vec![0]]);

    // While a query is outstanding, later commands wait their turn.
    let mut s = Session::new(Pop3Policy {
        plaintext_auth: true,
        ..Pop3Policy::new("h")
    });
    let out = s.feed(Input::Bytes(b"USER alice\r\nPASS secret\r\nSTAT\r\n"));
    assert_eq!(out.len(), 2, "{out:?}");
    assert_eq!(s.waiting(), Waiting::Driver);
    assert!(s.feed(Input::Bytes(b"NOOP\r\n")).is_empty());
    let listing = vec![MessageInfo {
        size: 7,
        uid: "u".into(),
    }];
    let out = s.feed(Input::Answer(Answer::Login(LoginResult::Ok(listing))));
    assert_eq!(
        out,
        [
            Output::Send(b"+OK maildrop has 1 message (7 octets)\r\n".to_vec()),
            Output::Send(b"+OK 1 7\r\n".to_vec()),
            Output::Send(b"+OK\r\n".to_vec()),
        ]
    );
    assert_eq!(s.waiting(), Waiting::Command);
}

#[test]
fn damaged_uids_never_break_the_protocol() {
    let mut s = Session::new(Pop3Policy {
        plaintext_auth: true,
        ..Pop3Policy::new("h")
    });
    s.feed(Input::Bytes(b"USER alice\r\nPASS secret\r\n"));
    let listing = vec![
        MessageInfo {
            size: 1,
            uid: "bad uid\r\n.".into(),
        },
        MessageInfo {
            size: 2,
            uid: String::new(),
        },
    ];
    s.feed(Input::Answer(Answer::Login(LoginResult::Ok(listing))));
    assert_eq!(
        s.feed(Input::Bytes(b"UIDL\r\n")),
        [Output::Send(
            b"+OK\r\n1 bad_uid__.\r\n2 _\r\n.\r\n".to_vec()
        )]
    );
}

/// The same transcript fed in chunks of every size gives the same output.
#[test]
fn chunk_boundaries_do_not_matter() {
    let script: &[u8] =
        b"CAPA\r\nSTAT\r\nUSER alice\r\nPASS wrong\r\nAUTH PLAIN\r\nAGFsaWNlAHNlY3JldA==\r\n\
        STAT\r\nLIST\r\nUIDL\nRETR 2\r\nTOP 3 1\r\nDELE 1\r\nLIST 1\r\nRSET\r\nDELE 2\r\n\
        NOOP extra\r\nUSER x\r\nTOP 1 99\r\nUIDL 3\r\nQUIT\r\n";
    let run = |size: usize| {
        let mut t = T::clear();
        let mut wire = String::new();
        for chunk in script.chunks(size) {
            wire.push_str(&t.raw(chunk));
        }
        assert!(t.closed);
        (wire, t.queries)
    };
    let whole = run(script.len());
    assert_eq!(whole.1.last(), Some(&Query::Commit { deleted: vec![1] }));
    for size in [1, 2, 4, 8, 16, 32, 64, 128, 256, 512] {
        assert_eq!(run(size), whole, "chunk size {size}");
    }
}

/// Random mixes of real commands, junk and odd line endings, cut at random places,
/// never panic, and every response starts with `+OK`, `-ERR` or a `+ ` challenge.
#[test]
fn random_input_never_panics() {
    const PIECES: &[&[u8]] = &[
        b"USER alice\r\n",
        b"USER bob\r\n",
        b"PASS secret\r\n",
        b"PASS x y\r\n",
        b"AUTH PLAIN\r\n",
        b"AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n",
        b"AUTH LOGIN\r\n",
        b"AUTH\r\n",
        b"YWxpY2U=\r\n",
        b"*\r\n",
        b"STLS\r\n",
        b"CAPA\r\n",
        b"STAT\r\n",
        b"LIST\r\n",
        b"LIST 2\r\n",
        b"UIDL\r\n",
        b"UIDL 9\r\n",
        b"RETR 1\r\n",
        b"RETR 2\r\n",
        b"TOP 3 1\r\n",
        b"TOP 2 0\r\n",
        b"DELE 1\r\n",
        b"DELE 3\r\n",
        b"RSET\r\n",
        b"NOOP\r\n",
        b"QUIT\r\n",
        b"RETR 18446744073709551616\r\n",
        b"\n",
        b"\r",
        b"\0",
        b"\xff\xfe",
        b" ",
        b"x",
    ];
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    for _ in 0..300 {
        let mut input = Vec::new();
        if rng.below(2) == 0 {
            // Half the sessions start logged in, so TRANSACTION gets its share.
            input.extend_from_slice(b"USER alice\r\nPASS secret\r\n");
        }
        for _ in 0..rng.below(40) {
            if rng.below(5) == 0 {
                let n = rng.below(700);
                input.extend((0..n).map(|_| rng.next() as u8));
            } else {
                input.extend_from_slice(PIECES[rng.below(PIECES.len())]);
            }
        }
        let mut p = Pop3Policy::new("h");
        p.plaintext_auth = rng.below(4) != 0;
        p.max_errors = 5 + rng.below(40) as u32;
        let mut t = T::new(p);
        t.fail_retrieve = rng.below(4) == 0;
        let mut rest = &input[..];
        while !rest.is_empty() && !t.closed {
            let n = (1 + rng.below(64)).min(rest.len());
            let before = t.sent.len();
            t.raw(&rest[..n]);
            for response in &t.sent[before..] {
                assert!(
                    [&b"+OK"[..], b"-ERR", b"+ "]
                        .iter()
                        .any(|p| response.starts_with(p))
                        && response.ends_with(b"\r\n"),
                    "bad response {:?}",
                    String::from_utf8_lossy(response)
                );
            }
            if t.started_tls {
                t.tls();
            }
            rest = &rest[n..];
        }
        if !t.closed {
            t.s.feed(Input::Timeout);
        }
    }
}

#[test]
fn endless_lines_are_dropped_not_buffered() {
    // Issue 12, finding 5: a megabyte without a line end, before and during AUTH.
    let mut t = T::lenient();
    for _ in 0..1024 {
        t.raw(&[b'x'; 1024]);
        assert!(
            t.s.buffered() <= MAX_COMMAND_LINE + 1024,
            "{}",
            t.s.buffered()
        );
    }
    assert_eq!(t.s.lines_received(), 0);
    t.raw(b"\r\n");
    assert_eq!(t.s.lines_received(), 1);
    assert_eq!(t.s.buffered(), 0);
    assert!(t.raw(b"AUTH PLAIN\r\n").starts_with("+ "));
    for _ in 0..1024 {
        t.raw(&[b'A'; 1024]);
        assert!(t.s.buffered() <= MAX_AUTH_LINE + 1024, "{}", t.s.buffered());
    }
}

#[test]
fn only_whole_lines_count_for_the_deadline() {
    // Issue 12, finding 8: the driver moves its deadline when this count moves.
    let mut t = T::clear();
    for b in b"NOOP" {
        t.raw(&[*b]);
        assert_eq!(t.s.lines_received(), 0);
    }
    t.raw(b"\r\nNOOP\r\nNO");
    assert_eq!(t.s.lines_received(), 2);
}
