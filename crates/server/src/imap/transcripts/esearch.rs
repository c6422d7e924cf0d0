//! ESEARCH with CONDSTORE and PARTIAL: a SEARCH with a MODSEQ key answers the
//! highest mod-sequence of the messages it returns (RFC 7162 §3.1.5): of those MIN
//! and MAX name when only they are asked for, of every match with COUNT or ALL.
//! PARTIAL (RFC 9394): `SEARCH RETURN (PARTIAL m:n)` answers the range asked and the
//! messages in it (`NIL` when none), negative ranges count from the end; `UID FETCH
//! ... (PARTIAL m:n)` fetches only that slice of the set. Delivering M1, M2, M3 gives
//! them the mod-sequences 2, 3, 4; the STORE in [`selected_with_a_seen`] moves
//! message 2 to 5.

use super::{M1, M2, M3, selected, with_inbox};
use crate::imap::transcript::{Client, Transcript};

/// Alice's INBOX with M1, M2, M3 selected, message 2 `\Seen` (mod-sequence 5).
async fn selected_with_a_seen() -> (Transcript, Client) {
    let t = with_inbox(&[M1, M2, M3]).await;
    let mut s = selected(&t).await;
    s.cmd(
        "x STORE 2 +FLAGS.SILENT (\\Seen)",
        &["x OK STORE completed"],
    )
    .await;
    (t, s)
}

#[tokio::test]
async fn min_and_max_report_the_modseq_of_the_messages_they_return() {
    let (_t, mut s) = selected_with_a_seen().await;
    // The first MODSEQ key enables CONDSTORE: HIGHESTMODSEQ first (§3.1).
    s.cmd(
        "a SEARCH RETURN (MIN MAX) MODSEQ 1",
        &[
            "* OK [HIGHESTMODSEQ 5] *",
            // Messages 1 and 3 (mod-sequences 2 and 4), not message 2's 5.
            "* ESEARCH (TAG \"a\") MIN 1 MAX 3 MODSEQ 4",
            "a OK SEARCH completed",
        ],
    )
    .await;
    s.cmd(
        "b SEARCH RETURN (MIN) MODSEQ 1",
        &[
            "* ESEARCH (TAG \"b\") MIN 1 MODSEQ 2",
            "b OK SEARCH completed",
        ],
    )
    .await;
    s.cmd(
        "c SEARCH RETURN (MAX) MODSEQ 3",
        &[
            "* ESEARCH (TAG \"c\") MAX 3 MODSEQ 4",
            "c OK SEARCH completed",
        ],
    )
    .await;
}

#[tokio::test]
async fn count_and_all_report_the_highest_modseq_of_every_match() {
    let (_t, mut s) = selected_with_a_seen().await;
    s.cmd(
        "a UID SEARCH RETURN (MIN MAX COUNT ALL) MODSEQ 1",
        &[
            "* OK [HIGHESTMODSEQ 5] *",
            "* ESEARCH (TAG \"a\") UID MIN 1 MAX 3 COUNT 3 ALL 1:3 MODSEQ 5",
            "a OK SEARCH completed",
        ],
    )
    .await;
    s.cmd(
        "b SEARCH RETURN (COUNT) MODSEQ 1",
        &[
            "* ESEARCH (TAG \"b\") COUNT 3 MODSEQ 5",
            "b OK SEARCH completed",
        ],
    )
    .await;
    // Only message 2 changed after mod-sequence 4.
    s.cmd(
        "c SEARCH RETURN (ALL) MODSEQ 5",
        &[
            "* ESEARCH (TAG \"c\") ALL 2 MODSEQ 5",
            "c OK SEARCH completed",
        ],
    )
    .await;
    // Without a MODSEQ key there is no MODSEQ result.
    s.cmd(
        "d SEARCH RETURN (MIN MAX) ALL",
        &["* ESEARCH (TAG \"d\") MIN 1 MAX 3", "d OK SEARCH completed"],
    )
    .await;
}

#[tokio::test]
async fn search_return_partial() {
    let (_t, mut s) = selected_with_a_seen().await;
    s.cmd(
        "a SEARCH RETURN (PARTIAL 1:2) ALL",
        &[
            "* ESEARCH (TAG \"a\") PARTIAL (1:2 1:2)",
            "a OK SEARCH completed",
        ],
    )
    .await;
    // From the end: the last two.
    s.cmd(
        "b UID SEARCH RETURN (PARTIAL -1:-2) ALL",
        &[
            "* ESEARCH (TAG \"b\") UID PARTIAL (-1:-2 2:3)",
            "b OK SEARCH completed",
        ],
    )
    .await;
    // Positions within the results, not message numbers: the second unseen is 3.
    s.cmd(
        "c SEARCH RETURN (PARTIAL 2:2) UNSEEN",
        &[
            "* ESEARCH (TAG \"c\") PARTIAL (2:2 3)",
            "c OK SEARCH completed",
        ],
    )
    .await;
    // Past the end: NIL.
    s.cmd(
        "d SEARCH RETURN (PARTIAL 5:9) ALL",
        &[
            "* ESEARCH (TAG \"d\") PARTIAL (5:9 NIL)",
            "d OK SEARCH completed",
        ],
    )
    .await;
}

#[tokio::test]
async fn uid_fetch_partial_fetches_a_slice() {
    let (_t, mut s) = selected_with_a_seen().await;
    s.cmd(
        "a UID FETCH 1:* (FLAGS) (PARTIAL 1:2)",
        &[
            "* 1 FETCH (UID 1 FLAGS (\\Recent))",
            "* 2 FETCH (UID 2 FLAGS (\\Seen \\Recent))",
            "a OK FETCH completed",
        ],
    )
    .await;
    s.cmd(
        "b UID FETCH 1:* (FLAGS) (PARTIAL -1:-1)",
        &["* 3 FETCH (UID 3 FLAGS (\\Recent))", "b OK FETCH completed"],
    )
    .await;
}
