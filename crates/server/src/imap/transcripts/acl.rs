//! Shared mailboxes: ACL (RFC 4314) and namespaces (RFC 2342). Alice grants bob
//! rights on her mailboxes with SETACL; bob finds them under `Other Users/<owner>/`
//! (a mailbox shared with `anyone` under `Shared/<owner>/`), with `\Noselect` roots.
//! What bob may do follows his rights (§4): SELECT and STATUS need `r`, flags
//! `s`/`w`/`t` (the rest dropped, not refused), EXPUNGE `e`, APPEND `i`, CREATE
//! below the mailbox `k`; without `l` and `r` the mailbox does not exist for him
//! (`NO [NONEXISTENT]`), with `l` alone he is told `NO [NOPERM]`. SELECT is
//! READ-ONLY unless one of `i`, `e` or a flag right is granted (§5.2). GETACL,
//! LISTRIGHTS and DELETEACL by the owner; the obsolete rights `c` (= `kx` here) and
//! `d` (= `te`) of RFC 2086 in SETACL and in the answers (§2.1.1). Bob in IDLE in
//! alice's INBOX hears a delivery to it.

use super::{M1, M2, M3, with_inbox};
use crate::imap::transcript::{ALICE, BOB, Client, Transcript};

/// Alice's INBOX as bob names it.
const HER_INBOX: &str = "\"Other Users/alice@example.org/INBOX\"";

async fn logged_in(t: &Transcript, user: &str) -> Client {
    let mut s = t.session().await;
    s.login(user).await;
    s
}

/// Alice, logged in, grants bob `rights` on `mailbox`.
async fn grant(alice: &mut Client, mailbox: &str, rights: &str) {
    alice
        .cmd(
            &format!("g SETACL {mailbox} {BOB} {rights}"),
            &["g OK SETACL completed"],
        )
        .await;
}

/// The LIST answer for everything bob has, with `shared` (sorted) among his own.
fn bobs_list<'a>(shared: &[&'a str], ok: &'a str) -> Vec<&'a str> {
    let mut lines = vec![
        "* LIST (\\HasNoChildren \\Archive) \"/\" \"Archive\"",
        "* LIST (\\HasNoChildren \\Drafts) \"/\" \"Drafts\"",
        "* LIST (\\HasNoChildren) \"/\" \"INBOX\"",
        "* LIST (\\HasNoChildren \\Junk) \"/\" \"Junk\"",
        "* LIST (\\HasNoChildren \\Sent) \"/\" \"Sent\"",
        "* LIST (\\HasNoChildren \\Trash) \"/\" \"Trash\"",
    ];
    lines.extend_from_slice(shared);
    lines.sort_by_key(|l| l.rsplit(" \"").next().unwrap_or("").to_owned());
    lines.push(ok);
    lines
}

#[tokio::test]
async fn namespace_names_personal_other_users_and_shared() {
    let t = Transcript::new().await;
    let mut s = logged_in(&t, ALICE).await;
    s.cmd(
        "a NAMESPACE",
        &[
            "* NAMESPACE ((\"\" \"/\")) ((\"Other Users/\" \"/\")) ((\"Shared/\" \"/\"))",
            "a OK NAMESPACE completed",
        ],
    )
    .await;
}

