//! The results file of a bulk run, which is also its journal: one CSV line per event
//! (`row,address,status,reply,queue_id`), so that a run that was stopped or killed can
//! be resumed without sending anyone a message twice.
//!
//! Where it sits: the bulk runner ([`crate::bulk`]) writes a `pending` line for a row,
//! durably, before the row's message is sent, and its outcome after; at the end (and
//! at the start of a resumed run) the file is rewritten in row order with one line per
//! row ([`compact`]). A row still `pending` then was in flight when the run was killed:
//! it may or may not have been delivered, so it becomes `unknown` and is never sent
//! again (at most once). `deferred` rows (temporary failures) are sent again on resume.
//!
//! Durability: the pending lines of concurrent workers share one fsync (group commit);
//! outcome lines are written at once and synced with the next pending line or at the
//! end. The compacted file replaces the old one by rename after an fsync.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use tokio::sync::oneshot;

/// What happened to a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// The server (or the local queue) took the message.
    Sent,
    /// Refused for good (5xx).
    Refused,
    /// Failed for now (4xx, connection lost); sent again on resume.
    Deferred,
    /// The row's data cannot make a message (bad address, missing attachment).
    Invalid,
    /// It was being sent when the run was killed: maybe delivered. Never sent again.
    Unknown,
    /// About to be sent (only in the journal of a run in progress or killed).
    Pending,
}

impl Status {
    /// The word in the file.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Sent => "sent",
            Status::Refused => "refused",
            Status::Deferred => "deferred",
            Status::Invalid => "invalid",
            Status::Unknown => "unknown",
            Status::Pending => "pending",
        }
    }

    fn parse(word: &str) -> Option<Status> {
        Some(match word {
            "sent" => Status::Sent,
            "refused" => Status::Refused,
            "deferred" => Status::Deferred,
            "invalid" => Status::Invalid,
            "unknown" => Status::Unknown,
            "pending" => Status::Pending,
            _ => return None,
        })
    }

    /// True when a resumed run must not send this row again.
    pub fn is_final(self) -> bool {
        !matches!(self, Status::Deferred)
    }
}

/// One line of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The data row, counting from 1.
    pub row: usize,
    /// The recipient.
    pub address: String,
    /// The outcome.
    pub status: Status,
    /// The server's reply or our error.
    pub reply: String,
    /// The queue id the server (or local queue) gave, if any.
    pub queue_id: String,
}

const HEADER: [&str; 5] = ["row", "address", "status", "reply", "queue_id"];

fn write_record<W: Write>(w: &mut csv::Writer<W>, r: &Record) -> csv::Result<()> {
    w.write_record([
        r.row.to_string().as_str(),
        r.address.as_str(),
        r.status.as_str(),
        r.reply.as_str(),
        r.queue_id.as_str(),
    ])
}

/// Reads a results file: the last line of each row wins; a row left `pending` becomes
/// `unknown`.
pub fn load(path: &Path) -> Result<BTreeMap<usize, Record>, String> {
    let what = path.display();
    let file = File::open(path).map_err(|e| format!("cannot read {what}: {e}"))?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(file);
    let header = reader.headers().map_err(|e| format!("{what}: {e}"))?;
    if header.iter().collect::<Vec<_>>() != HEADER {
        return Err(format!(
            "{what} is not a results file (its header is not {})",
            HEADER.join(",")
        ));
    }
    let records: Vec<csv::Result<csv::StringRecord>> = reader.records().collect();
    let last = records.len().saturating_sub(1);
    let mut out = BTreeMap::new();
    for (i, record) in records.into_iter().enumerate() {
        match parse_record(record) {
            Ok(r) => {
                out.insert(r.row, r);
            }
            // A line cut short by a kill can only be the last one: ignore it.
            Err(_) if i == last => {}
            Err(why) => return Err(format!("{what}, line {}: {why}", i + 2)),
        }
    }
    Ok(out)
}

fn parse_record(record: csv::Result<csv::StringRecord>) -> Result<Record, String> {
    let record = record.map_err(|e| e.to_string())?;
    let field = |n: usize| record.get(n).unwrap_or_default().to_string();
    let row: usize = field(0).parse().map_err(|_| "bad row number".to_string())?;
    let mut status = Status::parse(&field(2)).ok_or_else(|| "bad status".to_string())?;
    if status == Status::Pending {
        status = Status::Unknown;
    }
    Ok(Record {
        row,
        address: field(1),
        status,
        reply: field(3),
        queue_id: field(4),
    })
}

/// Rewrites `path` with one line per row, in row order (temp file, fsync, rename).
pub fn compact(path: &Path, records: &BTreeMap<usize, Record>) -> std::io::Result<()> {
    let temp = temp_path(path);
    {
        let file = File::create(&temp)?;
        let mut w = csv::Writer::from_writer(BufWriter::new(file));
        w.write_record(HEADER)?;
        for r in records.values() {
            write_record(&mut w, r)?;
        }
        let file = w
            .into_inner()
            .map_err(|e| std::io::Error::other(e.to_string()))?
            .into_inner()
            .map_err(|e| e.into_error())?;
        file.sync_all()?;
    }
    std::fs::rename(&temp, path)?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
        && let Ok(dir) = File::open(dir)
    {
        let _ = dir.sync_all();
    }
    Ok(())
}

fn temp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".tmp");
    path.with_file_name(name)
}

