//! SEARCH and UID SEARCH (RFC 3501 §6.4.4): flag, header and set keys, sequence
//! numbers and UIDs past the end of the mailbox (an empty result, not an error),
//! `*` in a UID range as the highest UID (§6.4.8), and ESEARCH's RETURN options
//! (RFC 4731: MIN, MAX, COUNT, ALL, nothing but the tag when nothing matches).

use super::{M1, M2, M3, selected, with_inbox};

#[tokio::test]
async fn keys_select_messages() {
    let t = with_inbox(&[M1, M2, M3]).await;
    let mut s = selected(&t).await;
    s.cmd(
        "a STORE 2 +FLAGS.SILENT (\\Seen)",
        &["a OK STORE completed"],
    )
    .await;
    s.cmd("b SEARCH ALL", &["* SEARCH 1 2 3", "b OK SEARCH completed"])
        .await;
    s.cmd("c SEARCH SEEN", &["* SEARCH 2", "c OK SEARCH completed"])
        .await;
    s.cmd(
        "d SEARCH UNSEEN",
        &["* SEARCH 1 3", "d OK SEARCH completed"],
    )
    .await;
    s.cmd(
        "e SEARCH SUBJECT three",
        &["* SEARCH 3", "e OK SEARCH completed"],
    )
    .await;
    s.cmd(
        "f SEARCH FROM b@example.org",
        &["* SEARCH 2", "f OK SEARCH completed"],
    )
    .await;
    s.cmd(
        "g SEARCH OR SEEN BODY Again",
        &["* SEARCH 2 3", "g OK SEARCH completed"],
    )
    .await;
    s.cmd("h SEARCH NOT 2:3", &["* SEARCH 1", "h OK SEARCH completed"])
        .await;
    s.cmd("i SEARCH DELETED", &["* SEARCH", "i OK SEARCH completed"])
        .await;
}

#[tokio::test]
async fn uid_search_answers_uids() {
    let t = with_inbox(&[M1, M2, M3]).await;
    let mut s = selected(&t).await;
    s.cmd(
        "a STORE 1 +FLAGS.SILENT (\\Deleted)",
        &["a OK STORE completed"],
    )
    .await;
    s.cmd("b EXPUNGE", &["* 1 EXPUNGE", "b OK EXPUNGE completed"])
        .await;
    s.cmd("c SEARCH ALL", &["* SEARCH 1 2", "c OK SEARCH completed"])
        .await;
    s.cmd(
        "d UID SEARCH ALL",
        &["* SEARCH 2 3", "d OK SEARCH completed"],
    )
    .await;
    s.cmd("e UID SEARCH 1", &["* SEARCH 2", "e OK SEARCH completed"])
        .await;
    s.cmd(
        "f UID SEARCH UID 3",
        &["* SEARCH 3", "f OK SEARCH completed"],
    )
    .await;
}

#[tokio::test]
async fn numbers_past_the_end_match_nothing() {
    let t = with_inbox(&[M1, M2]).await;
    let mut s = selected(&t).await;
    s.cmd("a SEARCH 5", &["* SEARCH", "a OK SEARCH completed"])
        .await;
    s.cmd("b SEARCH 3:9", &["* SEARCH", "b OK SEARCH completed"])
        .await;
    s.cmd(
        "c UID SEARCH 100:200",
        &["* SEARCH", "c OK SEARCH completed"],
    )
    .await;
    s.cmd("d UID SEARCH UID 7", &["* SEARCH", "d OK SEARCH completed"])
        .await;
    // `*` is the highest UID in use: 100:* is 2:100 (RFC 3501 §6.4.8).
    s.cmd(
        "e UID SEARCH 100:*",
        &["* SEARCH 2", "e OK SEARCH completed"],
    )
    .await;
}

#[tokio::test]
async fn esearch_returns_what_was_asked() {
    let t = with_inbox(&[M1, M2, M3]).await;
    let mut s = selected(&t).await;
    s.cmd(
        "a SEARCH RETURN (MIN MAX COUNT ALL) ALL",
        &[
            "* ESEARCH (TAG \"a\") MIN 1 MAX 3 COUNT 3 ALL 1:3",
            "a OK SEARCH completed",
        ],
    )
    .await;
    // RETURN () is RETURN (ALL) (RFC 4731 §3.1).
    s.cmd(
        "b SEARCH RETURN () 1,3",
        &["* ESEARCH (TAG \"b\") ALL 1,3", "b OK SEARCH completed"],
    )
    .await;
    s.cmd(
        "c UID SEARCH RETURN (COUNT) 2:*",
        &["* ESEARCH (TAG \"c\") UID COUNT 2", "c OK SEARCH completed"],
    )
    .await;
    // Nothing matched: no MIN, MAX or ALL, only the tag.
    s.cmd(
        "d SEARCH RETURN (MIN MAX ALL) DELETED",
        &["* ESEARCH (TAG \"d\")", "d OK SEARCH completed"],
    )
    .await;
    s.cmd(
        "e SEARCH RETURN (COUNT) 7:9",
        &["* ESEARCH (TAG \"e\") COUNT 0", "e OK SEARCH completed"],
    )
    .await;
}
