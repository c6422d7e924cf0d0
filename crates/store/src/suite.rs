//! The behaviour suite every [`Store`] backend must pass: one set of async test bodies,
//! generic over the store, instantiated for [`crate::memory::MemoryStore`],
//! [`crate::sqlite::SqliteStore`] and [`crate::postgres::PgStore`] (a fresh database on
//! the test cluster each) by the `suite!` macro at the bottom.
//!
//! Where it sits: test-only. It pins down the contract written on the [`Store`] trait:
//! error kinds, case-insensitive accounts, byte-exact delivery, idempotent delivery,
//! ascending never-reused UIDs (RFC 3501 §2.3.1.1), queue outcomes and collection.
//! The alias cases live in the child module `aliases` (`src/suite/aliases.rs`), the
//! queue-control ones in `queue_control`, queue claims and leases in `queue_claims`, POP3 maildrop locks in `maildrop`, IMAP's mailbox cases in `imap`, its
//! message cases in `imap_messages`, MULTIAPPEND's in `imap_append_many`, its delta and summary cases in `imap_sync`,
//! quotas in `quota`, app passwords in `app_passwords`, the administrator flag, display
//! names and API tokens in `accounts_admin`, access control lists
//! (RFC 4314) in `acl`, shared counters in `counters`, the server's own values and leases in `values`, and internationalised domains
//! (one domain, two spellings) in `idn`.

mod accounts_admin;
mod acl;
mod aliases;
mod app_passwords;
mod counters;
mod idn;
mod imap;
mod imap_append_many;
mod imap_messages;
mod imap_recent;
mod imap_sync;
mod maildrop;
mod queue_claims;
mod queue_control;
mod queue_count;
mod quota;
mod values;

use message::{Address, BodyType, Domain, Envelope, QueueId};

use crate::{RecipientOutcome, RecipientStatus, Store, StoreError};
use accounts_admin::{
    account_admin_set_and_clear, account_display_name_set_clear_refuse,
    account_remove_leaves_tokens, token_add_list_get_use_revoke, token_errors,
};
use acl::{
    acl_account_remove_drops_entries, acl_errors, acl_rename_keeps_delete_drops,
    acl_set_list_replace_remove, acl_shared_with_unites_anyone_and_own_rights,
};
use aliases::{
    account_remove_takes_aliases, alias_basics, alias_errors, domain_remove_refused_while_aliases,
};
use app_passwords::{
    account_remove_takes_app_passwords, app_password_add_list_get_use_revoke, app_password_errors,
};
use counters::counters_shared_or_none;
use idn::{
    idn_accounts_and_aliases_in_either_spelling, idn_domain_has_one_key,
    idn_queue_flush_matches_both_spellings,
};
use imap::{
    imap_create_get_delete, imap_default_mailboxes, imap_rename_inbox, imap_rename_with_children,
    imap_subscriptions, imap_uidvalidity_of_recreated_mailbox,
};
use imap_append_many::{
    imap_append_many_over_quota_stores_none, imap_append_many_refusal_stores_none,
    imap_append_many_stores_all,
};
use imap_messages::{
    imap_append, imap_copy_and_move, imap_delivery_takes_modseq, imap_expunge,
    imap_flags_add_remove_replace, imap_pop3_remove_leaves_tombstones, imap_unchanged_since,
};
use imap_recent::imap_recent_claimed_once;
use imap_sync::{imap_changes_since, imap_summaries_kept_beside_messages};
use maildrop::{
    maildrop_expired_lease_hands_over, maildrop_lock_is_exclusive, maildrop_same_holder_extends,
    maildrop_unknown_or_deleted_mailbox, maildrop_unlock_frees_only_for_the_holder,
};
use queue_claims::{
    claim_expired_lease_goes_to_another_node, claim_racing_claimers_get_disjoint_sets,
    claim_release_frees, claim_renew_extends_and_reports_lost, claim_skips_finished_and_held,
    claim_takes_due_unleased_oldest_first,
};
use queue_control::{
    delete_and_warned, dsn_requests_are_kept, flush_by_id_domain_and_all, hold_and_release,
};
use queue_count::queue_pending_count_counts_entries_with_pending_recipients;
use quota::{
    quota_append_refused, quota_between_accounts, quota_concurrent_filings_respect_the_limit,
    quota_copy_refused_move_allowed, quota_delivery_refused_then_retried,
    quota_enqueue_and_file_skips_full, quota_set_get_clear, quota_usage_spans_mailboxes,
};
use values::{leases_exclusive_until_expired, values_bounded, values_put_get_list_delete};

