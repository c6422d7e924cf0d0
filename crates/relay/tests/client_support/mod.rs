//! A scripted fake SMTP server for the client tests: listens on 127.0.0.1, speaks just
//! enough SMTP (EHLO/HELO, STARTTLS, AUTH PLAIN/LOGIN, MAIL, RCPT, DATA, BDAT, RSET,
//! QUIT), records everything it receives, and lets each test override any reply.

#![allow(dead_code)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair, KeyUsagePurpose};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

/// How long any test waits for the other side before failing.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// The reply override: `(session index, command line)` → reply text without the final
/// CRLF (multi-line replies contain `\r\n`). The pseudo-command `<end-of-data>` asks
/// for the reply after the message data. Returning [`STALL`] sends nothing.
pub type Respond = Arc<dyn Fn(usize, &str) -> Option<String> + Send + Sync>;

/// A reply override that makes the server go silent.
pub const STALL: &str = "<stall>";

/// What the fake server does.
#[derive(Clone)]
pub struct Options {
    /// The greeting; `None` never greets.
    pub greeting: Option<String>,
    /// EHLO keywords before TLS.
    pub extensions: Vec<String>,
    /// EHLO keywords after STARTTLS (or with implicit TLS); `None` = the same.
    pub tls_extensions: Option<Vec<String>>,
    /// TLS for STARTTLS and implicit TLS.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// TLS from the first byte.
    pub implicit_tls: bool,
    /// In this session, answer STARTTLS with 220 and then send garbage and close.
    pub break_tls_in_session: Option<usize>,
    /// Credentials AUTH must present.
    pub credentials: Option<(String, String)>,
    /// Hold the replies to MAIL and RCPT until DATA arrives (proves pipelining).
    pub defer_until_data: bool,
    /// Close the connection after the message data, before the final reply.
    pub close_after_body: bool,
    /// Reply overrides.
    pub respond: Respond,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            greeting: Some("220 fake.test ESMTP".into()),
            extensions: Vec::new(),
            tls_extensions: None,
            tls: None,
            implicit_tls: false,
            break_tls_in_session: None,
            credentials: None,
            defer_until_data: false,
            close_after_body: false,
            respond: Arc::new(|_, _| None),
        }
    }
}

impl Options {
    /// Default options with these EHLO keywords.
    pub fn with_extensions(extensions: &[&str]) -> Self {
        Options {
            extensions: extensions.iter().map(|s| s.to_string()).collect(),
            ..Options::default()
        }
    }

    /// Sets the reply override.
    pub fn respond(
        mut self,
        respond: impl Fn(usize, &str) -> Option<String> + Send + Sync + 'static,
    ) -> Self {
        self.respond = Arc::new(respond);
        self
    }
}

/// One command as the server received it.
#[derive(Debug, Clone)]
pub struct Command {
    /// The line without CRLF.
    pub line: String,
    /// More bytes were already buffered when this line was read.
    pub more_buffered: bool,
    /// It arrived over TLS.
    pub tls: bool,
}

/// One connection as the server saw it.
#[derive(Debug, Clone, Default)]
pub struct Session {
    pub commands: Vec<Command>,
    /// Message data exactly as received: DATA in wire form (dot-stuffed, without the
    /// final `.` line), BDAT chunks concatenated.
    pub bodies: Vec<Vec<u8>>,
    /// The session ended (either side closed).
    pub closed: bool,
}

impl Session {
    /// The command lines.
    pub fn lines(&self) -> Vec<String> {
        self.commands.iter().map(|c| c.line.clone()).collect()
    }

    /// The command lines starting with `verb`.
    pub fn with_verb(&self, verb: &str) -> Vec<String> {
        self.lines()
            .into_iter()
            .filter(|l| l.to_ascii_uppercase().starts_with(verb))
            .collect()
    }
}

/// A running fake server.
pub struct FakeServer {
    pub addr: std::net::SocketAddr,
    sessions: Arc<Mutex<Vec<Session>>>,
    closed: watch::Receiver<usize>,
}

