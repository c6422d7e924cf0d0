//! The mail transaction: MAIL (RFC 5321 §4.1.1.2, RFC 1870, RFC 6152, RFC 6531),
//! RCPT (§4.1.1.3), DATA (§4.1.1.4) and BDAT (RFC 3030).

use super::{
    Accepted, Answer, Body, BodySpool, DataFlaws, DataReader, LineChecker, Mode, Output,
    RecipientVerdict, Session, Transaction,
};
use crate::reply::Reply;
use message::dsn::{Dsn, Notify, RecipientDsn, Ret, xtext_encode};
use message::{Address, BodyType, Envelope};
use smtp_proto::{MailFrom, RcptTo};
use std::borrow::Cow;

impl Session {
    pub(super) fn mail(&mut self, from: MailFrom<Cow<'_, str>>, out: &mut Vec<Output>) {
        let Some((_, esmtp)) = &self.helo else {
            return self.error(Reply::need_helo(), out);
        };
        let esmtp = *esmtp;
        if self.policy.listener.is_submission() && self.authenticated_as.is_none() {
            // RFC 6409 §4.3 / RFC 4954 §6: submission requires authentication.
            return out.push(Output::Reply(Reply::auth_required()));
        }
        if self.transaction.is_some() {
            return self.error(Reply::nested_mail(), out);
        }
        let has_params =
            from.flags != 0 || from.size != 0 || from.env_id.is_some() || from.auth.is_some();
        if has_params && !esmtp {
            // RFC 5321 §4.1.1.11: parameters only after EHLO.
            return self.error(Reply::bad_parameter(), out);
        }
        use smtp_proto::*;
        let unsupported =
            MAIL_REQUIRETLS | MAIL_CONPERM | MAIL_BY_NOTIFY | MAIL_BY_RETURN | MAIL_BY_TRACE;
        if from.flags & unsupported != 0
            || from.flags & MAIL_RET_FULL != 0 && from.flags & MAIL_RET_HDRS != 0
            || from.mtrk.is_some()
            || from.hold_for != 0
            || from.hold_until != 0
        {
            return self.error(Reply::bad_parameter(), out);
        }
        if from.size as u64 > self.policy.max_message_size {
            // RFC 1870 §6.1: a declared size over the limit is refused at MAIL.
            return out.push(Output::Reply(Reply::message_too_big()));
        }
        let smtputf8 = from.flags & MAIL_SMTPUTF8 != 0;
        let body_type = if from.flags & MAIL_BODY_BINARYMIME != 0 {
            BodyType::BinaryMime
        } else if from.flags & MAIL_BODY_8BITMIME != 0 {
            BodyType::EightBitMime
        } else {
            BodyType::SevenBit
        };
        let sender = if from.address.is_empty() {
            None // the null reverse-path <> (RFC 5321 §4.5.5)
        } else {
            match Address::parse(&from.address) {
                Ok(a) if a.is_utf8() && !smtputf8 => {
                    return out.push(Output::Reply(Reply::utf8_needs_smtputf8()));
                }
                Ok(a) => Some(a),
                Err(_) => return self.error(Reply::bad_sender(), out),
            }
        };
        // RFC 3461 §4.3, §4.4: RET and ENVID (smtp-proto has decoded the xtext).
        let ret = if from.flags & MAIL_RET_FULL != 0 {
            Some(Ret::Full)
        } else if from.flags & MAIL_RET_HDRS != 0 {
            Some(Ret::Headers)
        } else {
            None
        };
        let dsn = Dsn {
            ret,
            envid: from.env_id.map(|id| id.into_owned()),
            recipients: Vec::new(),
        };
        // The driver has the last word on the sender (sender check, hourly limits).
        out.push(Output::Query(super::Query::Sender(sender.clone())));
        self.mode = Mode::AwaitSender(Box::new(Transaction {
            sender,
            body_type,
            smtputf8,
            dsn,
            recipients: Vec::new(),
            bdat: None,
            bdat_too_big: false,
            bdat_spool_failed: false,
        }));
    }

    /// The driver's answer to [`super::Query::Sender`]: the transaction starts, or the
    /// MAIL command is refused with the driver's reply.
    pub(super) fn sender_answer(&mut self, tx: Transaction, answer: Answer, out: &mut Vec<Output>) {
        match answer {
            Answer::SenderOk => {
                self.transaction = Some(tx);
                out.push(Output::Reply(Reply::sender_ok()));
            }
            Answer::Refuse(reply) => out.push(Output::Reply(reply)),
            _ => out.push(Output::Reply(Reply::local_error())),
        }
    }

