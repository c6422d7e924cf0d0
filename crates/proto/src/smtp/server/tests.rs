//! Session transcripts: the SMTP rules checked without sockets.

use super::*;
use crate::testing::XorShift;

/// A session with a fake directory: `example.org` is local with users alice and jösé,
/// everything else is remote; alice's password is `secret`.
pub(super) struct T {
    pub(super) s: Session,
    pub(super) messages: Vec<Got>,
    started_tls: bool,
    closed: bool,
}

/// A message the session handed over, with its body read back from the spool.
#[derive(Debug)]
pub(super) struct Got {
    accepted: Accepted,
    body: Vec<u8>,
}

impl Got {
    fn new(mut accepted: Accepted) -> Self {
        let spool = std::mem::replace(&mut accepted.body, Body::new(Box::<MemorySpool>::default()));
        Got {
            accepted,
            body: spool.into_bytes().expect("memory spool"),
        }
    }
}

impl std::ops::Deref for Got {
    type Target = Accepted;
    fn deref(&self) -> &Accepted {
        &self.accepted
    }
}

impl PartialEq for Got {
    fn eq(&self, other: &Self) -> bool {
        let key = |g: &Got| {
            (
                g.body.clone(),
                g.envelope.clone(),
                g.helo.clone(),
                g.esmtp,
                g.tls,
                g.authenticated_as.clone(),
            )
        };
        key(self) == key(other)
    }
}

impl T {
    pub(super) fn new(policy: Policy) -> Self {
        T {
            s: Session::new(policy),
            messages: vec![],
            started_tls: false,
            closed: false,
        }
    }

    pub(super) fn mx() -> Self {
        Self::new(Policy::mx("mx.example.org"))
    }

    /// Feeds raw bytes, answering every query; returns the wire text of all replies.
    pub(super) fn raw(&mut self, bytes: &[u8]) -> String {
        let mut pending = self.s.feed(Input::Bytes(bytes));
        let mut wire = Vec::new();
        while !pending.is_empty() {
            let mut next = Vec::new();
            for o in pending {
                match o {
                    Output::Reply(r) => r.write_to(&mut wire),
                    Output::StartTls => self.started_tls = true,
                    Output::Close => self.closed = true,
                    Output::Query(Query::Login { username, password }) => {
                        let ok = username == "alice@example.org" && password == "secret";
                        next.extend(self.s.feed(Input::Answer(Answer::Login(ok))));
                    }
                    Output::Query(Query::ScramKeys { username }) => {
                        // `user` has the password `pencil` (RFC 7677 §3); others none.
                        let mut keys = crate::sasl::scram::rfc7677::keys("pencil");
                        if username != "user" {
                            keys.credentials.clear();
                        }
                        next.extend(self.s.feed(Input::Answer(Answer::ScramKeys(keys))));
                    }
                    Output::Query(Query::ScramLogin { matched, .. }) => {
                        let ok = matched.is_some();
                        next.extend(self.s.feed(Input::Answer(Answer::Login(ok))));
                    }
                    Output::Query(Query::Recipient(a)) => {
                        let v = match (a.domain().as_str(), a.local().to_lowercase().as_str()) {
                            ("example.org", "alice" | "jösé") => RecipientVerdict::Local,
                            ("example.org", "full") => RecipientVerdict::MailboxFull,
                            ("mx.example.org", "postmaster") => RecipientVerdict::Local,
                            ("example.org", _) => RecipientVerdict::Unknown,
                            ("broken.example", _) => RecipientVerdict::TempFail,
                            _ => RecipientVerdict::Remote,
                        };
                        let answer = if a.local() == "limited" {
                            // The driver's hourly limit, faked.
                            Answer::Refuse(Reply::too_many_recipients_per_hour())
                        } else {
                            Answer::Recipient(v)
                        };
                        next.extend(self.s.feed(Input::Answer(answer)));
                    }
                    Output::Query(Query::Sender(sender)) => {
                        // The driver's sender check, faked: nobody may send as mallory.
                        let answer = match sender {
                            Some(a) if a.local() == "mallory" => {
                                Answer::Refuse(Reply::sender_not_owned(&a.to_string()))
                            }
                            _ => Answer::SenderOk,
                        };
                        next.extend(self.s.feed(Input::Answer(answer)));
                    }
                    Output::Message(m) => {
                        self.messages.push(Got::new(*m));
                        let reply = Reply::new(250, (2, 0, 0), "Ok: queued as 0000000000000001");
                        next.extend(self.s.feed(Input::Answer(Answer::MessageResult(reply))));
                    }
                }
            }
            pending = next;
        }
        String::from_utf8(wire).unwrap()
    }

    /// Sends one command line and checks the last reply line starts with `want`.
    pub(super) fn cmd(&mut self, line: &str, want: &str) -> String {
        let got = self.raw(format!("{line}\r\n").as_bytes());
        let last = got.trim_end().lines().last().unwrap_or("");
        assert!(
            last.starts_with(want),
            "{line:?}: wanted {want:?}, got {got:?}"
        );
        got
    }