#[tokio::test]
async fn a_mailbox_shared_with_lrs_is_listed_selected_and_bounded_by_the_rights() {
    let t = with_inbox(&[M1, M2]).await;
    let mut alice = logged_in(&t, ALICE).await;
    let mut bob = logged_in(&t, BOB).await;
    // Not shared yet: bob sees only his own.
    bob.cmd("a LIST \"\" \"*\"", &bobs_list(&[], "a OK LIST completed"))
        .await;
    grant(&mut alice, "INBOX", "lrs").await;
    bob.cmd(
        "b LIST \"\" \"*\"",
        &bobs_list(
            &[
                "* LIST (\\Noselect \\HasChildren) \"/\" \"Other Users\"",
                "* LIST (\\Noselect \\HasChildren) \"/\" \"Other Users/alice@example.org\"",
                "* LIST (\\HasNoChildren) \"/\" \"Other Users/alice@example.org/INBOX\"",
            ],
            "b OK LIST completed",
        ),
    )
    .await;
    bob.cmd(
        "c LIST \"\" \"%\"",
        &bobs_list(
            &["* LIST (\\Noselect \\HasChildren) \"/\" \"Other Users\""],
            "c OK LIST completed",
        ),
    )
    .await;
    bob.cmd(
        "d LIST \"\" \"Other Users/%\"",
        &[
            "* LIST (\\Noselect \\HasChildren) \"/\" \"Other Users/alice@example.org\"",
            "d OK LIST completed",
        ],
    )
    .await;
    // `s` is a flag right: read-write, and \Seen is the only flag kept (§5.1.1).
    bob.cmd(
        &format!("e SELECT {HER_INBOX}"),
        &[
            "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)",
            "* 2 EXISTS",
            "* 2 RECENT",
            "* OK [UNSEEN 1] *",
            "* OK [PERMANENTFLAGS (\\Seen)] *",
            "* OK [UIDVALIDITY *] *",
            "* OK [UIDNEXT 3] *",
            "* OK [HIGHESTMODSEQ 3] *",
            "e OK [READ-WRITE] SELECT completed",
        ],
    )
    .await;
    // \Flagged needs `w`: dropped, the STORE does not fail for it (§4).
    bob.cmd(
        "f STORE 1 +FLAGS (\\Flagged \\Seen)",
        &[
            "* 1 FETCH (*FLAGS (\\Seen \\Recent))",
            "f OK STORE completed",
        ],
    )
    .await;
    bob.cmd(
        "g FETCH 1 FLAGS",
        &[
            "* 1 FETCH (FLAGS (\\Seen \\Recent))",
            "g OK FETCH completed",
        ],
    )
    .await;
    bob.cmd("h EXPUNGE", &["h NO [NOPERM] *"]).await;
    bob.cmd(
        &format!("i MYRIGHTS {HER_INBOX}"),
        &[
            "* MYRIGHTS \"Other Users/alice@example.org/INBOX\" \"lrs\"",
            "i OK MYRIGHTS completed",
        ],
    )
    .await;
    // Bob may not administer it.
    bob.cmd(&format!("j GETACL {HER_INBOX}"), &["j NO [NOPERM] *"])
        .await;
    bob.cmd(
        &format!("k SETACL {HER_INBOX} {BOB} lrswi"),
        &["k NO [NOPERM] *"],
    )
    .await;
}

#[tokio::test]
async fn getacl_listrights_and_deleteacl_by_the_owner() {
    let t = with_inbox(&[M1]).await;
    let mut alice = logged_in(&t, ALICE).await;
    let mut bob = logged_in(&t, BOB).await;
    grant(&mut alice, "INBOX", "lrs").await;
    // The owner has every right, the obsolete `c` and `d` included.
    alice
        .cmd(
            "a GETACL INBOX",
            &[
                "* ACL \"INBOX\" \"alice@example.org\" \"lrswipkxteacd\" \"bob@example.org\" \"lrs\"",
                "a OK GETACL completed",
            ],
        )
        .await;
    alice
        .cmd(
            "b MYRIGHTS INBOX",
            &[
                "* MYRIGHTS \"INBOX\" \"lrswipkxteacd\"",
                "b OK MYRIGHTS completed",
            ],
        )
        .await;
    // Nothing is always granted to bob; each right may be, on its own.
    alice
        .cmd(
            "c LISTRIGHTS INBOX bob@example.org",
            &[
                "* LISTRIGHTS \"INBOX\" \"bob@example.org\" \"\" l r s w i p k x t e a c d",
                "c OK LISTRIGHTS completed",
            ],
        )
        .await;
    alice
        .cmd(
            "d DELETEACL INBOX bob@example.org",
            &["d OK DELETEACL completed"],
        )
        .await;
    alice
        .cmd(
            "e GETACL INBOX",
            &[
                "* ACL \"INBOX\" \"alice@example.org\" \"lrswipkxteacd\"",
                "e OK GETACL completed",
            ],
        )
        .await;
    // Gone for bob: no `l`, no `r`, so it does not exist (RFC 4314 §4, RFC 5530).
    bob.cmd(&format!("f SELECT {HER_INBOX}"), &["f NO [NONEXISTENT] *"])
        .await;
    bob.cmd(
        &format!("g MYRIGHTS {HER_INBOX}"),
        &["g NO [NONEXISTENT] *"],
    )
    .await;
    bob.cmd(
        &format!("h STATUS {HER_INBOX} (MESSAGES)"),
        &["h NO [NONEXISTENT] *"],
    )
    .await;
    bob.cmd("i LIST \"\" \"*\"", &bobs_list(&[], "i OK LIST completed"))
        .await;
}

