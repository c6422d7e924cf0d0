//! The harness of the IMAP transcript tests (`transcripts/`): a server over the
//! in-memory store, and client sessions that talk to the real driver
//! ([`crate::imap_driver`]) over an in-memory stream, so framing, literals, IDLE and
//! the extended commands take the same path as on a socket. No TCP, no fixed sleeps:
//! every wait has a deadline ([`WAIT`]) and panics with what arrived so far.
//!
//! ```ignore
//! let t = Transcript::new().await;
//! t.deliver(ALICE, MESSAGE).await;
//! let mut s = t.session().await; // greeting read
//! s.login(ALICE).await;
//! s.cmd("a SELECT INBOX", &["* 1 EXISTS", "* OK [UIDVALIDITY *] *", "*", "a OK [READ-WRITE] *"]).await;
//! ```
//!
//! Expected lines are compared with the responses line by line; a response with a
//! literal is split at its CRLFs like any text (`* 1 FETCH (BODY[] {5}`, the
//! literal's lines, `)`). In an expected line `*` matches any run of characters,
//! except a leading `* ` (the untagged marker), which must be there as written. A
//! mismatch panics with a diff. The API is the test's only view of the server (the
//! store is reached through [`Transcript::deliver`] and [`Transcript::store`]), so
//! it can move with the session when that goes behind a storage trait.

use crate::listen::Shared;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::Duration;
use store::Store;
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio::sync::watch;

/// How long any wait for the server may take before the test fails.
pub(crate) const WAIT: Duration = Duration::from_secs(10);
/// The password of every account.
pub(crate) const PASSWORD: &str = "secret";
/// The accounts every transcript server has.
pub(crate) const ALICE: &str = "alice@example.org";
pub(crate) const BOB: &str = "bob@example.org";

/// A server over the in-memory store with the domain `example.org` and the accounts
/// [`ALICE`] and [`BOB`] (password [`PASSWORD`]); logins without TLS are allowed.
pub(crate) struct Transcript {
    shared: Arc<Shared>,
    /// Told to stop when dropped; kept so the sessions do not see a shutdown.
    _stop: watch::Sender<bool>,
    /// The data directory (certificate, spool).
    _dir: tempfile::TempDir,
    /// The next session's peer port (and letter).
    sessions: AtomicU16,
}

impl Transcript {
    /// A server with the default configuration.
    pub async fn new() -> Self {
        Self::with_config(|_| {}).await
    }

    /// A server whose configuration `edit` changes first.
    pub async fn with_config(edit: impl FnOnce(&mut config::Config)) -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let mut config = config::Config::default().with_data_dir(dir.path().to_owned());
        // Resolvers ask a loopback port nobody answers, never the system's servers.
        config.dns.nameservers = vec!["127.0.0.1:9".parse().expect("address")];
        config.auth.allow_plaintext = config::PlaintextAuth::Always;
        edit(&mut config);
        let store: Arc<dyn Store> = Arc::new(store::memory::MemoryStore::new());
        let domain = message::Domain::parse("example.org").expect("domain");
        store.domain_add(&domain).await.expect("domain added");
        let hash = store::password::hash(PASSWORD).expect("hash");
        for user in [ALICE, BOB] {
            let address = message::Address::parse(user).expect("address");
            store
                .account_add(&address, &hash)
                .await
                .expect("account added");
        }
        let (stop_tx, stop) = watch::channel(false);
        let shared = Shared::for_tests(&config, store, stop).expect("server state");
        Transcript {
            shared: Arc::new(shared),
            _stop: stop_tx,
            _dir: dir,
            sessions: AtomicU16::new(0),
        }
    }

    /// The store under the server.
    pub fn store(&self) -> &dyn Store {
        self.shared.store.as_ref()
    }

    /// Files `raw` into `user`'s INBOX as SMTP delivery does (queued and filed in one
    /// store call, with the IMAP summary, then the account's sessions told); no trace
    /// lines are added, so sizes are those of `raw`. Returns the new UID.
    pub async fn deliver(&self, user: &str, raw: &[u8]) -> u32 {
        let store = self.store();
        let address = message::Address::parse(user).expect("address");
        let account = store
            .account_get(&address)
            .await
            .expect("account lookup")
            .expect("account exists");
        let id = message::QueueId::generate(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
                .unwrap_or(0),
        );
        let envelope = message::Envelope {
            sender: Some(message::Address::parse("sender@example.net").expect("address")),
            recipients: vec![address],
            body_type: message::BodyType::SevenBit,
            smtputf8: false,
            require_tls: false,
            dsn: Default::default(),
        };
        let filing = store::Filing {
            recipient: 0,
            account: account.id,
            prefix: Vec::new(),
            summary: Some(imap::summary::Summary::compute(raw).encode()),
        };
        let filed = store
            .enqueue_and_file(id, &envelope, raw, &[filing])
            .await
            .expect("delivered");
        assert_eq!(filed, [0], "the message was filed");
        self.shared.mail_changes.publish(account.id);
        let inbox = store
            .mailbox_get(account.id, "INBOX")
            .await
            .expect("INBOX lookup")
            .expect("INBOX exists");
        inbox.uid_next - 1
    }

    /// A new connection; its greeting has been read and checked.
    pub async fn session(&self) -> Client {
        let n = self.sessions.fetch_add(1, Ordering::Relaxed);
        let name = char::from(b'A' + u8::try_from(n % 26).unwrap_or(0)).to_string();
        let peer = SocketAddr::from(([192, 0, 2, 1], 40000 + n));
        let (client, server) = tokio::io::duplex(64 * 1024);
        let shared = self.shared.clone();
        let task = tokio::spawn(async move {
            let _ = crate::imap_driver::serve_stream(server, peer, &shared).await;
        });
        let mut client = Client {
            name,
            stream: client,
            buf: Vec::new(),
            waiting: "the greeting".into(),
            received: Vec::new(),
            task,
        };
        let greeting = client.response().await;
        assert!(
            greeting.starts_with("* OK [CAPABILITY IMAP4rev1 ")
                && greeting.ends_with(" Postie ready"),
            "session {}: greeting {greeting:?}",
            client.name
        );
        client
    }
}

