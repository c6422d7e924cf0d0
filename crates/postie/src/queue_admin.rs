//! `postie queue …`: list, show, flush, hold, release and delete queue entries
//! (the changes through [`admin::queue_ops`], the words here). They change the store
//! directly, so they work whether the server runs or not; a running
//! server's queue runner sees the change at its next look at the queue (within a
//! second).

use admin::queue_ops;
use anyhow::Context;
use serde::Serialize;
use std::sync::Arc;
use store::{QueuedMessage, RecipientStatus, Store};

use crate::cli::QueueCommand;
use crate::output::{Format, Table, print_json, print_table, rfc3339};

/// Runs one `postie queue` command.
pub async fn run(
    store: Arc<dyn Store>,
    command: QueueCommand,
    config: &config::Config,
) -> anyhow::Result<()> {
    let now = queue::now_unix();
    match command {
        QueueCommand::List(list) => {
            let entries = store.queue_list().await?;
            print_queue(list.format(), &entries, now)?;
        }
        QueueCommand::Show { id } => {
            let entry = queue_ops::get(store.as_ref(), queue_ops::parse_id(&id)?).await?;
            print_entry(&entry, now);
            let dsn = &entry.envelope.dsn;
            println!(
                "  body {}, smtputf8 {}, requiretls {}, ret {}, envid {}",
                entry.envelope.body_type.as_str(),
                entry.envelope.smtputf8,
                entry.envelope.require_tls,
                dsn.ret.map(|r| r.as_str()).unwrap_or("-"),
                dsn.envid.as_deref().unwrap_or("-")
            );
            for (i, r) in entry.envelope.recipients.iter().enumerate() {
                let d = dsn.recipient(i);
                println!(
                    "  {r}: notify {}, orcpt {}",
                    d.notify.to_param().unwrap_or_else(|| "default".into()),
                    d.orcpt.as_deref().unwrap_or("-")
                );
            }
            println!();
            let body = store.queue_body(entry.id).await?;
            let header_end = body
                .windows(4)
                .position(|w| w == b"\r\n\r\n")
                .map_or(body.len(), |p| p + 2);
            print!("{}", String::from_utf8_lossy(&body[..header_end]));
        }
        QueueCommand::Flush { id, domain } => {
            let id = id.as_deref().map(queue_ops::parse_id).transpose()?;
            let flushed = queue_ops::flush(store.as_ref(), id, domain.as_deref()).await?;
            let target = match (id, &domain) {
                (Some(id), _) => id.to_string(),
                (None, Some(domain)) => domain.clone(),
                (None, None) => "all".to_owned(),
            };
            admin::audit::log("cli", "queue.flush", &target);
            warn_unwoken(&flushed);
            println!("{} recipients due now", flushed.due);
        }
        QueueCommand::Hold { id } => {
            let id = queue_ops::parse_id(&id)?;
            queue_ops::hold(store.as_ref(), id)
                .await
                .with_context(|| format!("hold {id}"))?;
            admin::audit::log("cli", "queue.hold", &id.to_string());
            println!("held {id}");
        }
        QueueCommand::Release { id } => {
            let id = queue_ops::parse_id(&id)?;
            let flushed = queue_ops::release(store.as_ref(), id)
                .await
                .with_context(|| format!("release {id}"))?;
            admin::audit::log("cli", "queue.release", &id.to_string());
            warn_unwoken(&flushed);
            println!("released {id}");
        }
        QueueCommand::Delete { id, bounce } => {
            let id = queue_ops::parse_id(&id)?;
            let report = queue_ops::delete(store.clone(), config, id, bounce).await?;
            admin::audit::log("cli", "queue.delete", &id.to_string());
            if bounce {
                match report {
                    Some(report) => println!("bounce queued as {report}"),
                    None => println!("no bounce: the sender asked for none, or there is no sender"),
                }
            }
            println!("deleted {id}");
        }
    }
    Ok(())
}

/// Says so when the queue runners could not be woken (they find the work at their
/// next look anyway).
fn warn_unwoken(flushed: &queue_ops::Flushed) {
    if let Some(e) = &flushed.wake_error {
        eprintln!(
            "postie: could not wake the queue runners (they will find the work at their next look): {e}"
        );
    }
}

/// `3d4h`, `12m`, `40s`: a short duration for listings.
fn short_duration(secs: i64) -> String {
    let secs = secs.max(0);
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{}m", secs / 60),
        3600..86400 => format!("{}h{}m", secs / 3600, secs % 3600 / 60),
        _ => format!("{}d{}h", secs / 86400, secs % 86400 / 3600),
    }
}

/// One message of `queue list --json`.
#[derive(Debug, Serialize)]
struct EntryJson {
    id: String,
    sender: String,
    queued_at: String,
    size: u64,
    held: bool,
    attempts: u32,
    next_attempt: Option<String>,
    last_error: Option<String>,
    recipients: Vec<RecipientJson>,
}

/// One recipient of a message in `queue list --json`.
#[derive(Debug, Serialize)]
struct RecipientJson {
    address: String,
    status: &'static str,
    attempts: Option<u32>,
    next_attempt: Option<String>,
    /// The whole reason: the summary line, then one line per host tried.
    last_error: Option<String>,
    /// Each host the relay tried in the last attempt, when there were several.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    hosts: Vec<HostJson>,
}

/// One host a recipient's last attempt tried, with its error.
#[derive(Debug, Serialize)]
struct HostJson {
    host: String,
    error: String,
}

