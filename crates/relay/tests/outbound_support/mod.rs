//! Test fixtures for the outbound relay tests: loopback "hosts" that share one port
//! (127.0.0.2:P, 127.0.0.3:P, ...), a small fake SMTP server that records connections,
//! transactions and their order, and a UDP name server that never answers.

#![allow(dead_code)]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpSocket, TcpStream, UdpSocket};
use tokio::sync::watch;
use tokio::time::Instant;

/// How long any test waits for something that should happen.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// A loopback address reserved for one test: bound (so no other test can take it) and
/// either left unlistening — connecting gets "connection refused" — or turned into a
/// listener with [`Slot::listen`].
pub struct Slot {
    pub addr: SocketAddr,
    socket: TcpSocket,
}

impl Slot {
    /// The address as text, for DNS records.
    pub fn ip(&self) -> String {
        self.addr.ip().to_string()
    }

    /// Starts listening.
    pub fn listen(self) -> TcpListener {
        self.socket.listen(64).expect("listen")
    }
}

/// `count` slots on 127.0.0.2, 127.0.0.3, ... all on the same port, and that port.
/// The port is picked by the kernel for 127.0.0.2; if it is taken on another address,
/// the whole group is tried again.
pub fn slots(count: usize) -> (u16, Vec<Slot>) {
    let mut last_error = None;
    'again: for _ in 0..200 {
        let mut slots = Vec::with_capacity(count);
        let mut port = 0;
        for n in 0..count {
            let ip = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2 + n as u8));
            let socket = TcpSocket::new_v4().expect("socket");
            if let Err(e) = socket.bind(SocketAddr::new(ip, port)) {
                last_error = Some(e);
                continue 'again;
            }
            let addr = socket.local_addr().expect("local address");
            port = addr.port();
            slots.push(Slot { addr, socket });
        }
        return (port, slots);
    }
    panic!("no port free on all of 127.0.0.2..: {last_error:?}");
}

/// The reply to RCPT for an address (without `<>`); `None`: 250.
pub type RcptReply = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// What a fake server says.
#[derive(Clone)]
pub struct Options {
    /// The greeting line, e.g. `220 mx.test ESMTP` or `554 5.3.2 go away`.
    pub greeting: String,
    /// EHLO keywords, e.g. `DSN`, `AUTH PLAIN`.
    pub extensions: Vec<String>,
    /// The reply to RCPT for an address (without `<>`); `None`: 250.
    pub rcpt: RcptReply,
    /// The user name and password AUTH PLAIN must present (else 535).
    pub credentials: Option<(String, String)>,
    /// Close the connection right after the reply that ends the first transaction.
    pub close_after_transaction: bool,
    /// After each transaction, say `421` (as a server whose idle timer fired) and stop
    /// answering; the connection stays open until the client closes it.
    pub idle_421_after_transaction: bool,
    /// Hold every reply to the end of data until this turns true.
    pub hold: Option<watch::Receiver<bool>>,
}

impl Options {
    /// A server that takes everything, with these EHLO keywords.
    pub fn accepting(extensions: &[&str]) -> Self {
        Options {
            greeting: "220 fake.test ESMTP".into(),
            extensions: extensions.iter().map(|s| s.to_string()).collect(),
            rcpt: Arc::new(|_| None),
            credentials: None,
            close_after_transaction: false,
            idle_421_after_transaction: false,
            hold: None,
        }
    }

    /// Sets the greeting.
    pub fn greeting(mut self, greeting: &str) -> Self {
        self.greeting = greeting.into();
        self
    }

    /// Sets the RCPT replies.
    pub fn rcpt(mut self, rcpt: impl Fn(&str) -> Option<String> + Send + Sync + 'static) -> Self {
        self.rcpt = Arc::new(rcpt);
        self
    }
}

/// One completed mail transaction as the server saw it.
#[derive(Debug, Clone)]
pub struct Tx {
    /// Which connection (0 = the first accepted) carried it.
    pub connection: usize,
    /// The reverse-path, without `<>`.
    pub from: String,
    /// Every RCPT address in order, without `<>`.
    pub rcpts: Vec<String>,
    /// The message data (dot-stuffed wire form, without the `.` line).
    pub body: Vec<u8>,
}

/// Things that happened, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// Connection `n` was accepted.
    Accepted(usize),
    /// Connection `n` has received a whole message and holds its reply.
    Held(usize),
    /// Connection `n` replied to the end of data.
    Replied(usize),
    /// Connection `n` ended.
    Closed(usize),
}

