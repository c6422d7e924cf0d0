//! Bulk sending: one personalised message per row of a CSV file, through one SMTP
//! server (connections reused, several at once, at a limited rate) or into the local
//! queue, with a results file that doubles as a journal so that a stopped or killed run
//! can be resumed without sending anyone a message twice.
//!
//! Where it sits: `postie send --bulk` builds a [`Job`] from its flags, [`plan`] checks
//! everything that can be checked before the first message goes out (columns,
//! placeholders, attachments, the results file), and [`run`] sends. The parts:
//! [`rows`] (the CSV file), [`template`] (placeholders and `.eml` templates), [`rate`]
//! (`--rate`), [`journal`] (results and resume); the messages are built by
//! [`crate::compose`] and sent by [`crate::transport`] or [`crate::local`].
//!
//! Each row's envelope recipient is the row's address alone; `To:` is the template's
//! (placeholders filled) or, when it has none, that address. With an unsubscribe URL,
//! `List-Unsubscribe` (RFC 2369 §3.2) and, for an https URL, `List-Unsubscribe-Post:
//! List-Unsubscribe=One-Click` (RFC 8058 §3.1) are added to each message.

pub mod journal;
pub mod rate;
pub mod rows;
pub mod template;

use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use message::Address;
use relay::client::RecipientResult;
use tokio::sync::watch;

use crate::compose::{self, Attachment, Draft, mailbox};
use crate::local::{LocalError, LocalQueue, Submitter};
use crate::transport::{Failure, FailureKind, Session, Transport};
use journal::{Journal, Record, Status};
use rate::{Limiter, Rate};
use rows::Rows;

/// What the user asked for.
#[derive(Debug, Clone)]
pub struct Job {
    /// The message, with `{{column}}` placeholders.
    pub template: Draft,
    /// The rows.
    pub rows: Rows,
    /// The column with each row's address (`email` by default).
    pub address_column: String,
    /// A column naming a file to attach to that row's message (empty: none).
    pub attach_column: Option<String>,
    /// `List-Unsubscribe` URL with placeholders (values percent-encoded).
    pub unsubscribe: Option<String>,
    /// Connections (or local submissions) at once.
    pub concurrency: usize,
    /// At most this many messages per unit of time.
    pub rate: Option<Rate>,
    /// The results file (and journal).
    pub results: Option<PathBuf>,
    /// Continue the run recorded in `results`.
    pub resume: bool,
}

/// A checked job: the rows still to send and what earlier runs did.
#[derive(Debug)]
pub struct Plan {
    job: Job,
    address: usize,
    attach: Option<usize>,
    /// Row numbers (from 1) to send, in order.
    pub todo: Vec<usize>,
    /// Outcomes carried over from the run being resumed.
    pub previous: BTreeMap<usize, Record>,
}

impl Plan {
    /// Rows in the file.
    pub fn total(&self) -> usize {
        self.job.rows.rows.len()
    }
}