impl FakeServer {
    pub async fn start(options: Options) -> FakeServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let sessions = Arc::new(Mutex::new(Vec::new()));
        let (closed_tx, closed) = watch::channel(0usize);
        let closed_tx = Arc::new(closed_tx);
        let log = sessions.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let index = {
                    let mut log = log.lock().unwrap();
                    log.push(Session::default());
                    log.len() - 1
                };
                let (options, log, closed_tx) = (options.clone(), log.clone(), closed_tx.clone());
                tokio::spawn(async move {
                    let io: Box<dyn Io> = Box::new(stream);
                    let mut conn = Conn {
                        index,
                        options,
                        log: log.clone(),
                        tls: false,
                    };
                    let _ = conn.serve(io).await;
                    log.lock().unwrap()[index].closed = true;
                    closed_tx.send_modify(|n| *n += 1);
                });
            }
        });
        FakeServer {
            addr,
            sessions,
            closed,
        }
    }

    /// Waits until `count` sessions have ended, then returns all sessions.
    pub async fn wait_closed(&self, count: usize) -> Vec<Session> {
        let mut closed = self.closed.clone();
        tokio::time::timeout(PATIENCE, closed.wait_for(|n| *n >= count))
            .await
            .expect("fake server sessions did not end in time")
            .unwrap();
        self.sessions()
    }

    /// The sessions so far.
    pub fn sessions(&self) -> Vec<Session> {
        self.sessions.lock().unwrap().clone()
    }
}

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

struct Conn {
    index: usize,
    options: Options,
    log: Arc<Mutex<Vec<Session>>>,
    tls: bool,
}

type Reader = BufReader<Box<dyn Io>>;

