//! Running one mail transaction on an open session: MAIL, RCPT (pipelined when the
//! server offers PIPELINING, RFC 2920), then the body with DATA (dot-stuffed, RFC 5321
//! §4.5.2) or BDAT (RFC 3030), collecting a result per recipient.
//!
//! Where it sits: [`Connection::send`] is called by the delivery router once per
//! message and destination host, after [`Connection::connect`]; the results go back
//! into the queue and into delivery status notifications.

use std::net::SocketAddr;
use std::time::Duration;

use message::Address;

use tracing::{debug, info};

use super::Connection;
use super::body;
use super::outcome::{ClientError, RecipientResult};
use super::reply::ServerReply;
use super::transaction::{self, Plan, Transaction};
use super::wire::WireError;

/// Octets per BDAT chunk (at least; a chunk ends at the next line end, see `body`).
const CHUNK: usize = 1024 * 1024;
/// Octets of DATA prepared at a time (at least; a block ends at the next line end).
const DATA_BLOCK: usize = 64 * 1024;
/// Most commands written before reading their replies.
const PIPELINE_WINDOW: usize = 100;

/// Where one recipient stands during a transaction.
#[derive(Debug, Clone)]
enum State {
    /// No reply yet.
    Pending,
    /// RCPT got a 2xx; the outcome comes with the end of data.
    Provisional,
    /// Decided.
    Done(RecipientResult),
}

/// Why the dialogue stopped early.
enum Stop {
    /// The connection broke or timed out.
    Wire(WireError),
    /// The server said 421 and is closing the connection (RFC 5321 §3.8).
    Closing(ServerReply),
}

impl From<WireError> for Stop {
    fn from(e: WireError) -> Self {
        Stop::Wire(e)
    }
}

/// The state of one transaction in progress.
struct Run {
    states: Vec<State>,
    /// The whole body including its end (`.` line or BDAT LAST) has been written, so
    /// the server may have taken the message even if we never see its reply.
    body_sent: bool,
}

impl Run {
    fn accepted(&self) -> Vec<usize> {
        (0..self.states.len())
            .filter(|&i| matches!(self.states[i], State::Provisional))
            .collect()
    }

    /// Gives every recipient still open (pending or provisionally accepted) `result`.
    fn settle_open(&mut self, result: impl Fn() -> RecipientResult) {
        for state in &mut self.states {
            if !matches!(state, State::Done(_)) {
                *state = State::Done(result());
            }
        }
    }

    fn any_decided(&self) -> bool {
        self.states.iter().any(|s| matches!(s, State::Done(_)))
    }

    fn results(self) -> Vec<RecipientResult> {
        self.states
            .into_iter()
            .map(|state| match state {
                State::Done(result) => result,
                // Unreachable by construction; be safe rather than panic.
                State::Pending | State::Provisional => RecipientResult::Temporary(
                    ServerReply::synthetic(451, (4, 3, 0), "transaction ended without a reply"),
                ),
            })
            .collect()
    }
}

impl Connection {
    /// One mail transaction; returns one [`RecipientResult`] per recipient of `tx`, in
    /// order. `Err` (always temporary) only when the connection broke or timed out before
    /// anything was decided for any recipient, so the caller may try another host. After
    /// a transaction the connection can carry another if [`Connection::is_reusable`].
    pub async fn send(
        &mut self,
        tx: &Transaction<'_>,
    ) -> Result<Vec<RecipientResult>, ClientError> {
        let peer = self.peer();
        if !self.reusable {
            return Err(ClientError::temporary(format!(
                "4.4.2 the connection to {peer} can no longer be used"
            )));
        }
        if tx.recipients.is_empty() {
            return Ok(Vec::new());
        }
        let plan = match transaction::plan(tx, &self.extensions, peer) {
            Ok(plan) => plan,
            Err(reply) => {
                let recipients = tx.recipients.len();
                info!(%peer, %reply, recipients, "message refused before sending");
                return Ok(vec![RecipientResult::Permanent(reply); tx.recipients.len()]);
            }
        };
        if self.needs_reset {
            self.reset().await?;
        }

        let mut run = Run {
            states: vec![State::Pending; tx.recipients.len()],
            body_sent: false,
        };
        let outcome = self.exchange(tx, &plan, &mut run).await;
        let results = match outcome {
            Ok(()) => run.results(),
            Err(Stop::Closing(reply)) => {
                self.reusable = false;
                run.settle_open(|| RecipientResult::Temporary(reply.clone()));
                run.results()
            }
            Err(Stop::Wire(error)) => {
                self.reusable = false;
                broken(run, error)?
            }
        };
        log_transaction(peer, tx, &results);
        Ok(results)
    }

