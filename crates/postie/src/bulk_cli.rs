//! `postie send --bulk people.csv`: the bulk flags, and the command that checks the
//! job, shows a progress bar (rate and ETA), stops cleanly on Ctrl-C or SIGTERM and
//! reports a summary.
//!
//! Where it sits: between [`crate::send_cli`] (which owns the compose and server flags
//! and hands over when `--bulk` is given) and the send crate's `bulk` module, which
//! does the work.

use std::path::PathBuf;

use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use send::bulk::journal::{Record, Status};
use send::bulk::rate::Rate;
use send::bulk::{self, Job, Sink, rows::Rows};
use send::transport::Transport;

use crate::cli::Common;
use crate::send_cli::{Failed, SendArgs, exit, status_of, word_of};

/// Bulk sending flags.
#[derive(Debug, Args)]
pub struct BulkArgs {
    /// Send one personalised message per row of this CSV file (its first line names
    /// the columns; `{{column}}` in the subject, headers and bodies is replaced).
    #[arg(long, value_name = "CSV", help_heading = "Bulk")]
    pub bulk: Option<PathBuf>,
    /// The message to personalise, as an .eml file (instead of --subject/--text/...).
    #[arg(
        long,
        value_name = "FILE",
        conflicts_with_all = ["subject", "text", "text_file", "html_file", "to"],
        help_heading = "Bulk"
    )]
    pub template: Option<PathBuf>,
    /// The column holding each row's address [default: email].
    #[arg(long, value_name = "NAME", help_heading = "Bulk")]
    pub address_column: Option<String>,
    /// A column naming a file to attach to that row's message (relative to the CSV
    /// file's directory; empty: none).
    #[arg(long, value_name = "NAME", help_heading = "Bulk")]
    pub attach_column: Option<String>,
    /// Add List-Unsubscribe with this URL (placeholders allowed, values
    /// percent-encoded), and List-Unsubscribe-Post for one-click (RFC 8058) when it
    /// is https.
    #[arg(long, value_name = "URL", help_heading = "Bulk")]
    pub unsubscribe: Option<String>,
    /// Messages in flight at once (connections to the server) [default: 4].
    #[arg(long, value_name = "N", help_heading = "Bulk")]
    pub concurrency: Option<usize>,
    /// At most this many messages per second, minute or hour: 10/s, 600/min, 5000/h.
    #[arg(long, value_name = "N/UNIT", help_heading = "Bulk")]
    pub rate: Option<Rate>,
    /// Write each row's outcome here (row, address, status, reply, queue id); also the
    /// journal that --resume continues from.
    #[arg(long, value_name = "FILE", help_heading = "Bulk")]
    pub results: Option<PathBuf>,
    /// Continue the run recorded in --results: rows already sent, refused or in
    /// doubt are not sent again.
    #[arg(long, requires = "results", help_heading = "Bulk")]
    pub resume: bool,
}

impl BulkArgs {
    /// Bulk-only flags given without `--bulk` are a usage error.
    pub fn refuse_without_bulk(&self) -> Result<(), Failed> {
        let given = [
            ("--template", self.template.is_some()),
            ("--address-column", self.address_column.is_some()),
            ("--attach-column", self.attach_column.is_some()),
            ("--unsubscribe", self.unsubscribe.is_some()),
            ("--concurrency", self.concurrency.is_some()),
            ("--rate", self.rate.is_some()),
            ("--results", self.results.is_some()),
            ("--resume", self.resume),
        ];
        match given.iter().find(|(_, set)| *set) {
            Some((flag, _)) => Err(Failed::new(exit::USAGE, format!("{flag} needs --bulk CSV"))),
            None => Ok(()),
        }
    }
}

