//! The outbound SMTP client against a scripted fake server on 127.0.0.1: both what the
//! client reports and what the server received are checked.

mod client_support;

use std::time::Duration;

use client_support::{FakeServer, Options, PATIENCE, STALL, unstuff};
use message::{Address, BodyType, Notify, RecipientDsn, Ret};
use relay::client::{
    ClientConfig, ClientError, Connection, RecipientResult, ServerReply, Timeouts, TlsMode,
    Transaction,
};

fn config() -> ClientConfig {
    ClientConfig {
        helo_name: "client.test".into(),
        tls: TlsMode::Opportunistic,
        tls_config: relay::tls::opportunistic_config(),
        credentials: None,
        timeouts: Timeouts::all(PATIENCE),
    }
}

fn address(text: &str) -> Address {
    Address::parse(text).unwrap()
}

fn transaction<'a>(
    sender: &'a Address,
    recipients: &'a [Address],
    body: &'a [u8],
) -> Transaction<'a> {
    Transaction {
        sender: Some(sender),
        recipients: recipients
            .iter()
            .map(|a| (a, RecipientDsn::default()))
            .collect(),
        body,
        ..Transaction::default()
    }
}

async fn connect(server: &FakeServer, config: &ClientConfig) -> Connection {
    Connection::connect(server.addr, "mx.test", config)
        .await
        .expect("connect")
}

async fn connect_err(server: &FakeServer, config: &ClientConfig) -> ClientError {
    Connection::connect(server.addr, "mx.test", config)
        .await
        .expect_err("connect should fail")
}

fn reply(result: &RecipientResult) -> String {
    result.reply().to_string()
}

const BODY: &[u8] = b"Subject: hi\r\n\r\nhello\r\n";

/// Refuses `bad@` with 550 and `later@` with 450.
fn refusing(options: Options) -> Options {
    options.respond(|_, line| {
        if line.contains("<bad@") {
            Some("550 5.1.1 no such user".into())
        } else if line.contains("<later@") {
            Some("450-4.2.1 mailbox busy\r\n450 4.2.1 try later".into())
        } else {
            None
        }
    })
}

#[tokio::test]
async fn results_per_recipient_in_order_without_pipelining() {
    let server = FakeServer::start(refusing(Options::with_extensions(&["8BITMIME"]))).await;
    let mut conn = connect(&server, &config()).await;
    assert!(!conn.extensions().pipelining);
    let sender = address("sender@example.org");
    let rcpts = [
        address("bad@example.net"),
        address("later@example.net"),
        address("good@example.net"),
    ];
    let results = conn
        .send(&transaction(&sender, &rcpts, BODY))
        .await
        .unwrap();

    assert!(matches!(results[0], RecipientResult::Permanent(_)));
    assert_eq!(reply(&results[0]), "550 5.1.1 no such user");
    assert!(matches!(results[1], RecipientResult::Temporary(_)));
    assert_eq!(reply(&results[1]), "450 4.2.1 mailbox busy; try later");
    assert!(matches!(results[2], RecipientResult::Accepted(_)));
    assert_eq!(
        results[2].reply(),
        &ServerReply {
            code: 250,
            enhanced: Some((2, 0, 0)),
            text: "queued as FAKE1".into(),
            local: false,
        }
    );
    assert!(conn.is_reusable());
    conn.quit().await;

    let session = &server.wait_closed(1).await[0];
    assert_eq!(
        session.lines(),
        [
            "EHLO client.test",
            "MAIL FROM:<sender@example.org>",
            "RCPT TO:<bad@example.net>",
            "RCPT TO:<later@example.net>",
            "RCPT TO:<good@example.net>",
            "DATA",
            "QUIT",
        ]
    );
    // One command at a time: nothing was waiting behind any command.
    assert!(
        session.commands.iter().all(|c| !c.more_buffered),
        "{session:?}"
    );
    assert_eq!(session.bodies, [BODY.to_vec()]);
}

#[tokio::test]
async fn pipelining_sends_mail_rcpt_and_data_before_any_reply() {
    let options = Options {
        defer_until_data: true,
        ..refusing(Options::with_extensions(&["PIPELINING"]))
    };
    let server = FakeServer::start(options).await;
    let mut conn = connect(&server, &config()).await;
    assert!(conn.extensions().pipelining);
    let sender = address("sender@example.org");
    let rcpts = [address("good@example.net"), address("bad@example.net")];
    // The server answers MAIL and RCPT only once DATA has arrived, so a client waiting
    // for replies before sending DATA would stall here until the test fails.
    let results = conn
        .send(&transaction(&sender, &rcpts, BODY))
        .await
        .unwrap();
    assert!(results[0].is_accepted(), "{results:?}");
    assert_eq!(reply(&results[1]), "550 5.1.1 no such user");
    conn.quit().await;

    let session = &server.wait_closed(1).await[0];
    let lines = session.lines();
    assert_eq!(
        &lines[1..5],
        [
            "MAIL FROM:<sender@example.org>",
            "RCPT TO:<good@example.net>",
            "RCPT TO:<bad@example.net>",
            "DATA"
        ]
    );
    assert_eq!(session.bodies, [BODY.to_vec()]);
}