/// A body with CRLFs, a NUL, 8-bit bytes and no final newline: every byte must survive.
const BODY: &[u8] =
    b"From: a@remote.example\r\nSubject: hi\r\n\r\nline\r\n\x00\xff\xfe\r\n.\r\nend";
/// A per-recipient prefix as local delivery writes it.
const PREFIX: &[u8] = b"Return-Path: <a@remote.example>\r\nDelivered-To: alice@example.org\r\n";

fn addr(s: &str) -> Address {
    Address::parse(s).expect("test address")
}

fn dom(s: &str) -> Domain {
    Domain::parse(s).expect("test domain")
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64
}

fn envelope(recipients: &[&str]) -> Envelope {
    Envelope {
        sender: Some(addr("a@remote.example")),
        recipients: recipients.iter().map(|r| addr(r)).collect(),
        body_type: BodyType::EightBitMime,
        smtputf8: false,
        require_tls: false,
        dsn: Default::default(),
    }
}

/// A store with `example.org` local and alice@example.org in it.
async fn with_alice<S: Store>(s: &S) -> crate::AccountId {
    s.domain_add(&dom("example.org")).await.expect("domain");
    s.account_add(&addr("alice@example.org"), "$argon2id$fake")
        .await
        .expect("alice")
}

/// The INBOX of `account`: always the first mailbox listed.
async fn inbox<S: Store>(s: &S, account: crate::AccountId) -> crate::Mailbox {
    let boxes = s.mailbox_list(account).await.expect("mailboxes");
    assert_eq!(boxes[0].name, "INBOX");
    boxes[0].clone()
}

/// The status of recipient `i` of queue entry `id`, from `queue_list`.
async fn status<S: Store>(s: &S, id: QueueId, i: usize) -> RecipientStatus {
    let all = s.queue_list().await.expect("queue list");
    let entry = all.iter().find(|m| m.id == id).expect("entry listed");
    entry.recipients[i].status.clone()
}

pub(crate) async fn domains<S: Store>(s: &S) {
    assert!(s.domain_list().await.expect("list").is_empty());
    s.domain_add(&dom("Example.ORG")).await.expect("add");
    s.domain_add(&dom("b.example")).await.expect("add");
    assert!(matches!(
        s.domain_add(&dom("example.org")).await,
        Err(StoreError::Exists(_))
    ));
    assert_eq!(
        s.domain_list().await.expect("list"),
        vec![dom("b.example"), dom("example.org")]
    );
    assert!(s.domain_is_local(&dom("EXAMPLE.org")).await.expect("local"));
    assert!(
        !s.domain_is_local(&dom("other.example"))
            .await
            .expect("local")
    );
    assert!(matches!(
        s.domain_remove(&dom("other.example")).await,
        Err(StoreError::NotFound(_))
    ));
    s.account_add(&addr("bob@b.example"), "h")
        .await
        .expect("bob");
    assert!(matches!(
        s.domain_remove(&dom("b.example")).await,
        Err(StoreError::Invalid(_))
    ));
    s.account_remove(&addr("bob@b.example"))
        .await
        .expect("rm bob");
    s.domain_remove(&dom("b.example")).await.expect("rm domain");
    assert_eq!(
        s.domain_list().await.expect("list"),
        vec![dom("example.org")]
    );
}