/// Runs a bulk send.
pub async fn run(args: &SendArgs, common: &Common) -> Result<(), Failed> {
    let b = &args.bulk;
    let csv = b.bulk.as_deref().unwrap_or(std::path::Path::new("-"));
    let rows = Rows::read(csv).map_err(|e| Failed::new(exit::NO_INPUT, e))?;
    let mut template = match &b.template {
        Some(path) => {
            let mut t = bulk::read_template(path).map_err(|e| Failed::new(exit::DATA, e))?;
            if let Some(from) = &args.from {
                t.from = from.clone();
            }
            if !args.reply_to.is_empty() {
                t.reply_to = args.reply_to.clone();
            }
            t
        }
        None => crate::send_cli::draft_from(args)?,
    };
    if b.template.is_some() {
        // --header and --attach add to the template (its body flags conflict).
        let extra = crate::send_cli::draft_from(args)?;
        template.headers.extend(extra.headers);
        template.attachments.extend(extra.attachments);
    }
    let job = Job {
        template,
        rows,
        address_column: b.address_column.clone().unwrap_or_else(|| "email".into()),
        attach_column: b.attach_column.clone(),
        unsubscribe: b.unsubscribe.clone(),
        concurrency: b.concurrency.unwrap_or(4).clamp(1, 256),
        rate: b.rate,
        results: b.results.clone(),
        resume: b.resume,
    };
    let plan = bulk::plan(job).map_err(|e| Failed::new(exit::USAGE, e))?;
    if args.dry_run {
        let Some(&first) = plan.todo.first() else {
            eprintln!("bulk: nothing left to send");
            return Ok(());
        };
        eprintln!("row {first} of {}:", plan.total());
        let composed = bulk::preview(&plan, first).map_err(|e| Failed::new(exit::DATA, e))?;
        return crate::send_cli::print_dry_run(&composed);
    }
    let sink = match &args.server {
        Some(_) => {
            let options = crate::send_cli::transport_options(args, common)?;
            let transport = Transport::new(&options).await.map_err(|f| {
                Failed::new(
                    status_of(f.kind),
                    format!("{}: {}", word_of(f.kind), f.message),
                )
            })?;
            Sink::Smtp(Box::new(transport))
        }
        None => Sink::Local(
            Box::new(crate::send_cli::open_local_queue(common).await?),
            crate::send_cli::submitter(),
        ),
    };

    let bar = progress_bar(plan.total() as u64, (plan.total() - plan.todo.len()) as u64);
    let report_rows = b.results.is_none();
    let on_record = {
        let bar = bar.clone();
        Box::new(move |r: &Record| {
            bar.inc(1);
            if report_rows && r.status != Status::Sent {
                bar.suspend(|| {
                    eprintln!(
                        "row {} {}: {} {}",
                        r.row,
                        r.address,
                        r.status.as_str(),
                        r.reply
                    )
                });
            }
        })
    };
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let stopper = tokio::spawn(stop_on_signal(stop_tx, bar.clone()));
    let summary = bulk::run(plan, sink, stop_rx, on_record)
        .await
        .map_err(|e| Failed::new(exit::SOFTWARE, e))?;
    stopper.abort();
    bar.finish_and_clear();

    let order = ["sent", "refused", "deferred", "invalid", "unknown"];
    let mut parts: Vec<String> = order
        .iter()
        .map(|s| format!("{} {s}", summary.counts.get(s).copied().unwrap_or(0)))
        .collect();
    if summary.not_attempted > 0 {
        parts.push(format!("{} not attempted", summary.not_attempted));
    }
    let total: usize = summary.counts.values().sum::<usize>() + summary.not_attempted;
    eprintln!("bulk: {total} rows: {}", parts.join(", "));
    if let Some(f) = summary.aborted {
        return Err(Failed::new(
            status_of(f.kind),
            format!(
                "{}: {} (stopped; continue with --resume)",
                word_of(f.kind),
                f.message
            ),
        ));
    }
    if summary.stopped {
        return Err(Failed::new(
            exit::TEMPFAIL,
            "stopped; continue with --resume",
        ));
    }
    let failed = summary.count(Status::Refused) + summary.count(Status::Invalid);
    let later = summary.count(Status::Deferred) + summary.count(Status::Unknown);
    if failed > 0 {
        return Err(Failed::new(
            exit::NO_USER,
            format!("{failed} rows refused or invalid"),
        ));
    }
    if later > 0 {
        return Err(Failed::new(
            exit::TEMPFAIL,
            format!(
                "{later} rows deferred or in doubt (deferred rows are sent again with --resume)"
            ),
        ));
    }
    Ok(())
}

/// A bar on standard error (hidden when that is not a terminal): count, rate, ETA.
fn progress_bar(total: u64, done: u64) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    let style = ProgressStyle::with_template(
        "{bar:40.cyan/blue} {pos}/{len} rows  {per_sec}  ETA {eta}  {msg}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar.set_position(done);
    bar.reset_eta();
    bar
}

/// Turns `stop` true on Ctrl-C or SIGTERM: no new messages start, those in flight end.
async fn stop_on_signal(stop: tokio::sync::watch::Sender<bool>, bar: ProgressBar) {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term => {}
    }
    bar.println("stopping after the messages in flight (resume with --resume) ...");
    let _ = stop.send(true);
}