    pub(super) fn tls(&mut self) {
        assert!(self.started_tls);
        let out = self.s.feed(Input::TlsStarted);
        assert!(out.is_empty());
    }

    pub(super) fn login(&mut self) {
        self.cmd(
            "AUTH PLAIN AGFsaWNlQGV4YW1wbGUub3JnAHNlY3JldA==",
            "235 2.7.0",
        );
    }
}

#[test]
fn greeting_and_ehlo_advertise_what_works() {
    let t = T::mx();
    assert_eq!(
        t.s.greeting().to_wire(),
        b"220 mx.example.org ESMTP Postie\r\n"
    );
    let mut t = T::mx();
    let ehlo = t.cmd("EHLO client.example", "250 HELP");
    for ext in [
        "PIPELINING",
        "SIZE 26214400",
        "8BITMIME",
        "SMTPUTF8",
        "CHUNKING",
        "ENHANCEDSTATUSCODES",
        "DSN",
        "STARTTLS",
    ] {
        assert!(ehlo.contains(&format!("250-{ext}\r\n")), "{ext} in {ehlo}");
    }
    // No AUTH in clear text unless the policy allows it.
    assert!(!ehlo.contains("AUTH"));
    t.cmd("HELO client.example", "250 mx.example.org");
}

#[test]
fn local_delivery_transaction() {
    let mut t = T::mx();
    t.cmd("EHLO c", "250");
    t.cmd("MAIL FROM:<bob@remote.example>", "250 2.1.0");
    t.cmd("RCPT TO:<alice@example.org>", "250 2.1.5");
    t.cmd("RCPT TO:<Alice@EXAMPLE.org>", "250 2.1.5");
    t.cmd("DATA", "354");
    t.raw(b"Subject: hi\r\n\r\n..dot\r\nbody\r\n");
    assert!(t.messages.is_empty());
    t.cmd(".", "250 2.0.0 Ok: queued as");
    assert_eq!(t.messages.len(), 1);
    let m = &t.messages[0];
    assert_eq!(m.body, b"Subject: hi\r\n\r\n.dot\r\nbody\r\n");
    assert_eq!(
        m.envelope.recipients.len(),
        1,
        "duplicate recipient kept once"
    );
    assert_eq!(
        m.envelope.sender.as_ref().unwrap().to_string(),
        "bob@remote.example"
    );
    assert_eq!(m.protocol(), "ESMTP");
    // A second transaction on the same connection.
    t.cmd("MAIL FROM:<>", "250");
    t.cmd("RCPT TO:<alice@example.org>", "250");
    t.cmd("DATA", "354");
    t.cmd("x\r\n.", "250");
    assert_eq!(t.messages.len(), 2);
    assert!(t.messages[1].envelope.sender.is_none());
    t.cmd("QUIT", "221 2.0.0");
    assert!(t.closed);
}

#[test]
fn dsn_parameters_are_kept_per_recipient() {
    use message::dsn::{Notify, Ret};
    let mut t = T::mx();
    t.cmd("EHLO c", "250");
    t.cmd(
        "MAIL FROM:<bob@remote.example> RET=HDRS ENVID=QQ+2B314",
        "250 2.1.0",
    );
    t.cmd(
        "RCPT TO:<alice@example.org> NOTIFY=SUCCESS,DELAY ORCPT=rfc822;Alice+2Bx@example.org",
        "250 2.1.5",
    );
    t.cmd("RCPT TO:<jösé@example.org> NOTIFY=NEVER", "553"); // UTF-8 needs SMTPUTF8
    t.cmd(
        "RCPT TO:<alice@example.org> NOTIFY=NEVER,SUCCESS",
        "555 5.5.4",
    );
    t.cmd("RCPT TO:<alice2@example.org> NOTIFY=NEVER", "550 5.1.1");
    t.cmd("RCPT TO:<carol@remote.example> NOTIFY=NEVER", "550 5.7.1");
    t.cmd("DATA", "354");
    t.cmd("x\r\n.", "250");
    let m = &t.messages[0];
    assert_eq!(m.envelope.dsn.ret, Some(Ret::Headers));
    assert_eq!(m.envelope.dsn.envid.as_deref(), Some("QQ+314"));
    assert_eq!(m.envelope.dsn.recipients.len(), 1);
    let alice = m.envelope.dsn.recipient(0);
    assert_eq!(
        alice.notify,
        Notify {
            success: true,
            failure: false,
            delay: true,
            explicit: true
        }
    );
    assert_eq!(alice.orcpt.as_deref(), Some("rfc822;Alice+2Bx@example.org"));

    // Without parameters: the defaults, and RET=FULL with RET=HDRS is refused.
    t.cmd("MAIL FROM:<> RET=FULL RET=HDRS", "555 5.5.4");
    t.cmd("MAIL FROM:<> RET=FULL", "250");
    t.cmd("RCPT TO:<alice@example.org>", "250");
    t.cmd("DATA", "354");
    t.cmd("x\r\n.", "250");
    let m = &t.messages[1];
    assert_eq!(m.envelope.dsn.ret, Some(Ret::Full));
    assert_eq!(m.envelope.dsn.recipient(0), Default::default());
    // Parameters belong to ESMTP only.
    t.cmd("HELO c", "250");
    t.cmd("MAIL FROM:<> RET=FULL", "555 5.5.4");
}

