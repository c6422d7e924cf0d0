//! Session transcripts: the POP3 rules checked without sockets.

use super::*;
use crate::sasl;

mod robustness;

/// 51 octets.
const M1: &[u8] = b"From: a@example.org\r\nSubject: one\r\n\r\nHello\r\nWorld\r\n";
/// 42 octets; body lines start with `.`, so RETR must stuff them.
const M2: &[u8] = b"Subject: dots\r\n\r\n.leading\r\n..two\r\n.\r\nend\r\n";
/// 44 octets; no CRLF at the end.
const M3: &[u8] = b"Subject: three\r\n\r\nline 1\r\nline 2\r\nno newline";
const UIDS: [&str; 3] = ["whqtswO00WBw418f9t5JxYwZ", "QhdPYR:00WBw1Ph7x7", "uid-3"];

/// `AUTH PLAIN` initial response for alice / secret.
const ALICE_PLAIN: &str = "AGFsaWNlAHNlY3JldA==";

/// A session with a fake driver: alice (password `secret`) has M1, M2, M3; bob's
/// mailbox is locked by another session; carol's lookup fails; dave is locked out; everyone else is refused.
struct T {
    s: Session,
    /// Every `Output::Send`, in order.
    sent: Vec<Vec<u8>>,
    /// Every query the session made.
    queries: Vec<Query>,
    started_tls: bool,
    closed: bool,
    fail_retrieve: bool,
    fail_commit: bool,
}

impl T {
    fn new(policy: Pop3Policy) -> Self {
        T {
            s: Session::new(policy),
            sent: vec![],
            queries: vec![],
            started_tls: false,
            closed: false,
            fail_retrieve: false,
            fail_commit: false,
        }
    }

    /// Port 110 with clear-text login allowed, so transcripts need no TLS step.
    fn clear() -> Self {
        let mut p = Pop3Policy::new("pop.example.org");
        p.plaintext_auth = true;
        Self::new(p)
    }

    /// Like [`T::clear`], with room for many mistakes.
    fn lenient() -> Self {
        let mut p = Pop3Policy::new("pop.example.org");
        p.plaintext_auth = true;
        p.max_errors = 100;
        p.max_auth_failures = 100;
        Self::new(p)
    }

    /// Feeds raw bytes, answering every query; returns the wire text of all responses.
    fn raw(&mut self, bytes: &[u8]) -> String {
        let pending = self.s.feed(Input::Bytes(bytes));
        self.drive(pending)
    }

    /// Carries out outputs like a driver would, feeding answers back.
    fn drive(&mut self, mut pending: Vec<Output>) -> String {
        let mut wire = Vec::new();
        while !pending.is_empty() {
            let mut next = Vec::new();
            for o in pending {
                assert!(!self.closed, "output after Close: {o:?}");
                let answer = match o {
                    Output::Send(bytes) => {
                        wire.extend_from_slice(&bytes);
                        self.sent.push(bytes);
                        continue;
                    }
                    Output::StartTls => {
                        self.started_tls = true;
                        continue;
                    }
                    Output::Close => {
                        self.closed = true;
                        continue;
                    }
                    Output::Query(q) => {
                        self.queries.push(q.clone());
                        self.answer(q)
                    }
                };
                next.extend(self.s.feed(Input::Answer(answer)));
            }
            pending = next;
        }
        String::from_utf8(wire).unwrap()
    }