pub(crate) async fn accounts<S: Store>(s: &S) {
    assert!(matches!(
        s.account_add(&addr("x@not-local.example"), "h").await,
        Err(StoreError::Invalid(_))
    ));
    let id = with_alice(s).await;
    let zed = s
        .account_add(&addr("Zed@Example.org"), "hz")
        .await
        .expect("zed");
    assert_ne!(id, zed);
    // Case-insensitive: another spelling of alice is taken, and finds her.
    assert!(matches!(
        s.account_add(&addr("ALICE@example.ORG"), "h2").await,
        Err(StoreError::Exists(_))
    ));
    let found = s
        .account_get(&addr("Alice@EXAMPLE.org"))
        .await
        .expect("get")
        .expect("found");
    assert_eq!(found.id, id);
    assert_eq!(found.address.to_string(), "alice@example.org");
    assert_eq!(found.password_hash, "$argon2id$fake");
    // Kept as added.
    let z = s
        .account_get(&addr("zed@example.org"))
        .await
        .expect("get")
        .expect("zed");
    assert_eq!(z.address.to_string(), "Zed@example.org");
    assert!(
        s.account_get(&addr("nobody@example.org"))
            .await
            .expect("get")
            .is_none()
    );
    let list = s.account_list().await.expect("list");
    let names: Vec<String> = list.iter().map(|a| a.address.to_string()).collect();
    assert_eq!(names, ["alice@example.org", "Zed@example.org"]);

    s.account_set_password(&addr("ALICE@example.org"), "new")
        .await
        .expect("passwd");
    let a = s
        .account_get(&addr("alice@example.org"))
        .await
        .expect("get")
        .expect("a");
    assert_eq!(a.password_hash, "new");
    assert!(matches!(
        s.account_set_password(&addr("nobody@example.org"), "x")
            .await,
        Err(StoreError::NotFound(_))
    ));

    let first = inbox(s, id).await;
    assert_eq!(first.uid_next, 1);
    assert!(first.uid_validity > 0);

    s.account_remove(&addr("Alice@example.org"))
        .await
        .expect("rm");
    assert!(
        s.account_get(&addr("alice@example.org"))
            .await
            .expect("get")
            .is_none()
    );
    assert!(matches!(
        s.account_remove(&addr("alice@example.org")).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        s.mailbox_list(id).await,
        Err(StoreError::NotFound(_))
    ));
    // Re-created: a new INBOX must not reuse the old UIDVALIDITY (RFC 3501 §2.3.1.1).
    let again = s
        .account_add(&addr("alice@example.org"), "h")
        .await
        .expect("re-add");
    let second = inbox(s, again).await;
    assert!(second.uid_validity > first.uid_validity);
    assert_eq!(second.uid_next, 1);
}

pub(crate) async fn enqueue_deliver_read<S: Store>(s: &S) {
    let alice = with_alice(s).await;
    let id = QueueId::from_u64(0x1234);
    let env = envelope(&["alice@example.org", "carol@remote.example"]);
    s.enqueue(id, &env, BODY).await.expect("enqueue");
    assert!(matches!(
        s.enqueue(id, &env, b"again").await,
        Err(StoreError::Exists(_))
    ));

    let due = s.queue_due(now() + 1, 10).await.expect("due");
    assert_eq!(due.len(), 1);
    let q = &due[0];
    assert_eq!(q.id, id);
    assert_eq!(q.envelope, env);
    assert_eq!(q.size, BODY.len() as u64);
    assert!(q.queued_at >= now() - 5 && q.queued_at <= now());
    assert_eq!(q.recipients.len(), 2);
    for (r, a) in q.recipients.iter().zip(&env.recipients) {
        assert_eq!(&r.address, a);
        assert!(matches!(
            r.status,
            RecipientStatus::Pending {
                attempts: 0,
                last_error: None,
                ..
            }
        ));
    }
    assert_eq!(s.queue_body(id).await.expect("body"), BODY);

    let uid = s
        .deliver_to_mailbox(id, 0, alice, PREFIX)
        .await
        .expect("deliver")
        .expect("new uid");
    assert_eq!(uid, 1);
    let mbox = inbox(s, alice).await;
    assert_eq!(mbox.uid_next, 2);
    let list = s.message_list(mbox.id).await.expect("messages");
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].uid, 1);
    assert_eq!(list[0].size, (PREFIX.len() + BODY.len()) as u64);
    assert_eq!(list[0].queue_id, id);
    assert!(list[0].received_at >= now() - 5);
    let full = s.message_read(mbox.id, 1).await.expect("read");
    assert_eq!(full, [PREFIX, BODY].concat());
    assert_eq!(status(s, id, 0).await, RecipientStatus::Delivered);
    assert!(matches!(
        status(s, id, 1).await,
        RecipientStatus::Pending { .. }
    ));
    // Still due: carol is pending.
    assert_eq!(s.queue_due(now() + 1, 10).await.expect("due").len(), 1);

    // Errors name the mailbox as a person knows it, never by its row id.
    match s.message_read(mbox.id, 99).await {
        Err(StoreError::NotFound(what)) => assert_eq!(
            what, "message 99 in mailbox \"INBOX\" of alice@example.org",
            "{what}"
        ),
        other => panic!("{other:?}"),
    }
    match s.message_list(crate::MailboxId(987_654)).await {
        Err(StoreError::NotFound(what)) => assert!(!what.contains("987"), "{what}"),
        other => panic!("{other:?}"),
    }
}