#[tokio::test]
async fn many_pipelined_recipients_keep_their_order() {
    let options = Options::with_extensions(&["PIPELINING"]).respond(|_, line| {
        line.starts_with("RCPT TO:<r7")
            .then(|| format!("550 5.1.1 {line} unknown"))
    });
    let server = FakeServer::start(options).await;
    let mut conn = connect(&server, &config()).await;
    let sender = address("sender@example.org");
    let rcpts: Vec<Address> = (0..250)
        .map(|i| address(&format!("r{i}@example.net")))
        .collect();
    let results = conn
        .send(&transaction(&sender, &rcpts, BODY))
        .await
        .unwrap();
    assert_eq!(results.len(), rcpts.len());
    for (rcpt, result) in rcpts.iter().zip(&results) {
        if rcpt.local().starts_with("r7") {
            assert_eq!(reply(result), format!("550 5.1.1 RCPT TO:<{rcpt}> unknown"));
        } else {
            assert!(result.is_accepted(), "{rcpt}: {result:?}");
        }
    }
    conn.quit().await;
    assert_eq!(server.wait_closed(1).await[0].bodies, [BODY.to_vec()]);
}

#[tokio::test]
async fn pipelined_transaction_without_accepted_recipients_sends_no_body_and_resets() {
    let options = refusing(Options::with_extensions(&["PIPELINING"])).respond(|_, line| {
        if line.starts_with("RCPT") {
            Some("550 5.1.1 no such user".into())
        } else if line == "DATA" {
            Some("554 5.5.1 no valid recipients".into())
        } else {
            None
        }
    });
    let server = FakeServer::start(options).await;
    let mut conn = connect(&server, &config()).await;
    let sender = address("sender@example.org");
    let rcpts = [address("a@example.net"), address("b@example.net")];
    let results = conn
        .send(&transaction(&sender, &rcpts, BODY))
        .await
        .unwrap();
    assert!(results.iter().all(|r| reply(r) == "550 5.1.1 no such user"));
    assert!(conn.is_reusable());

    // The next transaction on the same connection starts with RSET.
    let results = conn
        .send(&transaction(&sender, &rcpts, BODY))
        .await
        .unwrap();
    assert_eq!(results.len(), 2);
    conn.quit().await;
    let session = &server.wait_closed(1).await[0];
    assert!(session.bodies.is_empty());
    let lines = session.lines();
    let second_mail = lines.iter().rposition(|l| l.starts_with("MAIL")).unwrap();
    assert_eq!(lines[second_mail - 1], "RSET");
    assert_eq!(lines.iter().filter(|l| *l == "RSET").count(), 1);
}

#[tokio::test]
async fn a_354_without_recipients_gets_an_empty_end_of_data() {
    // RFC 2920 §3.1 wants 503/554 here; a server that says 354 anyway gets only the
    // terminating dot, never the message.
    let options = Options::with_extensions(&["PIPELINING"]).respond(|_, line| {
        if line.starts_with("RCPT") {
            Some("550 5.1.1 no such user".into())
        } else if line == "DATA" {
            Some("354 go ahead anyway".into())
        } else if line == "<end-of-data>" {
            Some("554 5.5.1 no valid recipients".into())
        } else {
            None
        }
    });
    let server = FakeServer::start(options).await;
    let mut conn = connect(&server, &config()).await;
    let sender = address("sender@example.org");
    let rcpts = [address("a@example.net")];
    let results = conn
        .send(&transaction(&sender, &rcpts, BODY))
        .await
        .unwrap();
    assert_eq!(reply(&results[0]), "550 5.1.1 no such user");
    assert!(conn.is_reusable());
    conn.quit().await;
    assert_eq!(server.wait_closed(1).await[0].bodies, [Vec::<u8>::new()]);
}

#[tokio::test]
async fn mail_refused_applies_to_every_recipient() {
    for extensions in [&["PIPELINING"][..], &[][..]] {
        let options = Options::with_extensions(extensions).respond(|_, line| {
            line.starts_with("MAIL")
                .then(|| "451 4.3.0 sender check failed".to_string())
        });
        let server = FakeServer::start(options).await;
        let mut conn = connect(&server, &config()).await;
        let sender = address("sender@example.org");
        let rcpts = [address("a@example.net"), address("b@example.net")];
        let results = conn
            .send(&transaction(&sender, &rcpts, BODY))
            .await
            .unwrap();
        assert_eq!(results.len(), 2);
        for r in &results {
            assert!(matches!(r, RecipientResult::Temporary(_)), "{r:?}");
            assert_eq!(reply(r), "451 4.3.0 sender check failed");
        }
        conn.quit().await;
        let session = &server.wait_closed(1).await[0];
        assert!(session.bodies.is_empty());
        if extensions.is_empty() {
            // Without pipelining nothing follows a refused MAIL.
            assert!(session.with_verb("RCPT").is_empty());
        }
    }
}