/// What the server has seen.
#[derive(Debug, Clone, Default)]
pub struct Log {
    pub events: Vec<Event>,
    pub transactions: Vec<Tx>,
    /// (user, password) of every AUTH attempt.
    pub auth: Vec<(String, String)>,
    /// Every command line, per connection.
    pub commands: Vec<Vec<String>>,
    /// Connections open now, and the most at once.
    pub open: usize,
    pub max_open: usize,
}

impl Log {
    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.commands.len()
    }

    /// Connections that ended.
    pub fn closed(&self) -> usize {
        self.events
            .iter()
            .filter(|e| matches!(e, Event::Closed(_)))
            .count()
    }

    /// Where `event` happened in the order of events.
    pub fn position(&self, event: Event) -> Option<usize> {
        self.events.iter().position(|e| *e == event)
    }
}

/// A running fake SMTP server.
pub struct FakeSmtp {
    pub addr: SocketAddr,
    log: Arc<Mutex<Log>>,
    changed: watch::Receiver<u64>,
}

impl FakeSmtp {
    /// Serves on `slot`.
    pub fn start(slot: Slot, options: Options) -> FakeSmtp {
        let addr = slot.addr;
        let listener = slot.listen();
        let log = Arc::new(Mutex::new(Log::default()));
        let (changed_tx, changed) = watch::channel(0u64);
        let shared = Shared {
            log: log.clone(),
            changed: Arc::new(changed_tx),
        };
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let index = shared.update(|log| {
                    log.commands.push(Vec::new());
                    log.events.push(Event::Accepted(log.commands.len() - 1));
                    log.open += 1;
                    log.max_open = log.max_open.max(log.open);
                    log.commands.len() - 1
                });
                let (shared, options) = (shared.clone(), options.clone());
                tokio::spawn(async move {
                    let _ = serve(stream, index, &options, &shared).await;
                    shared.update(|log| {
                        log.open -= 1;
                        log.events.push(Event::Closed(index));
                    });
                });
            }
        });
        FakeSmtp { addr, log, changed }
    }

    /// What the server has seen so far.
    pub fn log(&self) -> Log {
        self.log.lock().unwrap().clone()
    }

    /// Waits until `condition` holds; panics after [`PATIENCE`].
    pub async fn wait_for(&self, what: &str, condition: impl Fn(&Log) -> bool) -> Log {
        if !self.wait_up_to(PATIENCE, &condition).await {
            panic!("fake SMTP server at {}: {what}: not in time", self.addr);
        }
        self.log()
    }

    /// Waits up to `limit` for `condition`; whether it came true.
    pub async fn wait_up_to(&self, limit: Duration, condition: impl Fn(&Log) -> bool) -> bool {
        let deadline = Instant::now() + limit;
        let mut changed = self.changed.clone();
        loop {
            changed.borrow_and_update();
            if condition(&self.log()) {
                return true;
            }
            match tokio::time::timeout_at(deadline, changed.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) | Err(_) => return condition(&self.log()),
            }
        }
    }
}

#[derive(Clone)]
struct Shared {
    log: Arc<Mutex<Log>>,
    changed: Arc<watch::Sender<u64>>,
}

impl Shared {
    fn update<T>(&self, change: impl FnOnce(&mut Log) -> T) -> T {
        let out = change(&mut self.log.lock().unwrap());
        self.changed.send_modify(|n| *n += 1);
        out
    }
}

/// The address in `MAIL FROM:<a>` / `RCPT TO:<a> ...`.
fn path(line: &str) -> String {
    let start = line.find('<').map_or(line.len(), |i| i + 1);
    let end = line[start..].find('>').map_or(line.len(), |i| start + i);
    line[start..end].to_string()
}