    fn answer(&self, q: Query) -> Answer {
        match q {
            Query::Login { username, password } => Answer::Login(match username.as_str() {
                "alice" if password == "secret" => LoginResult::Ok(
                    [M1, M2, M3]
                        .iter()
                        .zip(UIDS)
                        .map(|(m, uid)| MessageInfo {
                            size: m.len() as u64,
                            uid: uid.to_string(),
                        })
                        .collect(),
                ),
                "bob" if password == "secret" => LoginResult::InUse,
                "carol" => LoginResult::TempFail,
                "dave" => LoginResult::Locked,
                _ => LoginResult::BadCredentials,
            }),
            // `user` has the password `pencil` (RFC 7677 §3); `dave` is locked out.
            Query::ScramKeys { username } if username == "dave" => {
                Answer::Login(LoginResult::Locked)
            }
            Query::ScramKeys { username } => {
                let mut keys = crate::sasl::scram::rfc7677::keys("pencil");
                if username != "user" {
                    keys.credentials.clear();
                }
                Answer::ScramKeys(keys)
            }
            Query::ScramLogin { matched: None, .. } => Answer::Login(LoginResult::BadCredentials),
            Query::ScramLogin { .. } => Answer::Login(LoginResult::Ok(vec![MessageInfo {
                size: M1.len() as u64,
                uid: UIDS[0].to_string(),
            }])),
            Query::Retrieve { .. } if self.fail_retrieve => Answer::Failed,
            Query::Retrieve { index } => Answer::Message([M1, M2, M3][index].to_vec()),
            Query::Commit { .. } if self.fail_commit => Answer::Failed,
            Query::Commit { .. } => Answer::Committed,
        }
    }

    /// Sends one command line and checks the response starts with `want`.
    fn cmd(&mut self, line: &str, want: &str) -> String {
        let got = self.raw(format!("{line}\r\n").as_bytes());
        assert!(
            got.starts_with(want),
            "{line:?}: wanted {want:?}, got {got:?}"
        );
        got
    }

    /// Sends one command line and checks the whole response.
    fn exact(&mut self, line: &str, want: &str) {
        let got = self.raw(format!("{line}\r\n").as_bytes());
        assert_eq!(got, want, "{line:?}");
    }

    fn tls(&mut self) {
        assert!(self.started_tls);
        self.started_tls = false;
        assert!(self.s.feed(Input::TlsStarted).is_empty());
    }

    fn login(&mut self) {
        self.cmd("USER alice", "+OK");
        self.exact(
            "PASS secret",
            "+OK maildrop has 3 messages (137 octets)\r\n",
        );
    }

    fn commits(&self) -> Vec<Vec<usize>> {
        self.queries
            .iter()
            .filter_map(|q| match q {
                Query::Commit { deleted } => Some(deleted.clone()),
                _ => None,
            })
            .collect()
    }
}

#[test]
fn greeting() {
    let t = T::clear();
    assert_eq!(t.s.greeting(), b"+OK pop.example.org POP3 Postie ready\r\n");
    assert_eq!(t.s.waiting(), Waiting::Command);
}

#[test]
fn capa_in_clear_text_hides_login() {
    let mut t = T::new(Pop3Policy::new("h"));
    t.exact(
        "CAPA",
        "+OK Capability list follows\r\nTOP\r\nUIDL\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\n\
         PIPELINING\r\nSTLS\r\nEXPIRE NEVER\r\nIMPLEMENTATION Postie\r\n.\r\n",
    );
    let mut p = Pop3Policy::new("h");
    p.stls_available = false;
    let got = T::new(p).cmd("CAPA", "+OK");
    assert!(!got.contains("STLS") && !got.contains("USER") && !got.contains("SASL"));
}

#[test]
fn capa_with_tls_and_after_login() {
    let mut p = Pop3Policy::new("h");
    p.tls_active = true;
    p.expire = Some(30);
    let mut t = T::new(p);
    let capa = "+OK Capability list follows\r\nTOP\r\nUIDL\r\nUSER\r\nSASL PLAIN LOGIN SCRAM-SHA-256\r\n\
                RESP-CODES\r\nAUTH-RESP-CODE\r\nPIPELINING\r\nEXPIRE 30\r\n\
                IMPLEMENTATION Postie\r\n.\r\n";
    t.exact("CAPA", capa);
    t.login();
    // RFC 2449 §5: what AUTHORIZATION offered is announced in TRANSACTION too.
    t.exact("capa", capa);
    // Clear text with STLS, after login: no STLS (valid only before login).
    let mut t = T::clear();
    assert!(t.cmd("CAPA", "+OK").contains("\r\nSTLS\r\n"));
    t.login();
    assert!(!t.cmd("CAPA", "+OK").contains("STLS"));
}