#[tokio::test]
async fn helo_when_ehlo_is_refused() {
    let options = Options::default().respond(|_, line| {
        line.starts_with("EHLO")
            .then(|| "502 5.5.2 command not implemented".to_string())
    });
    let server = FakeServer::start(options).await;
    let mut conn = connect(&server, &config()).await;
    assert_eq!(conn.extensions(), &Default::default());
    let sender = address("sender@example.org");
    let rcpts = [address("good@example.net")];
    let results = conn
        .send(&transaction(&sender, &rcpts, BODY))
        .await
        .unwrap();
    assert!(results[0].is_accepted());
    conn.quit().await;
    let lines = server.wait_closed(1).await[0].lines();
    assert_eq!(
        &lines[..3],
        [
            "EHLO client.test",
            "HELO client.test",
            "MAIL FROM:<sender@example.org>"
        ]
    );
}

#[tokio::test]
async fn data_is_dot_stuffed_and_terminated() {
    let server = FakeServer::start(Options::default()).await;
    let mut conn = connect(&server, &config()).await;
    let sender = address("sender@example.org");
    let rcpts = [address("good@example.net")];
    let body: &[u8] = b"Subject: dots\r\n\r\n.x\r\n..y\r\n.\r\nlast line without end";
    let results = conn
        .send(&transaction(&sender, &rcpts, body))
        .await
        .unwrap();
    assert!(results[0].is_accepted());
    let with_crlf: &[u8] = b"Subject: dots\r\n\r\n.x\r\n..y\r\n.\r\nends properly\r\n";
    let results = conn
        .send(&transaction(&sender, &rcpts, with_crlf))
        .await
        .unwrap();
    assert!(results[0].is_accepted());
    conn.quit().await;

    let session = &server.wait_closed(1).await[0];
    let wire = &session.bodies[0];
    assert_eq!(
        wire.as_slice(),
        b"Subject: dots\r\n\r\n..x\r\n...y\r\n..\r\nlast line without end\r\n"
    );
    let mut expected = body.to_vec();
    expected.extend_from_slice(b"\r\n");
    assert_eq!(unstuff(wire), expected);
    assert_eq!(unstuff(&session.bodies[1]), with_crlf);
}

#[tokio::test]
async fn bdat_carries_the_exact_octets_when_chunking_is_offered() {
    let server = FakeServer::start(Options::with_extensions(&["CHUNKING", "PIPELINING"])).await;
    let mut conn = connect(&server, &config()).await;
    let sender = address("sender@example.org");
    let rcpts = [address("good@example.net")];
    let small: &[u8] = b"Subject: raw\r\n\r\n.x\r\n";
    let results = conn
        .send(&transaction(&sender, &rcpts, small))
        .await
        .unwrap();
    assert!(results[0].is_accepted());

    // Larger than one chunk: several BDATs, the last one LAST.
    let large: Vec<u8> = (0..(1024 * 1024 + 1000))
        .map(|i| b"abcdefghi\r\n"[i % 11])
        .collect();
    let results = conn
        .send(&transaction(&sender, &rcpts, &large))
        .await
        .unwrap();
    assert!(results[0].is_accepted());
    conn.quit().await;

    let session = &server.wait_closed(1).await[0];
    assert!(session.with_verb("DATA").is_empty());
    assert_eq!(
        session.with_verb("BDAT"),
        [
            format!("BDAT {} LAST", small.len()),
            "BDAT 1048576".to_string(),
            "BDAT 1000 LAST".to_string(),
        ]
    );
    assert_eq!(session.bodies[0], small);
    assert_eq!(session.bodies[1], large);
}

#[tokio::test]
async fn message_over_the_size_limit_is_refused_without_mail() {
    let server = FakeServer::start(Options::with_extensions(&["SIZE 100"])).await;
    let mut conn = connect(&server, &config()).await;
    assert_eq!(conn.extensions().size, Some(100));
    let sender = address("sender@example.org");
    let rcpts = [address("a@example.net"), address("b@example.net")];
    let big = vec![b'x'; 200];
    let results = conn
        .send(&transaction(&sender, &rcpts, &big))
        .await
        .unwrap();
    for r in &results {
        assert!(matches!(r, RecipientResult::Permanent(_)), "{r:?}");
        assert_eq!(r.reply().code, 552);
        assert_eq!(r.reply().enhanced, Some((5, 3, 4)));
    }
    // Within the limit the size is declared.
    let results = conn
        .send(&transaction(&sender, &rcpts, BODY))
        .await
        .unwrap();
    assert!(results.iter().all(RecipientResult::is_accepted));
    conn.quit().await;
    let session = &server.wait_closed(1).await[0];
    assert_eq!(
        session.with_verb("MAIL"),
        [format!(
            "MAIL FROM:<sender@example.org> SIZE={}",
            BODY.len()
        )]
    );
}