/// Checks the job; nothing is sent and no file is written.
pub fn plan(job: Job) -> Result<Plan, String> {
    let rows = &job.rows;
    let address = rows.column(&job.address_column).ok_or_else(|| {
        format!(
            "the CSV file has no column {:?} for the addresses (columns: {}; choose one with --address-column)",
            job.address_column,
            rows.columns.join(", ")
        )
    })?;
    let attach = match &job.attach_column {
        Some(name) => Some(
            rows.column(name)
                .ok_or_else(|| format!("the CSV file has no column {name:?} (--attach-column)"))?,
        ),
        None => None,
    };
    if !job.template.cc.is_empty() || !job.template.bcc.is_empty() {
        return Err(
            "Cc and Bcc are not used in bulk sending: each message goes to its row's address only"
                .into(),
        );
    }
    let mut wanted = template::placeholders(&job.template);
    if let Some(url) = &job.unsubscribe {
        let lower = url.to_ascii_lowercase();
        if !["https://", "http://", "mailto:"]
            .iter()
            .any(|p| lower.starts_with(p))
        {
            return Err(format!(
                "--unsubscribe {url:?}: give an https:// or mailto: URL"
            ));
        }
        wanted.extend(template::names(url));
    }
    let missing = rows.missing(&wanted);
    if !missing.is_empty() {
        return Err(format!(
            "the template uses {} that the CSV file does not have (columns: {})",
            missing
                .iter()
                .map(|m| format!("{{{{{m}}}}}"))
                .collect::<Vec<_>>()
                .join(", "),
            rows.columns.join(", ")
        ));
    }
    if let Some(col) = attach {
        let absent: Vec<String> = rows
            .rows
            .iter()
            .enumerate()
            .filter_map(|(i, r)| {
                let cell = r.get(col).map(|c| c.trim()).unwrap_or_default();
                (!cell.is_empty() && !rows.base.join(cell).is_file())
                    .then(|| format!("row {}: {cell}", i + 1))
            })
            .collect();
        if !absent.is_empty() {
            let more = absent.len().saturating_sub(5);
            let mut text = absent.into_iter().take(5).collect::<Vec<_>>().join("; ");
            if more > 0 {
                text.push_str(&format!("; and {more} more"));
            }
            return Err(format!("attachments not found: {text}"));
        }
    }

    let mut previous = BTreeMap::new();
    match (&job.results, job.resume) {
        (None, true) => return Err("--resume needs --results FILE (the run's journal)".into()),
        (Some(path), false) if path.exists() => {
            return Err(format!(
                "{} exists: add --resume to continue that run, or remove the file",
                path.display()
            ));
        }
        (Some(path), true) if path.exists() => {
            previous = journal::load(path)?;
            for r in previous.values() {
                let expected = rows
                    .rows
                    .get(r.row.wrapping_sub(1))
                    .and_then(|row| row.get(address))
                    .map(|a| a.trim());
                if expected != Some(r.address.as_str()) {
                    return Err(format!(
                        "{} does not match the CSV file (row {} is {:?} there): was the file changed?",
                        path.display(),
                        r.row,
                        expected.unwrap_or("missing")
                    ));
                }
            }
        }
        _ => {}
    }
    let todo = (1..=rows.rows.len())
        .filter(|n| previous.get(n).is_none_or(|r| !r.status.is_final()))
        .collect();
    Ok(Plan {
        job,
        address,
        attach,
        todo,
        previous,
    })
}

/// Where the messages go.
pub enum Sink {
    /// Through an SMTP server.
    Smtp(Box<Transport>),
    /// Into the local queue.
    Local(Box<LocalQueue>, Submitter),
}

/// How a run ended.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Summary {
    /// Rows per status, this run and the runs it resumed.
    pub counts: BTreeMap<&'static str, usize>,
    /// Rows not attempted (stopped, or the run aborted).
    pub not_attempted: usize,
    /// The session failure that stopped the run, if one did.
    pub aborted: Option<Failure>,
    /// The run was stopped on request (Ctrl-C, SIGTERM).
    pub stopped: bool,
}

impl Summary {
    /// Rows with `status`.
    pub fn count(&self, status: Status) -> usize {
        self.counts.get(status.as_str()).copied().unwrap_or(0)
    }
}

/// Shared state of the workers.
struct Shared {
    plan: Plan,
    sink: Sink,
    queue: Mutex<VecDeque<usize>>,
    limiter: Option<Limiter>,
    journal: Option<Journal>,
    abort: Mutex<Option<Failure>>,
    stop: watch::Receiver<bool>,
    on_record: Box<dyn Fn(&Record) + Send + Sync>,
    outcomes: Mutex<BTreeMap<usize, Record>>,
}