#[test]
fn login_refused_in_clear_text_until_stls() {
    let mut t = T::new(Pop3Policy::new("h"));
    let refused = "-ERR [AUTH] Plaintext authentication disallowed on unencrypted connections\r\n";
    t.exact("USER alice", refused);
    t.exact("PASS secret", refused);
    t.exact(&format!("AUTH PLAIN {ALICE_PLAIN}"), refused);
    t.exact("AUTH", refused);
    assert!(
        t.queries.is_empty(),
        "no password ever checked in clear text"
    );
    t.exact("STLS", "+OK Begin TLS negotiation\r\n");
    t.tls();
    assert!(t.s.tls());
    t.login();
    assert_eq!(t.s.authenticated_as(), Some("alice"));
}

#[test]
fn stls_discards_pipelined_input_and_user() {
    let mut t = T::clear();
    t.cmd("USER alice", "+OK");
    let got = t.raw(b"STLS\r\nPASS secret\r\nSTAT\r\n");
    assert_eq!(got, "+OK Begin TLS negotiation\r\n");
    assert_eq!(t.s.waiting(), Waiting::Driver);
    // Bytes arriving before the handshake are ignored too.
    assert_eq!(t.raw(b"USER mallory\r\n"), "");
    t.tls();
    assert!(t.queries.is_empty());
    // RFC 2595 §4: the USER given before TLS is forgotten.
    t.exact("PASS secret", "-ERR Send USER first\r\n");
    t.exact("STLS", "-ERR Command not permitted when TLS active\r\n");
    t.login();
    t.exact("STLS", "-ERR Command not valid after login\r\n");

    let mut p = Pop3Policy::new("h");
    p.stls_available = false;
    T::new(p).exact("STLS", "-ERR TLS not available\r\n");
    // TlsStarted nobody asked for changes nothing.
    let mut t = T::new(Pop3Policy::new("h"));
    assert!(t.s.feed(Input::TlsStarted).is_empty());
    assert!(!t.s.tls());
}

#[test]
fn user_pass() {
    let mut t = T::clear();
    t.exact("PASS secret", "-ERR Send USER first\r\n");
    t.exact("USER", "-ERR Missing argument\r\n");
    t.exact("USER a b", "-ERR Too many arguments\r\n");
    t.exact("USER alice", "+OK Send PASS\r\n");
    t.exact("PASS", "-ERR Missing argument\r\n");
    t.exact("PASS wrong", "-ERR [AUTH] Invalid credentials\r\n");
    // The failed PASS used the USER up.
    t.exact("PASS secret", "-ERR Send USER first\r\n");
    // PASS takes the rest of the line, spaces included (RFC 1939 §7).
    t.cmd("USER alice", "+OK");
    t.cmd("PASS two words ", "-ERR [AUTH]");
    assert_eq!(
        t.queries.last(),
        Some(&Query::Login {
            username: "alice".into(),
            password: "two words ".into()
        })
    );
    assert_eq!(t.s.authenticated_as(), None);
    t.login();
    assert_eq!(t.s.authenticated_as(), Some("alice"));
    t.exact("USER alice", "-ERR Command not valid after login\r\n");
    t.exact("PASS secret", "-ERR Command not valid after login\r\n");
    t.exact("AUTH PLAIN", "-ERR Command not valid after login\r\n");
    t.exact(
        "APOP alice c4c9334bac560ecc979e58001b3e22fb",
        "-ERR Command not valid after login\r\n",
    );
}

#[test]
fn failed_logins_close_the_session() {
    let mut t = T::clear();
    t.cmd("USER alice", "+OK");
    t.exact("PASS x", "-ERR [AUTH] Invalid credentials\r\n");
    t.cmd(
        &format!("AUTH PLAIN {}", sasl::encode(b"\0alice\0y")),
        "-ERR [AUTH]",
    );
    assert!(!t.closed);
    t.cmd("USER alice", "+OK");
    t.exact(
        "PASS z",
        "-ERR [AUTH] Invalid credentials; too many failures, closing connection\r\n",
    );
    assert!(t.closed);
    assert_eq!(t.s.waiting(), Waiting::Closed);
    assert!(t.s.feed(Input::Bytes(b"USER alice\r\n")).is_empty());
}

