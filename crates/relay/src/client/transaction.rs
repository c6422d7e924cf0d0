//! One mail transaction as the caller describes it, and the plan for sending it to a
//! particular server: the checks that can refuse the message before anything is sent
//! (SMTPUTF8, SIZE, 8BITMIME/BINARYMIME) and the MAIL and RCPT command lines.
//!
//! Where it sits: between the caller's [`Transaction`] and `send`, which
//! carries the plan out on the wire. Pure functions, no I/O.

use std::net::SocketAddr;

use message::{Address, BodyType, RecipientDsn, Ret};

use super::extensions::Extensions;
use super::reply::ServerReply;

/// One message for one server.
#[derive(Debug, Clone, Default)]
pub struct Transaction<'a> {
    /// The reverse-path; `None` is the null reverse-path `<>`.
    pub sender: Option<&'a Address>,
    /// The forward-paths with their DSN requests.
    pub recipients: Vec<(&'a Address, RecipientDsn)>,
    /// The full message, CRLF line endings, not dot-stuffed.
    pub body: &'a [u8],
    /// What the message is (RFC 6152, RFC 3030).
    pub body_type: BodyType,
    /// The message needs SMTPUTF8 (RFC 6531), e.g. UTF-8 in its header.
    pub smtputf8: bool,
    /// `RET=` (RFC 3461 §4.3).
    pub ret: Option<Ret>,
    /// `ENVID=`, not encoded (it is xtext-encoded on the wire, RFC 3461 §4.4).
    pub envid: Option<&'a str>,
    /// `REQUIRETLS` (RFC 8689 §4): sent on MAIL FROM, and only to a server that
    /// advertised it (the caller has made sure the session's TLS is verified).
    pub require_tls: bool,
}

/// How a transaction goes to one server.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Plan {
    /// The MAIL command.
    pub mail: String,
    /// One RCPT command per recipient, in order.
    pub rcpts: Vec<String>,
    /// Send the body with BDAT (RFC 3030) rather than DATA.
    pub bdat: bool,
    /// The body goes as `BODY=BINARYMIME` (RFC 3030 §3): its octets are carried
    /// exactly, bare CR and LF included; otherwise line ends are normalised to CRLF.
    pub binary: bool,
}

/// What the octets of a body need (RFC 6152 §2, RFC 3030 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Content {
    /// ASCII, no NUL, every line ending in CRLF.
    SevenBit,
    /// As 7-bit, but with octets above 127.
    EightBit,
    /// NUL or a bare CR or LF: only BINARYMIME can carry it.
    Binary,
}

fn classify(body: &[u8]) -> Content {
    let mut content = Content::SevenBit;
    let mut previous = 0u8;
    for (i, &b) in body.iter().enumerate() {
        let bad = match b {
            0 => true,
            b'\r' => body.get(i + 1) != Some(&b'\n'),
            b'\n' => previous != b'\r',
            _ => false,
        };
        if bad {
            return Content::Binary;
        }
        if b >= 0x80 {
            content = Content::EightBit;
        }
        previous = b;
    }
    content
}

/// Decides how to send `tx` to a server with `ext`, or the reply that refuses every
/// recipient because the server cannot take the message as it is.
pub(super) fn plan(
    tx: &Transaction<'_>,
    ext: &Extensions,
    peer: SocketAddr,
) -> Result<Plan, ServerReply> {
    // RFC 6531 §3.2: a message needing SMTPUTF8 must not go to a server without it
    // (we do no downgrading).
    let utf8 = tx.smtputf8
        || tx.sender.is_some_and(Address::is_utf8)
        || tx.recipients.iter().any(|(a, _)| a.is_utf8());
    if utf8 && !ext.smtputf8 {
        return Err(ServerReply::synthetic(
            550,
            (5, 6, 7),
            format!("{peer} does not support SMTPUTF8, which this message needs"),
        ));
    }
    // RFC 1870 §6: a message larger than the declared maximum would be refused anyway.
    let size = tx.body.len() as u64;
    if let Some(limit) = ext.size
        && limit > 0
        && size > limit
    {
        return Err(ServerReply::synthetic(
            552,
            (5, 3, 4),
            format!("message size {size} exceeds the limit of {limit} at {peer}"),
        ));
    }
    // RFC 8689 §4.2.1: a REQUIRETLS message goes only to a server that offers it.
    if tx.require_tls && !ext.requiretls {
        return Err(ServerReply::synthetic(
            550,
            (5, 7, 30),
            format!("REQUIRETLS support required: {peer} does not advertise REQUIRETLS"),
        ));
    }
    let body = body_parameter(tx, ext, peer)?;

    let mut mail = format!(
        "MAIL FROM:<{}>",
        tx.sender.map(Address::to_string).unwrap_or_default()
    );
    if ext.size.is_some() {
        mail.push_str(&format!(" SIZE={size}"));
    }
    if let Some(body) = body {
        mail.push_str(&format!(" BODY={body}"));
    }
    if utf8 {
        mail.push_str(" SMTPUTF8");
    }
    if tx.require_tls {
        mail.push_str(" REQUIRETLS");
    }
    // RFC 3461 §4: DSN parameters only to a server that advertised DSN.
    if ext.dsn {
        if let Some(ret) = tx.ret {
            mail.push_str(&format!(" RET={}", ret.as_str()));
        }
        if let Some(envid) = tx.envid {
            mail.push_str(&format!(" ENVID={}", message::dsn::xtext_encode(envid)));
        }
    }

    let rcpts = tx
        .recipients
        .iter()
        .map(|(address, dsn)| {
            let mut rcpt = format!("RCPT TO:<{address}>");
            if ext.dsn {
                if let Some(notify) = dsn.notify.to_param() {
                    rcpt.push_str(&format!(" NOTIFY={notify}"));
                }
                if let Some(orcpt) = &dsn.orcpt {
                    rcpt.push_str(&format!(" ORCPT={orcpt}"));
                }
            }
            rcpt
        })
        .collect();

    Ok(Plan {
        mail,
        rcpts,
        bdat: ext.chunking,
        binary: body == Some("BINARYMIME"),
    })
}