#[tokio::test]
async fn smtputf8_message_needs_an_smtputf8_server() {
    let sender = address("sender@example.org");
    let rcpts = [address("jösé@example.net")];

    let server = FakeServer::start(Options::with_extensions(&["8BITMIME"])).await;
    let mut conn = connect(&server, &config()).await;
    let results = conn
        .send(&transaction(&sender, &rcpts, BODY))
        .await
        .unwrap();
    assert!(matches!(results[0], RecipientResult::Permanent(_)));
    assert_eq!(results[0].reply().code, 550);
    assert_eq!(results[0].reply().enhanced, Some((5, 6, 7)));
    // An ASCII envelope with a UTF-8 header (tx.smtputf8) is refused the same way.
    let ascii = [address("plain@example.net")];
    let mut tx = transaction(&sender, &ascii, BODY);
    tx.smtputf8 = true;
    let results = conn.send(&tx).await.unwrap();
    assert_eq!(results[0].reply().enhanced, Some((5, 6, 7)));
    conn.quit().await;
    assert_eq!(
        server.wait_closed(1).await[0].lines(),
        ["EHLO client.test", "QUIT"]
    );

    let server = FakeServer::start(Options::with_extensions(&["SMTPUTF8"])).await;
    let mut conn = connect(&server, &config()).await;
    let results = conn
        .send(&transaction(&sender, &rcpts, BODY))
        .await
        .unwrap();
    assert!(results[0].is_accepted());
    conn.quit().await;
    let session = &server.wait_closed(1).await[0];
    assert_eq!(
        session.with_verb("MAIL"),
        ["MAIL FROM:<sender@example.org> SMTPUTF8"]
    );
    assert_eq!(session.with_verb("RCPT"), ["RCPT TO:<jösé@example.net>"]);
}

#[tokio::test]
async fn eight_bit_bodies_follow_8bitmime() {
    let sender = address("sender@example.org");
    let rcpts = [address("good@example.net")];
    let eight_bit = "Subject: caf\u{e9}\r\n\r\nd\u{e9}j\u{e0} vu\r\n".as_bytes();

    // No 8BITMIME: an 8-bit body is refused, a 7-bit one goes without BODY=.
    let server = FakeServer::start(Options::default()).await;
    let mut conn = connect(&server, &config()).await;
    let mut tx = transaction(&sender, &rcpts, eight_bit);
    tx.body_type = BodyType::EightBitMime;
    let results = conn.send(&tx).await.unwrap();
    assert!(matches!(results[0], RecipientResult::Permanent(_)));
    assert_eq!(results[0].reply().code, 554);
    assert_eq!(results[0].reply().enhanced, Some((5, 6, 3)));
    let mut tx = transaction(&sender, &rcpts, BODY);
    tx.body_type = BodyType::EightBitMime;
    let results = conn.send(&tx).await.unwrap();
    assert!(results[0].is_accepted());
    conn.quit().await;
    let session = &server.wait_closed(1).await[0];
    assert_eq!(
        session.with_verb("MAIL"),
        ["MAIL FROM:<sender@example.org>"]
    );
    assert_eq!(session.bodies, [BODY.to_vec()]);

    // With 8BITMIME: BODY=8BITMIME.
    let server = FakeServer::start(Options::with_extensions(&["8BITMIME"])).await;
    let mut conn = connect(&server, &config()).await;
    let mut tx = transaction(&sender, &rcpts, eight_bit);
    tx.body_type = BodyType::EightBitMime;
    assert!(conn.send(&tx).await.unwrap()[0].is_accepted());
    conn.quit().await;
    let session = &server.wait_closed(1).await[0];
    assert_eq!(
        session.with_verb("MAIL"),
        ["MAIL FROM:<sender@example.org> BODY=8BITMIME"]
    );
    assert_eq!(session.bodies, [eight_bit.to_vec()]);
}

#[tokio::test]
async fn binary_bodies_need_chunking_and_binarymime() {
    let sender = address("sender@example.org");
    let rcpts = [address("good@example.net")];
    let binary: &[u8] = b"Subject: bin\r\n\r\n\0\x01\xff\n\r";

    let server = FakeServer::start(Options::with_extensions(&["CHUNKING", "8BITMIME"])).await;
    let mut conn = connect(&server, &config()).await;
    let mut tx = transaction(&sender, &rcpts, binary);
    tx.body_type = BodyType::BinaryMime;
    let results = conn.send(&tx).await.unwrap();
    assert_eq!(results[0].reply().enhanced, Some((5, 6, 3)));
    conn.quit().await;
    assert!(server.wait_closed(1).await[0].with_verb("MAIL").is_empty());

    let server = FakeServer::start(Options::with_extensions(&["CHUNKING", "BINARYMIME"])).await;
    let mut conn = connect(&server, &config()).await;
    assert!(conn.send(&tx).await.unwrap()[0].is_accepted());
    conn.quit().await;
    let session = &server.wait_closed(1).await[0];
    assert_eq!(
        session.with_verb("MAIL"),
        ["MAIL FROM:<sender@example.org> BODY=BINARYMIME"]
    );
    assert_eq!(session.bodies, [binary.to_vec()]);
}

