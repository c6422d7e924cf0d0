//! The POP3 command table: which keyword is valid in which state, argument syntax, and
//! the commands valid in both states (CAPA, QUIT).
//!
//! Grammar (RFC 2449 §3): a case-insensitive keyword, then arguments separated by
//! spaces. PASS takes the rest of the line, spaces included (RFC 1939 §7).

use super::transaction::TxCommand;
use super::{Output, Response, Session, State};

/// A command keyword.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verb {
    User,
    Pass,
    Apop,
    Auth,
    Stls,
    Capa,
    Quit,
    Stat,
    List,
    Uidl,
    Retr,
    Top,
    Dele,
    Rset,
    Noop,
}

/// The states a command is valid in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Allowed {
    Authorization,
    Transaction,
    Both,
}

impl Verb {
    fn parse(keyword: &str) -> Option<Verb> {
        const TABLE: &[(&str, Verb)] = &[
            ("USER", Verb::User),
            ("PASS", Verb::Pass),
            ("APOP", Verb::Apop),
            ("AUTH", Verb::Auth),
            ("STLS", Verb::Stls),
            ("CAPA", Verb::Capa),
            ("QUIT", Verb::Quit),
            ("STAT", Verb::Stat),
            ("LIST", Verb::List),
            ("UIDL", Verb::Uidl),
            ("RETR", Verb::Retr),
            ("TOP", Verb::Top),
            ("DELE", Verb::Dele),
            ("RSET", Verb::Rset),
            ("NOOP", Verb::Noop),
        ];
        // RFC 2449 §3: keywords are case-insensitive.
        TABLE
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(keyword))
            .map(|&(_, verb)| verb)
    }

    /// The command table.
    fn allowed(self) -> Allowed {
        match self {
            // RFC 1939 §7 (USER, PASS, APOP), RFC 5034 §4 (AUTH), RFC 2595 §4 (STLS).
            Verb::User | Verb::Pass | Verb::Apop | Verb::Auth | Verb::Stls => {
                Allowed::Authorization
            }
            // RFC 2449 §5 (CAPA); RFC 1939 §4 and §6 (QUIT).
            Verb::Capa | Verb::Quit => Allowed::Both,
            // RFC 1939 §5 and §7 (TOP, UIDL).
            Verb::Stat
            | Verb::List
            | Verb::Uidl
            | Verb::Retr
            | Verb::Top
            | Verb::Dele
            | Verb::Rset
            | Verb::Noop => Allowed::Transaction,
        }
    }
}

impl Session {
    /// Parses one command line (without its line end) and dispatches it.
    pub(super) fn command(&mut self, line: &[u8], out: &mut Vec<Output>) {
        if line.contains(&0) {
            return self.error(Response::bad_characters(), out);
        }
        let Ok(line) = std::str::from_utf8(line) else {
            return self.error(Response::bad_characters(), out);
        };
        if line.trim().is_empty() {
            return self.error(Response::empty_command(), out);
        }
        let (keyword, rest) = line.split_once(' ').unwrap_or((line, ""));
        let Some(verb) = Verb::parse(keyword) else {
            return self.error(Response::unknown_command(), out);
        };
        let in_transaction = matches!(self.state, State::Transaction { .. });
        match (verb.allowed(), in_transaction) {
            (Allowed::Authorization, true) => {
                return self.error(Response::already_logged_in(), out);
            }
            (Allowed::Transaction, false) => return self.error(Response::not_logged_in(), out),
            _ => {}
        }
        let parsed = match verb {
            Verb::User => return self.user(rest, out),
            Verb::Pass => return self.pass(rest, out),
            Verb::Auth => return self.auth(rest, out),
            Verb::Apop => return self.error(Response::apop_unsupported(), out),
            Verb::Stls => no_args(rest).map(|()| self.stls(out)),
            Verb::Capa => no_args(rest).map(|()| self.capa(out)),
            // QUIT in AUTHORIZATION state: no UPDATE (RFC 1939 §4).
            Verb::Quit if !in_transaction => {
                no_args(rest).map(|()| self.close_with(Response::bye(), out))
            }
            Verb::Quit => no_args(rest).map(|()| TxCommand::Quit).map(tx(self, out)),
            Verb::Stat => no_args(rest).map(|()| TxCommand::Stat).map(tx(self, out)),
            Verb::Rset => no_args(rest).map(|()| TxCommand::Rset).map(tx(self, out)),
            Verb::Noop => no_args(rest).map(|()| TxCommand::Noop).map(tx(self, out)),
            Verb::List => optional_number(rest)
                .map(TxCommand::List)
                .map(tx(self, out)),
            Verb::Uidl => optional_number(rest)
                .map(TxCommand::Uidl)
                .map(tx(self, out)),
            Verb::Retr => number(rest).map(TxCommand::Retr).map(tx(self, out)),
            Verb::Dele => number(rest).map(TxCommand::Dele).map(tx(self, out)),
            Verb::Top => number_and_lines(rest)
                .map(|(n, lines)| TxCommand::Top(n, lines))
                .map(tx(self, out)),
        };
        if let Err(response) = parsed {
            self.error(response, out);
        }
    }