/// The hosts listed in `reason` (see `queue::notify::tried_hosts`).
fn hosts_of(reason: Option<&String>) -> Vec<HostJson> {
    reason
        .map(|r| queue::notify::tried_hosts(r))
        .unwrap_or_default()
        .into_iter()
        .map(|(host, error)| HostJson {
            host: host.to_owned(),
            error: error.to_owned(),
        })
        .collect()
}

impl EntryJson {
    fn of(entry: &QueuedMessage) -> EntryJson {
        let recipients: Vec<RecipientJson> = entry
            .recipients
            .iter()
            .map(|r| match &r.status {
                RecipientStatus::Pending {
                    attempts,
                    next_attempt,
                    last_error,
                } => RecipientJson {
                    address: r.address.to_string(),
                    status: "pending",
                    attempts: Some(*attempts),
                    next_attempt: Some(rfc3339(*next_attempt)),
                    last_error: last_error.clone(),
                    hosts: hosts_of(last_error.as_ref()),
                },
                RecipientStatus::Delivered => RecipientJson {
                    address: r.address.to_string(),
                    status: "delivered",
                    attempts: None,
                    next_attempt: None,
                    last_error: None,
                    hosts: Vec::new(),
                },
                RecipientStatus::Failed(why) => RecipientJson {
                    address: r.address.to_string(),
                    status: "failed",
                    attempts: None,
                    next_attempt: None,
                    last_error: Some(why.clone()),
                    hosts: hosts_of(Some(why)),
                },
            })
            .collect();
        let pending = || {
            entry.recipients.iter().filter_map(|r| match &r.status {
                RecipientStatus::Pending {
                    attempts,
                    next_attempt,
                    last_error,
                } => Some((*attempts, *next_attempt, last_error)),
                _ => None,
            })
        };
        EntryJson {
            id: entry.id.to_string(),
            sender: entry
                .envelope
                .sender
                .as_ref()
                .map(|a| a.to_string())
                .unwrap_or_default(),
            queued_at: rfc3339(entry.queued_at),
            size: entry.size,
            held: entry.held,
            attempts: pending().map(|p| p.0).max().unwrap_or(0),
            next_attempt: pending().map(|p| p.1).min().map(rfc3339),
            last_error: pending().find_map(|p| p.2.clone()),
            recipients,
        }
    }
}

/// `postie queue list`: a table with one row per recipient, or JSON with one object
/// per message.
fn print_queue(format: Format, entries: &[QueuedMessage], now: i64) -> anyhow::Result<()> {
    if format == Format::Json {
        let json: Vec<EntryJson> = entries.iter().map(EntryJson::of).collect();
        return print_json(&json);
    }
    let mut table = Table::new(&["ID", "AGE", "SIZE", "SENDER", "RECIPIENT", "STATE"]);
    for entry in entries {
        let held = if entry.held { "HELD, " } else { "" };
        for r in &entry.recipients {
            table.row(vec![
                entry.id.to_string(),
                short_duration(now - entry.queued_at),
                entry.size.to_string(),
                entry.envelope.sender_path(),
                r.address.to_string(),
                format!("{held}{}", recipient_state(&r.status, now, false)),
            ]);
        }
    }
    print_table(&table, "queue is empty")
}

/// A recipient's state in words, with only the summary line of its reason (the hosts
/// tried are [`print_entry`]'s). `with_date` adds the absolute time of the next attempt
/// (`queue show`), the list keeps only the relative one.
fn recipient_state(status: &RecipientStatus, now: i64, with_date: bool) -> String {
    match status {
        RecipientStatus::Pending {
            attempts,
            next_attempt,
            last_error,
        } => {
            let next = if with_date {
                format!(
                    "next {} (in {})",
                    message::headers::rfc5322_date(*next_attempt),
                    short_duration(next_attempt - now)
                )
            } else {
                format!("next in {}", short_duration(next_attempt - now))
            };
            let last_error = last_error
                .as_ref()
                .map(|e| format!(", last error: {}", queue::notify::summary(e)))
                .unwrap_or_default();
            format!("pending, {attempts} attempts, {next}{last_error}")
        }
        RecipientStatus::Delivered => "delivered".to_string(),
        RecipientStatus::Failed(why) => format!("failed: {}", queue::notify::summary(why)),
    }
}

fn print_entry(entry: &QueuedMessage, now: i64) {
    println!(
        "{} {} octets, from {}, queued {}, age {}{}",
        entry.id,
        entry.size,
        entry.envelope.sender_path(),
        message::headers::rfc5322_date(entry.queued_at),
        short_duration(now - entry.queued_at),
        if entry.held { ", HELD" } else { "" }
    );
    for r in &entry.recipients {
        let state = recipient_state(&r.status, now, true);
        println!("  {}: {state}", r.address);
        // The last error of each host tried, under the recipient.
        let reason = match &r.status {
            RecipientStatus::Pending { last_error, .. } => last_error.as_deref(),
            RecipientStatus::Failed(why) => Some(why.as_str()),
            RecipientStatus::Delivered => None,
        };
        for (host, error) in reason.map(queue::notify::tried_hosts).unwrap_or_default() {
            println!("      {host}: {error}");
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn short_durations() {
        assert_eq!(super::short_duration(-5), "0s");
        assert_eq!(super::short_duration(59), "59s");
        assert_eq!(super::short_duration(600), "10m");
        assert_eq!(super::short_duration(3 * 3600 + 120), "3h2m");
        assert_eq!(super::short_duration(2 * 86400 + 3600), "2d1h");
    }
}
