//! Sending a composed message through an SMTP server, any server: Postie's own
//! submission port, a provider's, a test sink.
//!
//! Where it sits: after [`crate::compose`]; `postie send --server` and bulk sending use
//! it. The SMTP itself is the relay crate's client ([`relay::client::Connection`]):
//! EHLO, STARTTLS (RFC 3207) or implicit TLS (RFC 8314 §3.3), AUTH PLAIN or LOGIN
//! (RFC 4954), PIPELINING (RFC 2920), 8BITMIME (RFC 6152), SMTPUTF8 (RFC 6531) and a
//! result per recipient. This module chooses the TLS policy and trust, resolves the
//! server's name, and sorts failures into the kinds a user can act on
//! ([`FailureKind`], which `postie send` turns into its exit status).
//!
//! Security: the certificate is verified against the web PKI roots (plus `--ca`)
//! unless the user says `--insecure`; credentials never go over clear text unless the
//! user turned TLS off and said `--insecure` as well.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use message::{Address, BodyType, RecipientDsn};
use relay::client::{
    ClientConfig, ClientError, Connection, RecipientResult, Timeouts, TlsMode, Transaction,
    Transcript,
};

/// The submission port (RFC 6409 §3.1), STARTTLS.
pub const SUBMISSION_PORT: u16 = 587;
/// The submissions port (RFC 8314 §7.3), implicit TLS.
pub const SUBMISSIONS_PORT: u16 = 465;

/// How the session is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// STARTTLS when the server offers it; once offered it must succeed.
    StartTlsIfOffered,
    /// STARTTLS must be offered and succeed ("fails closed").
    StartTlsRequired,
    /// TLS from the first byte.
    Implicit,
    /// No TLS at all.
    None,
}

/// Which certificates to trust.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trust {
    /// The web PKI roots (Mozilla's, from webpki-roots).
    Default,
    /// Those and every certificate in this PEM file.
    ExtraCa(PathBuf),
    /// Anything: the session is encrypted but the server is not authenticated.
    Insecure,
}

/// Where and how to send.
#[derive(Clone)]
pub struct Options {
    /// The server's host name or IP address.
    pub host: String,
    /// Its port.
    pub port: u16,
    /// TLS policy.
    pub security: Security,
    /// Certificate trust.
    pub trust: Trust,
    /// User name and password for AUTH.
    pub credentials: Option<(String, String)>,
    /// The name we give in EHLO.
    pub helo: String,
    /// Limit for each step of the dialogue.
    pub timeout: Duration,
    /// Makes a transcript hook for the n-th connection (`--debug`).
    pub transcript: Option<TranscriptFactory>,
    /// `REQUIRETLS` on MAIL FROM (RFC 8689 §4.2.1): only over verified TLS, to a
    /// server that advertises it; every recipient is refused (550 5.7.30) by one that
    /// does not (`--require-tls`).
    pub require_tls: bool,
}

/// Makes the transcript hook for the n-th connection (numbered from 1).
pub type TranscriptFactory = Arc<dyn Fn(usize) -> Transcript + Send + Sync>;

impl std::fmt::Debug for Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Options")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("trust", &self.trust)
            .field("user", &self.credentials.as_ref().map(|(u, _)| u))
            .field("helo", &self.helo)
            .field("timeout", &self.timeout)
            .field("require_tls", &self.require_tls)
            .finish()
    }
}

/// Splits `host`, `host:port`, `[v6]` or `[v6]:port`; `None` for the port when absent.
pub fn parse_server(text: &str) -> Result<(String, Option<u16>), String> {
    let bad = || format!("{text:?} is not HOST or HOST:PORT");
    let text = text.trim();
    if text.is_empty() {
        return Err(bad());
    }
    if let Some(rest) = text.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or_else(bad)?;
        let port = match after {
            "" => None,
            p => Some(
                p.strip_prefix(':')
                    .ok_or_else(bad)?
                    .parse()
                    .map_err(|_| bad())?,
            ),
        };
        return Ok((host.to_string(), port));
    }
    match text.rsplit_once(':') {
        // A bare IPv6 address has several colons and no port.
        Some((host, _)) if host.contains(':') => Ok((text.to_string(), None)),
        Some((host, port)) if !host.is_empty() => {
            Ok((host.to_string(), Some(port.parse().map_err(|_| bad())?)))
        }
        Some(_) => Err(bad()),
        None => Ok((text.to_string(), None)),
    }
}

/// What went wrong, in the terms a user acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// The options are unusable (e.g. the CA file).
    Setup,
    /// The name did not resolve, or nobody answered.
    Connect,
    /// TLS: handshake, certificate, or STARTTLS required but missing or refused.
    Tls,
    /// The server refused our credentials (535) or offers no usable mechanism.
    Auth,
    /// The server refused the session (greeting, EHLO) for good.
    Refused,
    /// A temporary condition: try later.
    Temporary,
    /// The server broke the protocol.
    Protocol,
}

/// A failure of the session as a whole (nothing was sent).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Failure {
    /// What kind.
    pub kind: FailureKind,
    /// One line that says what happened, naming the server.
    pub message: String,
}