    /// Everything from MAIL to the end of data.
    async fn exchange(
        &mut self,
        tx: &Transaction<'_>,
        plan: &Plan,
        run: &mut Run,
    ) -> Result<(), Stop> {
        let t = self.timeouts;
        let mut data_reply = None;
        if self.extensions.pipelining {
            // RFC 2920 §3.1: MAIL, the RCPTs and DATA go in one group and the replies
            // come back in order. A very long group goes in windows, so that neither
            // side can block writing while the other is not reading (§3.1 on deadlock).
            let mut group = Vec::with_capacity(plan.rcpts.len() + 2);
            group.push(plan.mail.clone());
            group.extend(plan.rcpts.iter().cloned());
            if !plan.bdat {
                group.push("DATA".to_string());
            }
            let mut mail_ok = false;
            let mut index = 0;
            for window in group.chunks(PIPELINE_WINDOW) {
                self.wire
                    .send_commands(window, t.mail, "MAIL and RCPT")
                    .await?;
                for _ in window {
                    if index == 0 {
                        let mail = self.read(t.mail, "reply to MAIL").await?;
                        mail_ok = mail.is_positive();
                        if !mail_ok {
                            run.settle_open(|| RecipientResult::from_reply(mail.clone()));
                        }
                    } else if index <= plan.rcpts.len() {
                        let reply = self.read(t.rcpt, "reply to RCPT").await?;
                        if mail_ok {
                            run.states[index - 1] = rcpt_state(reply);
                        }
                    } else {
                        data_reply = Some(self.read(t.data_init, "reply to DATA").await?);
                    }
                    index += 1;
                }
            }
            if !mail_ok {
                return self.close_data_mode(data_reply).await;
            }
        } else {
            self.wire
                .send_commands(std::slice::from_ref(&plan.mail), t.mail, "MAIL")
                .await?;
            let mail = self.read(t.mail, "reply to MAIL").await?;
            if !mail.is_positive() {
                run.settle_open(|| RecipientResult::from_reply(mail.clone()));
                return Ok(());
            }
            for (i, rcpt) in plan.rcpts.iter().enumerate() {
                self.wire
                    .send_commands(std::slice::from_ref(rcpt), t.rcpt, "RCPT")
                    .await?;
                let reply = self.read(t.rcpt, "reply to RCPT").await?;
                run.states[i] = rcpt_state(reply);
            }
            if !plan.bdat && !run.accepted().is_empty() {
                self.wire
                    .send_commands(&["DATA".to_string()], t.data_init, "DATA")
                    .await?;
                data_reply = Some(self.read(t.data_init, "reply to DATA").await?);
            }
        }
        // From here a transaction is open on the server until it completes.
        self.needs_reset = true;
        let accepted = run.accepted();
        if accepted.is_empty() {
            debug!(peer = %self.peer(), "no recipient accepted; not sending the body");
            return self.close_data_mode(data_reply).await;
        }

        let last = if plan.bdat {
            self.send_bdat(tx.body, plan.binary, run).await?
        } else {
            let data_reply = data_reply.expect("DATA was sent when a recipient was accepted");
            if data_reply.class() != 3 {
                let refused = RecipientResult::from_reply(data_reply);
                let refused = match refused {
                    // A 2xx to DATA makes no sense; do not take it as delivery.
                    RecipientResult::Accepted(r) => RecipientResult::Temporary(r),
                    other => other,
                };
                run.settle_open(|| refused.clone());
                return Ok(());
            }
            // Line ends normalised to CRLF and dot-stuffed, one block at a time: a bare
            // CR or LF never leaves (RFC 5321 §2.3.8, SMTP smuggling), see `body`.
            let mut wire_form = body::WireBody::data(tx.body);
            let mut block = Vec::with_capacity(DATA_BLOCK + DATA_BLOCK / 8);
            while !wire_form.is_finished() {
                block.clear();
                wire_form.fill(&mut block, DATA_BLOCK);
                self.wire
                    .send_data(&block, t.data_block, "message data")
                    .await?;
            }
            run.body_sent = true;
            self.read(t.data_end, "reply to end of data").await?
        };
        // RFC 5321 §4.1.1.4: the reply to the end of data applies to every recipient
        // accepted by RCPT.
        if last.is_positive() {
            self.needs_reset = false;
        }
        for i in accepted {
            run.states[i] = State::Done(RecipientResult::from_reply(last.clone()));
        }
        Ok(())
    }