/// One client connection to the transcript server.
pub(crate) struct Client {
    /// `A`, `B`, ... in the order the sessions were opened: names it in failures.
    name: String,
    stream: DuplexStream,
    /// Bytes read and not yet taken.
    buf: Vec<u8>,
    /// What the client waits for, and the lines of it that came so far: for the
    /// failure message of a wait that timed out.
    waiting: String,
    received: Vec<String>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Client {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Client {
    /// Logs in as `user` with LOGIN; panics unless it is answered OK.
    pub async fn login(&mut self, user: &str) {
        let got = self.cmd_lines(&format!("L LOGIN {user} {PASSWORD}")).await;
        let last = got.last().map(String::as_str).unwrap_or("");
        assert!(
            last.starts_with("L OK "),
            "session {}: login as {user}: {got:#?}",
            self.name
        );
    }

    /// Sends `line` (a command: tag, space, the rest), reads every response up to its
    /// tagged reply and compares them with `want` (see the module docs); returns them.
    pub async fn cmd(&mut self, line: &str, want: &[&str]) -> Vec<String> {
        let got = self.cmd_lines(line).await;
        self.compare(line, want, &got);
        got
    }

    /// Sends `line` and reads its responses; checks only that one line matches `want`
    /// (a pattern as in [`Client::cmd`]); returns them.
    pub async fn cmd_contains(&mut self, line: &str, want: &str) -> Vec<String> {
        let got = self.cmd_lines(line).await;
        assert!(
            got.iter().any(|l| matches(want, l)),
            "session {}: {line:?}: no line matches {want:?} in\n{}",
            self.name,
            got.join("\n")
        );
        got
    }

    /// Sends `line` and returns its responses unchecked, up to its tagged reply.
    pub async fn cmd_lines(&mut self, line: &str) -> Vec<String> {
        self.send_raw(format!("{line}\r\n").as_bytes()).await;
        self.until_tagged(tag_of(line), line).await
    }

    /// Writes `bytes` as they are (a command line with a literal, a literal's data).
    pub async fn send_raw(&mut self, bytes: &[u8]) {
        let written = tokio::time::timeout(WAIT, async {
            self.stream.write_all(bytes).await?;
            self.stream.flush().await
        })
        .await;
        match written {
            Ok(Ok(())) => {}
            Ok(Err(e)) => panic!("session {}: write failed: {e}", self.name),
            Err(_) => panic!(
                "session {}: the server read nothing for {WAIT:?}",
                self.name
            ),
        }
    }

    /// Reads the next response, which must be a continuation request (`+ ...`);
    /// returns it.
    pub async fn continuation(&mut self) -> String {
        self.wait_for("a continuation request".into());
        let got = self.response().await;
        assert!(
            got.starts_with('+'),
            "session {}: wanted a continuation request, got {got:?}",
            self.name
        );
        got
    }

    /// Sends `line`, which ends in a synchronising literal `{n}` announcing `data`,
    /// waits for the `+`, sends `data` and the final CRLF, and compares the responses
    /// with `want` as [`Client::cmd`] does.
    pub async fn cmd_literal(&mut self, line: &str, data: &[u8], want: &[&str]) -> Vec<String> {
        self.send_raw(format!("{line}\r\n").as_bytes()).await;
        self.continuation().await;
        self.send_raw(data).await;
        self.send_raw(b"\r\n").await;
        let got = self.until_tagged(tag_of(line), line).await;
        self.compare(line, want, &got);
        got
    }

    /// Reads responses until the tagged reply of `tag`, which is the last line;
    /// compares them with `want`. For a command sent with [`Client::send_raw`].
    pub async fn finish(&mut self, tag: &str, want: &[&str]) -> Vec<String> {
        let got = self.until_tagged(tag, tag).await;
        self.compare(tag, want, &got);
        got
    }

    /// Starts IDLE with `tag` and waits for the continuation request.
    pub async fn idle(&mut self, tag: &str) {
        self.send_raw(format!("{tag} IDLE\r\n").as_bytes()).await;
        self.wait_for("IDLE's continuation request".into());
        let got = self.response().await;
        assert_eq!(got, "+ idling", "session {}: IDLE", self.name);
    }

    /// During IDLE, reads untagged responses until there are as many as `want` has
    /// lines, and compares them.
    pub async fn idle_until(&mut self, want: &[&str]) -> Vec<String> {
        self.wait_for(format!("IDLE updates {want:?}"));
        while self.received.len() < want.len() {
            let response = self.response().await;
            self.received
                .extend(response.split("\r\n").map(str::to_owned));
        }
        let got = std::mem::take(&mut self.received);
        self.compare("(idling)", want, &got);
        got
    }

    /// Ends IDLE (`DONE`) and compares what comes up to `tag`'s reply with `want`.
    pub async fn done(&mut self, tag: &str, want: &[&str]) -> Vec<String> {
        self.send_raw(b"DONE\r\n").await;
        let got = self.until_tagged(tag, "DONE").await;
        self.compare("DONE", want, &got);
        got
    }

    /// Reads until the connection closes; returns the lines that came first. Panics
    /// if it stays open for [`WAIT`].
    pub async fn closed(&mut self) -> Vec<String> {
        self.wait_for("the end of the connection".into());
        while let Some(response) = self.try_response().await {
            self.received
                .extend(response.split("\r\n").map(str::to_owned));
        }
        std::mem::take(&mut self.received)
    }

    /// Every line up to and including the tagged reply of `tag`.
    async fn until_tagged(&mut self, tag: &str, what: &str) -> Vec<String> {
        self.wait_for(format!("the tagged reply to {what:?}"));
        let prefix = format!("{tag} ");
        loop {
            let Some(response) = self.try_response().await else {
                panic!(
                    "session {}: {what:?}: the connection closed before the tagged reply; got\n{}",
                    self.name,
                    self.received.join("\n")
                );
            };
            let tagged = response.starts_with(&prefix);
            self.received
                .extend(response.split("\r\n").map(str::to_owned));
            if tagged {
                return std::mem::take(&mut self.received);
            }
        }
    }

    /// Starts a wait for `what`: nothing received for it yet.
    fn wait_for(&mut self, what: String) {
        self.waiting = what;
        self.received.clear();
    }

    /// The next whole response (literals included, CRLF between its lines, none at
    /// the end); panics if the connection closes.
    async fn response(&mut self) -> String {
        match self.try_response().await {
            Some(response) => response,
            None => panic!("session {}: the connection closed", self.name),
        }
    }

    /// The next whole response, `None` at the end of the stream.
    async fn try_response(&mut self) -> Option<String> {
        let mut response = Vec::new();
        loop {
            let line = self.read_line().await?;
            let literal = literal_size(&line);
            response.extend_from_slice(&line);
            let Some(size) = literal else {
                response.truncate(response.len() - 2);
                return Some(String::from_utf8_lossy(&response).into_owned());
            };
            self.fill(size).await?;
            response.extend(self.buf.drain(..size));
        }
    }

    /// The next line, CRLF included.
    async fn read_line(&mut self) -> Option<Vec<u8>> {
        loop {
            if let Some(at) = self.buf.windows(2).position(|w| w == b"\r\n") {
                return Some(self.buf.drain(..at + 2).collect());
            }
            let have = self.buf.len();
            self.fill(have + 1).await?;
        }
    }

    /// Reads until `buf` holds at least `size` bytes; `None` at the end of the stream.
    async fn fill(&mut self, size: usize) -> Option<()> {
        let mut chunk = [0u8; 8192];
        while self.buf.len() < size {
            let read = tokio::time::timeout(WAIT, self.stream.read(&mut chunk)).await;
            match read {
                Ok(Ok(0)) => return None,
                Ok(Ok(n)) => self.buf.extend_from_slice(&chunk[..n]),
                Ok(Err(e)) => panic!("session {}: read failed: {e}", self.name),
                Err(_) => panic!(
                    "session {}: waited {WAIT:?} for {} in vain; received\n{}\nand then only {:?}",
                    self.name,
                    self.waiting,
                    self.received.join("\n"),
                    String::from_utf8_lossy(&self.buf)
                ),
            }
        }
        Some(())
    }

    /// Panics with a diff unless `got` matches `want` line by line.
    fn compare(&self, what: &str, want: &[&str], got: &[String]) {
        let ok = want.len() == got.len() && want.iter().zip(got).all(|(w, g)| matches(w, g));
        if !ok {
            panic!(
                "session {}: {what:?}: responses differ (- wanted, + got)\n{}",
                self.name,
                diff(want, got)
            );
        }
    }
}

/// The tag of a command line: up to the first space.
fn tag_of(line: &str) -> &str {
    line.split(' ').next().unwrap_or(line)
}

/// The size of the literal a response line (CRLF included) ends with: `{n}` or
/// `~{n}` (RFC 3516 binary).
fn literal_size(line: &[u8]) -> Option<usize> {
    let line = line.strip_suffix(b"}\r\n")?;
    let open = line.iter().rposition(|&b| b == b'{')?;
    std::str::from_utf8(&line[open + 1..]).ok()?.parse().ok()
}

/// Whether `line` matches the pattern `want`: `*` matches any run of characters,
/// except a leading `* ` (the untagged marker), which must be there as written.
pub(crate) fn matches(want: &str, line: &str) -> bool {
    match (want.strip_prefix("* "), line.strip_prefix("* ")) {
        (Some(want), Some(line)) => glob(want.as_bytes(), line.as_bytes()),
        (Some(_), None) => false,
        _ => glob(want.as_bytes(), line.as_bytes()),
    }
}

/// `*` as any run of bytes, everything else as itself.
fn glob(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    // Where the last `*` was, and where in `text` it would take one more byte.
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && pattern[p] == b'*' {
            star = Some((p, t));
            p += 1;
        } else if p < pattern.len() && pattern[p] == text[t] {
            p += 1;
            t += 1;
        } else if let Some((sp, st)) = star {
            p = sp + 1;
            t = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&b| b == b'*')
}

/// A line diff of `want` and `got` (longest common subsequence under [`matches`]):
/// `  ` both, `- ` wanted only, `+ ` got only.
fn diff(want: &[&str], got: &[String]) -> String {
    let (n, m) = (want.len(), got.len());
    // common[i][j]: the longest common run of want[i..] and got[j..].
    let mut common = vec![vec![0usize; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            common[i][j] = if matches(want[i], &got[j]) {
                common[i + 1][j + 1] + 1
            } else {
                common[i + 1][j].max(common[i][j + 1])
            };
        }
    }
    let mut out = String::new();
    let (mut i, mut j) = (0, 0);
    while i < n || j < m {
        if i < n && j < m && matches(want[i], &got[j]) {
            out += &format!("  {}\n", got[j]);
            i += 1;
            j += 1;
        } else if j < m && (i == n || common[i][j + 1] >= common[i + 1][j]) {
            out += &format!("+ {}\n", got[j]);
            j += 1;
        } else {
            out += &format!("- {}\n", want[i]);
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_runs_but_not_the_untagged_marker() {
        assert!(matches(
            "* OK [UIDVALIDITY *] UIDs valid",
            "* OK [UIDVALIDITY 17] UIDs valid"
        ));
        assert!(matches("a OK *", "a OK [READ-WRITE] SELECT completed"));
        assert!(matches("*", "* 1 EXISTS"));
        assert!(!matches("* 1 EXISTS", "a 1 EXISTS"));
        assert!(!matches("* 1 EXISTS", "* 2 EXISTS"));
        assert!(matches("* FLAGS (*)", "* FLAGS (\\Seen \\*)"));
    }

    #[test]
    fn literal_sizes_are_read_from_line_ends() {
        assert_eq!(literal_size(b"* 1 FETCH (BODY[] {12}\r\n"), Some(12));
        assert_eq!(literal_size(b"* 1 FETCH (BINARY[] ~{3}\r\n"), Some(3));
        assert_eq!(literal_size(b"* OK {x}\r\n"), None);
        assert_eq!(literal_size(b"* OK done\r\n"), None);
    }

    #[test]
    fn the_diff_marks_missing_and_unexpected_lines() {
        let got = [
            "* 1 EXISTS".to_owned(),
            "* 9 RECENT".to_owned(),
            "a OK done".to_owned(),
        ];
        assert_eq!(
            diff(&["* 1 EXISTS", "* 0 RECENT", "a OK *"], &got),
            "  * 1 EXISTS\n+ * 9 RECENT\n- * 0 RECENT\n  a OK done\n"
        );
    }
}