enum Message {
    Write(Record, Option<oneshot::Sender<std::io::Result<()>>>),
}

/// The appending writer, on a thread of its own.
pub struct Journal {
    tx: std::sync::mpsc::Sender<Message>,
    thread: std::thread::JoinHandle<std::io::Result<()>>,
}

impl Journal {
    /// Opens `path` for appending (the header is written when the file is new).
    pub fn open(path: &Path) -> std::io::Result<Journal> {
        let fresh = !path.exists() || std::fs::metadata(path)?.len() == 0;
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        let mut w = csv::Writer::from_writer(BufWriter::new(file));
        if fresh {
            w.write_record(HEADER)?;
            w.flush()?;
        }
        let (tx, rx) = std::sync::mpsc::channel::<Message>();
        let thread = std::thread::spawn(move || writer(w, rx));
        Ok(Journal { tx, thread })
    }

    /// Records that `row` is about to be sent; returns once that is on disk.
    pub async fn pending(&self, row: usize, address: &str) -> std::io::Result<()> {
        let (ack, done) = oneshot::channel();
        let record = Record {
            row,
            address: address.to_string(),
            status: Status::Pending,
            reply: String::new(),
            queue_id: String::new(),
        };
        self.tx
            .send(Message::Write(record, Some(ack)))
            .map_err(|_| std::io::Error::other("the journal writer stopped"))?;
        done.await
            .map_err(|_| std::io::Error::other("the journal writer stopped"))?
    }

    /// Records an outcome (written at once, synced with the next pending line).
    pub fn done(&self, record: Record) {
        let _ = self.tx.send(Message::Write(record, None));
    }

    /// Writes what is left, fsyncs and closes.
    pub fn close(self) -> std::io::Result<()> {
        drop(self.tx);
        self.thread
            .join()
            .map_err(|_| std::io::Error::other("the journal writer panicked"))?
    }
}

fn writer(
    mut w: csv::Writer<BufWriter<File>>,
    rx: std::sync::mpsc::Receiver<Message>,
) -> std::io::Result<()> {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while let Ok(more) = rx.try_recv() {
            batch.push(more);
        }
        let mut acks = Vec::new();
        let mut result = Ok(());
        for Message::Write(record, ack) in batch {
            if result.is_ok() {
                result = write_record(&mut w, &record).map_err(std::io::Error::other);
            }
            acks.extend(ack);
        }
        if result.is_ok() {
            result = w.flush();
        }
        if result.is_ok() && !acks.is_empty() {
            result = w.get_ref().get_ref().sync_data();
        }
        for ack in acks {
            let _ = ack.send(match &result {
                Ok(()) => Ok(()),
                Err(e) => Err(std::io::Error::new(e.kind(), e.to_string())),
            });
        }
        result?;
    }
    w.flush()?;
    w.get_ref().get_ref().sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(row: usize, status: Status) -> Record {
        Record {
            row,
            address: format!("r{row}@example.org"),
            status,
            reply: "250 2.0.0 Ok, \"queued\"".into(),
            queue_id: "q1".into(),
        }
    }

    #[tokio::test]
    async fn journal_load_and_compact() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("results.csv");
        let j = Journal::open(&path).unwrap();
        j.pending(2, "r2@example.org").await.unwrap();
        j.pending(1, "r1@example.org").await.unwrap();
        j.done(rec(2, Status::Sent));
        j.pending(3, "r3@example.org").await.unwrap();
        j.done(rec(3, Status::Deferred));
        j.pending(4, "r4@example.org").await.unwrap();
        j.close().unwrap();
        // Killed here: row 1 and 4 were in flight.
        let loaded = load(&path).unwrap();
        let statuses: Vec<(usize, Status)> = loaded.values().map(|r| (r.row, r.status)).collect();
        assert_eq!(
            statuses,
            [
                (1, Status::Unknown),
                (2, Status::Sent),
                (3, Status::Deferred),
                (4, Status::Unknown)
            ]
        );
        assert_eq!(loaded[&2].reply, "250 2.0.0 Ok, \"queued\"");
        compact(&path, &loaded).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "row,address,status,reply,queue_id");
        assert_eq!(lines.len(), 5);
        assert!(lines[1].starts_with("1,r1@example.org,unknown,"));
        assert_eq!(load(&path).unwrap(), loaded);
        // Appending to an existing file adds no second header.
        let j = Journal::open(&path).unwrap();
        j.done(rec(3, Status::Sent));
        j.close().unwrap();
        assert_eq!(load(&path).unwrap()[&3].status, Status::Sent);
    }

    #[test]
    fn a_torn_last_line_is_ignored_and_a_foreign_file_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.csv");
        std::fs::write(
            &path,
            "row,address,status,reply,queue_id\n1,a@x.org,sent,ok,q\n2,b@x.org,\"sen",
        )
        .unwrap();
        let loaded = load(&path).unwrap();
        assert_eq!(loaded.len(), 1);
        std::fs::write(
            &path,
            "row,address,status,reply,queue_id\n1,a@x.org,bogus,ok,q\n2,b@x.org,sent,ok,q\n",
        )
        .unwrap();
        assert!(load(&path).unwrap_err().contains("line 2"));
        std::fs::write(&path, "email,name\n").unwrap();
        assert!(load(&path).unwrap_err().contains("not a results file"));
    }
}
