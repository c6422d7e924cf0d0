//! The single writer thread and its group commit.
//!
//! Where it sits: every write [`super::SqliteStore`] makes (enqueue, delivery, queue
//! marks, accounts, domains, removals) is a closure sent here. The thread owns the one
//! read-write [`Connection`] of this process.
//!
//! Group commit (DESIGN.md §3): the thread waits for a job, then takes every other job
//! already waiting (up to [`MAX_BATCH`]) and runs them all inside one `BEGIN IMMEDIATE`
//! … `COMMIT`. With `synchronous=FULL` in WAL mode that commit costs one fsync, shared by
//! every caller in the batch, so throughput is not capped at one fsync per message.
//! Each job runs inside its own `SAVEPOINT`: a job whose SQL fails is rolled back to its
//! savepoint and only that job gets the error; the others still commit. A job's answer
//! is sent only after the commit returned, so "Ok" always means "on stable storage".
//!
//! Body files too large to go inline (`super::blobs`) come with their job unsynced:
//! before the batch's transaction begins, the thread syncs each file's data and then
//! each folder once, however many of the batch's files it holds, so the names and bodies
//! are on stable storage before any row naming them commits. A job whose file cannot be
//! synced fails alone.
//!
//! A job that panics is caught and answered with an error, so one bad job cannot take
//! the writer (and with it every later write) down.
//!
//! Each group commit's time, from `BEGIN IMMEDIATE` to the end of `COMMIT` (what its
//! callers wait for, fsync included), goes to the histogram
//! `postie_store_commit_seconds{backend="sqlite"}` through the `metrics` facade, which
//! the server renders for Prometheus (nothing is kept when no recorder is installed).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::thread::JoinHandle;

use rusqlite::Connection;
use tokio::sync::oneshot;

use super::blobs::{self, Unsynced};
use crate::{Result, StoreError};

/// Most jobs one transaction takes; more wait for the next commit.
const MAX_BATCH: usize = 512;

/// The histogram of group commit times, in seconds (see the module docs).
pub(crate) const COMMIT_SECONDS: &str = "postie_store_commit_seconds";

/// A unit of work for the writer thread: run its SQL, then (once the batch's fate is
/// known) answer its caller.
trait Task: Send {
    /// Runs the job's SQL; true when it succeeded and its changes should be kept.
    fn run(&mut self, conn: &Connection) -> bool;
    /// Answers the caller. `batch` is the commit's outcome; a job that failed (or never
    /// ran) answers with its own error or the batch's.
    fn finish(self: Box<Self>, batch: std::result::Result<(), String>);
    /// Takes the body files the job's rows will name, to be synced before the commit.
    fn take_files(&mut self) -> Vec<Unsynced>;
    /// Fails the job before it runs: one of its files could not be made durable.
    fn fail(&mut self, error: StoreError);
}

/// A boxed [`Task`].
type Job = Box<dyn Task>;

/// The [`Task`] behind [`Writer::run`].
struct Closure<T, F> {
    work: Option<F>,
    files: Vec<Unsynced>,
    result: Option<Result<T>>,
    reply: oneshot::Sender<Result<T>>,
}

impl<T, F> Task for Closure<T, F>
where
    T: Send + 'static,
    F: FnOnce(&Connection) -> Result<T> + Send + 'static,
{
    fn run(&mut self, conn: &Connection) -> bool {
        let Some(work) = self.work.take() else {
            return false;
        };
        let result = match catch_unwind(AssertUnwindSafe(|| work(conn))) {
            Ok(result) => result,
            Err(_) => {
                tracing::error!("a database write job panicked");
                Err(StoreError::Io("internal error in a database write".into()))
            }
        };
        let ok = result.is_ok();
        self.result = Some(result);
        ok
    }

    fn finish(self: Box<Self>, batch: std::result::Result<(), String>) {
        let answer = match (self.result, batch) {
            (Some(Ok(value)), Ok(())) => Ok(value),
            (Some(Err(e)), _) => Err(e),
            (Some(Ok(_)), Err(reason)) | (None, Err(reason)) => Err(StoreError::Io(reason)),
            (None, Ok(())) => Err(StoreError::Io("write job was not run".into())),
        };
        // The caller may have gone away (cancelled); nothing to do then.
        let _ = self.reply.send(answer);
    }

    fn take_files(&mut self) -> Vec<Unsynced> {
        std::mem::take(&mut self.files)
    }

    fn fail(&mut self, error: StoreError) {
        self.work = None;
        self.result = Some(Err(error));
    }
}