#[test]
fn locked_and_failing_mailboxes() {
    let mut t = T::clear();
    for _ in 0..4 {
        t.cmd("USER bob", "+OK");
        t.exact("PASS secret", "-ERR [IN-USE] Mailbox is in use\r\n");
    }
    t.cmd("USER carol", "+OK");
    t.exact(
        "PASS secret",
        "-ERR [SYS/TEMP] Temporary failure, try again later\r\n",
    );
    for _ in 0..4 {
        t.cmd("USER dave", "+OK");
        t.exact(
            "PASS secret",
            "-ERR [SYS/TEMP] Too many failed logins, try again later\r\n",
        );
    }
    // None counts as a failed login, and the session stays in AUTHORIZATION.
    assert!(!t.closed);
    t.exact("STAT", "-ERR Command not valid before login\r\n");
    t.login();
    // Answer::Failed to a login is a temporary failure too.
    let mut s = Session::new(Pop3Policy {
        plaintext_auth: true,
        ..Pop3Policy::new("h")
    });
    s.feed(Input::Bytes(b"USER alice\r\n"));
    let out = s.feed(Input::Bytes(b"PASS secret\r\n"));
    assert!(matches!(out[..], [Output::Query(Query::Login { .. })]));
    assert_eq!(
        s.feed(Input::Answer(Answer::Failed)),
        vec![Output::Send(Response::login_temp_fail().to_wire())]
    );
}

#[test]
fn auth_plain_and_login() {
    let mut t = T::clear();
    t.exact(
        "AUTH",
        "+OK Supported SASL mechanisms follow\r\nPLAIN\r\nLOGIN\r\nSCRAM-SHA-256\r\n.\r\n",
    );
    t.exact("AUTH PLAIN", "+ \r\n");
    t.exact(ALICE_PLAIN, "+OK maildrop has 3 messages (137 octets)\r\n");
    assert_eq!(t.s.authenticated_as(), Some("alice"));

    let mut t = T::clear();
    t.cmd(&format!("auth plain {ALICE_PLAIN}"), "+OK maildrop has 3");

    let mut t = T::clear();
    t.exact("AUTH LOGIN", "+ VXNlcm5hbWU6\r\n");
    t.exact("YWxpY2U=", "+ UGFzc3dvcmQ6\r\n");
    t.cmd("c2VjcmV0", "+OK maildrop");
    assert_eq!(t.s.authenticated_as(), Some("alice"));

    // LOGIN with the user name as initial response.
    let mut t = T::clear();
    t.exact("AUTH LOGIN YWxpY2U=", "+ UGFzc3dvcmQ6\r\n");
    t.cmd("c2VjcmV0", "+OK");
}