#[test]
fn postmaster_without_a_domain_is_this_host() {
    let mut t = T::mx();
    t.cmd("EHLO c", "250");
    t.cmd("MAIL FROM:<a@b.example>", "250");
    t.cmd("RCPT TO:<Postmaster>", "250 2.1.5");
    t.cmd("DATA", "354");
    t.cmd("x\r\n.", "250");
    assert_eq!(
        t.messages[0].envelope.recipients[0].to_string(),
        "Postmaster@mx.example.org"
    );
}

#[test]
fn sequence_errors() {
    let mut t = T::mx();
    t.cmd("MAIL FROM:<a@b.example>", "503 5.5.1");
    t.cmd("EHLO c", "250");
    t.cmd("RCPT TO:<alice@example.org>", "503 5.5.1");
    t.cmd("DATA", "503 5.5.1");
    t.cmd("MAIL FROM:<a@b.example>", "250");
    t.cmd("MAIL FROM:<a@b.example>", "503 5.5.1");
    t.cmd("DATA", "503 5.5.1");
    t.cmd("RSET", "250 2.0.0");
    t.cmd("RCPT TO:<alice@example.org>", "503 5.5.1");
    t.cmd("BOGUS", "500 5.5.");
    t.cmd("NOOP", "250 2.0.0");
    t.cmd("VRFY alice", "252 2.5.2");
    t.cmd("EXPN list", "502 5.5.1");
    t.cmd("HELP", "214 2.0.0");
}

#[test]
fn relay_rules_and_unknown_users() {
    let mut t = T::mx();
    t.cmd("EHLO c", "250");
    t.cmd("MAIL FROM:<a@b.example>", "250");
    t.cmd("RCPT TO:<x@elsewhere.example>", "550 5.7.1");
    t.cmd("RCPT TO:<nobody@example.org>", "550 5.1.1");
    t.cmd("RCPT TO:<a@broken.example>", "451 4.3.0");
    t.cmd("RCPT TO:<full@example.org>", "452 4.2.2");
    t.cmd("RCPT TO:<not an address>", "5");
    t.cmd("RCPT TO:<alice@example.org>", "250");
}

#[test]
fn submission_requires_auth_and_relays_after_it() {
    let mut p = Policy::submission("mx.example.org");
    p.plaintext_auth = true;
    let mut t = T::new(p);
    let ehlo = t.cmd("EHLO c", "250");
    assert!(ehlo.contains("250-AUTH PLAIN LOGIN SCRAM-SHA-256\r\n"));
    t.cmd("MAIL FROM:<alice@example.org>", "530 5.7.0");
    t.login();
    let ehlo = t.cmd("EHLO c", "250");
    assert!(!ehlo.contains("AUTH"), "no AUTH after login");
    t.cmd("MAIL FROM:<alice@example.org>", "250");
    t.cmd("RCPT TO:<x@elsewhere.example>", "250 2.1.5");
    t.cmd("DATA", "354");
    t.cmd("hi\r\n.", "250");
    assert_eq!(
        t.messages[0].authenticated_as.as_deref(),
        Some("alice@example.org")
    );
    assert_eq!(t.messages[0].protocol(), "ESMTPA");
}

#[test]
fn auth_exchanges() {
    let mut p = Policy::submission("h");
    p.plaintext_auth = true;
    let mut t = T::new(p.clone());
    t.cmd("EHLO c", "250");
    // PLAIN without initial response.
    t.cmd("AUTH PLAIN", "334");
    t.cmd("AGFsaWNlQGV4YW1wbGUub3JnAHdyb25n", "535 5.7.8");
    t.cmd("AUTH PLAIN", "334");
    t.cmd("*", "501 5.0.0");
    t.cmd("AUTH PLAIN", "334");
    t.cmd("not base64!", "501 5.5.2");
    t.cmd("AUTH CRAM-MD5", "504 5.5.4");
    // LOGIN with the exact prompts RFC-style clients expect.
    let got = t.cmd("AUTH LOGIN", "334 VXNlcm5hbWU6");
    assert_eq!(got, "334 VXNlcm5hbWU6\r\n");
    t.cmd("YWxpY2VAZXhhbXBsZS5vcmc=", "334 UGFzc3dvcmQ6");
    t.cmd("c2VjcmV0", "235 2.7.0");
    t.cmd(
        "AUTH PLAIN AGFsaWNlQGV4YW1wbGUub3JnAHNlY3JldA==",
        "503 5.5.1",
    );

    // LOGIN with the user name as initial response.
    let mut t = T::new(p.clone());
    t.cmd("EHLO c", "250");
    t.cmd("AUTH LOGIN YWxpY2VAZXhhbXBsZS5vcmc=", "334 UGFzc3dvcmQ6");
    t.cmd("c2VjcmV0", "235");

    // Three wrong passwords close the connection.
    let mut t = T::new(p);
    t.cmd("EHLO c", "250");
    t.cmd("AUTH PLAIN AGFsaWNlQGV4YW1wbGUub3JnAHg=", "535 5.7.8");
    t.cmd("AUTH PLAIN AGFsaWNlQGV4YW1wbGUub3JnAHg=", "535 5.7.8");
    t.cmd("AUTH PLAIN AGFsaWNlQGV4YW1wbGUub3JnAHg=", "421 4.7.0");
    assert!(t.closed);
}