pub(crate) async fn deliver_is_idempotent<S: Store>(s: &S) {
    let alice = with_alice(s).await;
    let id = QueueId::from_u64(7);
    s.enqueue(id, &envelope(&["alice@example.org"]), BODY)
        .await
        .expect("enqueue");
    assert_eq!(
        s.deliver_to_mailbox(id, 0, alice, PREFIX)
            .await
            .expect("1st"),
        Some(1)
    );
    assert_eq!(
        s.deliver_to_mailbox(id, 0, alice, PREFIX)
            .await
            .expect("2nd"),
        None
    );
    let mbox = inbox(s, alice).await;
    assert_eq!(s.message_list(mbox.id).await.expect("list").len(), 1);
    assert_eq!(mbox.uid_next, 2);
    // A recipient that failed is done too.
    let id2 = QueueId::from_u64(8);
    s.enqueue(id2, &envelope(&["alice@example.org"]), BODY)
        .await
        .expect("enqueue");
    s.queue_mark(
        id2,
        0,
        &RecipientOutcome::Failed {
            reason: "no".into(),
        },
    )
    .await
    .expect("mark");
    assert_eq!(
        s.deliver_to_mailbox(id2, 0, alice, PREFIX)
            .await
            .expect("3rd"),
        None
    );
    // Unknown things.
    assert!(matches!(
        s.deliver_to_mailbox(QueueId::from_u64(99), 0, alice, PREFIX)
            .await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        s.deliver_to_mailbox(id, 5, alice, PREFIX).await,
        Err(StoreError::NotFound(_))
    ));
    let id3 = QueueId::from_u64(9);
    s.enqueue(id3, &envelope(&["alice@example.org"]), BODY)
        .await
        .expect("enqueue");
    assert!(matches!(
        s.deliver_to_mailbox(id3, 0, crate::AccountId(424_242), PREFIX)
            .await,
        Err(StoreError::NotFound(_))
    ));
    // The failed attempt left the recipient pending.
    assert!(matches!(
        status(s, id3, 0).await,
        RecipientStatus::Pending { .. }
    ));
}