/// Sends the plan's rows; `on_record` hears each row's outcome (for a progress bar);
/// `stop` turning true stops the run after the messages in flight.
pub async fn run(
    plan: Plan,
    sink: Sink,
    stop: watch::Receiver<bool>,
    on_record: Box<dyn Fn(&Record) + Send + Sync>,
) -> Result<Summary, String> {
    let journal = match &plan.job.results {
        Some(path) => {
            if plan.job.resume && path.exists() {
                // Pending lines of the killed run become "unknown" for good.
                journal::compact(path, &plan.previous)
                    .map_err(|e| format!("cannot rewrite {}: {e}", path.display()))?;
            }
            Some(Journal::open(path).map_err(|e| format!("cannot write {}: {e}", path.display()))?)
        }
        None => None,
    };
    let workers = plan.job.concurrency.max(1).min(plan.todo.len().max(1));
    let shared = Arc::new(Shared {
        queue: Mutex::new(plan.todo.iter().copied().collect()),
        limiter: plan.job.rate.map(Limiter::new),
        journal,
        abort: Mutex::new(None),
        stop,
        on_record,
        outcomes: Mutex::new(BTreeMap::new()),
        plan,
        sink,
    });
    let mut tasks = Vec::new();
    for _ in 0..workers {
        let shared = shared.clone();
        tasks.push(tokio::spawn(async move { worker(&shared).await }));
    }
    for task in tasks {
        task.await.map_err(|e| format!("a worker failed: {e}"))??;
    }
    let Ok(shared) = Arc::try_unwrap(shared) else {
        return Err("workers still running".into());
    };
    let mut all = shared.plan.previous.clone();
    all.extend(shared.outcomes.into_inner().unwrap_or_default());
    if let Some(j) = shared.journal {
        j.close()
            .map_err(|e| format!("cannot write the results: {e}"))?;
    }
    if let Some(path) = &shared.plan.job.results {
        let merged = journal::load(path)?;
        journal::compact(path, &merged)
            .map_err(|e| format!("cannot rewrite {}: {e}", path.display()))?;
    }
    let mut summary = Summary {
        not_attempted: shared.plan.total() - all.len(),
        aborted: shared.abort.into_inner().unwrap_or_default(),
        stopped: *shared.stop.borrow(),
        ..Summary::default()
    };
    for r in all.values() {
        *summary.counts.entry(r.status.as_str()).or_default() += 1;
    }
    Ok(summary)
}

/// One connection's (or local submitter's) loop: take the next row, send, record.
async fn worker(shared: &Shared) -> Result<(), String> {
    let mut session: Option<Session> = None;
    loop {
        if *shared.stop.borrow() || shared.abort.lock().map(|a| a.is_some()).unwrap_or(true) {
            break;
        }
        let Some(row) = shared.queue.lock().ok().and_then(|mut q| q.pop_front()) else {
            break;
        };
        if let Some(limiter) = &shared.limiter {
            limiter.wait().await;
        }
        let record = match build(&shared.plan, row) {
            Err(record) => record,
            Ok((address, composed)) => {
                if let Some(j) = &shared.journal {
                    j.pending(row, &address.to_string())
                        .await
                        .map_err(|e| format!("cannot write the results: {e}"))?;
                }
                deliver(shared, &mut session, row, &address, &composed).await
            }
        };
        if let Some(j) = &shared.journal {
            j.done(record.clone());
        }
        (shared.on_record)(&record);
        if let Ok(mut o) = shared.outcomes.lock() {
            o.insert(row, record);
        }
    }
    if let Some(s) = session {
        s.quit().await;
    }
    Ok(())
}

/// The message that `row` (counting from 1) would get, for `--dry-run`.
pub fn preview(plan: &Plan, row: usize) -> Result<compose::Composed, String> {
    if row == 0 || row > plan.total() {
        return Err(format!("there is no row {row}"));
    }
    build(plan, row)
        .map(|(_, composed)| composed)
        .map_err(|r| format!("row {row} ({}): {}", r.address, r.reply))
}

