//! Fuzzes the SCRAM-SHA-256(-PLUS) server exchange (`proto::sasl::scram`): the first
//! byte picks the mechanism and whether the connection has a tls-exporter value; the
//! rest, split at newlines, is the client's lines (base64 or not). Keys are answered
//! for the RFC 7677 example user. Checked: no panic, at most one `Proved` and one
//! `Finished`, `Finished` only after `Proved` with a match, and every challenge under
//! 4 KiB.
//! Run: `cargo +nightly fuzz run sasl_scram` from this folder.
#![no_main]

use libfuzzer_sys::fuzz_target;
use proto::sasl::scram::rfc7677;
use proto::sasl::{Exchange, Mechanism, Step};

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let mechanism = if first & 1 == 1 {
        Mechanism::ScramSha256Plus
    } else {
        Mechanism::ScramSha256
    };
    let exporter = (first & 2 == 2).then_some([first; 32]);
    let text = String::from_utf8_lossy(rest);
    let mut lines = text.split('\n');
    let initial = if first & 4 == 4 { lines.next() } else { None };
    let (mut x, mut step) = Exchange::start(mechanism, initial, exporter);
    let mut matched = false;
    let mut proved = 0;
    loop {
        step = match step {
            Step::Challenge(c) => {
                assert!(c.len() < 4096);
                match lines.next() {
                    Some(line) => x.respond(line),
                    None => return,
                }
            }
            Step::NeedKeys(_) => x.keys(rfc7677::keys("pencil")),
            Step::Proved(p) => {
                proved += 1;
                assert!(proved == 1, "one proof per exchange");
                matched = p.matched.is_some();
                if matched && first & 8 == 0 {
                    x.accepted()
                } else {
                    return;
                }
            }
            Step::Finished => {
                assert!(matched, "finished without a matching proof");
                return;
            }
            Step::Done(_) => panic!("SCRAM never hands out a password"),
            Step::Failed(_) => return,
        };
    }
});