#[test]
fn auth_scram_sha_256() {
    use crate::sasl::encode;
    use crate::sasl::scram::rfc7677 as v;
    let mut p = Policy::submission("h");
    p.plaintext_auth = true;
    let mut t = T::new(p.clone());
    t.cmd("EHLO c", "250");
    // RFC 4954 §4: the initial response, then 334 challenges.
    let first = t.cmd(
        &format!("AUTH SCRAM-SHA-256 {}", encode(v::CLIENT_FIRST.as_bytes())),
        "334 ",
    );
    assert_eq!(
        first,
        format!("334 {}\r\n", encode(v::SERVER_FIRST.as_bytes()))
    );
    let last = t.cmd(&encode(v::CLIENT_FINAL.as_bytes()), "334 ");
    assert_eq!(
        last,
        format!("334 {}\r\n", encode(v::SERVER_FINAL.as_bytes()))
    );
    t.cmd("", "235 2.7.0");
    t.cmd("MAIL FROM:<user@example.org>", "250");

    // Without an initial response: an empty challenge first.
    let mut t = T::new(p.clone());
    t.cmd("EHLO c", "250");
    assert_eq!(t.cmd("AUTH SCRAM-SHA-256", "334"), "334 \r\n");
    t.cmd(&encode(v::CLIENT_FIRST.as_bytes()), "334 ");
    // A wrong proof: 535, no server-final.
    let bad = v::CLIENT_FINAL.replace("p=dHzb", "p=dHzc");
    t.cmd(&encode(bad.as_bytes()), "535 5.7.8");
    // Cancel at any step.
    t.cmd(
        &format!("AUTH SCRAM-SHA-256 {}", encode(v::CLIENT_FIRST.as_bytes())),
        "334 ",
    );
    t.cmd("*", "501 5.0.0");
    // Malformed and oversized client-first, bad base64.
    t.cmd(
        &format!("AUTH SCRAM-SHA-256 {}", encode(b"x,,n=user")),
        "535 5.7.8",
    );
    t.cmd("AUTH SCRAM-SHA-256 !!!", "501 5.5.2");
    // -PLUS is not offered without a channel binding.
    t.cmd("AUTH SCRAM-SHA-256-PLUS", "504 5.5.4");
    t.cmd("MAIL FROM:<user@example.org>", "530 5.7.0");
}

#[test]
fn scram_plus_is_offered_with_a_tls_exporter_only() {
    let mut t = T::new(Policy::submission("h"));
    t.cmd("STARTTLS", "220");
    t.tls();
    let ehlo = t.cmd("EHLO c", "250");
    assert!(
        ehlo.contains("AUTH PLAIN LOGIN SCRAM-SHA-256\r\n"),
        "{ehlo}"
    );
    t.s.set_tls_exporter(Some([9; 32]));
    let ehlo = t.cmd("EHLO c", "250");
    assert!(
        ehlo.contains("AUTH PLAIN LOGIN SCRAM-SHA-256 SCRAM-SHA-256-PLUS\r\n"),
        "{ehlo}"
    );
    // The downgrade (gs2 `y` while -PLUS is offered) fails (RFC 5802 §6).
    let y = crate::sasl::encode(b"y,,n=user,r=abc");
    t.cmd(&format!("AUTH SCRAM-SHA-256 {y}"), "535 5.7.8");
    let p = crate::sasl::encode(b"p=tls-exporter,,n=user,r=abc");
    t.cmd(&format!("AUTH SCRAM-SHA-256-PLUS {p}"), "334 ");
}

#[test]
fn no_scram_when_turned_off() {
    let mut p = Policy::submission("h");
    p.plaintext_auth = true;
    let mut t = T::new(p);
    t.s.set_scram(false);
    let ehlo = t.cmd("EHLO c", "250");
    assert!(ehlo.contains("250-AUTH PLAIN LOGIN\r\n"), "{ehlo}");
    t.cmd("AUTH SCRAM-SHA-256", "504 5.5.4");
}

