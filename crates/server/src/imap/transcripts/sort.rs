//! SORT (RFC 5256) on address keys, SORT=DISPLAY (RFC 5957) and ESORT (RFC 5267),
//! and SEARCH FROM on an address written with comments. The messages' first To
//! address is a group for one of them (`To: user2: blah@domain1.org;`), whose
//! ENVELOPE start-of-group entry carries the group name as its mailbox (RFC 3501
//! §7.4.2), so it sorts as `user2`; a message with no Cc sorts first on CC (the empty
//! string). ESORT's MIN and MAX are the first and last message in sort order and ALL
//! lists the messages in that order, a range only for numbers ascending by one
//! (RFC 5267 §3.1, §3.2).

use super::selected;
use crate::imap::transcript::{ALICE, Transcript};

/// From with comments inside the addr-spec, To a group, Cc `zed`.
const GROUPED: &[u8] = b"From: <user-from (comment)@ (comment) domain.org>\r\n\
To: user2: blah@domain1.org;\r\nCc: zed@example.org\r\nSubject: a\r\n\r\nx\r\n";
/// To `Bob Brown <bob@...>`, Cc `adam`.
const NAMED: &[u8] = b"From: other@domain.org\r\nTo: Bob Brown <bob@example.org>\r\n\
Cc: adam@example.org\r\nSubject: b\r\n\r\nx\r\n";
/// To `Carl <aaa@...>`, no Cc.
const NO_CC: &[u8] = b"From: c@domain.org\r\nTo: Carl <aaa@example.org>\r\nSubject: c\r\n\r\nx\r\n";

async fn three() -> Transcript {
    let t = Transcript::new().await;
    for m in [GROUPED, NAMED, NO_CC] {
        t.deliver(ALICE, m).await;
    }
    t
}

#[tokio::test]
async fn address_keys_with_a_group_and_a_missing_cc() {
    let t = three().await;
    let mut s = selected(&t).await;
    s.cmd(
        "a FETCH 1 ENVELOPE",
        &[
            "* 1 FETCH (ENVELOPE (NIL \"a\" ((NIL NIL \"user-from\" \"domain.org\")) ((NIL NIL \"user-from\" \"domain.org\")) ((NIL NIL \"user-from\" \"domain.org\")) ((NIL NIL \"user2\" NIL)(NIL NIL \"blah\" \"domain1.org\")(NIL NIL NIL NIL)) ((NIL NIL \"zed\" \"example.org\")) NIL NIL NIL))",
            "a OK FETCH completed",
        ],
    )
    .await;
    // "" (none) < adam < zed.
    s.cmd(
        "b SORT (CC) UTF-8 ALL",
        &["* SORT 3 2 1", "b OK SORT completed"],
    )
    .await;
    // aaa < bob < user2 (the group's name).
    s.cmd(
        "c SORT (TO) UTF-8 ALL",
        &["* SORT 3 2 1", "c OK SORT completed"],
    )
    .await;
    // Display names: Bob Brown < Carl < user2.
    s.cmd(
        "d SORT (DISPLAYTO) UTF-8 ALL",
        &["* SORT 2 3 1", "d OK SORT completed"],
    )
    .await;
    s.cmd(
        "e SORT (REVERSE DISPLAYTO) UTF-8 ALL",
        &["* SORT 1 3 2", "e OK SORT completed"],
    )
    .await;
}

#[tokio::test]
async fn search_from_matches_an_addr_spec_written_with_comments() {
    let t = three().await;
    let mut s = selected(&t).await;
    // The envelope's From is user-from@domain.org (RFC 3501 §6.4.4: FROM searches
    // the envelope structure's FROM field).
    s.cmd(
        "a SEARCH FROM user-from@domain.org",
        &["* SEARCH 1", "a OK SEARCH completed"],
    )
    .await;
    s.cmd(
        "b SEARCH FROM domain.org",
        &["* SEARCH 1 2 3", "b OK SEARCH completed"],
    )
    .await;
    s.cmd(
        "c SEARCH TO user2",
        &["* SEARCH 1", "c OK SEARCH completed"],
    )
    .await;
}

#[tokio::test]
async fn esort_returns_min_max_count_in_sort_order() {
    let t = three().await;
    let mut s = selected(&t).await;
    // DISPLAYTO order is 2 3 1.
    s.cmd(
        "a SORT RETURN (MIN MAX COUNT) (DISPLAYTO) UTF-8 ALL",
        &[
            "* ESEARCH (TAG \"a\") MIN 2 MAX 1 COUNT 3",
            "a OK SORT completed",
        ],
    )
    .await;
    s.cmd(
        "b SORT RETURN (ALL) (DISPLAYTO) UTF-8 ALL",
        &["* ESEARCH (TAG \"b\") ALL 2:3,1", "b OK SORT completed"],
    )
    .await;
    s.cmd(
        "c UID SORT RETURN (MIN MAX COUNT) (REVERSE DISPLAYTO) UTF-8 ALL",
        &[
            "* ESEARCH (TAG \"c\") UID MIN 1 MAX 2 COUNT 3",
            "c OK SORT completed",
        ],
    )
    .await;
    // Nothing matches: no MIN or MAX, COUNT 0 (RFC 4731 §3.1).
    s.cmd(
        "d SORT RETURN (MIN MAX COUNT) (CC) UTF-8 SUBJECT nosuch",
        &["* ESEARCH (TAG \"d\") COUNT 0", "d OK SORT completed"],
    )
    .await;
}