pub(crate) async fn uids_ascend_and_are_never_reused<S: Store>(s: &S) {
    let alice = with_alice(s).await;
    let rcpts = [
        "alice@example.org",
        "Alice@Example.org",
        "ALICE@example.org",
    ];
    let id = QueueId::from_u64(100);
    s.enqueue(id, &envelope(&rcpts), BODY)
        .await
        .expect("enqueue");
    let mut uids = Vec::new();
    for i in 0..3 {
        let prefix = format!("X-N: {i}\r\n");
        uids.push(
            s.deliver_to_mailbox(id, i, alice, prefix.as_bytes())
                .await
                .expect("deliver")
                .expect("uid"),
        );
    }
    assert_eq!(uids, [1, 2, 3]);
    let mbox = inbox(s, alice).await;
    assert_eq!(mbox.uid_next, 4);
    let listed: Vec<u32> = s
        .message_list(mbox.id)
        .await
        .expect("list")
        .iter()
        .map(|m| m.uid)
        .collect();
    assert_eq!(listed, [1, 2, 3]);
    assert_eq!(
        s.message_read(mbox.id, 2).await.expect("read"),
        [b"X-N: 1\r\n".as_slice(), BODY].concat()
    );
    // Remove the newest; the next UID still moves on.
    s.message_remove(mbox.id, &[3]).await.expect("remove");
    let id2 = QueueId::from_u64(101);
    s.enqueue(id2, &envelope(&["alice@example.org"]), b"second")
        .await
        .expect("enqueue");
    assert_eq!(
        s.deliver_to_mailbox(id2, 0, alice, b"").await.expect("d"),
        Some(4)
    );
    let listed: Vec<u32> = s
        .message_list(mbox.id)
        .await
        .expect("list")
        .iter()
        .map(|m| m.uid)
        .collect();
    assert_eq!(listed, [1, 2, 4]);
    assert_eq!(s.message_read(mbox.id, 4).await.expect("read"), b"second");
}

pub(crate) async fn queue_marks<S: Store>(s: &S) {
    let t = now();
    let id = QueueId::from_u64(200);
    let env = envelope(&["x@remote.example", "y@remote.example", "z@remote.example"]);
    s.enqueue(id, &env, BODY).await.expect("enqueue");
    s.queue_mark(
        id,
        0,
        &RecipientOutcome::Deferred {
            next_attempt: t + 600,
            reason: "451 busy".into(),
        },
    )
    .await
    .expect("defer");
    s.queue_mark(
        id,
        1,
        &RecipientOutcome::Failed {
            reason: "550 no such user".into(),
        },
    )
    .await
    .expect("fail");
    assert_eq!(
        status(s, id, 0).await,
        RecipientStatus::Pending {
            attempts: 1,
            next_attempt: t + 600,
            last_error: Some("451 busy".into())
        }
    );
    assert_eq!(
        status(s, id, 1).await,
        RecipientStatus::Failed("550 no such user".into())
    );
    // z is still due now.
    assert_eq!(s.queue_due(t + 1, 10).await.expect("due").len(), 1);
    s.queue_mark(id, 2, &RecipientOutcome::Delivered)
        .await
        .expect("relayed");
    assert_eq!(status(s, id, 2).await, RecipientStatus::Delivered);
    // Only x is left, deferred: not due now, due later.
    assert!(s.queue_due(t + 1, 10).await.expect("due").is_empty());
    assert_eq!(s.queue_due(t + 600, 10).await.expect("due").len(), 1);
    // Defer again: attempts count up.
    s.queue_mark(
        id,
        0,
        &RecipientOutcome::Deferred {
            next_attempt: t + 1200,
            reason: "421 later".into(),
        },
    )
    .await
    .expect("defer");
    assert!(matches!(
        status(s, id, 0).await,
        RecipientStatus::Pending { attempts: 2, next_attempt, .. } if next_attempt == t + 1200
    ));
    // A final state stays final.
    s.queue_mark(
        id,
        1,
        &RecipientOutcome::Deferred {
            next_attempt: t,
            reason: "x".into(),
        },
    )
    .await
    .expect("ignored");
    assert_eq!(
        status(s, id, 1).await,
        RecipientStatus::Failed("550 no such user".into())
    );
    // Unknown entry or recipient.
    assert!(matches!(
        s.queue_mark(QueueId::from_u64(1), 0, &RecipientOutcome::Delivered)
            .await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        s.queue_mark(id, 3, &RecipientOutcome::Delivered).await,
        Err(StoreError::NotFound(_))
    ));
}