/// The message for `row`, or the `invalid` record that says why there is none.
fn build(plan: &Plan, row: usize) -> Result<(Address, compose::Composed), Record> {
    let rows = &plan.job.rows;
    let cells = &rows.rows[row - 1];
    let raw_address = cells
        .get(plan.address)
        .map(|c| c.trim())
        .unwrap_or_default();
    let invalid = |reason: String| Record {
        row,
        address: raw_address.to_string(),
        status: Status::Invalid,
        reply: reason,
        queue_id: String::new(),
    };
    let address = match mailbox::parse_list(raw_address, "address").map(|l| l.into_iter()) {
        Ok(mut list) => match (list.next(), list.next()) {
            (Some(m), None) => m.address,
            _ => return Err(invalid("give one address per row".into())),
        },
        Err(e) => return Err(invalid(e.to_string())),
    };
    let value = |name: &str| rows.column(name).and_then(|i| cells.get(i).cloned());
    let mut draft = template::render(&plan.job.template, &value);
    if draft.to.is_empty() {
        draft.to = vec![address.to_string()];
    }
    if let Some(col) = plan.attach {
        let cell = cells.get(col).map(|c| c.trim()).unwrap_or_default();
        if !cell.is_empty() {
            let path: PathBuf = rows.base.join(cell);
            match Attachment::from_file(&path) {
                Ok(a) => draft.attachments.push(a),
                Err(e) => return Err(invalid(format!("cannot read {}: {e}", path.display()))),
            }
        }
    }
    if let Some(url) = &plan.job.unsubscribe {
        let url = template::fill(url, template::Escape::Url, &value);
        // RFC 8058 §3.1: one-click needs an HTTPS URI.
        let one_click = url.to_ascii_lowercase().starts_with("https://");
        draft
            .headers
            .push(("List-Unsubscribe".into(), format!("<{url}>")));
        if one_click {
            draft.headers.push((
                "List-Unsubscribe-Post".into(),
                "List-Unsubscribe=One-Click".into(),
            ));
        }
    }
    let mut composed = compose::compose(&draft, now()).map_err(|e| invalid(e.to_string()))?;
    composed.recipients = vec![address.clone()];
    Ok((address, composed))
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Sends one row's message and says what became of it.
async fn deliver(
    shared: &Shared,
    session: &mut Option<Session>,
    row: usize,
    address: &Address,
    composed: &compose::Composed,
) -> Record {
    let record = |status: Status, reply: String, queue_id: Option<String>| Record {
        row,
        address: address.to_string(),
        status,
        reply,
        queue_id: queue_id.unwrap_or_default(),
    };
    match &shared.sink {
        Sink::Local(queue, submitter) => {
            match queue
                .submit(
                    Some(&composed.sender),
                    &composed.recipients,
                    &composed.message,
                    submitter,
                )
                .await
            {
                Ok(id) => record(Status::Sent, "queued".into(), Some(id.to_string())),
                Err(e @ LocalError::UnknownRecipients(_)) => {
                    record(Status::Refused, e.to_string(), None)
                }
                Err(e @ LocalError::TooBig { .. }) => record(Status::Invalid, e.to_string(), None),
                Err(e) => record(Status::Deferred, e.to_string(), None),
            }
        }
        Sink::Smtp(transport) => {
            // A broken connection before any decision: one more try on a new one.
            for attempt in 0..2 {
                if session.as_ref().is_some_and(|s| !s.is_reusable())
                    && let Some(old) = session.take()
                {
                    old.quit().await;
                }
                if session.is_none() {
                    match connect(transport).await {
                        Ok(s) => *session = Some(s),
                        Err(f) => {
                            let reply = f.message.clone();
                            if let Ok(mut a) = shared.abort.lock() {
                                a.get_or_insert(f);
                            }
                            return record(Status::Deferred, reply, None);
                        }
                    }
                }
                let Some(s) = session.as_mut() else { break };
                match s
                    .send(&composed.sender, &composed.recipients, &composed.message)
                    .await
                {
                    Ok(deliveries) => {
                        let Some(d) = deliveries.into_iter().next() else {
                            break;
                        };
                        let reply = d.result.reply().to_string();
                        let status = match &d.result {
                            RecipientResult::Accepted(_) => Status::Sent,
                            RecipientResult::Permanent(_) => Status::Refused,
                            RecipientResult::Temporary(_) => Status::Deferred,
                        };
                        return record(status, reply, d.queue_id());
                    }
                    Err(f) if attempt == 0 => {
                        tracing::debug!(error = %f, "connection lost; retrying the row on a new one");
                        *session = None;
                    }
                    Err(f) => return record(Status::Deferred, f.message, None),
                }
            }
            record(Status::Deferred, "no result".into(), None)
        }
    }
}

/// Opens a session, retrying a few times while the failure may pass (connect,
/// temporary); TLS, authentication and refusals fail at once.
async fn connect(transport: &Transport) -> Result<Session, Failure> {
    let mut delay = Duration::from_millis(500);
    let mut tries = 0;
    loop {
        match transport.connect().await {
            Ok(s) => return Ok(s),
            Err(f)
                if tries < 2 && matches!(f.kind, FailureKind::Connect | FailureKind::Temporary) =>
            {
                tries += 1;
                tokio::time::sleep(delay).await;
                delay *= 2;
            }
            Err(f) => return Err(f),
        }
    }
}

/// Reads a template file (`.eml`) into a draft.
pub fn read_template(path: &Path) -> Result<Draft, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    template::from_eml(&bytes).map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests;