#[test]
fn no_auth_in_clear_text_without_policy() {
    let mut t = T::new(Policy::submission("h"));
    t.cmd("EHLO c", "250");
    t.cmd(
        "AUTH PLAIN AGFsaWNlQGV4YW1wbGUub3JnAHNlY3JldA==",
        "538 5.7.11",
    );
    t.cmd("STARTTLS", "220 2.0.0");
    t.tls();
    let ehlo = t.cmd("EHLO c", "250");
    assert!(ehlo.contains("AUTH PLAIN LOGIN"));
    assert!(!ehlo.contains("STARTTLS"));
    t.login();
    t.cmd("STARTTLS", "503 5.5.1");
}

#[test]
fn starttls_discards_pipelined_plaintext() {
    let mut t = T::mx();
    t.cmd("EHLO c", "250");
    let got = t.raw(b"STARTTLS\r\nRSET\r\nMAIL FROM:<evil@x.example>\r\n");
    assert_eq!(got, "220 2.0.0 Ready to start TLS\r\n");
    t.tls();
    // State is reset: EHLO is needed again, and the injected MAIL did not happen.
    t.cmd("MAIL FROM:<a@b.example>", "503 5.5.1");
    t.cmd("EHLO c", "250");
    t.cmd("MAIL FROM:<a@b.example>", "250");
}

#[test]
fn pipelined_commands_answer_in_order() {
    let mut t = T::mx();
    let got = t.raw(
        b"EHLO c\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<alice@example.org>\r\nRCPT TO:<zz@example.org>\r\nDATA\r\nhello\r\n.\r\nQUIT\r\n",
    );
    let codes: Vec<&str> = got
        .lines()
        .filter(|l| !l.starts_with("250-"))
        .map(|l| &l[..3])
        .collect();
    assert_eq!(codes, ["250", "250", "250", "550", "354", "250", "221"]);
    assert_eq!(t.messages.len(), 1);
}

#[test]
fn smuggling_is_refused_and_never_becomes_a_message() {
    for attack in [
        &b"a\n.\nMAIL FROM:<e@x.example>\nRCPT TO:<alice@example.org>\nDATA\nsmuggled\n.\n"[..],
        &b"a\r\n.\nMAIL FROM:<e@x.example>\r\nRCPT TO:<alice@example.org>\r\nDATA\r\nsmuggled\r\n"
            [..],
        &b"a\n.\r\nMAIL FROM:<e@x.example>\r\nRCPT TO:<alice@example.org>\r\nDATA\r\nsmuggled\r\n"
            [..],
        &b"a\r.\rMAIL FROM:<e@x.example>\r\n"[..],
    ] {
        let mut t = T::mx();
        t.cmd("EHLO c", "250");
        t.cmd("MAIL FROM:<a@b.example>", "250");
        t.cmd("RCPT TO:<alice@example.org>", "250");
        t.cmd("DATA", "354");
        assert_eq!(t.raw(attack), "", "nothing ends the data early");
        t.cmd("\r\n.", "554 5.6.0");
        assert!(t.messages.is_empty());
        t.cmd("NOOP", "250");
    }
}

#[test]
fn data_limits() {
    let mut p = Policy::mx("h");
    p.max_message_size = 2000;
    let mut t = T::new(p);
    t.cmd("EHLO c", "250 HELP");
    t.cmd("MAIL FROM:<a@b.example> SIZE=5000", "552 5.3.4");
    for (body, want) in [
        ("x".repeat(3000), "552 5.3.4"),
        (format!("{}\r\n", "y".repeat(1001)), "554 5.6.0"),
        ("nul\0here\r\n".to_string(), "554 5.6.0"),
    ] {
        t.cmd("MAIL FROM:<a@b.example> SIZE=100", "250");
        t.cmd("RCPT TO:<alice@example.org>", "250");
        t.cmd("DATA", "354");
        t.raw(body.as_bytes());
        t.cmd("\r\n.", want);
    }
    assert!(t.messages.is_empty());
}

#[test]
fn long_command_lines_and_error_limit() {
    let mut t = T::mx();
    t.cmd(&format!("EHLO {}", "a".repeat(600)), "500 5.5.2");
    t.cmd("EHLO c", "250");
    // A long line arriving in pieces is refused once and skipped to its end.
    assert_eq!(t.raw(&[b'x'; 400]), "");
    assert_eq!(t.raw(&[b'x'; 400]), "500 5.5.2 Line too long\r\n");
    assert_eq!(t.raw(b"xxx\r\n"), "");
    t.cmd("NOOP", "250");
    for _ in 0..7 {
        t.cmd("BOGUS", "500");
    }
    t.cmd("BOGUS", "421 4.7.0");
    assert!(t.closed);
}

#[test]
fn recipient_limit() {
    let mut p = Policy::mx("h");
    p.max_recipients = 1;
    let mut t = T::new(p);
    t.cmd("EHLO c", "250");
    t.cmd("MAIL FROM:<a@b.example>", "250");
    t.cmd("RCPT TO:<alice@example.org>", "250");
    t.cmd("RCPT TO:<jösé@example.org>", "553 5.6.7");
    t.cmd("RSET", "250");
    t.cmd("MAIL FROM:<a@b.example> SMTPUTF8", "250");
    t.cmd("RCPT TO:<alice@example.org>", "250");
    t.cmd("RCPT TO:<jösé@example.org>", "452 4.5.3");
}