impl Failure {
    fn new(kind: FailureKind, message: impl Into<String>) -> Failure {
        Failure {
            kind,
            message: message.into(),
        }
    }
}

/// Sorts a relay client error into a [`FailureKind`]. The client starts its own
/// messages with an RFC 3463 code and names AUTH failures; a server's refusal carries
/// the reply.
pub fn classify(e: &ClientError) -> FailureKind {
    let m = e.message.as_str();
    if m.starts_with("authentication as") || (m.starts_with("4.7.4") && m.contains("AUTH")) {
        return FailureKind::Auth;
    }
    if m.starts_with("4.7.") || m.contains("STARTTLS refused") {
        return FailureKind::Tls;
    }
    if m.starts_with("4.4.1") {
        return FailureKind::Connect;
    }
    if m.starts_with("4.5.0") {
        return FailureKind::Protocol;
    }
    if m.starts_with("4.4.2") {
        return FailureKind::Temporary;
    }
    match &e.reply {
        Some(r) if r.is_permanent() => FailureKind::Refused,
        _ => FailureKind::Temporary,
    }
}

/// A server to send to: resolved, with its client configuration.
pub struct Transport {
    config: ClientConfig,
    addrs: Vec<SocketAddr>,
    host: String,
    transcript: Option<TranscriptFactory>,
    connections: std::sync::atomic::AtomicUsize,
    require_tls: bool,
}

impl Transport {
    /// Builds the TLS configuration and resolves the host.
    pub async fn new(options: &Options) -> Result<Transport, Failure> {
        if options.require_tls
            && (options.trust == Trust::Insecure || options.security == Security::None)
        {
            // RFC 8689 §4.2.1: REQUIRETLS travels only over TLS with a verified
            // certificate.
            return Err(Failure::new(
                FailureKind::Setup,
                "REQUIRETLS needs TLS with a verified certificate \
                 (drop --insecure and --starttls no)",
            ));
        }
        if options.credentials.is_some()
            && options.security == Security::None
            && options.trust != Trust::Insecure
        {
            return Err(Failure::new(
                FailureKind::Setup,
                "refusing to send a password without TLS (add --insecure to allow it)",
            ));
        }
        let tls_config = match &options.trust {
            Trust::Insecure => relay::tls::opportunistic_config(),
            Trust::Default => relay::tls::verified_config(None)
                .map_err(|e| Failure::new(FailureKind::Setup, e.to_string()))?,
            Trust::ExtraCa(path) => relay::tls::verified_config(Some(path))
                .map_err(|e| Failure::new(FailureKind::Setup, e.to_string()))?,
        };
        let tls = match options.security {
            // With REQUIRETLS, STARTTLS must be offered and succeed.
            Security::StartTlsIfOffered if options.require_tls => TlsMode::Required,
            Security::StartTlsIfOffered => TlsMode::WhenOffered,
            Security::StartTlsRequired => TlsMode::Required,
            Security::Implicit => TlsMode::Implicit,
            Security::None => TlsMode::Disabled,
        };
        let config = ClientConfig {
            helo_name: options.helo.clone(),
            tls,
            tls_config,
            credentials: options.credentials.clone(),
            timeouts: Timeouts {
                data_end: options.timeout.max(Duration::from_secs(60)),
                ..Timeouts::all(options.timeout)
            },
        };
        let target = (options.host.as_str(), options.port);
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host(target)
            .await
            .map_err(|e| {
                Failure::new(
                    FailureKind::Connect,
                    format!("cannot resolve {}: {e}", options.host),
                )
            })?
            .collect();
        if addrs.is_empty() {
            return Err(Failure::new(
                FailureKind::Connect,
                format!("{} has no address", options.host),
            ));
        }
        Ok(Transport {
            config,
            addrs,
            host: options.host.clone(),
            transcript: options.transcript.clone(),
            connections: Default::default(),
            require_tls: options.require_tls,
        })
    }

    /// Opens a session: the addresses of the host in turn until one answers.
    pub async fn connect(&self) -> Result<Session, Failure> {
        let n = self
            .connections
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            + 1;
        let mut last = None;
        for &addr in &self.addrs {
            let attempt = match &self.transcript {
                Some(make) => {
                    Connection::connect_traced(addr, &self.host, &self.config, make(n)).await
                }
                None => Connection::connect(addr, &self.host, &self.config).await,
            };
            match attempt {
                Ok(conn) => {
                    return Ok(Session {
                        conn,
                        require_tls: self.require_tls,
                    });
                }
                Err(e) => {
                    let kind = classify(&e);
                    let failure = Failure::new(kind, e.message.clone());
                    // Only an unreachable address is worth trying the next one for.
                    if kind != FailureKind::Connect {
                        return Err(failure);
                    }
                    last = Some(failure);
                }
            }
        }
        Err(last.unwrap_or_else(|| Failure::new(FailureKind::Connect, "no address to try")))
    }
}

/// One recipient's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The recipient.
    pub recipient: Address,
    /// What the server said.
    pub result: RecipientResult,
}

impl Delivery {
    /// The queue id in a `250 ... queued as ID` reply, if there is one.
    pub fn queue_id(&self) -> Option<String> {
        queue_id_in(&self.result.reply().text)
    }
}

