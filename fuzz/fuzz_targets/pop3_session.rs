//! Fuzzes the POP3 server session: any bytes, cut anywhere, with every query answered
//! by the input itself (login outcome, message text, commit result), must never panic,
//! and every response must start with `+OK`, `-ERR` or a `+ ` SASL challenge.
//! Run: `cargo +nightly fuzz run pop3_session` from this folder.
#![no_main]

use libfuzzer_sys::fuzz_target;
use proto::pop3::{Answer, Input, LoginResult, MessageInfo, Output, Pop3Policy, Query, Session};

/// A small maildrop; message 2 has dot-led lines, message 3 no final CRLF.
const MESSAGES: [&[u8]; 3] = [
    b"Subject: a\r\n\r\nbody\r\n",
    b"Subject: b\r\n\r\n.x\r\n..\r\n.\r\n",
    b"Subject: c\nno blank line or CRLF",
];

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let mut policy = Pop3Policy::new("fuzz.example");
    policy.plaintext_auth = first & 1 == 1;
    policy.max_errors = 50;
    let mut session = Session::new(policy);
    let login = match (first >> 1) & 3 {
        0 => LoginResult::BadCredentials,
        1 => LoginResult::InUse,
        _ => LoginResult::Ok(
            MESSAGES
                .iter()
                .enumerate()
                .map(|(i, m)| MessageInfo {
                    size: m.len() as u64,
                    uid: format!("uid {i}"),
                })
                .collect(),
        ),
    };
    for chunk in rest.chunks(1 + (first as usize >> 3)) {
        let mut pending = session.feed(Input::Bytes(chunk));
        while !pending.is_empty() {
            let mut next = Vec::new();
            for output in pending {
                let answer = match output {
                    Output::Send(bytes) => {
                        assert!(
                            bytes.starts_with(b"+OK")
                                || bytes.starts_with(b"-ERR")
                                || bytes.starts_with(b"+ ")
                        );
                        continue;
                    }
                    Output::StartTls => {
                        next.extend(session.feed(Input::TlsStarted));
                        continue;
                    }
                    Output::Close => continue,
                    Output::Query(Query::Login { .. }) => Answer::Login(login.clone()),
                    Output::Query(Query::Retrieve { index }) if first & 0x40 == 0 => {
                        Answer::Message(MESSAGES[index].to_vec())
                    }
                    Output::Query(Query::Commit { .. }) if first & 0x80 == 0 => Answer::Committed,
                    Output::Query(_) => Answer::Failed,
                };
                next.extend(session.feed(Input::Answer(answer)));
            }
            pending = next;
        }
    }
});