#[test]
fn smtputf8_and_8bitmime() {
    let mut t = T::mx();
    t.cmd("EHLO c", "250");
    t.cmd("MAIL FROM:<jösé@example.org> BODY=8BITMIME SMTPUTF8", "250");
    t.cmd("RCPT TO:<jösé@example.org>", "250");
    t.cmd("DATA", "354");
    t.cmd("Subject: caf\u{e9}\r\n\r\n\u{fc}\r\n.", "250");
    let m = &t.messages[0];
    assert!(m.envelope.smtputf8);
    assert_eq!(m.envelope.body_type, message::BodyType::EightBitMime);
    assert_eq!(m.protocol(), "UTF8SMTP");
    // HELO clients may not use parameters.
    t.cmd("HELO c", "250");
    t.cmd("MAIL FROM:<a@b.example> BODY=8BITMIME", "555 5.5.4");
}

#[test]
fn bdat_chunks() {
    let mut t = T::mx();
    t.cmd("EHLO c", "250");
    t.cmd("MAIL FROM:<a@b.example> BODY=BINARYMIME", "250");
    t.cmd("RCPT TO:<alice@example.org>", "250");
    t.cmd("DATA", "503 5.5.1");
    let got = t.raw(b"BDAT 5\r\nab\r\ncBDAT 3 LAST\r\n\0\n.");
    assert_eq!(
        got,
        "250 2.0.0 5 octets received\r\n250 2.0.0 Ok: queued as 0000000000000001\r\n"
    );
    assert_eq!(t.messages[0].body, b"ab\r\nc\0\n.");
    // BDAT without a transaction still consumes its chunk.
    assert_eq!(
        t.raw(b"BDAT 6 LAST\r\nQUIT\r\n"),
        "503 5.5.1 Need MAIL command first\r\n"
    );
    t.cmd("MAIL FROM:<a@b.example>", "250");
    t.cmd("RCPT TO:<alice@example.org>", "250");
    t.cmd("BDAT 0 LAST", "250 2.0.0 Ok");
    assert_eq!(t.messages[1].body, b"");
}

#[test]
fn timeout_and_shutdown() {
    let mut t = T::mx();
    t.cmd("EHLO c", "250");
    let out = t.s.feed(Input::Timeout);
    assert!(
        matches!(&out[..], [Output::Reply(r), Output::Close] if *r == Reply::timeout()),
        "{out:?}"
    );
    let mut t = T::mx();
    t.cmd("EHLO c", "250");
    t.cmd("MAIL FROM:<a@b.example>", "250");
    t.cmd("RCPT TO:<alice@example.org>", "250");
    t.cmd("DATA", "354");
    // Shutdown waits for the message in progress, then closes.
    assert!(t.s.feed(Input::Shutdown).is_empty());
    let got = t.cmd("x\r\n.", "421 4.3.2");
    assert!(got.starts_with("250 2.0.0 Ok: queued"), "{got}");
    assert!(t.closed);
}

/// The same transcript fed in chunks of every size gives the same replies.
#[test]
fn chunk_boundaries_do_not_matter() {
    let script: &[u8] = b"EHLO c\r\nMAIL FROM:<a@b.example> SIZE=20\r\nRCPT TO:<alice@example.org>\r\nDATA\r\nline\r\n..dot\r\n.\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<alice@example.org>\r\nBDAT 4 LAST\r\nabcdNOOP\r\nQUIT\r\n";
    let whole = {
        let mut t = T::mx();
        let r = t.raw(script);
        (r, t.messages)
    };
    for size in [1, 2, 3, 4, 8, 16, 32, 64, 128, 256, 512] {
        let mut t = T::mx();
        let mut replies = String::new();
        for chunk in script.chunks(size) {
            replies.push_str(&t.raw(chunk));
        }
        assert_eq!(replies, whole.0, "chunk size {size}");
        assert_eq!(t.messages, whole.1, "chunk size {size}");
    }
    assert_eq!(whole.1.len(), 2);
}