    pub(super) fn rcpt(&mut self, to: RcptTo<Cow<'_, str>>, out: &mut Vec<Output>) {
        let Some(tx) = &self.transaction else {
            return self.error(Reply::need_mail(), out);
        };
        let Some(dsn) = recipient_dsn(&to) else {
            return self.error(Reply::bad_parameter(), out);
        };
        let address = match Address::parse(&to.address) {
            Ok(a) => a,
            Err(_) => return self.error(Reply::bad_recipient(), out),
        };
        if address.is_utf8() && !tx.smtputf8 {
            return out.push(Output::Reply(Reply::utf8_needs_smtputf8()));
        }
        if tx
            .recipients
            .iter()
            .any(|r| r.normalized() == address.normalized())
        {
            return out.push(Output::Reply(Reply::recipient_ok()));
        }
        if tx.recipients.len() >= self.policy.max_recipients {
            // RFC 5321 §4.5.3.1.10: 452 for too many recipients.
            return out.push(Output::Reply(Reply::too_many_recipients()));
        }
        out.push(Output::Query(super::Query::Recipient(address.clone())));
        self.mode = Mode::AwaitRecipient(address, dsn);
    }

    pub(super) fn recipient_answer(
        &mut self,
        address: Address,
        dsn: RecipientDsn,
        verdict: RecipientVerdict,
        out: &mut Vec<Output>,
    ) {
        let reply = match verdict {
            RecipientVerdict::Local => None,
            RecipientVerdict::Remote if self.authenticated_as.is_some() => None,
            // Unknown users and relay attempts are client errors, like Postfix's
            // smtpd_hard_error_limit counts them: a harvester guessing addresses, or a
            // spammer probing for an open relay, is slowed down and then disconnected.
            RecipientVerdict::Remote => return self.error(Reply::relay_denied(), out),
            RecipientVerdict::Unknown => return self.error(Reply::no_such_user(), out),
            RecipientVerdict::TempFail => Some(Reply::local_error()),
            RecipientVerdict::MailboxFull => Some(Reply::mailbox_full()),
        };
        match (reply, self.transaction.as_mut()) {
            (None, Some(tx)) => {
                tx.recipients.push(address);
                tx.dsn.recipients.push(dsn);
                out.push(Output::Reply(Reply::recipient_ok()));
            }
            (None, None) => out.push(Output::Reply(Reply::need_mail())),
            (Some(reply), _) => out.push(Output::Reply(reply)),
        }
    }

    pub(super) fn data(&mut self, out: &mut Vec<Output>) {
        let Some(tx) = &self.transaction else {
            return self.error(Reply::need_mail(), out);
        };
        if tx.recipients.is_empty() {
            return self.error(Reply::need_rcpt(), out);
        }
        if tx.body_type == BodyType::BinaryMime {
            return self.error(Reply::binarymime_needs_bdat(), out);
        }
        if tx.bdat.is_some() {
            return self.error(Reply::data_after_bdat(), out);
        }
        out.push(Output::Reply(Reply::start_data()));
        self.mode = Mode::Data(Box::new(DataReader::with_spool(
            self.policy.max_message_size,
            self.policy.spool.make(),
        )));
    }

    pub(super) fn finish_data(&mut self, reader: DataReader, out: &mut Vec<Output>) {
        let (body, flaws) = reader.finish();
        if let Some(reply) = refusal(&flaws) {
            // The whole transaction is void: nothing of it is queued (RFC 5321 §4.1.1.4).
            self.transaction = None;
            return out.push(Output::Reply(reply));
        }
        self.hand_over(body, out);
    }

    /// RFC 3030 §2: `BDAT size [LAST]`. The chunk is always read, even when refused, so
    /// its bytes are never taken for commands.
    pub(super) fn bdat(&mut self, size: usize, last: bool, out: &mut Vec<Output>) {
        let refuse = match &self.transaction {
            None => Some(Reply::need_mail()),
            Some(tx) if tx.recipients.is_empty() => Some(Reply::need_rcpt()),
            Some(_) => None,
        };
        if refuse.is_some() {
            self.errors += 1;
        }
        self.mode = Mode::Bdat {
            remaining: size,
            last,
            refuse,
        };
        if size == 0 {
            self.bdat_chunk(&[], out);
        }
    }