/// The id after "queued as" in a reply text (Postie, Postfix, Exim, Sendmail all say so).
pub fn queue_id_in(text: &str) -> Option<String> {
    let lower = text.to_ascii_lowercase();
    let at = lower.find("queued as")? + "queued as".len();
    let id: String = text[at..]
        .trim_start_matches([' ', ':'])
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
        .collect();
    (!id.is_empty()).then_some(id)
}

/// An open session; carries any number of messages.
pub struct Session {
    conn: Connection,
    require_tls: bool,
}

impl Session {
    /// Sends one message; one [`Delivery`] per recipient, in order. `Err` when the
    /// connection failed before anything was decided.
    pub async fn send(
        &mut self,
        sender: &Address,
        recipients: &[Address],
        message: &[u8],
    ) -> Result<Vec<Delivery>, Failure> {
        let tx = Transaction {
            sender: Some(sender),
            recipients: recipients
                .iter()
                .map(|a| (a, RecipientDsn::default()))
                .collect(),
            body: message,
            body_type: if message.is_ascii() {
                BodyType::SevenBit
            } else {
                BodyType::EightBitMime
            },
            // RFC 6531 §3.2: needed when a header carries raw UTF-8 (addresses are
            // checked by the client itself).
            smtputf8: !message::headers::header_block(message).is_ascii(),
            require_tls: self.require_tls,
            ..Transaction::default()
        };
        let results = self
            .conn
            .send(&tx)
            .await
            .map_err(|e| Failure::new(classify(&e), e.message))?;
        Ok(recipients
            .iter()
            .cloned()
            .zip(results)
            .map(|(recipient, result)| Delivery { recipient, result })
            .collect())
    }

    /// True when another message may go on this session.
    pub fn is_reusable(&self) -> bool {
        self.conn.is_reusable()
    }

    /// The session is encrypted.
    pub fn is_tls(&self) -> bool {
        self.conn.is_tls()
    }

    /// QUIT and close.
    pub async fn quit(self) {
        self.conn.quit().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use relay::client::ServerReply;

    #[test]
    fn parses_servers() {
        let ok = |t: &str| parse_server(t).unwrap();
        assert_eq!(ok("mail.example.org"), ("mail.example.org".into(), None));
        assert_eq!(
            ok("mail.example.org:465"),
            ("mail.example.org".into(), Some(465))
        );
        assert_eq!(ok("127.0.0.1:1587"), ("127.0.0.1".into(), Some(1587)));
        assert_eq!(ok("[::1]:25"), ("::1".into(), Some(25)));
        assert_eq!(ok("[::1]"), ("::1".into(), None));
        assert_eq!(ok("::1"), ("::1".into(), None));
        for bad in ["", ":25", "host:port", "[::1", "[::1]x", "host:99999"] {
            assert!(parse_server(bad).is_err(), "{bad:?}");
        }
    }

    fn err(message: &str, reply: Option<(u16, &str)>) -> ClientError {
        ClientError {
            permanent: reply.is_some_and(|(c, _)| c >= 500),
            message: message.into(),
            reply: reply.map(|(code, text)| ServerReply {
                code,
                enhanced: None,
                text: text.into(),
                local: false,
            }),
        }
    }

    #[test]
    fn classifies_client_errors() {
        let cases = [
            (
                err("4.4.1 cannot connect to 127.0.0.1:9: refused", None),
                FailureKind::Connect,
            ),
            (
                err("4.7.5 TLS handshake with x failed: bad cert", None),
                FailureKind::Tls,
            ),
            (
                err("4.7.4 TLS is required, but was not offered by x", None),
                FailureKind::Tls,
            ),
            (
                err("4.7.5 STARTTLS refused by x: 454 no", Some((454, "no"))),
                FailureKind::Tls,
            ),
            (
                err(
                    "authentication as u with x failed: 535 5.7.8 bad",
                    Some((535, "bad")),
                ),
                FailureKind::Auth,
            ),
            (
                err("4.7.4 x offers neither AUTH PLAIN nor AUTH LOGIN", None),
                FailureKind::Auth,
            ),
            (
                err("greeting from x: 554 go away", Some((554, "go away"))),
                FailureKind::Refused,
            ),
            (
                err("greeting from x: 421 busy", Some((421, "busy"))),
                FailureKind::Temporary,
            ),
            (
                err("4.4.2 connection closed by x", None),
                FailureKind::Temporary,
            ),
            (
                err("4.5.0 malformed greeting from x", None),
                FailureKind::Protocol,
            ),
        ];
        for (e, kind) in cases {
            assert_eq!(classify(&e), kind, "{e}");
        }
    }

    #[test]
    fn finds_queue_ids() {
        assert_eq!(
            queue_id_in("Ok: queued as 0123abcd").as_deref(),
            Some("0123abcd")
        );
        assert_eq!(
            queue_id_in("2.0.0 Ok: queued as 4XyZ12").as_deref(),
            Some("4XyZ12")
        );
        assert_eq!(queue_id_in("OK stored as 1"), None);
    }
}