/// The `BODY=` value (None: send without one), or the 5.6.3 refusal when the server
/// cannot carry the body and we do not convert (RFC 6152 §3, RFC 3030 §3).
fn body_parameter(
    tx: &Transaction<'_>,
    ext: &Extensions,
    peer: SocketAddr,
) -> Result<Option<&'static str>, ServerReply> {
    let refuse = |what: &str| {
        ServerReply::synthetic(
            554,
            (5, 6, 3),
            format!("conversion required but not supported: {peer} does not accept {what}"),
        )
    };
    match tx.body_type {
        BodyType::SevenBit => Ok(None),
        BodyType::EightBitMime if ext.eight_bit_mime => Ok(Some("8BITMIME")),
        BodyType::EightBitMime => match classify(tx.body) {
            Content::SevenBit => Ok(None),
            _ => Err(refuse("8-bit data (no 8BITMIME)")),
        },
        BodyType::BinaryMime if ext.chunking && ext.binarymime => Ok(Some("BINARYMIME")),
        BodyType::BinaryMime => match classify(tx.body) {
            Content::SevenBit => Ok(None),
            Content::EightBit if ext.eight_bit_mime => Ok(Some("8BITMIME")),
            Content::EightBit => Err(refuse("8-bit data (no 8BITMIME)")),
            Content::Binary => Err(refuse("binary data (no CHUNKING with BINARYMIME)")),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_bodies() {
        assert_eq!(classify(b"a\r\nb\r\n"), Content::SevenBit);
        assert_eq!(classify(b""), Content::SevenBit);
        assert_eq!(classify("caf\u{e9}\r\n".as_bytes()), Content::EightBit);
        assert_eq!(classify(b"a\nb"), Content::Binary);
        assert_eq!(classify(b"a\rb"), Content::Binary);
        assert_eq!(classify(b"a\r"), Content::Binary);
        assert_eq!(classify(b"a\0b"), Content::Binary);
    }

    #[test]
    fn requiretls_goes_on_mail_from_only_to_a_server_that_offers_it() {
        let peer: SocketAddr = "192.0.2.1:25".parse().unwrap();
        let sender = Address::parse("a@example.test").unwrap();
        let rcpt = Address::parse("b@example.test").unwrap();
        let tx = Transaction {
            sender: Some(&sender),
            recipients: vec![(&rcpt, Default::default())],
            body: b"x\r\n",
            require_tls: true,
            ..Transaction::default()
        };
        let offered = Extensions {
            requiretls: true,
            ..Extensions::default()
        };
        let plan = plan(&tx, &offered, peer).unwrap();
        assert_eq!(plan.mail, "MAIL FROM:<a@example.test> REQUIRETLS");
        // RFC 8689 §4.2.1: not offered, not sent: 5.7.30 for every recipient.
        let refused = plan_err(&tx, &Extensions::default(), peer);
        assert_eq!(refused.code, 550);
        assert!(refused.to_string().contains("5.7.30"), "{refused}");
        let plain = Transaction {
            require_tls: false,
            ..tx
        };
        assert!(!plan_ok(&plain, &offered, peer).mail.contains("REQUIRETLS"));
    }

    fn plan_err(tx: &Transaction<'_>, ext: &Extensions, peer: SocketAddr) -> ServerReply {
        plan(tx, ext, peer).unwrap_err()
    }

    fn plan_ok(tx: &Transaction<'_>, ext: &Extensions, peer: SocketAddr) -> Plan {
        plan(tx, ext, peer).unwrap()
    }
}
