//! Not-authenticated and any-state commands: CAPABILITY before and after login
//! (RFC 3501 §6.1.1, §7.2.1), LOGIN accepted and refused (§6.2.3, RFC 5530 codes),
//! plaintext refused without TLS (LOGINDISABLED, PRIVACYREQUIRED), commands that
//! need a login, and LOGOUT's order: pending updates, `* BYE`, the tagged OK, then
//! the connection closes (§6.1.3).

use super::{M1, with_inbox};
use crate::imap::transcript::{ALICE, BOB, Client, PASSWORD, Transcript};

/// The capability names of a `* CAPABILITY` line (or a `[CAPABILITY ...]` code).
fn names(line: &str) -> Vec<String> {
    let list = line
        .split_once("CAPABILITY ")
        .map(|(_, rest)| rest)
        .unwrap_or("");
    let list = list.split(']').next().unwrap_or(list);
    list.split(' ').map(str::to_owned).collect()
}

async fn capability(s: &mut Client, tag: &str) -> Vec<String> {
    let got = s
        .cmd(
            &format!("{tag} CAPABILITY"),
            &[
                "* CAPABILITY IMAP4rev1 IMAP4rev2 *",
                &format!("{tag} OK CAPABILITY completed"),
            ],
        )
        .await;
    names(&got[0])
}

#[tokio::test]
async fn capability_lists_what_works_in_each_state() {
    let t = Transcript::new().await;
    let mut s = t.session().await;
    let before = capability(&mut s, "a").await;
    for name in [
        "STARTTLS",
        "AUTH=PLAIN",
        "AUTH=LOGIN",
        "SASL-IR",
        "LITERAL+",
        "IDLE",
    ] {
        assert!(
            before.iter().any(|c| c == name),
            "{name} before login: {before:?}"
        );
    }
    for name in ["LOGINDISABLED", "COMPRESS=DEFLATE"] {
        assert!(
            !before.iter().any(|c| c == name),
            "{name} before login: {before:?}"
        );
    }
    let got = s
        .cmd(
            "b LOGIN alice@example.org secret",
            &["b OK [CAPABILITY IMAP4rev1 IMAP4rev2 *] Logged in"],
        )
        .await;
    let advertised = names(&got[0]);
    let after = capability(&mut s, "c").await;
    assert_eq!(
        advertised, after,
        "the OK's CAPABILITY code is the new list"
    );
    for name in ["STARTTLS", "AUTH=PLAIN", "AUTH=LOGIN", "LOGINDISABLED"] {
        assert!(
            !after.iter().any(|c| c == name),
            "{name} after login: {after:?}"
        );
    }
    for name in [
        "CONDSTORE",
        "ESEARCH",
        "UIDPLUS",
        "MOVE",
        "COMPRESS=DEFLATE",
    ] {
        assert!(
            after.iter().any(|c| c == name),
            "{name} after login: {after:?}"
        );
    }
}

#[tokio::test]
async fn login_accepts_the_right_password_only() {
    let t = Transcript::new().await;
    let mut s = t.session().await;
    s.cmd(
        "a LOGIN alice@example.org wrong",
        &["a NO [AUTHENTICATIONFAILED] Authentication failed"],
    )
    .await;
    s.cmd(
        "b LOGIN nobody@example.org secret",
        &["b NO [AUTHENTICATIONFAILED] Authentication failed"],
    )
    .await;
    s.cmd("c SELECT INBOX", &["c BAD Log in first"]).await;
    s.cmd(
        "d LOGIN \"alice@example.org\" \"secret\"",
        &["d OK [CAPABILITY *] Logged in"],
    )
    .await;
    s.cmd(
        "e LOGIN alice@example.org secret",
        &["e BAD Already logged in"],
    )
    .await;
    s.cmd_contains("f SELECT INBOX", "f OK [READ-WRITE] SELECT completed")
        .await;
}

#[tokio::test]
async fn plaintext_login_is_refused_without_tls_when_configured() {
    let t =
        Transcript::with_config(|c| c.auth.allow_plaintext = config::PlaintextAuth::Never).await;
    let mut s = t.session().await;
    let caps = capability(&mut s, "a").await;
    assert!(caps.iter().any(|c| c == "LOGINDISABLED"), "{caps:?}");
    assert!(!caps.iter().any(|c| c == "AUTH=PLAIN"), "{caps:?}");
    s.cmd(
        "b LOGIN alice@example.org secret",
        &["b NO [PRIVACYREQUIRED] LOGIN is disabled until STARTTLS"],
    )
    .await;
}

#[tokio::test]
async fn any_state_commands_work_before_login() {
    let t = Transcript::new().await;
    let mut s = t.session().await;
    s.cmd("a NOOP", &["a OK NOOP completed"]).await;
    s.cmd(
        "b ID NIL",
        &["* ID (\"name\" \"Postie\")", "b OK ID completed"],
    )
    .await;
    s.cmd("c LIST \"\" *", &["c BAD Log in first"]).await;
}

#[tokio::test]
async fn logout_says_bye_before_the_tagged_ok_then_closes() {
    let t = Transcript::new().await;
    let mut s = t.session().await;
    s.cmd(
        "a LOGOUT",
        &["* BYE Postie logging out", "a OK LOGOUT completed"],
    )
    .await;
    assert_eq!(
        s.closed().await,
        Vec::<String>::new(),
        "nothing after the OK"
    );
}