    /// Takes (part of) a BDAT chunk; at the chunk's end replies, and at LAST hands over.
    pub(super) fn bdat_chunk(&mut self, bytes: &[u8], out: &mut Vec<Output>) {
        let max = self.policy.max_message_size;
        let spool = &self.policy.spool;
        let Mode::Bdat {
            remaining,
            last,
            refuse,
        } = &mut self.mode
        else {
            return;
        };
        if refuse.is_none()
            && let Some(tx) = self.transaction.as_mut()
        {
            let binary = tx.body_type == BodyType::BinaryMime;
            let (body, checker) = tx.bdat.get_or_insert_with(|| {
                // RFC 3030 §3: BINARYMIME may carry any octet; every other body type
                // gets DATA's line rules.
                (spool.make(), (!binary).then(LineChecker::default))
            });
            if tx.bdat_too_big || body.len() + bytes.len() as u64 > max {
                // Past the limit nothing more is kept: the spool (and its file) goes now.
                tx.bdat_too_big = true;
                *body = Box::new(super::MemorySpool::default());
            } else if body.append(bytes).is_err() {
                tx.bdat_spool_failed = true;
                *body = Box::new(super::MemorySpool::default());
            }
            if let Some(checker) = checker {
                checker.feed(bytes);
            }
        }
        if *remaining > 0 {
            return;
        }
        let (last, refuse) = (*last, refuse.take());
        self.mode = Mode::Command;
        if let Some(reply) = refuse {
            return out.push(Output::Reply(reply));
        }
        let Some(tx) = self.transaction.as_mut() else {
            return;
        };
        if tx.bdat_too_big || tx.bdat_spool_failed {
            // RFC 3030 §2: after a failed chunk the transaction is over.
            let reply = if tx.bdat_too_big {
                Reply::message_too_big()
            } else {
                Reply::local_error()
            };
            self.transaction = None;
            return out.push(Output::Reply(reply));
        }
        if !last {
            let received = tx.bdat.as_ref().map_or(0, |(body, _)| body.len());
            return out.push(Output::Reply(Reply::new(
                250,
                (2, 0, 0),
                format!("{received} octets received"),
            )));
        }
        let (body, checker) = tx
            .bdat
            .take()
            .unwrap_or_else(|| (self.policy.spool.make(), None));
        let flaws = checker.map(LineChecker::finish).unwrap_or_default();
        if let Some(reply) = refusal(&flaws) {
            // The same refusal DATA gives; the transaction is void (RFC 3030 §2).
            self.transaction = None;
            return out.push(Output::Reply(reply));
        }
        self.hand_over(body, out);
    }

    /// Gives a complete message to the driver and waits for the queue's reply.
    fn hand_over(&mut self, body: Box<dyn BodySpool>, out: &mut Vec<Output>) {
        let Some(tx) = self.transaction.take() else {
            return;
        };
        let (helo, esmtp) = self.helo.clone().unwrap_or_default();
        out.push(Output::Message(Box::new(Accepted {
            envelope: Envelope {
                sender: tx.sender,
                recipients: tx.recipients,
                body_type: tx.body_type,
                smtputf8: tx.smtputf8,
                require_tls: false,
                dsn: tx.dsn,
            },
            body: Body::new(body),
            helo,
            esmtp,
            tls: self.tls,
            authenticated_as: self.authenticated_as.clone(),
        })));
        self.mode = Mode::AwaitMessage;
    }
}

/// The reply refusing a body with these flaws, if any (the same for DATA and BDAT).
fn refusal(flaws: &DataFlaws) -> Option<Reply> {
    if flaws.too_big {
        Some(Reply::message_too_big())
    } else if flaws.spool_failed {
        Some(Reply::local_error())
    } else if flaws.bare_line_ending {
        Some(Reply::bare_line_ending())
    } else if flaws.nul {
        Some(Reply::nul_in_data())
    } else if flaws.long_line {
        Some(Reply::data_line_too_long())
    } else {
        None
    }
}

/// The DSN requests of one RCPT (RFC 3461 §4.1, §4.2); `None` when a parameter other
/// than NOTIFY and ORCPT was given, or NEVER with other keywords. smtp-proto has
/// already refused unknown NOTIFY keywords and ORCPT types other than rfc822, and decoded ORCPT's xtext;
/// ORCPT is kept in its wire form, `rfc822;` plus xtext, as it is passed on and reported.
fn recipient_dsn(to: &RcptTo<Cow<'_, str>>) -> Option<RecipientDsn> {
    use smtp_proto::{
        RCPT_NOTIFY_DELAY, RCPT_NOTIFY_FAILURE, RCPT_NOTIFY_NEVER, RCPT_NOTIFY_SUCCESS,
    };
    let notify_flags =
        RCPT_NOTIFY_SUCCESS | RCPT_NOTIFY_FAILURE | RCPT_NOTIFY_DELAY | RCPT_NOTIFY_NEVER;
    if to.flags & !notify_flags != 0 {
        return None;
    }
    if to.flags & RCPT_NOTIFY_NEVER != 0 && to.flags != RCPT_NOTIFY_NEVER {
        return None; // NEVER excludes the others (RFC 3461 §4.1)
    }
    let notify = if to.flags == 0 {
        Notify::default()
    } else {
        Notify {
            success: to.flags & RCPT_NOTIFY_SUCCESS != 0,
            failure: to.flags & RCPT_NOTIFY_FAILURE != 0,
            delay: to.flags & RCPT_NOTIFY_DELAY != 0,
            explicit: true,
        }
    };
    Some(RecipientDsn {
        notify,
        orcpt: to
            .orcpt
            .as_ref()
            .map(|address| format!("rfc822;{}", xtext_encode(address))),
    })
}