    /// Sends the body in BDAT chunks (RFC 3030 §2), the last marked LAST; returns the
    /// reply that decides the transaction (the first refusal, or the reply to LAST).
    /// `binary`: the body was declared `BODY=BINARYMIME` and goes octet for octet.
    async fn send_bdat(
        &mut self,
        body: &[u8],
        binary: bool,
        run: &mut Run,
    ) -> Result<ServerReply, Stop> {
        let t = self.timeouts;
        // Chunks carry the body with its line ends normalised to CRLF (a bare CR or LF
        // never leaves, see `body`), so each chunk's size is known only once it is made.
        // A BINARYMIME body is the exception: its octets are the content (RFC 3030 §3),
        // and BDAT's counted chunks give a line end no meaning on the wire.
        let mut wire_form = if binary {
            body::WireBody::binary(body)
        } else {
            body::WireBody::bdat(body)
        };
        let mut chunk = Vec::new();
        loop {
            chunk.clear();
            wire_form.fill(&mut chunk, CHUNK);
            let last = wire_form.is_finished();
            let command = format!("BDAT {}{}", chunk.len(), if last { " LAST" } else { "" });
            self.wire
                .send_commands(&[command], t.data_block, "BDAT")
                .await?;
            self.wire
                .send_data(&chunk, t.data_block, "message data")
                .await?;
            if last {
                run.body_sent = true;
                return self.read(t.data_end, "reply to BDAT LAST").await;
            }
            let reply = self.read(t.data_block, "reply to BDAT").await?;
            if !reply.is_positive() {
                return Ok(reply);
            }
        }
    }

    /// After a pipelined DATA that no longer has a message to carry: a server that
    /// nevertheless answered 354 gets an empty message end, which it will refuse for
    /// lack of recipients (RFC 2920 §3.1).
    async fn close_data_mode(&mut self, data_reply: Option<ServerReply>) -> Result<(), Stop> {
        if data_reply.is_some_and(|r| r.class() == 3) {
            let t = self.timeouts;
            self.wire
                .send_data(b".\r\n", t.data_block, "end of data")
                .await?;
            self.read(t.data_end, "reply to end of data").await?;
        }
        Ok(())
    }

    /// One reply, with 421 turned into [`Stop::Closing`].
    async fn read(&mut self, limit: Duration, what: &str) -> Result<ServerReply, Stop> {
        let reply = self.wire.read_reply(limit, what).await?.to_server_reply();
        if reply.is_closing() {
            return Err(Stop::Closing(reply));
        }
        Ok(reply)
    }

    /// RSET (RFC 5321 §4.1.1.5) to clear an unfinished transaction before the next.
    async fn reset(&mut self) -> Result<(), ClientError> {
        let peer = self.peer();
        let limit = self.timeouts.mail;
        let outcome = async {
            self.wire
                .send_commands(&["RSET".to_string()], limit, "RSET")
                .await?;
            self.wire.read_reply(limit, "reply to RSET").await
        }
        .await;
        match outcome {
            Ok(raw) if raw.code / 100 == 2 => {
                self.needs_reset = false;
                Ok(())
            }
            Ok(raw) => {
                self.reusable = false;
                let mut e =
                    ClientError::refused(format!("RSET refused by {peer}"), raw.to_server_reply());
                e.permanent = false;
                Err(e)
            }
            Err(e) => {
                self.reusable = false;
                Err(e.into())
            }
        }
    }
}

/// One info line per transaction: how many recipients were accepted, and the reply
/// that decided (that of an accepted recipient, else the first).
fn log_transaction(peer: SocketAddr, tx: &Transaction<'_>, results: &[RecipientResult]) {
    let accepted = results.iter().filter(|r| r.is_accepted()).count();
    let deciding = results
        .iter()
        .find(|r| r.is_accepted())
        .or(results.first())
        .map(|r| r.reply().to_string())
        .unwrap_or_default();
    let from = tx.sender.map(Address::to_string).unwrap_or_default();
    info!(
        %peer,
        from = %from,
        recipients = results.len(),
        accepted,
        reply = %deciding,
        "transaction finished"
    );
}

/// The state a RCPT reply puts a recipient in.
fn rcpt_state(reply: ServerReply) -> State {
    if reply.is_positive() {
        State::Provisional
    } else {
        State::Done(RecipientResult::from_reply(reply))
    }
}

/// The results when the connection broke. After the body was sent the server may have
/// the message, so the open recipients are temporary failures to be retried (at least
/// once delivery, RFC 5321 §6.1); before that, the whole transaction is an error unless
/// some recipient already has a definite answer.
fn broken(mut run: Run, error: WireError) -> Result<Vec<RecipientResult>, ClientError> {
    if run.body_sent {
        let text = format!(
            "{}, after the message was sent; it may have been delivered, will retry",
            error.text
        );
        let reply = ServerReply::synthetic(451, error.status, text);
        run.settle_open(|| RecipientResult::Temporary(reply.clone()));
        return Ok(run.results());
    }
    if run.any_decided() {
        let reply = ServerReply::synthetic(451, error.status, error.text.clone());
        run.settle_open(|| RecipientResult::Temporary(reply.clone()));
        return Ok(run.results());
    }
    Err(error.into())
}