#[test]
fn auth_scram_sha_256() {
    use crate::sasl::scram::rfc7677 as v;
    let enc = |s: &str| sasl::encode(s.as_bytes());
    let mut t = T::clear();
    t.exact(
        &format!("AUTH SCRAM-SHA-256 {}", enc(v::CLIENT_FIRST)),
        &format!("+ {}\r\n", enc(v::SERVER_FIRST)),
    );
    t.exact(
        &enc(v::CLIENT_FINAL),
        &format!("+ {}\r\n", enc(v::SERVER_FINAL)),
    );
    assert_eq!(
        t.s.authenticated_as(),
        None,
        "not before the client's last line"
    );
    t.exact("", "+OK maildrop has 1 message (51 octets)\r\n");
    assert_eq!(t.s.authenticated_as(), Some("user"));

    // No initial response; a wrong proof.
    let mut t = T::lenient();
    t.exact("AUTH SCRAM-SHA-256", "+ \r\n");
    t.cmd(&enc(v::CLIENT_FIRST), "+ ");
    t.exact(
        &enc(&v::CLIENT_FINAL.replace("p=dHzb", "p=dHzc")),
        "-ERR [AUTH] Invalid credentials\r\n",
    );
    // Cancel; malformed; -PLUS not offered in clear text; a lockout at the keys.
    t.cmd(
        &format!("AUTH SCRAM-SHA-256 {}", enc(v::CLIENT_FIRST)),
        "+ ",
    );
    t.exact("*", "-ERR Authentication cancelled\r\n");
    t.exact(
        &format!("AUTH SCRAM-SHA-256 {}", enc("n,,n=user")),
        "-ERR [AUTH] Invalid credentials\r\n",
    );
    t.exact(
        "AUTH SCRAM-SHA-256-PLUS",
        "-ERR Unsupported authentication mechanism\r\n",
    );
    t.cmd(
        &format!("AUTH SCRAM-SHA-256 {}", enc("n,,n=dave,r=abc")),
        "-ERR [SYS/TEMP]",
    );

    // Anything but an empty line after server-final ends the session (the driver
    // holds the maildrop lock).
    let mut t = T::clear();
    t.cmd(
        &format!("AUTH SCRAM-SHA-256 {}", enc(v::CLIENT_FIRST)),
        "+ ",
    );
    t.cmd(&enc(v::CLIENT_FINAL), "+ ");
    t.cmd("*", "-ERR");
    assert!(t.closed);
    // So does an over-long line there.
    let mut t = T::clear();
    t.cmd(
        &format!("AUTH SCRAM-SHA-256 {}", enc(v::CLIENT_FIRST)),
        "+ ",
    );
    t.cmd(&enc(v::CLIENT_FINAL), "+ ");
    t.raw(&vec![b'A'; MAX_AUTH_LINE + 10]);
    assert!(t.closed);
}

#[test]
fn scram_plus_in_capa_with_a_tls_exporter() {
    let mut p = Pop3Policy::new("h");
    p.tls_active = true;
    let mut t = T::new(p);
    t.s.set_tls_exporter(Some([3; 32]));
    let capa = t.cmd("CAPA", "+OK");
    assert!(
        capa.contains("SASL PLAIN LOGIN SCRAM-SHA-256 SCRAM-SHA-256-PLUS\r\n"),
        "{capa}"
    );
    let y = sasl::encode(b"y,,n=user,r=abc");
    t.cmd(&format!("AUTH SCRAM-SHA-256 {y}"), "-ERR [AUTH]");
    let p = sasl::encode(b"p=tls-exporter,,n=user,r=abc");
    t.cmd(&format!("AUTH SCRAM-SHA-256-PLUS {p}"), "+ ");
}

#[test]
fn auth_errors() {
    let mut t = T::lenient();
    t.exact("AUTH PLAIN", "+ \r\n");
    t.exact("*", "-ERR Authentication cancelled\r\n");
    t.exact("AUTH LOGIN", "+ VXNlcm5hbWU6\r\n");
    t.exact("*", "-ERR Authentication cancelled\r\n");
    t.exact("AUTH PLAIN", "+ \r\n");
    t.exact("not base64!", "-ERR Invalid base64 data\r\n");
    t.exact("AUTH PLAIN !!!", "-ERR Invalid base64 data\r\n");
    t.exact(
        "AUTH CRAM-MD5",
        "-ERR Unsupported authentication mechanism\r\n",
    );
    t.exact("AUTH PLAIN a b", "-ERR Too many arguments\r\n");
    // Acting as another user is refused like wrong credentials.
    let as_bob = sasl::encode(b"bob\0alice\0secret");
    t.exact(
        &format!("AUTH PLAIN {as_bob}"),
        "-ERR [AUTH] Invalid credentials\r\n",
    );
    // `=` is an empty response: not a PLAIN message.
    t.exact("AUTH PLAIN =", "-ERR [AUTH] Invalid credentials\r\n");
    assert!(t.queries.is_empty());
    // A SASL line may be longer than a command line (RFC 5034 §4).
    t.exact("AUTH PLAIN", "+ \r\n");
    let long = sasl::encode(format!("\0alice\0{}", "p".repeat(3000)).as_bytes());
    t.exact(&long, "-ERR [AUTH] Invalid credentials\r\n");
    // But not past MAX_AUTH_LINE, and not the AUTH command line itself.
    t.exact("AUTH PLAIN", "+ \r\n");
    t.exact(&"A".repeat(MAX_AUTH_LINE), "-ERR Line too long\r\n");
    t.exact(
        &format!("AUTH PLAIN {}", "A".repeat(300)),
        "-ERR Line too long\r\n",
    );
    t.login();
}