#[tokio::test]
async fn dsn_parameters_only_to_dsn_servers() {
    let sender = address("sender@example.org");
    let alice = address("alice@example.net");
    let bob = address("bob@example.net");
    let notify = Notify {
        success: true,
        failure: true,
        delay: false,
        explicit: true,
    };
    let tx = Transaction {
        sender: Some(&sender),
        recipients: vec![
            (
                &alice,
                RecipientDsn {
                    notify,
                    orcpt: Some("rfc822;Alice+2Bx@example.net".into()),
                },
            ),
            (&bob, RecipientDsn::default()),
        ],
        body: BODY,
        ret: Some(Ret::Headers),
        envid: Some("QQ+314"),
        require_tls: false,
        ..Transaction::default()
    };

    let server = FakeServer::start(Options::with_extensions(&["DSN"])).await;
    let mut conn = connect(&server, &config()).await;
    assert!(conn.dsn_passed_on());
    assert!(
        conn.send(&tx)
            .await
            .unwrap()
            .iter()
            .all(RecipientResult::is_accepted)
    );
    conn.quit().await;
    let session = &server.wait_closed(1).await[0];
    assert_eq!(
        session.with_verb("MAIL"),
        ["MAIL FROM:<sender@example.org> RET=HDRS ENVID=QQ+2B314"]
    );
    assert_eq!(
        session.with_verb("RCPT"),
        [
            "RCPT TO:<alice@example.net> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;Alice+2Bx@example.net",
            "RCPT TO:<bob@example.net>",
        ]
    );

    let server = FakeServer::start(Options::default()).await;
    let mut conn = connect(&server, &config()).await;
    assert!(!conn.dsn_passed_on());
    assert!(
        conn.send(&tx)
            .await
            .unwrap()
            .iter()
            .all(RecipientResult::is_accepted)
    );
    conn.quit().await;
    let session = &server.wait_closed(1).await[0];
    assert_eq!(
        session.with_verb("MAIL"),
        ["MAIL FROM:<sender@example.org>"]
    );
    assert_eq!(
        session.with_verb("RCPT"),
        ["RCPT TO:<alice@example.net>", "RCPT TO:<bob@example.net>"]
    );
}

#[tokio::test]
async fn null_sender() {
    let server = FakeServer::start(Options::default()).await;
    let mut conn = connect(&server, &config()).await;
    let rcpts = [address("good@example.net")];
    let tx = Transaction {
        sender: None,
        recipients: vec![(&rcpts[0], RecipientDsn::default())],
        body: BODY,
        ..Transaction::default()
    };
    assert!(conn.send(&tx).await.unwrap()[0].is_accepted());
    conn.quit().await;
    assert_eq!(
        server.wait_closed(1).await[0].with_verb("MAIL"),
        ["MAIL FROM:<>"]
    );
}

fn tls_options(extensions: &[&str]) -> Options {
    Options {
        tls: Some(client_support::self_signed_server("mx.test")),
        ..Options::with_extensions(extensions)
    }
}

#[tokio::test]
async fn opportunistic_starttls_with_a_self_signed_certificate() {
    let options = Options {
        tls_extensions: Some(vec!["PIPELINING".into(), "8BITMIME".into()]),
        ..tls_options(&["STARTTLS"])
    };
    let server = FakeServer::start(options).await;
    let mut conn = connect(&server, &config()).await;
    assert!(conn.is_tls());
    // The extensions are those of the EHLO after TLS (RFC 3207 §4.2).
    assert!(conn.extensions().pipelining && !conn.extensions().starttls);
    let sender = address("sender@example.org");
    let rcpts = [address("good@example.net")];
    assert!(
        conn.send(&transaction(&sender, &rcpts, BODY))
            .await
            .unwrap()[0]
            .is_accepted()
    );
    conn.quit().await;

    let session = &server.wait_closed(1).await[0];
    let lines = session.lines();
    assert_eq!(
        &lines[..3],
        ["EHLO client.test", "STARTTLS", "EHLO client.test"]
    );
    assert!(!session.commands[0].tls && !session.commands[1].tls);
    assert!(session.commands[2..].iter().all(|c| c.tls), "{session:?}");
    assert_eq!(session.bodies, [BODY.to_vec()]);
}