pub(crate) async fn queue_order_and_limit<S: Store>(s: &S) {
    let mut env = envelope(&["x@remote.example"]);
    env.sender = None;
    env.body_type = BodyType::SevenBit;
    env.smtputf8 = true;
    env.require_tls = true;
    env.recipients.push(addr("jösé@exämple.example"));
    for n in 1..=5u64 {
        s.enqueue(QueueId::from_u64(n), &env, format!("body {n}").as_bytes())
            .await
            .expect("enqueue");
    }
    let all = s.queue_list().await.expect("list");
    let ids: Vec<u64> = all.iter().map(|m| m.id.as_u64()).collect();
    assert_eq!(ids, [1, 2, 3, 4, 5]);
    assert_eq!(
        all[0].envelope, env,
        "null sender, SMTPUTF8, REQUIRETLS and UTF-8 survive"
    );
    let due = s.queue_due(now() + 1, 2).await.expect("due");
    let ids: Vec<u64> = due.iter().map(|m| m.id.as_u64()).collect();
    assert_eq!(ids, [1, 2]);
    assert!(s.queue_due(now() - 3600, 10).await.expect("due").is_empty());
    assert_eq!(
        s.queue_body(QueueId::from_u64(3)).await.expect("body"),
        b"body 3"
    );
    assert!(matches!(
        s.queue_body(QueueId::from_u64(6)).await,
        Err(StoreError::NotFound(_))
    ));
    // No recipients: refused.
    let empty = envelope(&[]);
    assert!(matches!(
        s.enqueue(QueueId::from_u64(9), &empty, b"x").await,
        Err(StoreError::Invalid(_))
    ));
    // An empty body is fine.
    s.enqueue(QueueId::from_u64(10), &env, b"")
        .await
        .expect("empty body");
    assert_eq!(
        s.queue_body(QueueId::from_u64(10)).await.expect("body"),
        b""
    );
}

pub(crate) async fn enqueue_and_file_files_local_recipients<S: Store>(s: &S) {
    let alice = with_alice(s).await;
    let id = QueueId::from_u64(400);
    let filing = crate::Filing {
        recipient: 0,
        account: alice,
        prefix: PREFIX.to_vec(),
        summary: None,
    };
    s.enqueue_and_file(
        id,
        &envelope(&["alice@example.org", "c@remote.example"]),
        BODY,
        &[filing],
    )
    .await
    .expect("enqueue and file");
    let mailbox = inbox(s, alice).await;
    let listed = s.message_list(mailbox.id).await.expect("list");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].queue_id, id);
    let mut want = PREFIX.to_vec();
    want.extend_from_slice(BODY);
    assert_eq!(
        s.message_read(mailbox.id, listed[0].uid)
            .await
            .expect("read"),
        want
    );
    assert_eq!(status(s, id, 0).await, RecipientStatus::Delivered);
    assert!(matches!(
        status(s, id, 1).await,
        RecipientStatus::Pending { .. }
    ));
    // Filing again through the queue is a no-op: the recipient is done.
    assert_eq!(
        s.deliver_to_mailbox(id, 0, alice, PREFIX)
            .await
            .expect("again"),
        None
    );
}

/// DMARC quarantine: the filing lands in the account's `\Junk` mailbox, not INBOX.
pub(crate) async fn enqueue_and_file_junk_files_into_junk<S: Store>(s: &S) {
    let alice = with_alice(s).await;
    let id = QueueId::from_u64(401);
    let filing = crate::Filing {
        recipient: 0,
        account: alice,
        prefix: PREFIX.to_vec(),
        summary: None,
    };
    s.enqueue_and_file_junk(id, &envelope(&["alice@example.org"]), BODY, &[filing])
        .await
        .expect("enqueue and file into Junk");
    let junk = s
        .mailbox_get(alice, "Junk")
        .await
        .expect("get")
        .expect("a new account has Junk");
    assert_eq!(s.message_list(junk.id).await.expect("list").len(), 1);
    let mailbox = inbox(s, alice).await;
    assert!(s.message_list(mailbox.id).await.expect("list").is_empty());
    assert_eq!(status(s, id, 0).await, RecipientStatus::Delivered);
}