#[test]
fn transaction_commands() {
    let mut t = T::clear();
    t.exact("STAT", "-ERR Command not valid before login\r\n");
    t.exact("NOOP", "-ERR Command not valid before login\r\n");
    t.login();
    t.exact("STAT", "+OK 3 137\r\n");
    t.exact(
        "LIST",
        "+OK 3 messages (137 octets)\r\n1 51\r\n2 42\r\n3 44\r\n.\r\n",
    );
    t.exact("LIST 2", "+OK 2 42\r\n");
    t.exact(
        "UIDL",
        "+OK\r\n1 whqtswO00WBw418f9t5JxYwZ\r\n2 QhdPYR:00WBw1Ph7x7\r\n3 uid-3\r\n.\r\n",
    );
    t.exact("UIDL 1", "+OK 1 whqtswO00WBw418f9t5JxYwZ\r\n");
    t.exact(
        "RETR 1",
        "+OK 51 octets\r\nFrom: a@example.org\r\nSubject: one\r\n\r\nHello\r\nWorld\r\n.\r\n",
    );
    // Byte-stuffing (RFC 1939 §3).
    t.exact(
        "RETR 2",
        "+OK 42 octets\r\nSubject: dots\r\n\r\n..leading\r\n...two\r\n..\r\nend\r\n.\r\n",
    );
    // A message without a final CRLF gets one before the terminator.
    t.exact(
        "RETR 3",
        "+OK 44 octets\r\nSubject: three\r\n\r\nline 1\r\nline 2\r\nno newline\r\n.\r\n",
    );
    t.exact("NOOP", "+OK\r\n");
    assert_eq!(
        t.queries[1..],
        [
            Query::Retrieve { index: 0 },
            Query::Retrieve { index: 1 },
            Query::Retrieve { index: 2 }
        ]
    );
}

#[test]
fn top() {
    let mut t = T::clear();
    t.login();
    t.exact(
        "TOP 1 0",
        "+OK\r\nFrom: a@example.org\r\nSubject: one\r\n\r\n.\r\n",
    );
    t.exact(
        "TOP 1 1",
        "+OK\r\nFrom: a@example.org\r\nSubject: one\r\n\r\nHello\r\n.\r\n",
    );
    t.exact(
        "TOP 2 2",
        "+OK\r\nSubject: dots\r\n\r\n..leading\r\n...two\r\n.\r\n",
    );
    // More lines than the body has: the whole message.
    t.exact(
        "TOP 3 10",
        "+OK\r\nSubject: three\r\n\r\nline 1\r\nline 2\r\nno newline\r\n.\r\n",
    );
    t.exact(
        "TOP 3 99999999999999999999999",
        "+OK\r\nSubject: three\r\n\r\nline 1\r\nline 2\r\nno newline\r\n.\r\n",
    );
}

#[test]
fn bad_arguments_are_named() {
    let mut t = T::lenient();
    t.login();
    for (line, want) in [
        ("RETR", "-ERR Missing message number"),
        ("RETR x", "-ERR Invalid message number"),
        ("RETR -1", "-ERR Invalid message number"),
        (
            "RETR 0",
            "-ERR Invalid message number 0, messages are numbered from 1",
        ),
        (
            "RETR 4",
            "-ERR No such message, only 3 messages in maildrop",
        ),
        ("RETR 1 2", "-ERR Too many arguments"),
        ("DELE", "-ERR Missing message number"),
        ("DELE 1x", "-ERR Invalid message number"),
        (
            "LIST 9",
            "-ERR No such message, only 3 messages in maildrop",
        ),
        (
            "LIST 99999999999999999999999",
            "-ERR No such message, only 3 messages in maildrop",
        ),
        ("UIDL 0", "-ERR Invalid message number 0"),
        ("UIDL 1 2", "-ERR Too many arguments"),
        ("TOP", "-ERR Missing message number"),
        ("TOP 1", "-ERR Missing line count"),
        ("TOP 1 x", "-ERR Invalid line count"),
        ("TOP 1 -1", "-ERR Invalid line count"),
        ("TOP 4 1", "-ERR No such message"),
        ("STAT now", "-ERR Too many arguments"),
    ] {
        let got = t.cmd(line, want);
        assert_eq!(got.lines().count(), 1, "{got}");
    }
}