    /// CAPA (RFC 2449 §5), valid in both states. What is available in AUTHORIZATION
    /// state is announced in both (RFC 2449 §5), except STLS, which is valid only
    /// before login (RFC 2595 §4) and only while the connection is clear text.
    fn capa(&mut self, out: &mut Vec<Output>) {
        let mut lines: Vec<String> = vec!["TOP".into(), "UIDL".into()];
        if self.policy.login_allowed(self.tls) {
            // RFC 2449 §6.2, §6.3; RFC 2595 §2.3: not offered in clear text by default.
            lines.push("USER".into());
            lines.push(format!("SASL {}", self.sasl_mechanisms().join(" ")));
        }
        lines.push("RESP-CODES".into());
        // RFC 3206: [AUTH] and [SYS/*] are also used in answer to AUTH.
        lines.push("AUTH-RESP-CODE".into());
        lines.push("PIPELINING".into());
        if !self.tls
            && self.policy.stls_available
            && matches!(self.state, State::Authorization { .. })
        {
            lines.push("STLS".into());
        }
        // RFC 2449 §6.7.
        lines.push(match self.policy.expire {
            None => "EXPIRE NEVER".into(),
            Some(days) => format!("EXPIRE {days}"),
        });
        // RFC 2449 §6.9.
        lines.push("IMPLEMENTATION Postie".into());
        out.push(Output::Send(Response::capa().with_lines(lines)));
    }
}

/// Runs a parsed TRANSACTION command.
fn tx<'a>(session: &'a mut Session, out: &'a mut Vec<Output>) -> impl FnOnce(TxCommand) + 'a {
    move |command| session.transaction(command, out)
}

/// The space-separated arguments after the keyword.
fn args(rest: &str) -> Vec<&str> {
    rest.split(' ').filter(|a| !a.is_empty()).collect()
}

fn no_args(rest: &str) -> Result<(), Response> {
    if args(rest).is_empty() {
        Ok(())
    } else {
        Err(Response::too_many_arguments())
    }
}

/// LIST and UIDL: no argument, or one message number.
fn optional_number(rest: &str) -> Result<Option<usize>, Response> {
    match args(rest).as_slice() {
        [] => Ok(None),
        [n] => message_number(n).map(Some),
        _ => Err(Response::too_many_arguments()),
    }
}

/// RETR and DELE: exactly one message number.
fn number(rest: &str) -> Result<usize, Response> {
    match args(rest).as_slice() {
        [] => Err(Response::missing_number()),
        [n] => message_number(n),
        _ => Err(Response::too_many_arguments()),
    }
}

/// TOP: a message number and a non-negative number of lines (RFC 1939 §7).
fn number_and_lines(rest: &str) -> Result<(usize, usize), Response> {
    match args(rest).as_slice() {
        [] => Err(Response::missing_number()),
        [_] => Err(Response::missing_lines()),
        [n, lines] => {
            let n = message_number(n)?;
            let lines = decimal(lines).ok_or_else(Response::bad_lines)?;
            Ok((n, lines))
        }
        _ => Err(Response::too_many_arguments()),
    }
}

/// A message number: decimal digits only, at least 1 (RFC 1939 §5). Numbers too large
/// for `usize` become `usize::MAX`, which the maildrop answers "no such message".
fn message_number(arg: &str) -> Result<usize, Response> {
    match decimal(arg) {
        None => Err(Response::bad_number()),
        Some(0) => Err(Response::zero_number()),
        Some(n) => Ok(n),
    }
}

/// Decimal digits only (no sign), saturating at `usize::MAX`.
fn decimal(arg: &str) -> Option<usize> {
    if arg.is_empty() || !arg.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(arg.parse().unwrap_or(usize::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verbs_are_case_insensitive() {
        assert_eq!(Verb::parse("stat"), Some(Verb::Stat));
        assert_eq!(Verb::parse("Top"), Some(Verb::Top));
        assert_eq!(Verb::parse("STATS"), None);
        assert_eq!(Verb::parse(""), None);
    }

    #[test]
    fn argument_table() {
        assert_eq!(optional_number(""), Ok(None));
        assert_eq!(optional_number("3"), Ok(Some(3)));
        assert_eq!(optional_number("  3 "), Ok(Some(3)));
        assert_eq!(optional_number("3 4"), Err(Response::too_many_arguments()));
        assert_eq!(optional_number("x"), Err(Response::bad_number()));
        assert_eq!(number(""), Err(Response::missing_number()));
        assert_eq!(number("0"), Err(Response::zero_number()));
        assert_eq!(number("-1"), Err(Response::bad_number()));
        assert_eq!(number("+1"), Err(Response::bad_number()));
        assert_eq!(number("1x"), Err(Response::bad_number()));
        assert_eq!(number("99999999999999999999999"), Ok(usize::MAX));
        assert_eq!(number_and_lines("1 0"), Ok((1, 0)));
        assert_eq!(number_and_lines("1"), Err(Response::missing_lines()));
        assert_eq!(number_and_lines("1 -2"), Err(Response::bad_lines()));
        assert_eq!(
            number_and_lines("1 2 3"),
            Err(Response::too_many_arguments())
        );
        assert_eq!(number_and_lines("0 2"), Err(Response::zero_number()));
        assert_eq!(no_args(""), Ok(()));
        assert_eq!(no_args("x"), Err(Response::too_many_arguments()));
    }
}