/// Why a write did not happen.
#[derive(Debug)]
pub(crate) enum WriteError {
    /// The job ran and failed, or its batch failed to commit: nothing it did is stored.
    Failed(StoreError),
    /// The writer thread is gone; whether the job ran is unknown.
    Gone,
}

impl From<WriteError> for StoreError {
    fn from(e: WriteError) -> Self {
        match e {
            WriteError::Failed(e) => e,
            WriteError::Gone => StoreError::Io("database writer thread has stopped".into()),
        }
    }
}

/// Handle to the writer thread. Dropping it lets the thread finish what is queued, then
/// waits for it to close the connection.
pub(crate) struct Writer {
    sender: Option<mpsc::Sender<Job>>,
    thread: Option<JoinHandle<()>>,
    commits: Arc<AtomicU64>,
    submitted: AtomicU64,
}

impl Writer {
    /// Starts the thread, giving it `conn`.
    pub(crate) fn start(conn: Connection) -> Result<Self> {
        let (sender, receiver) = mpsc::channel::<Job>();
        let commits = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&commits);
        let thread = std::thread::Builder::new()
            .name("postie-db-writer".into())
            .spawn(move || run(conn, receiver, counter))
            .map_err(|e| StoreError::Io(format!("cannot start writer thread: {e}")))?;
        Ok(Writer {
            sender: Some(sender),
            thread: Some(thread),
            commits,
            submitted: AtomicU64::new(0),
        })
    }

    /// Transactions committed so far by this writer.
    pub(crate) fn commit_count(&self) -> u64 {
        self.commits.load(Ordering::SeqCst)
    }

    /// Jobs handed to the thread so far (answered or not).
    #[cfg(test)]
    pub(crate) fn submitted(&self) -> u64 {
        self.submitted.load(Ordering::SeqCst)
    }

    /// Runs `work` on the writer thread inside the next group-committed transaction and
    /// returns its result once that transaction is durable. `work` must not begin,
    /// commit or roll back transactions itself.
    pub(crate) async fn run<T, F>(&self, work: F) -> std::result::Result<T, WriteError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        self.run_with_files(Vec::new(), work).await
    }

    /// [`Writer::run`] for a job whose rows name the body `files`: the thread makes them
    /// durable (data, then folder) before the transaction that runs `work` begins, and
    /// fails the job without running it when it cannot.
    pub(crate) async fn run_with_files<T, F>(
        &self,
        files: Vec<Unsynced>,
        work: F,
    ) -> std::result::Result<T, WriteError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel::<Result<T>>();
        let job: Job = Box::new(Closure {
            work: Some(work),
            files,
            result: None,
            reply,
        });
        let sender = self.sender.as_ref().ok_or(WriteError::Gone)?;
        sender.send(job).map_err(|_| WriteError::Gone)?;
        self.submitted.fetch_add(1, Ordering::SeqCst);
        match answer.await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => Err(WriteError::Failed(e)),
            Err(_) => Err(WriteError::Gone),
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        // Closing the channel ends the thread's loop once the queue is empty.
        self.sender.take();
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            tracing::error!("database writer thread panicked");
        }
    }
}