pub(crate) async fn queue_collect<S: Store>(s: &S) {
    let alice = with_alice(s).await;
    let id = QueueId::from_u64(300);
    s.enqueue(
        id,
        &envelope(&["alice@example.org", "c@remote.example"]),
        BODY,
    )
    .await
    .expect("enqueue");
    let other = QueueId::from_u64(301);
    s.enqueue(other, &envelope(&["c@remote.example"]), b"other")
        .await
        .expect("enqueue");
    assert_eq!(s.queue_collect().await.expect("collect"), 0);
    s.deliver_to_mailbox(id, 0, alice, PREFIX)
        .await
        .expect("deliver");
    assert_eq!(s.queue_collect().await.expect("collect"), 0, "c is pending");
    s.queue_mark(
        id,
        1,
        &RecipientOutcome::Failed {
            reason: "550".into(),
        },
    )
    .await
    .expect("fail");
    assert_eq!(s.queue_collect().await.expect("collect"), 1);
    let left: Vec<QueueId> = s
        .queue_list()
        .await
        .expect("list")
        .iter()
        .map(|m| m.id)
        .collect();
    assert_eq!(left, [other]);
    assert!(matches!(
        s.queue_body(id).await,
        Err(StoreError::NotFound(_))
    ));
    // The mailbox copy shares the body and must outlive the queue entry.
    let mbox = inbox(s, alice).await;
    assert_eq!(
        s.message_read(mbox.id, 1).await.expect("read"),
        [PREFIX, BODY].concat()
    );
    // Delivering for a collected entry is NotFound, not a second copy.
    assert!(matches!(
        s.deliver_to_mailbox(id, 0, alice, PREFIX).await,
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(s.queue_collect().await.expect("collect"), 0);
    assert_eq!(s.queue_body(other).await.expect("other body"), b"other");
}

pub(crate) async fn message_remove<S: Store>(s: &S) {
    let alice = with_alice(s).await;
    let id = QueueId::from_u64(400);
    s.enqueue(
        id,
        &envelope(&["alice@example.org", "alice@example.org"]),
        BODY,
    )
    .await
    .expect("enqueue");
    s.deliver_to_mailbox(id, 0, alice, b"A: 1\r\n")
        .await
        .expect("deliver");
    s.deliver_to_mailbox(id, 1, alice, b"A: 2\r\n")
        .await
        .expect("deliver");
    assert_eq!(s.queue_collect().await.expect("collect"), 1);
    let mbox = inbox(s, alice).await;
    // Unknown UIDs are ignored; known ones go.
    s.message_remove(mbox.id, &[1, 77]).await.expect("remove");
    assert!(matches!(
        s.message_read(mbox.id, 1).await,
        Err(StoreError::NotFound(_))
    ));
    // The other message still shares the body.
    assert_eq!(
        s.message_read(mbox.id, 2).await.expect("read"),
        [b"A: 2\r\n".as_slice(), BODY].concat()
    );
    s.message_remove(mbox.id, &[]).await.expect("nothing");
    s.message_remove(mbox.id, &[2]).await.expect("remove");
    assert!(s.message_list(mbox.id).await.expect("list").is_empty());
    assert!(matches!(
        s.message_remove(crate::MailboxId(555_555), &[1]).await,
        Err(StoreError::NotFound(_))
    ));
}

pub(crate) async fn account_remove_takes_messages<S: Store>(s: &S) {
    let alice = with_alice(s).await;
    let id = QueueId::from_u64(500);
    s.enqueue(id, &envelope(&["alice@example.org"]), BODY)
        .await
        .expect("enqueue");
    s.deliver_to_mailbox(id, 0, alice, PREFIX)
        .await
        .expect("deliver");
    let mbox = inbox(s, alice).await;
    s.account_remove(&addr("alice@example.org"))
        .await
        .expect("remove");
    assert!(matches!(
        s.message_list(mbox.id).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        s.message_read(mbox.id, 1).await,
        Err(StoreError::NotFound(_))
    ));
    // The queue entry (already delivered) is untouched and collectable.
    assert_eq!(s.queue_collect().await.expect("collect"), 1);
}

/// Instantiates every test above for every backend.
macro_rules! suite {
    ($($name:ident),* $(,)?) => {
        mod memory_backend {
            $(
                #[tokio::test]
                async fn $name() {
                    let store = crate::memory::MemoryStore::new();
                    super::$name(&store).await;
                }
            )*
        }
        mod sqlite_backend {
            $(
                #[tokio::test]
                async fn $name() {
                    let dir = tempfile::tempdir().expect("tempdir");
                    let store = crate::sqlite::SqliteStore::open(dir.path()).expect("open");
                    super::$name(&store).await;
                }
            )*
        }
        mod postgres_backend {
            $(
                #[tokio::test]
                async fn $name() {
                    // A database of its own on the test cluster; a loud skip when
                    // PostgreSQL is absent and not required (see postgres::testing).
                    let Some(store) = crate::postgres::testing::fresh_store().await else {
                        return;
                    };
                    super::$name(&store).await;
                }
            )*
        }
    };
}

suite!(
    domains,
    idn_domain_has_one_key,
    idn_accounts_and_aliases_in_either_spelling,
    idn_queue_flush_matches_both_spellings,
    accounts,
    enqueue_deliver_read,
    deliver_is_idempotent,
    uids_ascend_and_are_never_reused,
    queue_marks,
    queue_order_and_limit,
    queue_collect,
    enqueue_and_file_files_local_recipients,
    enqueue_and_file_junk_files_into_junk,
    message_remove,
    account_remove_takes_messages,
    alias_basics,
    alias_errors,
    account_remove_takes_aliases,
    domain_remove_refused_while_aliases,
    app_password_add_list_get_use_revoke,
    app_password_errors,
    account_remove_takes_app_passwords,
    account_admin_set_and_clear,
    account_display_name_set_clear_refuse,
    token_add_list_get_use_revoke,
    token_errors,
    account_remove_leaves_tokens,
    dsn_requests_are_kept,
    hold_and_release,
    flush_by_id_domain_and_all,
    delete_and_warned,
    queue_pending_count_counts_entries_with_pending_recipients,
    claim_takes_due_unleased_oldest_first,
    claim_racing_claimers_get_disjoint_sets,
    claim_expired_lease_goes_to_another_node,
    claim_renew_extends_and_reports_lost,
    claim_release_frees,
    claim_skips_finished_and_held,
    maildrop_lock_is_exclusive,
    maildrop_same_holder_extends,
    maildrop_expired_lease_hands_over,
    maildrop_unlock_frees_only_for_the_holder,
    maildrop_unknown_or_deleted_mailbox,
    imap_default_mailboxes,
    imap_create_get_delete,
    imap_uidvalidity_of_recreated_mailbox,
    imap_rename_with_children,
    imap_rename_inbox,
    imap_subscriptions,
    imap_delivery_takes_modseq,
    imap_flags_add_remove_replace,
    imap_unchanged_since,
    imap_append,
    imap_append_many_stores_all,
    imap_append_many_over_quota_stores_none,
    imap_append_many_refusal_stores_none,
    imap_copy_and_move,
    imap_expunge,
    imap_pop3_remove_leaves_tombstones,
    imap_changes_since,
    imap_summaries_kept_beside_messages,
    imap_recent_claimed_once,
    quota_set_get_clear,
    quota_usage_spans_mailboxes,
    quota_append_refused,
    quota_copy_refused_move_allowed,
    quota_between_accounts,
    quota_delivery_refused_then_retried,
    quota_enqueue_and_file_skips_full,
    quota_concurrent_filings_respect_the_limit,
    acl_set_list_replace_remove,
    acl_shared_with_unites_anyone_and_own_rights,
    acl_errors,
    acl_rename_keeps_delete_drops,
    acl_account_remove_drops_entries,
    counters_shared_or_none,
    values_put_get_list_delete,
    values_bounded,
    leases_exclusive_until_expired,
);
