//! FETCH and UID FETCH (RFC 3501 §6.4.5, §7.4.2): FLAGS, UID, RFC822.SIZE,
//! INTERNALDATE, BODY[] setting `\Seen` (and saying so) where BODY.PEEK[] does not,
//! header and text sections, partial fetches with their origin octet `<0>`, BINARY
//! (RFC 3516) with its `~{n}` literal, UID FETCH always naming the UID, and numbers
//! past the end of the mailbox.

use super::{M1, M2, selected, with_inbox};

#[tokio::test]
async fn flags_uid_and_size() {
    let t = with_inbox(&[M1, M2]).await;
    let mut s = selected(&t).await;
    s.cmd(
        "a FETCH 1:* (FLAGS UID RFC822.SIZE)",
        &[
            "* 1 FETCH (FLAGS (\\Recent) UID 1 RFC822.SIZE 44)",
            "* 2 FETCH (FLAGS (\\Recent) UID 2 RFC822.SIZE 44)",
            "a OK FETCH completed",
        ],
    )
    .await;
    s.cmd(
        "b FETCH 2 INTERNALDATE",
        &["* 2 FETCH (INTERNALDATE \"*\")", "b OK FETCH completed"],
    )
    .await;
}

#[tokio::test]
async fn uid_fetch_always_names_the_uid() {
    let t = with_inbox(&[M1, M2]).await;
    let mut s = selected(&t).await;
    s.cmd(
        "a UID FETCH 2 FLAGS",
        &["* 2 FETCH (UID 2 FLAGS (\\Recent))", "a OK FETCH completed"],
    )
    .await;
    // RFC 3501 §6.4.8: UIDs that match no message are not an error.
    s.cmd("b UID FETCH 7:9 FLAGS", &["b OK FETCH completed"])
        .await;
}

#[tokio::test]
async fn body_sets_seen_and_peek_does_not() {
    let t = with_inbox(&[M1, M2]).await;
    let mut s = selected(&t).await;
    s.cmd(
        "a FETCH 2 BODY.PEEK[]",
        &[
            "* 2 FETCH (BODY[] {44}",
            "From: b@example.org",
            "Subject: two",
            "",
            "World",
            ")",
            "a OK FETCH completed",
        ],
    )
    .await;
    s.cmd(
        "b FETCH 2 FLAGS",
        &["* 2 FETCH (FLAGS (\\Recent))", "b OK FETCH completed"],
    )
    .await;
    // The flag it set is part of the answer (RFC 3501 §6.4.5).
    s.cmd(
        "c FETCH 1 BODY[]",
        &[
            "* 1 FETCH (BODY[] {44}",
            "From: a@example.org",
            "Subject: one",
            "",
            "Hello",
            " FLAGS (\\Seen \\Recent))",
            "c OK FETCH completed",
        ],
    )
    .await;
    s.cmd(
        "d FETCH 1 BODY[TEXT]",
        &[
            "* 1 FETCH (BODY[TEXT] {7}",
            "Hello",
            ")",
            "d OK FETCH completed",
        ],
    )
    .await;
}

#[tokio::test]
async fn header_sections() {
    let t = with_inbox(&[M1]).await;
    let mut s = selected(&t).await;
    s.cmd(
        "a FETCH 1 BODY.PEEK[HEADER]",
        &[
            "* 1 FETCH (BODY[HEADER] {37}",
            "From: a@example.org",
            "Subject: one",
            "",
            ")",
            "a OK FETCH completed",
        ],
    )
    .await;
    s.cmd(
        "b FETCH 1 BODY.PEEK[HEADER.FIELDS (SUBJECT)]",
        &[
            "* 1 FETCH (BODY[HEADER.FIELDS (SUBJECT)] {16}",
            "Subject: one",
            "",
            ")",
            "b OK FETCH completed",
        ],
    )
    .await;
}

#[tokio::test]
async fn partial_fetches_name_their_origin() {
    let t = with_inbox(&[M1]).await;
    let mut s = selected(&t).await;
    s.cmd(
        "a FETCH 1 BODY.PEEK[]<0.5>",
        &["* 1 FETCH (BODY[]<0> {5}", "From:)", "a OK FETCH completed"],
    )
    .await;
    s.cmd(
        "b FETCH 1 BODY.PEEK[TEXT]<2.100>",
        &[
            "* 1 FETCH (BODY[TEXT]<2> {5}",
            "llo",
            ")",
            "b OK FETCH completed",
        ],
    )
    .await;
    // RFC 3501 §6.4.5: starting past the end gives the empty string.
    s.cmd(
        "c FETCH 1 BODY.PEEK[]<100.5>",
        &["* 1 FETCH (BODY[]<100> {0}", ")", "c OK FETCH completed"],
    )
    .await;
    s.cmd(
        "d FETCH 1 BINARY.PEEK[]<0.5>",
        &[
            "* 1 FETCH (BINARY[]<0> ~{5}",
            "From:)",
            "d OK FETCH completed",
        ],
    )
    .await;
    s.cmd(
        "e FETCH 1 BINARY.SIZE[]",
        &["* 1 FETCH (BINARY.SIZE[] 44)", "e OK FETCH completed"],
    )
    .await;
}

#[tokio::test]
async fn numbers_past_the_end_are_refused() {
    let t = with_inbox(&[M1]).await;
    let mut s = selected(&t).await;
    s.cmd(
        "a FETCH 2 FLAGS",
        &["a BAD Invalid sequence set: no message with sequence number 2 (mailbox has 1)"],
    )
    .await;
}

#[tokio::test]
async fn binary_sections_and_a_partial_body_that_sets_seen() {
    let t = with_inbox(&[M1, M2]).await;
    let mut s = selected(&t).await;
    s.cmd(
        "a FETCH 1:2 BINARY.PEEK[1]",
        &[
            "* 1 FETCH (BINARY[1] ~{7}",
            "Hello",
            ")",
            "* 2 FETCH (BINARY[1] ~{7}",
            "World",
            ")",
            "a OK FETCH completed",
        ],
    )
    .await;
    // Not PEEK: a part of the body is reading it.
    s.cmd(
        "b FETCH 2 BODY[]<0.5>",
        &[
            "* 2 FETCH (BODY[]<0> {5}",
            "From: FLAGS (\\Seen \\Recent))",
            "b OK FETCH completed",
        ],
    )
    .await;
}