/// Random mixes of real commands, junk and odd line endings, cut at random places, never
/// panic, and every reply is a well-formed SMTP reply line.
#[test]
fn random_input_never_panics() {
    const PIECES: &[&[u8]] = &[
        b"EHLO c\r\n",
        b"HELO c\r\n",
        b"MAIL FROM:<a@b.example>\r\n",
        b"MAIL FROM:<> BODY=BINARYMIME SMTPUTF8\r\n",
        b"RCPT TO:<alice@example.org>\r\n",
        b"RCPT TO:<x@y.example>\r\n",
        b"DATA\r\n",
        b"BDAT 3\r\n",
        b"BDAT 2 LAST\r\n",
        b".\r\n",
        b"\r\n.\r\n",
        b"\n",
        b"\r",
        b"\0",
        b"AUTH PLAIN\r\n",
        b"AUTH LOGIN\r\n",
        b"*\r\n",
        b"STARTTLS\r\n",
        b"RSET\r\n",
        b"NOOP\r\n",
        b"VRFY x\r\n",
        b"QUIT\r\n",
        b"\xff\xfe",
        b"x",
        b"MAIL FROM:<\xc3\xa9@b.example> SIZE=99999999999999999999\r\n",
    ];
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    for _ in 0..300 {
        let mut input = Vec::new();
        for _ in 0..rng.below(40) {
            if rng.below(5) == 0 {
                let n = rng.below(700);
                input.extend((0..n).map(|_| rng.next() as u8));
            } else {
                input.extend_from_slice(PIECES[rng.below(PIECES.len())]);
            }
        }
        let mut p = Policy::submission("h");
        p.plaintext_auth = rng.below(2) == 0;
        p.max_recipients = 1 + rng.below(3);
        let mut t = T::new(p);
        let mut rest = &input[..];
        while !rest.is_empty() && !t.closed {
            let n = (1 + rng.below(64)).min(rest.len());
            let replies = t.raw(&rest[..n]);
            for line in replies.lines() {
                let code = line.get(..3).and_then(|c| c.parse::<u16>().ok());
                assert!(matches!(code, Some(200..=599)), "bad reply line {line:?}");
            }
            if t.started_tls {
                t.s.feed(Input::TlsStarted);
                t.started_tls = false;
            }
            rest = &rest[n..];
        }
    }
}

#[test]
fn the_driver_can_refuse_a_sender_and_the_transaction_does_not_start() {
    let mut t = T::mx();
    t.cmd("EHLO client.example", "250");
    t.cmd("MAIL FROM:<mallory@example.org>", "550 5.7.1");
    t.cmd("RCPT TO:<alice@example.org>", "503 5.5.1");
    t.cmd("MAIL FROM:<bob@example.org>", "250 2.1.0");
    t.cmd("RCPT TO:<limited@example.org>", "451 4.7.1");
    t.cmd("RCPT TO:<alice@example.org>", "250");
    t.cmd("DATA", "354");
    t.cmd("Subject: x\r\n\r\nhi\r\n.", "250");
    assert_eq!(t.messages.len(), 1);
    assert_eq!(t.messages[0].envelope.recipients.len(), 1);
    // Pipelined: the refusal and the commands after it are answered in order.
    let got = t.raw(b"MAIL FROM:<mallory@example.org>\r\nRCPT TO:<alice@example.org>\r\nNOOP\r\n");
    let codes: Vec<&str> = got.lines().map(|l| &l[..3]).collect();
    assert_eq!(codes, ["550", "503", "250"], "{got}");
}

#[test]
fn a_refused_greeting_answers_503_until_quit() {
    let mut t = T::mx();
    t.s.refuse(Reply::dnsbl_listed([192, 0, 2, 1].into(), "zen.example"));
    let greeting = t.s.greeting().to_string();
    assert_eq!(
        greeting,
        "554 5.7.1 Service unavailable; client [192.0.2.1] listed by zen.example"
    );
    t.cmd("EHLO client.example", "503 5.5.1");
    t.cmd("MAIL FROM:<bob@example.org>", "503 5.5.1");
    t.cmd("NOOP", "503 5.5.1");
    assert!(!t.closed);
    t.cmd("QUIT", "221");
    assert!(t.closed);
}

#[test]
fn a_login_refusal_from_the_driver_is_not_a_failure() {
    let mut s = Session::new(Policy {
        plaintext_auth: true,
        max_auth_failures: 1,
        ..Policy::submission("mx.example.org")
    });
    let feed = |s: &mut Session, line: &str| s.feed(Input::Bytes(format!("{line}\r\n").as_bytes()));
    feed(&mut s, "EHLO client.example");
    let out = feed(&mut s, "AUTH PLAIN AGFsaWNlQGV4YW1wbGUub3JnAHNlY3JldA==");
    assert!(matches!(out[..], [Output::Query(Query::Login { .. })]));
    let out = s.feed(Input::Answer(Answer::Refuse(Reply::auth_locked())));
    assert!(
        matches!(&out[..], [Output::Reply(r)] if *r == Reply::auth_locked()),
        "{out:?}"
    );
    assert_eq!(Reply::auth_locked().to_string()[..9], *"454 4.7.0");
    // Still open, and one real failure is allowed (max_auth_failures = 1 closes on it).
    let out = feed(&mut s, "AUTH PLAIN AGFsaWNlQGV4YW1wbGUub3JnAHNlY3JldA==");
    assert!(matches!(out[..], [Output::Query(Query::Login { .. })]));
    let out = s.feed(Input::Answer(Answer::Login(false)));
    assert!(out.iter().any(|o| matches!(o, Output::Close)));
}