impl Conn {
    async fn serve(&mut self, mut io: Box<dyn Io>) -> std::io::Result<()> {
        if self.options.implicit_tls {
            let acceptor = TlsAcceptor::from(self.options.tls.clone().expect("TLS config"));
            io = Box::new(acceptor.accept(io).await?);
            self.tls = true;
        }
        let mut r: Reader = BufReader::new(io);
        let Some(greeting) = self.options.greeting.clone() else {
            // Silent server: wait for the client to give up.
            let mut sink = Vec::new();
            let _ = r.read_to_end(&mut sink).await;
            return Ok(());
        };
        write(&mut r, &greeting).await?;
        let mut deferred = String::new();
        let mut body = Vec::new();
        // Transaction state, so that defaults are what a real server would say.
        let mut mail_ok = false;
        let mut accepted = 0usize;
        loop {
            let Some(line) = self.read_command(&mut r).await? else {
                return Ok(());
            };
            let verb = line
                .split_whitespace()
                .next()
                .unwrap_or("")
                .to_ascii_uppercase();
            let custom = (self.options.respond)(self.index, &line);
            if custom.as_deref() == Some(STALL) {
                let mut sink = Vec::new();
                let _ = r.read_to_end(&mut sink).await;
                return Ok(());
            }
            let reply = match verb.as_str() {
                "EHLO" => custom.unwrap_or_else(|| self.ehlo_reply()),
                "HELO" => custom.unwrap_or_else(|| "250 fake.test".into()),
                "STARTTLS" => {
                    let reply = custom.unwrap_or_else(|| "220 2.0.0 ready".into());
                    write(&mut r, &reply).await?;
                    if !reply.starts_with("220") {
                        continue;
                    }
                    if self.options.break_tls_in_session == Some(self.index) {
                        r.get_mut().write_all(b"this is not TLS\r\n").await?;
                        return Ok(());
                    }
                    let acceptor = TlsAcceptor::from(self.options.tls.clone().expect("TLS config"));
                    let tls = acceptor.accept(r.into_inner()).await?;
                    r = BufReader::new(Box::new(tls));
                    self.tls = true;
                    continue;
                }
                "AUTH" => match custom {
                    Some(reply) => reply,
                    None => self.auth(&mut r, &line).await?,
                },
                "MAIL" => {
                    let reply = custom.unwrap_or_else(|| "250 2.1.0 ok".into());
                    mail_ok = reply.starts_with('2');
                    accepted = 0;
                    reply
                }
                "RCPT" => {
                    let reply = match custom {
                        Some(reply) => reply,
                        None if mail_ok => "250 2.1.5 ok".into(),
                        None => "503 5.5.1 MAIL first".into(),
                    };
                    accepted += usize::from(reply.starts_with('2'));
                    reply
                }
                "DATA" => {
                    let reply = match custom {
                        Some(reply) => reply,
                        None if !mail_ok => "503 5.5.1 MAIL first".into(),
                        None if accepted == 0 => "554 5.5.1 no valid recipients".into(),
                        None => "354 go ahead".into(),
                    };
                    (mail_ok, accepted) = (false, 0);
                    deferred.push_str(&reply);
                    deferred.push_str("\r\n");
                    r.get_mut().write_all(deferred.as_bytes()).await?;
                    r.get_mut().flush().await?;
                    deferred.clear();
                    if !reply.starts_with("354") {
                        continue;
                    }
                    let data = read_data(&mut r).await?;
                    self.log.lock().unwrap()[self.index].bodies.push(data);
                    if self.options.close_after_body {
                        return Ok(());
                    }
                    self.end_of_data()
                }
                "BDAT" => {
                    let mut words = line.split_whitespace().skip(1);
                    let size: usize = words.next().and_then(|n| n.parse().ok()).unwrap_or(0);
                    let last = words.next().is_some_and(|w| w.eq_ignore_ascii_case("LAST"));
                    let mut chunk = vec![0; size];
                    r.read_exact(&mut chunk).await?;
                    body.extend_from_slice(&chunk);
                    if !last {
                        custom.unwrap_or_else(|| format!("250 2.0.0 {size} octets received"))
                    } else {
                        (mail_ok, accepted) = (false, 0);
                        let data = std::mem::take(&mut body);
                        self.log.lock().unwrap()[self.index].bodies.push(data);
                        if self.options.close_after_body {
                            return Ok(());
                        }
                        match custom {
                            Some(reply) => reply,
                            None => self.end_of_data(),
                        }
                    }
                }
                "RSET" => {
                    body.clear();
                    (mail_ok, accepted) = (false, 0);
                    custom.unwrap_or_else(|| "250 2.0.0 reset".into())
                }
                "NOOP" => custom.unwrap_or_else(|| "250 2.0.0 ok".into()),
                "QUIT" => {
                    write(&mut r, &custom.unwrap_or_else(|| "221 2.0.0 bye".into())).await?;
                    return Ok(());
                }
                _ => custom.unwrap_or_else(|| "500 5.5.2 unknown command".into()),
            };
            if reply == STALL {
                continue;
            }
            if self.options.defer_until_data && matches!(verb.as_str(), "MAIL" | "RCPT") {
                deferred.push_str(&reply);
                deferred.push_str("\r\n");
            } else {
                write(&mut r, &reply).await?;
            }
        }
    }

    fn end_of_data(&self) -> String {
        (self.options.respond)(self.index, "<end-of-data>")
            .unwrap_or_else(|| "250 2.0.0 queued as FAKE1".into())
    }

    fn ehlo_reply(&self) -> String {
        let keywords = match (&self.options.tls_extensions, self.tls) {
            (Some(after), true) => after.clone(),
            _ => self.options.extensions.clone(),
        };
        let mut lines = vec!["fake.test greets you".to_string()];
        lines.extend(keywords);
        let last = lines.len() - 1;
        lines
            .iter()
            .enumerate()
            .map(|(i, l)| format!("250{}{l}", if i == last { ' ' } else { '-' }))
            .collect::<Vec<_>>()
            .join("\r\n")
    }