#[tokio::test]
async fn opportunistic_tls_falls_back_to_clear_text_after_a_failed_handshake() {
    let options = Options {
        break_tls_in_session: Some(0),
        ..tls_options(&["STARTTLS"])
    };
    let server = FakeServer::start(options).await;
    let mut conn = connect(&server, &config()).await;
    assert!(!conn.is_tls());
    let sender = address("sender@example.org");
    let rcpts = [address("good@example.net")];
    assert!(
        conn.send(&transaction(&sender, &rcpts, BODY))
            .await
            .unwrap()[0]
            .is_accepted()
    );
    conn.quit().await;
    let sessions = server.wait_closed(2).await;
    assert_eq!(sessions[0].lines(), ["EHLO client.test", "STARTTLS"]);
    assert!(!sessions[1].lines().contains(&"STARTTLS".to_string()));
    assert_eq!(sessions[1].bodies, [BODY.to_vec()]);
}

#[tokio::test]
async fn required_tls_fails_without_starttls() {
    let server = FakeServer::start(Options::with_extensions(&["PIPELINING"])).await;
    let config = ClientConfig {
        tls: TlsMode::Required,
        ..config()
    };
    let err = connect_err(&server, &config).await;
    assert!(!err.permanent);
    assert!(err.message.starts_with("4.7.4"), "{err}");
    let session = &server.wait_closed(1).await[0];
    assert!(session.with_verb("MAIL").is_empty(), "{session:?}");
}

#[tokio::test]
async fn required_tls_fails_when_the_handshake_fails() {
    let options = Options {
        break_tls_in_session: Some(0),
        ..tls_options(&["STARTTLS"])
    };
    let server = FakeServer::start(options).await;
    let config = ClientConfig {
        tls: TlsMode::Required,
        ..config()
    };
    let err = connect_err(&server, &config).await;
    assert!(!err.permanent);
    assert!(err.message.starts_with("4.7.5"), "{err}");
    // No clear-text retry.
    assert_eq!(server.wait_closed(1).await.len(), 1);
}

#[tokio::test]
async fn implicit_tls() {
    let options = Options {
        implicit_tls: true,
        ..tls_options(&["PIPELINING"])
    };
    let server = FakeServer::start(options).await;
    let config = ClientConfig {
        tls: TlsMode::Implicit,
        ..config()
    };
    let mut conn = connect(&server, &config).await;
    assert!(conn.is_tls());
    let sender = address("sender@example.org");
    let rcpts = [address("good@example.net")];
    assert!(
        conn.send(&transaction(&sender, &rcpts, BODY))
            .await
            .unwrap()[0]
            .is_accepted()
    );
    conn.quit().await;
    let session = &server.wait_closed(1).await[0];
    assert!(session.commands.iter().all(|c| c.tls));
}

fn with_credentials(password: &str, tls: TlsMode) -> ClientConfig {
    ClientConfig {
        credentials: Some(("user@example.org".into(), password.into())),
        tls,
        ..config()
    }
}

fn auth_options(mechanisms: &str) -> Options {
    Options {
        credentials: Some(("user@example.org".into(), "s3cret".into())),
        tls_extensions: Some(vec![mechanisms.into()]),
        ..tls_options(&["STARTTLS"])
    }
}

#[tokio::test]
async fn auth_plain_over_tls() {
    let server = FakeServer::start(auth_options("AUTH LOGIN PLAIN")).await;
    let mut conn = connect(&server, &with_credentials("s3cret", TlsMode::Required)).await;
    assert!(conn.is_tls());
    let sender = address("sender@example.org");
    let rcpts = [address("good@example.net")];
    assert!(
        conn.send(&transaction(&sender, &rcpts, BODY))
            .await
            .unwrap()[0]
            .is_accepted()
    );
    conn.quit().await;
    let session = &server.wait_closed(1).await[0];
    let auth = session.with_verb("AUTH");
    assert_eq!(auth.len(), 1);
    assert!(auth[0].starts_with("AUTH PLAIN "), "{auth:?}");
    assert!(
        session
            .commands
            .iter()
            .find(|c| c.line.starts_with("AUTH"))
            .unwrap()
            .tls
    );
}

#[tokio::test]
async fn auth_login_when_plain_is_not_offered() {
    let server = FakeServer::start(auth_options("AUTH LOGIN")).await;
    let conn = connect(&server, &with_credentials("s3cret", TlsMode::Opportunistic)).await;
    conn.quit().await;
    let session = &server.wait_closed(1).await[0];
    assert_eq!(session.with_verb("AUTH"), ["AUTH LOGIN"]);
}

#[tokio::test]
async fn auth_refused_is_permanent() {
    let server = FakeServer::start(auth_options("AUTH PLAIN")).await;
    let err = connect_err(&server, &with_credentials("wrong", TlsMode::Required)).await;
    assert!(err.permanent, "{err}");
    assert_eq!(err.reply.as_ref().map(|r| r.code), Some(535));
    let session = &server.wait_closed(1).await[0];
    assert!(session.with_verb("MAIL").is_empty());
}