/// BDAT bodies get DATA's line rules (issue: a bare CR or LF in BDAT was relayed on as
/// `\r.\r\n`, the SMTP smuggling shape), with the same replies; BINARYMIME is exempt.
#[test]
fn bdat_bodies_get_the_data_line_rules() {
    let cases: [(&[u8], &str); 4] = [
        (
            b"BDAT 8 LAST\r\na\nb\r\nc\r\n",
            "554 5.6.0 Message rejected: bare CR",
        ),
        (
            b"BDAT 8 LAST\r\na\r.\r\nc\r\n",
            "554 5.6.0 Message rejected: bare CR",
        ),
        (
            b"BDAT 7 LAST\r\na\0b\r\n\r\n",
            "554 5.6.0 Message rejected: NUL",
        ),
        // A CR at the end of one chunk and LF at the start of the next is a CRLF.
        (b"BDAT 2\r\na\rBDAT 1 LAST\r\n\n", "250 2.0.0 Ok: queued"),
    ];
    for (script, want) in cases {
        let mut t = T::mx();
        t.cmd("EHLO c", "250");
        t.cmd("MAIL FROM:<a@b.example>", "250");
        t.cmd("RCPT TO:<alice@example.org>", "250");
        let got = t.raw(script);
        let last = got.trim_end().lines().last().unwrap_or("");
        assert!(last.starts_with(want), "{script:?}: {got:?}");
        assert_eq!(t.messages.len(), usize::from(want.starts_with("250")));
        // The transaction is over either way.
        t.cmd("RCPT TO:<alice@example.org>", "503 5.5.1");
    }
    let mut t = T::mx();
    t.cmd("EHLO c", "250");
    t.cmd("MAIL FROM:<a@b.example> BODY=BINARYMIME", "250");
    t.cmd("RCPT TO:<alice@example.org>", "250");
    t.raw(b"BDAT 4 LAST\r\n\r\0\n.");
    assert_eq!(t.messages[0].body, b"\r\0\n.");
}

/// Unknown recipients and relay attempts count as errors (recipient harvesting): past
/// `max_errors` the session says 421 and closes.
#[test]
fn unknown_recipients_count_as_errors() {
    let mut policy = Policy::mx("mx.example.org");
    policy.max_errors = 4;
    let mut t = T::new(policy);
    t.cmd("EHLO c", "250");
    t.cmd("MAIL FROM:<a@b.example>", "250");
    t.cmd("RCPT TO:<alice@example.org>", "250");
    t.cmd("RCPT TO:<nobody1@example.org>", "550 5.1.1");
    t.cmd("RCPT TO:<someone@elsewhere.example>", "550 5.7.1");
    assert_eq!(t.s.errors(), 2);
    t.cmd("RCPT TO:<nobody2@example.org>", "550 5.1.1");
    assert!(!t.closed);
    t.cmd("RCPT TO:<nobody3@example.org>", "421 4.7.0");
    assert!(t.closed);
}

/// The driver's per-block deadline sees DATA and BDAT progress.
#[test]
fn data_progress_is_reported() {
    let mut t = T::mx();
    t.cmd("EHLO c", "250");
    t.cmd("MAIL FROM:<a@b.example>", "250");
    t.cmd("RCPT TO:<alice@example.org>", "250");
    t.cmd("DATA", "354");
    t.raw(b"0123456789");
    assert_eq!(t.s.data_received(), 10);
    t.raw(b"\r\n.\r\n");
    assert_eq!(t.s.data_received(), 0);
    t.cmd("MAIL FROM:<a@b.example>", "250");
    t.cmd("RCPT TO:<alice@example.org>", "250");
    t.raw(b"BDAT 10\r\n01234");
    assert_eq!(t.s.data_received(), 5);
}

/// Commands that do nothing cannot hold a connection forever: past
/// `max_junk_commands` each NOOP (RSET, VRFY, ...) is an error too.
#[test]
fn junk_commands_past_the_limit_count_as_errors() {
    let mut policy = Policy::mx("mx.example.org");
    policy.max_junk_commands = 3;
    policy.max_errors = 3;
    let mut t = T::new(policy);
    t.cmd("EHLO c", "250");
    for _ in 0..3 {
        t.cmd("NOOP", "250");
    }
    assert_eq!(t.s.errors(), 0);
    t.cmd("RSET", "250");
    t.cmd("VRFY alice", "252");
    assert_eq!(t.s.errors(), 2);
    assert!(!t.closed);
    t.cmd("NOOP", "421 4.7.0");
    assert!(t.closed);
}

/// A server that reuses its connection for many messages, with RSET between them, is
/// not a junk sender: each accepted message starts the count again.
#[test]
fn each_accepted_message_resets_the_junk_count() {
    let mut policy = Policy::mx("mx.example.org");
    policy.max_junk_commands = 2;
    let mut t = T::new(policy);
    t.cmd("EHLO c", "250");
    for _ in 0..10 {
        t.cmd("RSET", "250");
        t.cmd("NOOP", "250");
        t.cmd("MAIL FROM:<a@b.example>", "250");
        t.cmd("RCPT TO:<alice@example.org>", "250");
        t.cmd("DATA", "354");
        t.cmd("Subject: x\r\n\r\nbody\r\n.", "250");
    }
    assert_eq!(t.s.errors(), 0);
}