#[test]
fn dele_then_rset() {
    let mut t = T::clear();
    t.login();
    t.exact("DELE 2", "+OK Message 2 deleted\r\n");
    t.exact("DELE 2", "-ERR Message 2 already deleted\r\n");
    // RFC 1939 §5: deleted messages are left out of counts and listings.
    t.exact("STAT", "+OK 2 95\r\n");
    t.exact(
        "LIST",
        "+OK 2 messages (95 octets)\r\n1 51\r\n3 44\r\n.\r\n",
    );
    t.exact(
        "UIDL",
        "+OK\r\n1 whqtswO00WBw418f9t5JxYwZ\r\n3 uid-3\r\n.\r\n",
    );
    for line in ["LIST 2", "UIDL 2", "RETR 2", "TOP 2 0"] {
        t.exact(line, "-ERR Message 2 already deleted\r\n");
    }
    t.exact("RSET", "+OK maildrop has 3 messages (137 octets)\r\n");
    t.exact("STAT", "+OK 3 137\r\n");
    t.exact("LIST 2", "+OK 2 42\r\n");
    t.exact(
        "QUIT",
        "+OK pop.example.org POP3 Postie signing off (3 messages left)\r\n",
    );
    assert!(t.closed);
    assert!(t.commits().is_empty(), "nothing deleted, no Commit");
}

#[test]
fn dele_then_quit_commits() {
    let mut t = T::clear();
    t.login();
    t.cmd("DELE 3", "+OK");
    t.cmd("DELE 1", "+OK");
    t.exact(
        "QUIT",
        "+OK pop.example.org POP3 Postie signing off (1 message left)\r\n",
    );
    assert!(t.closed);
    assert_eq!(t.commits(), [vec![0, 2]]);

    let mut t = T::clear();
    t.login();
    for n in 1..=3 {
        t.cmd(&format!("DELE {n}"), "+OK");
    }
    t.exact("STAT", "+OK 0 0\r\n");
    t.exact("LIST", "+OK 0 messages (0 octets)\r\n.\r\n");
    t.exact(
        "QUIT",
        "+OK pop.example.org POP3 Postie signing off (maildrop empty)\r\n",
    );
    assert_eq!(t.commits(), [vec![0, 1, 2]]);
}

#[test]
fn failed_commit_and_retrieve() {
    let mut t = T::clear();
    t.fail_commit = true;
    t.login();
    t.cmd("DELE 1", "+OK");
    t.exact(
        "QUIT",
        "-ERR [SYS/TEMP] Some deleted messages not removed\r\n",
    );
    assert!(t.closed);

    let mut t = T::clear();
    t.fail_retrieve = true;
    t.login();
    t.exact(
        "RETR 1",
        "-ERR [SYS/TEMP] Unable to read message, try again later\r\n",
    );
    t.exact(
        "TOP 1 0",
        "-ERR [SYS/TEMP] Unable to read message, try again later\r\n",
    );
    t.exact("NOOP", "+OK\r\n");
}

#[test]
fn quit_in_authorization() {
    let mut t = T::clear();
    t.exact("QUIT", "+OK Bye\r\n");
    assert!(t.closed);
    assert!(t.queries.is_empty());
    let mut t = T::clear();
    t.exact("QUIT now", "-ERR Too many arguments\r\n");
}