/// The thread's loop: one batch per iteration until the channel closes.
fn run(conn: Connection, receiver: mpsc::Receiver<Job>, commits: Arc<AtomicU64>) {
    while let Ok(first) = receiver.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match receiver.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        commit_batch(&conn, batch, &commits);
    }
    tracing::debug!("database writer thread stopping");
}

/// Makes every body file of `batch` durable before its rows commit: each file's data,
/// then each folder once, however many of the batch's files it holds. A job whose file
/// or folder cannot be synced fails (its rows are not written); the others go on.
/// Returns how many folders were synced.
fn sync_files(batch: &mut [Job]) -> usize {
    let mut folders: std::collections::BTreeMap<std::path::PathBuf, Vec<usize>> =
        std::collections::BTreeMap::new();
    for (i, job) in batch.iter_mut().enumerate() {
        for file in job.take_files() {
            if let Err(e) = file.sync_data() {
                tracing::error!(error = %e, "cannot sync a message body file");
                job.fail(e);
                break;
            }
            folders.entry(file.dir().to_path_buf()).or_default().push(i);
        }
    }
    for (folder, jobs) in &folders {
        if let Err(e) = blobs::sync_dir(folder) {
            tracing::error!(error = %e, "cannot sync a message body folder");
            for &i in jobs {
                batch[i].fail(StoreError::Io(e.to_string()));
            }
        }
    }
    folders.len()
}