#[tokio::test]
async fn credentials_are_not_sent_in_clear_text() {
    let options = Options {
        credentials: Some(("user@example.org".into(), "s3cret".into())),
        ..Options::with_extensions(&["AUTH PLAIN"])
    };
    let server = FakeServer::start(options).await;
    let err = connect_err(&server, &with_credentials("s3cret", TlsMode::Opportunistic)).await;
    assert!(!err.permanent);
    assert!(err.message.starts_with("4.7.4"), "{err}");
    let session = &server.wait_closed(1).await[0];
    assert!(session.with_verb("AUTH").is_empty(), "{session:?}");

    // Unless TLS is disabled on purpose.
    let options = Options {
        credentials: Some(("user@example.org".into(), "s3cret".into())),
        ..Options::with_extensions(&["AUTH PLAIN"])
    };
    let server = FakeServer::start(options).await;
    let conn = connect(&server, &with_credentials("s3cret", TlsMode::Disabled)).await;
    conn.quit().await;
    assert_eq!(server.wait_closed(1).await[0].with_verb("AUTH").len(), 1);
}

#[tokio::test]
async fn two_transactions_over_one_connection() {
    let server = FakeServer::start(Options::with_extensions(&["PIPELINING"])).await;
    let mut conn = connect(&server, &config()).await;
    let sender = address("sender@example.org");
    let first = [address("one@example.net")];
    let second = [address("two@example.net"), address("three@example.net")];
    let body2: &[u8] = b"Subject: second\r\n\r\nx\r\n";
    assert!(
        conn.send(&transaction(&sender, &first, BODY))
            .await
            .unwrap()[0]
            .is_accepted()
    );
    assert!(conn.is_reusable());
    let results = conn
        .send(&transaction(&sender, &second, body2))
        .await
        .unwrap();
    assert!(results.iter().all(RecipientResult::is_accepted));
    conn.quit().await;
    let sessions = server.wait_closed(1).await;
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0].with_verb("MAIL").len(), 2);
    assert!(sessions[0].with_verb("RSET").is_empty());
    assert_eq!(sessions[0].bodies, [BODY.to_vec(), body2.to_vec()]);
}

#[tokio::test]
async fn connection_lost_after_the_body_is_temporary_for_accepted_recipients() {
    for extensions in [&[][..], &["CHUNKING"][..]] {
        let options = Options {
            close_after_body: true,
            ..refusing(Options::with_extensions(extensions))
        };
        let server = FakeServer::start(options).await;
        let mut conn = connect(&server, &config()).await;
        let sender = address("sender@example.org");
        let rcpts = [address("good@example.net"), address("bad@example.net")];
        let results = conn
            .send(&transaction(&sender, &rcpts, BODY))
            .await
            .unwrap();
        assert!(
            matches!(results[0], RecipientResult::Temporary(_)),
            "{results:?}"
        );
        assert!(
            reply(&results[0]).contains("may have been delivered"),
            "{results:?}"
        );
        assert_eq!(reply(&results[1]), "550 5.1.1 no such user");
        assert!(!conn.is_reusable());
        assert!(
            conn.send(&transaction(&sender, &rcpts, BODY))
                .await
                .is_err()
        );
        assert_eq!(server.wait_closed(1).await[0].bodies, [BODY.to_vec()]);
    }
}

#[tokio::test]
async fn timeout_waiting_for_the_end_of_data_reply() {
    let options =
        Options::default().respond(|_, line| (line == "<end-of-data>").then(|| STALL.to_string()));
    let server = FakeServer::start(options).await;
    let config = ClientConfig {
        timeouts: Timeouts {
            data_end: Duration::from_millis(300),
            ..Timeouts::all(PATIENCE)
        },
        ..config()
    };
    let mut conn = connect(&server, &config).await;
    let sender = address("sender@example.org");
    let rcpts = [address("good@example.net")];
    let results = conn
        .send(&transaction(&sender, &rcpts, BODY))
        .await
        .unwrap();
    assert!(matches!(results[0], RecipientResult::Temporary(_)));
    let text = reply(&results[0]);
    assert!(
        text.starts_with("451 4.4.2 timeout waiting for reply to end of data"),
        "{text}"
    );
    assert!(!conn.is_reusable());
}

#[tokio::test]
async fn connection_lost_before_any_decision_is_an_error() {
    let options =
        Options::default().respond(|_, line| line.starts_with("RCPT").then(|| STALL.to_string()));
    let server = FakeServer::start(options).await;
    let config = ClientConfig {
        timeouts: Timeouts {
            rcpt: Duration::from_millis(300),
            ..Timeouts::all(PATIENCE)
        },
        ..config()
    };
    let mut conn = connect(&server, &config).await;
    let sender = address("sender@example.org");
    let rcpts = [address("good@example.net")];
    let err = conn
        .send(&transaction(&sender, &rcpts, BODY))
        .await
        .unwrap_err();
    assert!(!err.permanent);
    assert!(
        err.message
            .starts_with("4.4.2 timeout waiting for reply to RCPT"),
        "{err}"
    );
    assert!(!conn.is_reusable());
}