#[tokio::test]
async fn lookup_without_read_is_noperm_and_read_without_lookup_selects() {
    let t = with_inbox(&[M1]).await;
    let mut alice = logged_in(&t, ALICE).await;
    let mut bob = logged_in(&t, BOB).await;
    grant(&mut alice, "INBOX", "ls").await;
    bob.cmd(&format!("a SELECT {HER_INBOX}"), &["a NO [NOPERM] *"])
        .await;
    bob.cmd(
        &format!("b STATUS {HER_INBOX} (MESSAGES)"),
        &["b NO [NOPERM] *"],
    )
    .await;
    grant(&mut alice, "INBOX", "rs").await;
    // Not listed without `l` (§4), but SELECT needs only `r`.
    bob.cmd("c LIST \"\" \"*\"", &bobs_list(&[], "c OK LIST completed"))
        .await;
    bob.cmd_contains(
        &format!("d SELECT {HER_INBOX}"),
        "d OK [READ-WRITE] SELECT completed",
    )
    .await;
}

#[tokio::test]
async fn obsolete_rights_c_and_d_expand_and_come_back() {
    let t = Transcript::new().await;
    let mut alice = logged_in(&t, ALICE).await;
    grant(&mut alice, "INBOX", "lrs").await;
    // `c` is `k` and `x`, `d` is `t` and `e` (RIGHTS=texk, §2.1.1).
    grant(&mut alice, "INBOX", "+cd").await;
    alice
        .cmd(
            "a GETACL INBOX",
            &[
                "* ACL \"INBOX\" \"alice@example.org\" \"lrswipkxteacd\" \"bob@example.org\" \"lrskxtecd\"",
                "a OK GETACL completed",
            ],
        )
        .await;
    grant(&mut alice, "INBOX", "-d").await;
    alice
        .cmd(
            "b GETACL INBOX",
            &[
                "* ACL \"INBOX\" \"alice@example.org\" \"lrswipkxteacd\" \"bob@example.org\" \"lrskxc\"",
                "b OK GETACL completed",
            ],
        )
        .await;
    grant(&mut alice, "INBOX", "lrc").await;
    alice
        .cmd(
            "c GETACL INBOX",
            &[
                "* ACL \"INBOX\" \"alice@example.org\" \"lrswipkxteacd\" \"bob@example.org\" \"lrkxc\"",
                "c OK GETACL completed",
            ],
        )
        .await;
    // An unknown right is BAD, never silently ignored (§3.1).
    alice
        .cmd(&format!("d SETACL INBOX {BOB} lrq"), &["d BAD *"])
        .await;
}

#[tokio::test]
async fn one_member_right_brings_its_obsolete_letter() {
    let t = Transcript::new().await;
    let mut alice = logged_in(&t, ALICE).await;
    let mut bob = logged_in(&t, BOB).await;
    // RFC 4314 §2.1.1: "When any of the "create" member rights is set in a list of
    // rights, the server MUST also include the "c" right when returning the list
    // in a MYRIGHTS or ACL response" (its example: lrswikda -> lrswikcdeta); the
    // same for "d".
    grant(&mut alice, "INBOX", "lrk").await;
    alice
        .cmd(
            "a GETACL INBOX",
            &[
                "* ACL \"INBOX\" \"alice@example.org\" \"lrswipkxteacd\" \"bob@example.org\" \"lrkc\"",
                "a OK GETACL completed",
            ],
        )
        .await;
    bob.cmd(
        &format!("b MYRIGHTS {HER_INBOX}"),
        &[
            "* MYRIGHTS \"Other Users/alice@example.org/INBOX\" \"lrkc\"",
            "b OK MYRIGHTS completed",
        ],
    )
    .await;
    grant(&mut alice, "INBOX", "lrt").await;
    alice
        .cmd(
            "c GETACL INBOX",
            &[
                "* ACL \"INBOX\" \"alice@example.org\" \"lrswipkxteacd\" \"bob@example.org\" \"lrtd\"",
                "c OK GETACL completed",
            ],
        )
        .await;
}