/// RFC 1939 §6: only QUIT enters UPDATE; a session that ends otherwise removes nothing.
#[test]
fn ending_without_quit_commits_nothing() {
    // Timeout: no response at all (RFC 1939 §3), close.
    let mut t = T::clear();
    t.login();
    t.cmd("DELE 1", "+OK");
    assert_eq!(t.s.feed(Input::Timeout), vec![Output::Close]);
    assert!(t.s.feed(Input::Bytes(b"QUIT\r\n")).is_empty());
    assert!(t.commits().is_empty());

    // Shutdown while idle.
    let mut t = T::clear();
    t.login();
    t.cmd("DELE 1", "+OK");
    assert_eq!(
        t.s.feed(Input::Shutdown),
        vec![
            Output::Send(b"-ERR [SYS/TEMP] Server shutting down\r\n".to_vec()),
            Output::Close
        ]
    );
    assert!(t.commits().is_empty());

    // A dropped connection: the driver just stops feeding; no Commit was ever asked.
    let mut t = T::clear();
    t.login();
    t.raw(b"DELE 1\r\nDELE 2\r\nQUI");
    assert!(t.commits().is_empty());
    assert!(!t.closed);
}

#[test]
fn shutdown_finishes_the_command_in_progress() {
    let mut t = T::clear();
    t.login();
    let out = t.s.feed(Input::Bytes(b"RETR 1\r\nSTAT\r\n"));
    assert_eq!(out, vec![Output::Query(Query::Retrieve { index: 0 })]);
    assert_eq!(t.s.waiting(), Waiting::Driver);
    assert!(t.s.feed(Input::Shutdown).is_empty());
    let out = t.s.feed(Input::Answer(Answer::Message(M1.to_vec())));
    assert_eq!(out.len(), 3, "{out:?}");
    assert!(matches!(&out[0], Output::Send(b) if b.starts_with(b"+OK 51 octets")));
    assert_eq!(
        out[1..],
        [
            Output::Send(Response::shutting_down().to_wire()),
            Output::Close
        ]
    );
}

#[test]
fn unknown_commands_and_error_limit() {
    let mut t = T::clear();
    t.exact("FOO", "-ERR Unknown command\r\n");
    t.exact("", "-ERR Empty command line\r\n");
    t.exact(" STAT", "-ERR Unknown command\r\n");
    t.exact(
        "APOP alice c4c9334bac560ecc979e58001b3e22fb",
        "-ERR APOP not supported\r\n",
    );
    assert_eq!(
        t.raw(b"ST\xffAT\r\n"),
        "-ERR Invalid characters in command line\r\n"
    );
    assert_eq!(
        t.raw(b"STAT\0\r\n"),
        "-ERR Invalid characters in command line\r\n"
    );
    // An answer nobody asked for is ignored.
    assert!(t.s.feed(Input::Answer(Answer::Committed)).is_empty());
    for _ in 0..3 {
        t.exact("RSET", "-ERR Command not valid before login\r\n");
    }
    t.exact(
        "BOGUS",
        "-ERR Unknown command; too many errors, closing connection\r\n",
    );
    assert!(t.closed);
}

#[test]
fn case_and_line_ends() {
    let mut t = T::clear();
    t.cmd("user alice", "+OK");
    t.cmd("pAsS secret", "+OK");
    assert_eq!(
        t.raw(b"stat\nlist 1\r\nuidl 3\n"),
        "+OK 3 137\r\n+OK 1 51\r\n+OK 3 uid-3\r\n"
    );
    t.exact(
        "Top 1 0",
        "+OK\r\nFrom: a@example.org\r\nSubject: one\r\n\r\n.\r\n",
    );
}

#[test]
fn no_scram_when_turned_off() {
    let mut t = T::clear();
    t.s.set_scram(false);
    t.s.set_tls_exporter(Some([3; 32]));
    let capa = t.cmd("CAPA", "+OK");
    assert!(capa.contains("SASL PLAIN LOGIN\r\n"), "{capa}");
    t.exact(
        "AUTH SCRAM-SHA-256",
        "-ERR Unsupported authentication mechanism\r\n",
    );
}
