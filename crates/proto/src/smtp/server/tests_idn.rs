//! Session transcripts for internationalised domains: one domain, two spellings.
//!
//! The fake driver here knows one local domain, `例子.中国`, and compares it the way the
//! real one does (the store is keyed by [`message::Domain::as_str`], the A-label). Both
//! spellings must reach it; without SMTPUTF8 only the A-label may be written (RFC 6531
//! §3.2: the U-label form needs the extension); malformed IDNA is a syntax error.

use super::*;

/// A session on the MX listener whose driver treats `xn--fsqu00a.xn--fiqs8s` as local
/// with the user `li`.
struct T {
    s: Session,
    /// The domains of the recipient queries, as the driver saw them.
    asked: Vec<String>,
    envelopes: Vec<message::Envelope>,
}

impl T {
    fn new() -> Self {
        T {
            s: Session::new(Policy::mx("mx.example.org")),
            asked: Vec::new(),
            envelopes: Vec::new(),
        }
    }

    /// Sends one line, answers the queries, returns the last reply line.
    fn cmd(&mut self, line: &str, want: &str) {
        let mut pending = self.s.feed(Input::Bytes(format!("{line}\r\n").as_bytes()));
        let mut wire = Vec::new();
        while !pending.is_empty() {
            let mut next = Vec::new();
            for o in pending {
                match o {
                    Output::Reply(r) => r.write_to(&mut wire),
                    Output::Query(Query::Recipient(a)) => {
                        self.asked.push(a.domain().as_str().to_owned());
                        let v = match (a.domain().as_str(), a.local()) {
                            ("xn--fsqu00a.xn--fiqs8s", "li") => RecipientVerdict::Local,
                            ("xn--fsqu00a.xn--fiqs8s", _) => RecipientVerdict::Unknown,
                            _ => RecipientVerdict::Remote,
                        };
                        next.extend(self.s.feed(Input::Answer(Answer::Recipient(v))));
                    }
                    Output::Query(Query::Sender(_)) => {
                        next.extend(self.s.feed(Input::Answer(Answer::SenderOk)));
                    }
                    Output::Message(m) => {
                        self.envelopes.push(m.envelope.clone());
                        let reply = Reply::new(250, (2, 0, 0), "Ok: queued");
                        next.extend(self.s.feed(Input::Answer(Answer::MessageResult(reply))));
                    }
                    _ => {}
                }
            }
            pending = next;
        }
        let wire = String::from_utf8(wire).unwrap();
        let last = wire.trim_end().lines().last().unwrap_or("").to_owned();
        assert!(
            last.starts_with(want),
            "{line:?}: wanted {want:?}, got {wire:?}"
        );
    }
}

#[test]
fn without_smtputf8_the_a_label_reaches_the_local_domain() {
    let mut t = T::new();
    t.cmd("EHLO client.example", "250");
    t.cmd("MAIL FROM:<a@sender.example>", "250");
    t.cmd("RCPT TO:<li@xn--fsqu00a.xn--fiqs8s>", "250 2.1.5");
    t.cmd("RCPT TO:<Li@XN--FSQU00A.XN--FIQS8S>", "250 2.1.5");
    // RFC 6531 §3.2: the U-label spelling needs SMTPUTF8.
    t.cmd("RCPT TO:<li@例子.中国>", "553 5.6.7");
    t.cmd("RCPT TO:<nobody@xn--fsqu00a.xn--fiqs8s>", "550 5.1.1");
    // Malformed Punycode is a syntax error, not a relay attempt.
    t.cmd("RCPT TO:<li@xn--zz.example>", "553 5.1.3");
    t.cmd("DATA", "354");
    t.cmd("Subject: hi\r\n\r\nhello\r\n.", "250");
    // The driver only ever saw the canonical form; the envelope keeps the spelling
    // the client wrote.
    assert!(
        t.asked.iter().all(|d| d == "xn--fsqu00a.xn--fiqs8s"),
        "{:?}",
        t.asked
    );
    let rcpts: Vec<String> = t.envelopes[0]
        .recipients
        .iter()
        .map(|r| r.to_string())
        .collect();
    assert_eq!(rcpts, ["li@xn--fsqu00a.xn--fiqs8s"]);
}

#[test]
fn with_smtputf8_both_spellings_are_one_recipient() {
    let mut t = T::new();
    t.cmd("EHLO client.example", "250");
    t.cmd("MAIL FROM:<a@sender.example> SMTPUTF8", "250");
    t.cmd("RCPT TO:<li@例子.中国>", "250 2.1.5");
    // UTS #46: the ideographic full stop separates labels too.
    t.cmd("RCPT TO:<li@例子。中国>", "250 2.1.5");
    t.cmd("RCPT TO:<li@xn--fsqu00a.xn--fiqs8s>", "250 2.1.5");
    t.cmd("RCPT TO:<li@bücher.example>", "550 5.7.1");
    t.cmd("DATA", "354");
    t.cmd("Subject: hi\r\n\r\nhello\r\n.", "250");
    let env = &t.envelopes[0];
    // One mailbox, once: the first spelling is the one kept.
    let rcpts: Vec<String> = env.recipients.iter().map(|r| r.to_string()).collect();
    assert_eq!(rcpts, ["li@例子.中国"]);
    assert!(env.smtputf8);
    // The remote one was asked about in its A-label form (what MX lookups need).
    assert!(
        t.asked.contains(&"xn--bcher-kva.example".to_owned()),
        "{:?}",
        t.asked
    );
}

#[test]
fn invalid_idna_in_mail_from_is_a_syntax_error() {
    let mut t = T::new();
    t.cmd("EHLO client.example", "250");
    t.cmd("MAIL FROM:<a@xn--zz.example>", "553 5.1.7");
    t.cmd("MAIL FROM:<a@-bücher.example> SMTPUTF8", "553 5.1.7");
    t.cmd("MAIL FROM:<a@xn--bcher-kva.example>", "250");
}