#[tokio::test]
async fn a_mailbox_shared_with_anyone_is_under_shared_and_read_only_with_lr() {
    let t = Transcript::new().await;
    let mut alice = logged_in(&t, ALICE).await;
    let mut bob = logged_in(&t, BOB).await;
    alice
        .cmd("a CREATE Public", &["a OK CREATE completed"])
        .await;
    alice
        .cmd("b SETACL Public anyone lr", &["b OK SETACL completed"])
        .await;
    bob.cmd(
        "c LIST \"\" \"*\"",
        &bobs_list(
            &[
                "* LIST (\\Noselect \\HasChildren) \"/\" \"Shared\"",
                "* LIST (\\Noselect \\HasChildren) \"/\" \"Shared/alice@example.org\"",
                "* LIST (\\HasNoChildren) \"/\" \"Shared/alice@example.org/Public\"",
            ],
            "c OK LIST completed",
        ),
    )
    .await;
    bob.cmd(
        "d LIST \"\" \"%\"",
        &bobs_list(
            &["* LIST (\\Noselect \\HasChildren) \"/\" \"Shared\""],
            "d OK LIST completed",
        ),
    )
    .await;
    bob.cmd("e0 SELECT \"Shared/Public\"", &["e0 NO [NONEXISTENT] *"])
        .await;
    // Neither `i`, `e` nor a flag right: READ-ONLY (§5.2).
    bob.cmd(
        "e SELECT \"Shared/alice@example.org/Public\"",
        &[
            "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)",
            "* 0 EXISTS",
            "* 0 RECENT",
            "* OK [PERMANENTFLAGS ()] *",
            "* OK [UIDVALIDITY *] *",
            "* OK [UIDNEXT 1] *",
            "* OK [HIGHESTMODSEQ *] *",
            "e OK [READ-ONLY] SELECT completed",
        ],
    )
    .await;
    bob.cmd(
        "f MYRIGHTS \"Shared/alice@example.org/Public\"",
        &[
            "* MYRIGHTS \"Shared/alice@example.org/Public\" \"lr\"",
            "f OK MYRIGHTS completed",
        ],
    )
    .await;
}

#[tokio::test]
async fn bob_idles_in_alices_inbox_and_hears_a_delivery() {
    let t = with_inbox(&[M1]).await;
    let mut alice = logged_in(&t, ALICE).await;
    let mut bob = logged_in(&t, BOB).await;
    grant(&mut alice, "INBOX", "lr").await;
    bob.cmd_contains(
        &format!("a SELECT {HER_INBOX}"),
        "a OK [READ-ONLY] SELECT completed",
    )
    .await;
    bob.idle("b").await;
    t.deliver(ALICE, M2).await;
    bob.idle_until(&["* 2 EXISTS"]).await;
    bob.done("b", &["* *", "b OK IDLE terminated"]).await;
    bob.cmd(
        "c UID FETCH 2 RFC822.SIZE",
        &["* 2 FETCH (UID 2 RFC822.SIZE 44)", "c OK FETCH completed"],
    )
    .await;
}

#[tokio::test]
async fn create_below_a_shared_mailbox_needs_k() {
    let t = Transcript::new().await;
    let mut alice = logged_in(&t, ALICE).await;
    let mut bob = logged_in(&t, BOB).await;
    grant(&mut alice, "INBOX", "lr").await;
    bob.cmd(
        "a CREATE \"Other Users/alice@example.org/INBOX/Sub\"",
        &["a NO [NOPERM] *"],
    )
    .await;
    grant(&mut alice, "INBOX", "lrk").await;
    bob.cmd(
        "b CREATE \"Other Users/alice@example.org/INBOX/Sub\"",
        &["b OK CREATE completed"],
    )
    .await;
    // It is alice's, and inherits the parent's ACL (§4: SHOULD), so bob lists it.
    alice
        .cmd_contains(
            "c LIST \"\" \"INBOX/*\"",
            "* LIST (\\HasNoChildren) \"/\" \"INBOX/Sub\"",
        )
        .await;
    bob.cmd_contains(
        "d LIST \"\" \"Other Users/*\"",
        "* LIST (\\HasNoChildren) \"/\" \"Other Users/alice@example.org/INBOX/Sub\"",
    )
    .await;
}

#[tokio::test]
async fn append_to_a_shared_mailbox_needs_i_and_keeps_only_the_flags_allowed() {
    let t = with_inbox(&[M1]).await;
    let mut alice = logged_in(&t, ALICE).await;
    let mut bob = logged_in(&t, BOB).await;
    grant(&mut alice, "INBOX", "lr").await;
    bob.cmd_literal(
        &format!("a APPEND {HER_INBOX} {{{}}}", M3.len()),
        M3,
        &["a NO [NOPERM] *"],
    )
    .await;
    grant(&mut alice, "INBOX", "lri").await;
    // Without `s` and `w` the flags are dropped, the APPEND does not fail (§4).
    bob.cmd_literal(
        &format!("b APPEND {HER_INBOX} (\\Seen \\Flagged) {{{}}}", M3.len()),
        M3,
        &["b OK [APPENDUID * 2] APPEND completed"],
    )
    .await;
    alice.cmd_contains("c SELECT INBOX", "* 2 EXISTS").await;
    alice
        .cmd(
            "d UID FETCH 2 (FLAGS RFC822.SIZE)",
            &[
                format!(
                    "* 2 FETCH (UID 2 FLAGS (\\Recent) RFC822.SIZE {})",
                    M3.len()
                )
                .as_str(),
                "d OK FETCH completed",
            ],
        )
        .await;
}
