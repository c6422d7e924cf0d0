//! Fuzzes the SMTP server session: any bytes, cut anywhere, with every query answered
//! yes or no by the input itself, must never panic.
//! Run: `cargo +nightly fuzz run smtp_session` from this folder.
#![no_main]

use libfuzzer_sys::fuzz_target;
use proto::Reply;
use proto::smtp::server::{Answer, Input, Output, Policy, RecipientVerdict, Session};

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let mut policy = Policy::submission("fuzz.example");
    policy.plaintext_auth = first & 1 == 1;
    let mut session = Session::new(policy);
    for chunk in rest.chunks(1 + (first as usize >> 1)) {
        let mut pending = session.feed(Input::Bytes(chunk));
        while let Some(output) = pending.pop() {
            let answer = match output {
                Output::Query(proto::smtp::server::Query::Login { .. }) => {
                    Answer::Login(first & 2 == 2)
                }
                Output::Query(proto::smtp::server::Query::Sender(_)) => Answer::SenderOk,
                Output::Query(_) => Answer::Recipient(RecipientVerdict::Local),
                Output::Message(_) => Answer::MessageResult(Reply::ok()),
                Output::StartTls => {
                    pending.extend(session.feed(Input::TlsStarted));
                    continue;
                }
                _ => continue,
            };
            pending.extend(session.feed(Input::Answer(answer)));
        }
    }
});