/// Runs `batch` in one transaction and answers every job. A commit is counted before
/// the jobs are answered, so a caller that got its answer sees the count include it.
fn commit_batch(conn: &Connection, mut batch: Vec<Job>, commits: &AtomicU64) {
    sync_files(&mut batch);
    // Timed from here: the histogram is the transaction's (module docs).
    let started = std::time::Instant::now();
    if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
        // Typically SQLITE_BUSY: another process held the write lock past the timeout.
        tracing::warn!(error = %e, jobs = batch.len(), "cannot begin a write transaction");
        let reason = format!("cannot begin transaction: {e}");
        for job in batch {
            job.finish(Err(reason.clone()));
        }
        return;
    }
    let mut ran = Vec::with_capacity(batch.len());
    let mut broken: Option<String> = None;
    for mut job in batch {
        if broken.is_none() {
            match conn.execute_batch("SAVEPOINT job") {
                Ok(()) => {
                    let closed = if job.run(conn) {
                        conn.execute_batch("RELEASE job")
                    } else {
                        conn.execute_batch("ROLLBACK TO job; RELEASE job")
                    };
                    if let Err(e) = closed {
                        broken = Some(format!("cannot close savepoint: {e}"));
                    }
                }
                Err(e) => broken = Some(format!("cannot open savepoint: {e}")),
            }
        }
        // Jobs after a broken savepoint are not run; they get the batch's error.
        ran.push(job);
    }
    let outcome = match broken {
        Some(reason) => Err(reason),
        None => conn
            .execute_batch("COMMIT")
            .map_err(|e| format!("commit failed: {e}")),
    };
    if let Err(reason) = &outcome {
        tracing::error!(error = %reason, "write transaction failed; rolling back");
        if !conn.is_autocommit()
            && let Err(e) = conn.execute_batch("ROLLBACK")
        {
            tracing::error!(error = %e, "rollback failed");
        }
    }
    if outcome.is_ok() {
        commits.fetch_add(1, Ordering::SeqCst);
        metrics::histogram!(COMMIT_SECONDS, "backend" => "sqlite")
            .record(started.elapsed().as_secs_f64());
    }
    for job in ran {
        job.finish(outcome.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A job that inserts a row.
    fn insert(value: i64) -> Job {
        let (reply, _answer) = oneshot::channel::<Result<usize>>();
        Box::new(Closure {
            work: Some(move |c: &Connection| Ok(c.execute("INSERT INTO t VALUES (?1)", [value])?)),
            files: Vec::new(),
            result: None,
            reply,
        })
    }

    /// A job that inserts `value` into `t` and names the body `files`, with the
    /// receiver of its answer.
    fn insert_naming(value: i64, files: Vec<Unsynced>) -> (Job, oneshot::Receiver<Result<usize>>) {
        let (reply, answer) = oneshot::channel::<Result<usize>>();
        let job: Job = Box::new(Closure {
            work: Some(move |c: &Connection| Ok(c.execute("INSERT INTO t VALUES (?1)", [value])?)),
            files,
            result: None,
            reply,
        });
        (job, answer)
    }

    #[test]
    fn a_batch_syncs_each_body_folder_once_and_fails_only_the_job_it_could_not_sync() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = blobs::Blobs::open(dir.path().join("blobs")).expect("blobs");
        // Three bodies in folder `ab`, one in `cd`.
        let id = |prefix: &str, n: u32| format!("{prefix}{n:030x}");
        let unsynced = |prefix: &str, n: u32| {
            store
                .write_unsynced(&id(prefix, n), b"body")
                .expect("write")
        };
        let (ab1, ab2, ab3, cd) = (
            unsynced("ab", 1),
            unsynced("ab", 2),
            unsynced("ab", 3),
            unsynced("cd", 4),
        );
        // Folder `cd` is gone before the batch: its file's name cannot be made durable.
        std::fs::remove_dir_all(dir.path().join("blobs/cd")).expect("remove");
        let conn = Connection::open_in_memory().expect("database");
        conn.execute_batch("CREATE TABLE t (v INTEGER)")
            .expect("table");
        let (first, mut first_answer) = insert_naming(1, vec![ab1, ab2]);
        let (second, mut second_answer) = insert_naming(2, vec![cd]);
        let (third, mut third_answer) = insert_naming(3, vec![ab3]);
        let mut batch = vec![first, second, third];

        assert_eq!(
            sync_files(&mut batch),
            2,
            "one sync per folder, not per file"
        );
        let commits = AtomicU64::new(0);
        commit_batch(&conn, batch, &commits);

        assert!(matches!(first_answer.try_recv(), Ok(Ok(1))));
        assert!(matches!(
            second_answer.try_recv(),
            Ok(Err(StoreError::Io(_)))
        ));
        assert!(matches!(third_answer.try_recv(), Ok(Ok(1))));
        let rows: Vec<i64> = conn
            .prepare("SELECT v FROM t ORDER BY v")
            .expect("select")
            .query_map([], |r| r.get(0))
            .expect("rows")
            .collect::<rusqlite::Result<_>>()
            .expect("values");
        assert_eq!(rows, [1, 3], "the job whose folder failed wrote nothing");
        assert_eq!(commits.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn each_group_commit_is_timed() {
        let builder = metrics_exporter_prometheus::PrometheusBuilder::new()
            .set_buckets_for_metric(
                metrics_exporter_prometheus::Matcher::Full(COMMIT_SECONDS.into()),
                &[0.001, 1.0],
            )
            .expect("buckets");
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        // commit_batch runs on this thread here, which the local recorder covers.
        let _local = metrics::set_default_local_recorder(&recorder);
        let conn = Connection::open_in_memory().expect("database");
        conn.execute_batch("CREATE TABLE t (v INTEGER)")
            .expect("table");
        let commits = AtomicU64::new(0);
        commit_batch(&conn, vec![insert(1), insert(2)], &commits);
        commit_batch(&conn, vec![insert(3)], &commits);
        assert_eq!(commits.load(Ordering::SeqCst), 2);

        let text = handle.render();
        let has = |line: &str| text.lines().any(|l| l == line);
        assert!(
            has(r#"postie_store_commit_seconds_bucket{backend="sqlite",le="+Inf"} 2"#),
            "{text}"
        );
        assert!(
            has(r#"postie_store_commit_seconds_count{backend="sqlite"} 2"#),
            "{text}"
        );
        assert!(text.contains(r#"postie_store_commit_seconds_bucket{backend="sqlite",le="1"}"#));
    }
}