async fn serve(
    stream: TcpStream,
    index: usize,
    options: &Options,
    shared: &Shared,
) -> std::io::Result<()> {
    let mut r = BufReader::new(stream);
    write(&mut r, &options.greeting).await?;
    let mut tx: Option<Tx> = None;
    let mut accepted = 0usize;
    loop {
        let Some(line) = read_line(&mut r).await? else {
            return Ok(());
        };
        shared.update(|log| log.commands[index].push(line.clone()));
        let verb = line
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_ascii_uppercase();
        let reply = match verb.as_str() {
            "EHLO" => {
                let mut lines = vec!["fake.test".to_string()];
                lines.extend(options.extensions.iter().cloned());
                let last = lines.len() - 1;
                lines
                    .iter()
                    .enumerate()
                    .map(|(i, l)| format!("250{}{l}", if i == last { ' ' } else { '-' }))
                    .collect::<Vec<_>>()
                    .join("\r\n")
            }
            "HELO" => "250 fake.test".into(),
            "AUTH" => {
                let token = line.split_whitespace().nth(2).unwrap_or("").to_string();
                let decoded = BASE64.decode(token).unwrap_or_default();
                let parts: Vec<String> = decoded
                    .split(|&b| b == 0)
                    .map(|p| String::from_utf8_lossy(p).into_owned())
                    .collect();
                let given = match parts.as_slice() {
                    [_, user, password] => (user.clone(), password.clone()),
                    _ => (String::new(), String::new()),
                };
                shared.update(|log| log.auth.push(given.clone()));
                if options.credentials.as_ref() == Some(&given) {
                    "235 2.7.0 authenticated".into()
                } else {
                    "535 5.7.8 authentication credentials invalid".into()
                }
            }
            "MAIL" => {
                tx = Some(Tx {
                    connection: index,
                    from: path(&line),
                    rcpts: Vec::new(),
                    body: Vec::new(),
                });
                accepted = 0;
                "250 2.1.0 ok".into()
            }
            "RCPT" => match tx.as_mut() {
                None => "503 5.5.1 MAIL first".into(),
                Some(tx) => {
                    let address = path(&line);
                    let reply = (options.rcpt)(&address).unwrap_or_else(|| "250 2.1.5 ok".into());
                    accepted += usize::from(reply.starts_with('2'));
                    tx.rcpts.push(address);
                    reply
                }
            },
            "DATA" => {
                let Some(mut done) = tx.take().filter(|_| accepted > 0) else {
                    write(&mut r, "554 5.5.1 no valid recipients").await?;
                    continue;
                };
                write(&mut r, "354 go ahead").await?;
                done.body = read_data(&mut r).await?;
                if let Some(hold) = &options.hold {
                    shared.update(|log| log.events.push(Event::Held(index)));
                    let mut hold = hold.clone();
                    let _ = hold.wait_for(|released| *released).await;
                }
                write(&mut r, "250 2.0.0 queued").await?;
                shared.update(|log| {
                    log.events.push(Event::Replied(index));
                    log.transactions.push(done);
                });
                if options.close_after_transaction {
                    return Ok(());
                }
                if options.idle_421_after_transaction {
                    write(&mut r, "421 4.4.2 fake.test idle timeout, closing").await?;
                    // Stops answering; the client closes.
                    while read_line(&mut r).await?.is_some() {}
                    return Ok(());
                }
                continue;
            }
            "RSET" => {
                tx = None;
                accepted = 0;
                "250 2.0.0 reset".into()
            }
            "NOOP" => "250 2.0.0 ok".into(),
            "QUIT" => {
                write(&mut r, "221 2.0.0 bye").await?;
                return Ok(());
            }
            _ => "500 5.5.2 unknown command".into(),
        };
        write(&mut r, &reply).await?;
    }
}

async fn read_line(r: &mut BufReader<TcpStream>) -> std::io::Result<Option<String>> {
    let mut raw = Vec::new();
    if r.read_until(b'\n', &mut raw).await? == 0 {
        return Ok(None);
    }
    Ok(Some(
        String::from_utf8_lossy(&raw)
            .trim_end_matches(['\r', '\n'])
            .to_string(),
    ))
}

async fn read_data(r: &mut BufReader<TcpStream>) -> std::io::Result<Vec<u8>> {
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

async fn write(r: &mut BufReader<TcpStream>, reply: &str) -> std::io::Result<()> {
    let w = r.get_mut();
    w.write_all(format!("{reply}\r\n").as_bytes()).await?;
    w.flush().await
}

/// A UDP "name server" on 127.0.0.1 that reads queries and never answers.
pub struct SilentDns {
    pub addr: SocketAddr,
    pub received: Arc<AtomicUsize>,
}

impl SilentDns {
    pub async fn start() -> SilentDns {
        let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = socket.local_addr().unwrap();
        let received = Arc::new(AtomicUsize::new(0));
        let count = received.clone();
        tokio::spawn(async move {
            let mut buf = [0u8; 4096];
            while socket.recv_from(&mut buf).await.is_ok() {
                count.fetch_add(1, Ordering::SeqCst);
            }
        });
        SilentDns { addr, received }
    }

    /// Queries received so far.
    pub fn queries(&self) -> usize {
        self.received.load(Ordering::SeqCst)
    }
}