#[tokio::test]
async fn server_closing_with_421_is_temporary_for_open_recipients() {
    let options = refusing(Options::with_extensions(&["PIPELINING"])).respond(|_, line| {
        if line.contains("<bad@") {
            Some("550 5.1.1 no such user".into())
        } else if line.contains("<second@") {
            Some("421 4.3.2 shutting down".into())
        } else {
            None
        }
    });
    let server = FakeServer::start(options).await;
    let mut conn = connect(&server, &config()).await;
    let sender = address("sender@example.org");
    let rcpts = [
        address("first@example.net"),
        address("bad@example.net"),
        address("second@example.net"),
        address("third@example.net"),
    ];
    let results = conn
        .send(&transaction(&sender, &rcpts, BODY))
        .await
        .unwrap();
    assert_eq!(reply(&results[1]), "550 5.1.1 no such user");
    for i in [0, 2, 3] {
        assert!(
            matches!(results[i], RecipientResult::Temporary(_)),
            "{results:?}"
        );
        assert_eq!(reply(&results[i]), "421 4.3.2 shutting down");
    }
    assert!(!conn.is_reusable());
    conn.quit().await;
    assert!(server.wait_closed(1).await[0].bodies.is_empty());
}

#[tokio::test]
async fn greeting_timeout_is_temporary() {
    let options = Options {
        greeting: None,
        ..Options::default()
    };
    let server = FakeServer::start(options).await;
    let config = ClientConfig {
        timeouts: Timeouts {
            greeting: Duration::from_millis(200),
            ..Timeouts::all(PATIENCE)
        },
        ..config()
    };
    let err = connect_err(&server, &config).await;
    assert!(!err.permanent);
    assert!(
        err.message
            .starts_with("4.4.2 timeout waiting for greeting"),
        "{err}"
    );
}

#[tokio::test]
async fn greeting_554_is_permanent() {
    let options = Options {
        greeting: Some("554 5.7.1 no service for you".into()),
        ..Options::default()
    };
    let server = FakeServer::start(options).await;
    let err = connect_err(&server, &config()).await;
    assert!(err.permanent);
    assert_eq!(
        err.reply.as_ref().unwrap().to_string(),
        "554 5.7.1 no service for you"
    );
    // RFC 5321 §3.1: the client answers such a greeting with QUIT.
    assert_eq!(server.wait_closed(1).await[0].lines(), ["QUIT"]);
}

#[tokio::test]
async fn connection_refused_is_temporary() {
    // Bind and drop to get a loopback port with nobody listening.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let err = Connection::connect(addr, "mx.test", &config())
        .await
        .unwrap_err();
    assert!(!err.permanent);
    assert!(err.message.starts_with("4.4.1"), "{err}");
}

#[tokio::test]
async fn verified_tls_accepts_the_configured_ca_and_rejects_others() {
    let (ca_pem, signed) = client_support::ca_signed_server("mx.test");
    let ca_file = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("relay-client-ca-{}.pem", std::process::id()));
    std::fs::write(&ca_file, ca_pem).unwrap();
    let verified = ClientConfig {
        tls: TlsMode::Required,
        tls_config: relay::tls::verified_config(Some(&ca_file)).unwrap(),
        ..config()
    };

    let server = FakeServer::start(Options {
        tls: Some(signed.clone()),
        ..Options::with_extensions(&["STARTTLS"])
    })
    .await;
    let conn = connect(&server, &verified).await;
    assert!(conn.is_tls());
    conn.quit().await;

    // The right CA but the wrong name.
    let err = Connection::connect(server.addr, "other.test", &verified)
        .await
        .unwrap_err();
    assert!(err.message.starts_with("4.7.5"), "{err}");

    // A self-signed certificate nobody vouches for.
    let server = FakeServer::start(tls_options(&["STARTTLS"])).await;
    let err = connect_err(&server, &verified).await;
    assert!(!err.permanent);
    assert!(err.message.starts_with("4.7.5"), "{err}");
    // Without the extra CA the signed one is unknown as well.
    let server = FakeServer::start(Options {
        tls: Some(signed),
        ..Options::with_extensions(&["STARTTLS"])
    })
    .await;
    let plain_roots = ClientConfig {
        tls_config: relay::tls::verified_config(None).unwrap(),
        ..verified.clone()
    };
    assert!(
        Connection::connect(server.addr, "mx.test", &plain_roots)
            .await
            .is_err()
    );
    std::fs::remove_file(&ca_file).unwrap();
}

#[test]
fn verified_config_rejects_a_file_without_certificates() {
    let file = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("relay-client-empty-{}.pem", std::process::id()));
    std::fs::write(&file, "not a certificate\n").unwrap();
    assert!(relay::tls::verified_config(Some(&file)).is_err());
    std::fs::remove_file(&file).unwrap();
    assert!(relay::tls::verified_config(Some(&file)).is_err());
}
