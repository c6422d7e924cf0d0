//! Session transcripts for REQUIRETLS (RFC 8689 §4.1), the receiving half: offered
//! and accepted only over TLS, on every listener; a second keyword or a value is a
//! syntax error; the flag reaches the envelope the driver queues.

use super::tests::T;
use super::*;

/// An MX session after STARTTLS and a new EHLO, returning that EHLO's reply.
fn mx_over_tls() -> (T, String) {
    let mut t = T::mx();
    t.cmd("EHLO c.example", "250");
    t.cmd("STARTTLS", "220 2.0.0");
    t.tls();
    let ehlo = t.cmd("EHLO c.example", "250");
    (t, ehlo)
}

#[test]
fn ehlo_offers_requiretls_only_over_tls() {
    let mut t = T::mx();
    let clear = t.cmd("EHLO c.example", "250");
    assert!(!clear.contains("REQUIRETLS"), "{clear}");
    let (_, tls) = mx_over_tls();
    assert!(tls.contains("250-REQUIRETLS\r\n"), "{tls}");

    // Implicit TLS (submissions, RFC 8314) offers it from the first EHLO.
    let mut policy = Policy::submission("h");
    policy.tls_active = true;
    let mut t = T::new(policy);
    let ehlo = t.cmd("EHLO c.example", "250");
    assert!(ehlo.contains("250-REQUIRETLS\r\n"), "{ehlo}");
}

#[test]
fn mail_with_requiretls_over_tls_is_queued_with_the_flag() {
    let (mut t, _) = mx_over_tls();
    t.cmd("MAIL FROM:<a@b.example> REQUIRETLS", "250 2.1.0");
    t.cmd("RCPT TO:<alice@example.org>", "250");
    t.cmd("DATA", "354");
    t.cmd("Subject: x\r\n\r\nhi\r\n.", "250");
    assert!(t.messages[0].envelope.require_tls);

    // Without the parameter, the next message does not carry it.
    t.cmd("MAIL FROM:<a@b.example> SMTPUTF8", "250 2.1.0");
    t.cmd("RCPT TO:<alice@example.org>", "250");
    t.cmd("BDAT 6 LAST", "");
    t.cmd("hi\r\n", "250");
    assert!(!t.messages[1].envelope.require_tls);
}

#[test]
fn mail_with_requiretls_in_clear_is_refused() {
    let mut t = T::mx();
    t.cmd("EHLO c.example", "250");
    t.cmd(
        "MAIL FROM:<a@b.example> REQUIRETLS",
        "530 5.7.10 REQUIRETLS needs TLS",
    );
    // No transaction started: MAIL is possible again.
    t.cmd("MAIL FROM:<a@b.example>", "250 2.1.0");

    // Submission with plain-text AUTH allowed in clear: still refused.
    let mut policy = Policy::submission("h");
    policy.plaintext_auth = true;
    let mut t = T::new(policy);
    t.cmd("EHLO c.example", "250");
    t.login();
    t.cmd("MAIL FROM:<alice@example.org> requiretls", "530 5.7.10");
}

#[test]
fn requiretls_twice_or_with_a_value_is_a_syntax_error() {
    let (mut t, _) = mx_over_tls();
    t.cmd(
        "MAIL FROM:<a@b.example> REQUIRETLS requiretls",
        "501 5.5.4 Syntax: REQUIRETLS given twice",
    );
    t.cmd(
        "MAIL FROM:<a@b.example> REQUIRETLS=YES",
        "501 5.5.4 Syntax: REQUIRETLS takes no value",
    );
    // After HELO (no extensions) no parameter is allowed at all.
    t.cmd("HELO c.example", "250");
    t.cmd("MAIL FROM:<a@b.example> REQUIRETLS", "555 5.5.4");
    // An address that merely contains the word is not the parameter.
    t.cmd("EHLO c.example", "250");
    t.cmd("MAIL FROM:<requiretls@b.example> REQUIRETLS", "250 2.1.0");
}