#[tokio::test]
async fn logout_sends_pending_updates_before_the_bye() {
    let t = with_inbox(&[M1]).await;
    let mut s = super::selected(&t).await;
    t.deliver(ALICE, M1).await;
    s.cmd(
        "a LOGOUT",
        &[
            "* 2 EXISTS",
            "* 2 RECENT",
            "* BYE Postie logging out",
            "a OK LOGOUT completed",
        ],
    )
    .await;
    assert_eq!(s.closed().await, Vec::<String>::new());
}

#[tokio::test]
async fn each_account_sees_its_own_mail() {
    let t = with_inbox(&[M1]).await;
    let mut s = t.session().await;
    s.login(BOB).await;
    s.cmd_contains("a SELECT INBOX", "* 0 EXISTS").await;
}

#[tokio::test]
async fn login_takes_its_arguments_as_literals() {
    let t = Transcript::new().await;
    let mut s = t.session().await;
    s.send_raw(b"a LOGIN {17}\r\n").await;
    assert_eq!(s.continuation().await, "+ Ready for literal data");
    s.send_raw(b"alice@example.org {6}\r\n").await;
    assert_eq!(s.continuation().await, "+ Ready for literal data");
    s.send_raw(b"secret\r\n").await;
    s.finish("a", &["a OK [CAPABILITY *] Logged in"]).await;
}

#[tokio::test]
async fn idle_needs_a_login() {
    let t = Transcript::new().await;
    let mut s = t.session().await;
    s.cmd("a IDLE", &["a BAD Log in first"]).await;
}

/// One SCRAM-SHA-256 exchange as ALICE with `password` on AUTHENTICATE (SASL-IR, a
/// client nonce of RFC 5802 §5's example); returns the tagged reply.
async fn scram(s: &mut Client, tag: &str, password: &str) -> String {
    use base64::Engine;
    use proto::sasl::encode;
    let decode = |c: &str| {
        let text = c.trim_start_matches('+').trim();
        let bytes = base64::engine::general_purpose::STANDARD.decode(text);
        String::from_utf8(bytes.expect("base64 challenge")).expect("text")
    };
    let bare = "n=alice@example.org,r=fyko+d2lbbFgONRv9qkxdawL";
    let first = format!("n,,{bare}");
    let line = format!(
        "{tag} AUTHENTICATE SCRAM-SHA-256 {}\r\n",
        encode(first.as_bytes())
    );
    s.send_raw(line.as_bytes()).await;
    let server_first = decode(&s.continuation().await);
    assert!(
        server_first.starts_with("r=fyko+d2lbbFgONRv9qkxdawL"),
        "{server_first}"
    );
    assert!(server_first.ends_with(",i=4096"), "{server_first}");
    let last = proto::sasl::scram::rfc7677::client_final(password, bare, &server_first, b"n,,")
        .expect("server-first parses");
    s.send_raw(format!("{}\r\n", encode(last.as_bytes())).as_bytes())
        .await;
    let mut reply = s.next_response().await;
    if reply.starts_with('+') {
        // RFC 5802 §5: server-final as the last challenge; an empty answer ends it.
        assert!(decode(&reply).starts_with("v="), "{reply}");
        s.send_raw(b"\r\n").await;
        reply = s.next_response().await;
    }
    while reply.starts_with("* ") {
        reply = s.next_response().await;
    }
    reply
}

#[tokio::test]
async fn scram_keys_come_with_the_next_password_login_then_scram_works() {
    let t = Transcript::new().await;
    let mut s = t.session().await;
    let caps = capability(&mut s, "a").await;
    assert!(caps.iter().any(|c| c == "AUTH=SCRAM-SHA-256"), "{caps:?}");
    assert!(
        !caps.iter().any(|c| c == "AUTH=SCRAM-SHA-256-PLUS"),
        "no TLS 1.3: {caps:?}"
    );
    // Accounts made straight in the store have no SCRAM keys yet: SCRAM fails like a
    // wrong password.
    let got = scram(&mut s, "b", PASSWORD).await;
    assert!(got.starts_with("b NO [AUTHENTICATIONFAILED]"), "{got}");
    // A LOGIN with the password makes them.
    let mut other = t.session().await;
    other.login(ALICE).await;
    let got = scram(&mut s, "c", "wrong").await;
    assert!(got.starts_with("c NO [AUTHENTICATIONFAILED]"), "{got}");
    let got = scram(&mut s, "d", PASSWORD).await;
    assert!(got.starts_with("d OK [CAPABILITY "), "{got}");
    let got = s.cmd_lines("e SELECT INBOX").await;
    assert!(
        got.last().unwrap().starts_with("e OK"),
        "logged in: {got:?}"
    );
}

#[tokio::test]
async fn scram_cancel_and_malformed() {
    let t = Transcript::new().await;
    let mut s = t.session().await;
    s.send_raw(b"a AUTHENTICATE SCRAM-SHA-256\r\n").await;
    assert_eq!(s.continuation().await.trim_end(), "+");
    s.send_raw(b"*\r\n").await;
    let got = s.next_response().await;
    assert!(got.starts_with("a BAD"), "{got}");
    let bad = proto::sasl::encode(b"n,,m=x,n=alice@example.org,r=abc");
    let got = s
        .cmd_lines(&format!("b AUTHENTICATE SCRAM-SHA-256 {bad}"))
        .await;
    assert!(
        got.last()
            .unwrap()
            .starts_with("b NO [AUTHENTICATIONFAILED]"),
        "{got:?}"
    );
    let got = s.cmd_lines("c AUTHENTICATE SCRAM-SHA-256-PLUS").await;
    assert!(
        got.last().unwrap().starts_with("c NO"),
        "no -PLUS without TLS 1.3: {got:?}"
    );
}