    async fn auth(&mut self, r: &mut Reader, line: &str) -> std::io::Result<String> {
        let words: Vec<&str> = line.split_whitespace().collect();
        let (user, password) = match words.get(1).map(|m| m.to_ascii_uppercase()).as_deref() {
            Some("PLAIN") => {
                let token = match words.get(2) {
                    Some(t) => t.to_string(),
                    None => {
                        write(r, "334 ").await?;
                        self.read_command(r).await?.unwrap_or_default()
                    }
                };
                let decoded = BASE64.decode(token).unwrap_or_default();
                let parts: Vec<&[u8]> = decoded.split(|&b| b == 0).collect();
                match parts.as_slice() {
                    [b"", user, password] => (user.to_vec(), password.to_vec()),
                    _ => return Ok("501 5.5.2 bad PLAIN response".into()),
                }
            }
            Some("LOGIN") => {
                write(r, "334 VXNlcm5hbWU6").await?;
                let user = self.read_command(r).await?.unwrap_or_default();
                write(r, "334 UGFzc3dvcmQ6").await?;
                let password = self.read_command(r).await?.unwrap_or_default();
                (
                    BASE64.decode(user).unwrap_or_default(),
                    BASE64.decode(password).unwrap_or_default(),
                )
            }
            _ => return Ok("504 5.5.4 unknown mechanism".into()),
        };
        let expected = self.options.credentials.clone().unwrap_or_default();
        if user == expected.0.as_bytes() && password == expected.1.as_bytes() {
            Ok("235 2.7.0 authenticated".into())
        } else {
            Ok("535 5.7.8 authentication credentials invalid".into())
        }
    }

    /// Reads and records one line; `None` at end of stream.
    async fn read_command(&mut self, r: &mut Reader) -> std::io::Result<Option<String>> {
        let mut raw = Vec::new();
        if r.read_until(b'\n', &mut raw).await? == 0 {
            return Ok(None);
        }
        let line = String::from_utf8_lossy(&raw)
            .trim_end_matches(['\r', '\n'])
            .to_string();
        let command = Command {
            line: line.clone(),
            more_buffered: !r.buffer().is_empty(),
            tls: self.tls,
        };
        self.log.lock().unwrap()[self.index].commands.push(command);
        Ok(Some(line))
    }
}

/// Reads DATA lines up to the `.` line; returns them in wire form without it.
async fn read_data(r: &mut Reader) -> std::io::Result<Vec<u8>> {
    let mut data = Vec::new();
    loop {
        let mut line = Vec::new();
        if r.read_until(b'\n', &mut line).await? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        if line == b".\r\n" {
            return Ok(data);
        }
        data.extend_from_slice(&line);
    }
}

async fn write(r: &mut Reader, reply: &str) -> std::io::Result<()> {
    let w = r.get_mut();
    w.write_all(format!("{reply}\r\n").as_bytes()).await?;
    w.flush().await
}

/// Undoes dot-stuffing (RFC 5321 §4.5.2) of DATA as received.
pub fn unstuff(wire: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(wire.len());
    for line in wire.split_inclusive(|&b| b == b'\n') {
        out.extend_from_slice(line.strip_prefix(b".").unwrap_or(line));
    }
    out
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn server_config(chain: Vec<CertificateDer<'static>>, key: &KeyPair) -> Arc<rustls::ServerConfig> {
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
    Arc::new(config)
}

/// A server TLS configuration with a fresh self-signed certificate for `name`.
pub fn self_signed_server(name: &str) -> Arc<rustls::ServerConfig> {
    let certified = rcgen::generate_simple_self_signed(vec![name.to_string()]).unwrap();
    server_config(vec![certified.cert.der().clone()], &certified.signing_key)
}

/// A fresh CA (PEM) and a server TLS configuration with a certificate for `name`
/// signed by it.
pub fn ca_signed_server(name: &str) -> (String, Arc<rustls::ServerConfig>) {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "Postie Test CA");
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec![name.to_string()])
        .unwrap()
        .signed_by(&leaf_key, &ca)
        .unwrap();
    let chain = vec![leaf.der().clone(), ca.der().clone()];
    (ca.pem(), server_config(chain, &leaf_key))
}
