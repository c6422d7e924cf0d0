//! NOTIFY's command syntax (RFC 5465 §8) and what its events map to: the pure half of
//! [`super`], tested as tables. The command is read from the raw line with the cursor
//! of [`crate::session::extended`]; its shape is fixed, so nothing recurses on the input:
//! the one nested part, MessageNew's fetch attributes, is scanned with a counter
//! bounded by [`crate::framing::MAX_NESTING`] and handed to imap-codec as a FETCH.

use crate::session::extended::Line;
use imap_codec::CommandCodec;
use imap_codec::decode::Decoder;
use imap_codec::imap_types::IntoStatic;
use imap_codec::imap_types::command::CommandBody;
use imap_codec::imap_types::fetch::MacroOrMessageDataItemNames;

/// The most event groups, and mailbox names in them, one NOTIFY may hold: each
/// change is matched against them for every mailbox of the account, so they are
/// bounded well below what a command line could carry (`NO [LIMIT]`, RFC 5530).
pub const MAX_GROUPS: usize = 64;
/// See [`MAX_GROUPS`].
pub const MAX_NAMES: usize = 1024;

/// The events this server reports (for `BADEVENT`, RFC 5465 §3).
pub const SUPPORTED: &str = "MessageNew MessageExpunge FlagChange MailboxName SubscriptionChange";

/// Which mailboxes an event group names (RFC 5465 §6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filter {
    /// SELECTED, or SELECTED-DELAYED (`delayed`: EXPUNGE waits for a command).
    Selected {
        delayed: bool,
    },
    Inboxes,
    Personal,
    Subscribed,
    Subtree(Vec<String>),
    Mailboxes(Vec<String>),
}

/// The events of one group; all false for `NONE`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Events {
    pub new: bool,
    pub expunge: bool,
    pub flags: bool,
    pub name: bool,
    pub subscription: bool,
}

/// One event group as parsed; mailbox names are still as sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub filter: Filter,
    pub events: Events,
}

/// A parsed NOTIFY command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    None,
    Set {
        status: bool,
        groups: Vec<Group>,
        /// MessageNew's fetch attributes (SELECTED only), as sent without the parens.
        fetch: Option<Vec<u8>>,
    },
}

/// Why a NOTIFY was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Syntax, or a rule of §3/§6: `BAD`.
    Bad(String),
    /// An event this server does not report: `NO [BADEVENT (...)]`.
    BadEvent(String),
    /// Past [`MAX_GROUPS`] or [`MAX_NAMES`]: `NO [LIMIT]`.
    Limit,
}

/// What a mailbox change is, for the STATUS rules (§5.1-§5.3).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Change {
    pub new: bool,
    pub expunge: bool,
    pub flags: bool,
}

impl Events {
    /// Whether a message change is one these events ask for.
    pub fn wants(&self, change: Change) -> bool {
        (change.new && self.new) || (change.expunge && self.expunge) || (change.flags && self.flags)
    }

    /// Whether any message event (MessageNew, MessageExpunge, FlagChange) is asked.
    pub fn any_message(&self) -> bool {
        self.new || self.expunge || self.flags
    }
}

impl Filter {
    /// Whether this non-SELECTED filter names `mailbox`.
    fn names(&self, mailbox: &str, subscribed: bool) -> bool {
        let under = |root: &str| {
            mailbox == root
                || mailbox
                    .strip_prefix(root)
                    .is_some_and(|rest| rest.starts_with(crate::session::list::DELIMITER))
        };
        match self {
            Filter::Selected { .. } => false,
            // RFC 5465 §6: the mailboxes new mail may be delivered to; only INBOX here.
            Filter::Inboxes => under("INBOX"),
            // RFC 5465 §6: the personal namespace, not Other Users/ or Shared/.
            Filter::Personal => !crate::acl::in_shared_namespace(mailbox),
            Filter::Subscribed => subscribed,
            Filter::Subtree(roots) => roots.iter().any(|r| under(r)),
            Filter::Mailboxes(names) => names.iter().any(|n| n == mailbox),
        }
    }
}

/// The events asked for a mailbox that is not the selected one (or, for the name
/// and subscription events, any mailbox): the first group naming it decides (RFC
/// 5465 §6, "NONE" included).
pub fn events_for(groups: &[Group], mailbox: &str, subscribed: bool) -> Events {
    groups
        .iter()
        .find(|g| g.filter.names(mailbox, subscribed))
        .map(|g| g.events)
        .unwrap_or_default()
}

/// Reads the arguments after `NOTIFY` (the cursor stands on the space after it).
pub fn parse(line: &mut Line<'_>) -> Result<Request, Refusal> {
    let bad = |why: &str| Refusal::Bad(why.to_owned());
    if !line.space() {
        return Err(bad("Expected SET or NONE"));
    }
    let verb = line.atom().ok_or_else(|| bad("Expected SET or NONE"))?;
    if verb.eq_ignore_ascii_case("NONE") {
        return if line.at_end() {
            Ok(Request::None)
        } else {
            Err(bad("Unexpected arguments after NONE"))
        };
    }
    if !verb.eq_ignore_ascii_case("SET") || !line.space() {
        return Err(bad("Expected SET or NONE"));
    }
    let mut status = false;
    if line.next_is("STATUS") {
        line.atom();
        status = true;
        if !line.space() {
            return Err(bad("Expected an event group"));
        }
    }
    let mut groups = Vec::new();
    let mut fetch = None;
    let mut unsupported: Option<String> = None;
    loop {
        let (group, atts) = group(line, &mut unsupported)?;
        if let Some(atts) = atts {
            fetch = Some(atts);
        }
        groups.push(group);
        let names: usize = groups
            .iter()
            .map(|g| match &g.filter {
                Filter::Subtree(n) | Filter::Mailboxes(n) => n.len(),
                _ => 0,
            })
            .sum();
        if groups.len() > MAX_GROUPS || names > MAX_NAMES {
            return Err(Refusal::Limit);
        }
        if line.at_end() {
            break;
        }
        if !line.space() {
            return Err(bad("Expected a space between event groups"));
        }
    }
    // RFC 5465 §6: one SELECTED or SELECTED-DELAYED at most.
    let selected = groups
        .iter()
        .filter(|g| matches!(g.filter, Filter::Selected { .. }))
        .count();
    if selected > 1 {
        return Err(bad("Only one SELECTED or SELECTED-DELAYED group"));
    }
    if let Some(event) = unsupported {
        return Err(Refusal::BadEvent(event));
    }
    Ok(Request::Set {
        status,
        groups,
        fetch,
    })
}

/// One `(filter events)` group, and MessageNew's fetch attributes if it had some.
fn group(
    line: &mut Line<'_>,
    unsupported: &mut Option<String>,
) -> Result<(Group, Option<Vec<u8>>), Refusal> {
    let bad = |why: &str| Refusal::Bad(why.to_owned());
    if !line.eat(b'(') {
        return Err(bad("Expected an event group"));
    }
    let word = line
        .atom()
        .ok_or_else(|| bad("Expected a mailbox filter"))?;
    let filter = match word.to_ascii_uppercase().as_str() {
        "SELECTED" => Filter::Selected { delayed: false },
        "SELECTED-DELAYED" => Filter::Selected { delayed: true },
        "INBOXES" => Filter::Inboxes,
        "PERSONAL" => Filter::Personal,
        "SUBSCRIBED" => Filter::Subscribed,
        kind @ ("SUBTREE" | "MAILBOXES") => {
            if !line.space() {
                return Err(bad("Expected mailbox names"));
            }
            let names = mailboxes(line)?;
            if kind == "SUBTREE" {
                Filter::Subtree(names)
            } else {
                Filter::Mailboxes(names)
            }
        }
        _ => return Err(bad("Unknown mailbox filter")),
    };
    if !line.space() {
        return Err(bad("Expected events"));
    }
    let selected = matches!(filter, Filter::Selected { .. });
    let mut events = Events::default();
    let mut fetch = None;
    let mut annotation = false;
    if line.next_is("NONE") {
        line.atom();
    } else {
        if !line.eat(b'(') {
            return Err(bad("Expected an event list"));
        }
        loop {
            let event = line.atom().ok_or_else(|| bad("Expected an event"))?;
            match event.to_ascii_lowercase().as_str() {
                "messagenew" => {
                    events.new = true;
                    if line.peek() == Some(b' ') && line.rest().get(1) == Some(&b'(') {
                        line.space();
                        if !selected {
                            // RFC 5465 §5.1: fetch attributes only for the selected
                            // mailbox.
                            return Err(bad("MessageNew attributes only with SELECTED"));
                        }
                        fetch = Some(parenthesised(line)?);
                    }
                }
                "messageexpunge" => events.expunge = true,
                "flagchange" => events.flags = true,
                "annotationchange" => {
                    annotation = true;
                    unsupported.get_or_insert(event);
                }
                "mailboxname" | "subscriptionchange" if selected => {
                    // RFC 5465 §6: SELECTED takes message events only.
                    return Err(bad("SELECTED takes message events only"));
                }
                "mailboxname" => events.name = true,
                "subscriptionchange" => events.subscription = true,
                _ if selected => return Err(bad("SELECTED takes message events only")),
                // Events of other extensions (METADATA, or unknown): valid syntax,
                // not reported here (§3).
                _ => {
                    unsupported.get_or_insert(event);
                }
            }
            if line.eat(b')') {
                break;
            }
            if !line.space() {
                return Err(bad("Expected a space between events"));
            }
        }
        // RFC 5465 §5: MessageNew and MessageExpunge come together, and FlagChange or
        // AnnotationChange need them.
        if events.new != events.expunge {
            return Err(bad("MessageNew and MessageExpunge go together"));
        }
        if (events.flags || annotation) && !events.new {
            return Err(bad("FlagChange needs MessageNew and MessageExpunge"));
        }
        if !events.any_message()
            && !events.name
            && !events.subscription
            && !annotation
            && unsupported.is_none()
        {
            return Err(bad("Empty event list"));
        }
    }
    if !line.eat(b')') {
        return Err(bad("Expected the end of the event group"));
    }
    Ok((Group { filter, events }, fetch))
}

/// `one-or-more-mailbox` (RFC 5465 §8): one astring, or a parenthesised list of them.
fn mailboxes(line: &mut Line<'_>) -> Result<Vec<String>, Refusal> {
    let bad = || Refusal::Bad("Invalid mailbox name".to_owned());
    let mut out = Vec::new();
    if line.eat(b'(') {
        loop {
            out.push(lossless(line.astring_bytes().ok_or_else(bad)?)?);
            if line.eat(b')') {
                break;
            }
            if !line.space() {
                return Err(bad());
            }
        }
    } else {
        out.push(lossless(line.astring_bytes().ok_or_else(bad)?)?);
    }
    Ok(out)
}

/// A name's bytes as a string for now (decoded per the connection by
/// [`Session::name_in`] later); invalid UTF-8 cannot name a mailbox.
fn lossless(bytes: Vec<u8>) -> Result<String, Refusal> {
    String::from_utf8(bytes).map_err(|_| Refusal::Bad("Invalid mailbox name".to_owned()))
}

/// A balanced `( ... )` taken whole (quoted strings respected), without the outer
/// parentheses; a counter, not recursion, keeps the depth to
/// [`crate::framing::MAX_NESTING`].
fn parenthesised(line: &mut Line<'_>) -> Result<Vec<u8>, Refusal> {
    let bad = |why: &str| Refusal::Bad(why.to_owned());
    let rest = line.rest();
    if rest.first() != Some(&b'(') {
        return Err(bad("Expected fetch attributes"));
    }
    let mut depth = 0usize;
    let mut quoted = false;
    let mut escaped = false;
    for (i, &b) in rest.iter().enumerate() {
        if quoted {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => quoted = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => quoted = true,
            b'(' | b'[' => {
                depth += 1;
                if depth > crate::framing::MAX_NESTING {
                    return Err(bad("Fetch attributes nest too deep"));
                }
            }
            b')' | b']' => {
                depth = depth.checked_sub(1).ok_or_else(|| bad("Unbalanced"))?;
                if depth == 0 {
                    if b != b')' {
                        return Err(bad("Unbalanced fetch attributes"));
                    }
                    let inner = rest[1..i].to_vec();
                    line.skip(i + 1);
                    return Ok(inner);
                }
            }
            b'{' => return Err(bad("Literals are not allowed in fetch attributes")),
            _ => {}
        }
    }
    Err(bad("Unbalanced fetch attributes"))
}

/// MessageNew's attributes as FETCH item names, read by imap-codec.
pub fn fetch_items(atts: &[u8]) -> Option<MacroOrMessageDataItemNames<'static>> {
    let mut command = b"a FETCH 1 (".to_vec();
    command.extend_from_slice(atts);
    command.extend_from_slice(b")\r\n");
    match CommandCodec::default().decode(&command) {
        Ok((
            [],
            imap_codec::imap_types::command::Command {
                body:
                    CommandBody::Fetch {
                        macro_or_item_names,
                        ..
                    },
                ..
            },
        )) => Some(macro_or_item_names.into_static()),
        _ => None,
    }
}

/// What one mailbox looked like when last seen.
/// The `* LIST` of a MailboxName or SubscriptionChange event (RFC 5465 §5.4-§5.5).
pub fn list_line(attrs: &[&str], name: &str, old_name: Option<&str>) -> String {
    let mut line = format!("LIST ({}) \"/\" {name}", attrs.join(" "));
    if let Some(old) = old_name {
        line.push_str(&format!(" (\"OLDNAME\" ({old}))"));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(text: &str) -> Result<Request, Refusal> {
        let mut line = Line::new(text.as_bytes());
        parse(&mut line)
    }

    fn set(text: &str) -> (bool, Vec<Group>, Option<Vec<u8>>) {
        match parsed(text) {
            Ok(Request::Set {
                status,
                groups,
                fetch,
            }) => (status, groups, fetch),
            other => panic!("{text}: {other:?}"),
        }
    }

    const MSG: Events = Events {
        new: true,
        expunge: true,
        flags: false,
        name: false,
        subscription: false,
    };

    #[test]
    fn valid_commands_parse() {
        assert_eq!(parsed(" NONE"), Ok(Request::None));
        assert_eq!(parsed(" none"), Ok(Request::None));
        let (status, groups, fetch) = set(
            " SET (SELECTED (MessageNew (UID FLAGS) MessageExpunge FlagChange)) \
             (PERSONAL (MessageNew MessageExpunge))",
        );
        assert!(!status);
        assert_eq!(fetch.as_deref(), Some(&b"UID FLAGS"[..]));
        assert_eq!(groups[0].filter, Filter::Selected { delayed: false });
        assert_eq!(groups[0].events, Events { flags: true, ..MSG });
        assert_eq!(groups[1].filter, Filter::Personal);
        assert_eq!(groups[1].events, MSG);
        let (status, groups, _) = set(
            " SET STATUS (selected-delayed (MessageNew MessageExpunge)) (inboxes NONE) \
             (subtree (Lists \"a b\") (MessageNew MessageExpunge MailboxName)) \
             (mailboxes misc (SubscriptionChange)) (subscribed (MailboxName))",
        );
        assert!(status);
        assert_eq!(groups[0].filter, Filter::Selected { delayed: true });
        assert_eq!(groups[1].events, Events::default());
        assert_eq!(
            groups[2].filter,
            Filter::Subtree(vec!["Lists".into(), "a b".into()])
        );
        assert!(groups[2].events.name);
        assert_eq!(groups[3].filter, Filter::Mailboxes(vec!["misc".into()]));
        assert!(groups[3].events.subscription);
        assert_eq!(groups[4].filter, Filter::Subscribed);
        let (_, _, fetch) = set(
            " SET (SELECTED (MessageNew (UID BODY.PEEK[HEADER.FIELDS (From \"To\")]) MessageExpunge))",
        );
        let fetch = fetch.expect("attributes");
        assert_eq!(
            fetch,
            b"UID BODY.PEEK[HEADER.FIELDS (From \"To\")]".to_vec()
        );
        assert!(fetch_items(&fetch).is_some());
        assert!(fetch_items(b"UID FROB").is_none());
    }

    #[test]
    fn invalid_commands_are_bad() {
        for text in [
            "",
            " ",
            " NONE x",
            " FROB",
            " SET",
            " SET ",
            " SET STATUS",
            " SET (PERSONAL)",
            " SET (PERSONAL ())",
            " SET (FROB (MessageNew MessageExpunge))",
            " SET (PERSONAL (MessageNew))",
            " SET (PERSONAL (MessageExpunge))",
            " SET (PERSONAL (FlagChange))",
            " SET (PERSONAL (MessageNew MessageExpunge)",
            " SET (PERSONAL (MessageNew MessageExpunge))x",
            " SET (PERSONAL (MessageNew  MessageExpunge))",
            " SET (PERSONAL (MessageNew (UID) MessageExpunge))",
            " SET (SELECTED (MessageNew MessageExpunge MailboxName))",
            " SET (SELECTED (MessageNew MessageExpunge)) (SELECTED-DELAYED (MessageNew MessageExpunge))",
            " SET (SELECTED (MessageNew (UID MessageExpunge))",
            " SET (SUBTREE (MessageNew MessageExpunge))",
            " SET (MAILBOXES (a b (MessageNew MessageExpunge))",
        ] {
            assert!(
                matches!(parsed(text), Err(Refusal::Bad(_))),
                "{text:?}: {:?}",
                parsed(text)
            );
        }
    }

    #[test]
    fn too_many_groups_or_names_are_a_limit() {
        let groups = " SET".to_owned() + &" (PERSONAL (MailboxName))".repeat(MAX_GROUPS + 1);
        assert_eq!(parsed(&groups), Err(Refusal::Limit));
        let fine = " SET".to_owned() + &" (PERSONAL (MailboxName))".repeat(MAX_GROUPS);
        assert!(parsed(&fine).is_ok());
        let names = format!(
            " SET (MAILBOXES ({}) (MailboxName))",
            vec!["a"; MAX_NAMES + 1].join(" ")
        );
        assert_eq!(parsed(&names), Err(Refusal::Limit));
    }

    #[test]
    fn unsupported_events_are_badevent() {
        for (text, event) in [
            (
                " SET (PERSONAL (MessageNew MessageExpunge AnnotationChange))",
                "AnnotationChange",
            ),
            (
                " SET (PERSONAL (MailboxMetadataChange))",
                "MailboxMetadataChange",
            ),
            (
                " SET (INBOXES (ServerMetadataChange))",
                "ServerMetadataChange",
            ),
        ] {
            assert_eq!(parsed(text), Err(Refusal::BadEvent(event.into())), "{text}");
        }
    }

    #[test]
    fn deep_nesting_is_refused_without_recursion() {
        let handle = std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(|| {
                let deep = format!(
                    " SET (SELECTED (MessageNew {}UID{} MessageExpunge))",
                    "(".repeat(100_000),
                    ")".repeat(100_000)
                );
                assert!(matches!(parsed(&deep), Err(Refusal::Bad(_))));
                let groups = " SET ".to_owned() + &"(".repeat(100_000);
                assert!(matches!(parsed(&groups), Err(Refusal::Bad(_))));
            })
            .expect("thread");
        handle.join().expect("no overflow");
    }

    #[test]
    fn events_map_to_mailboxes() {
        let (_, groups, _) = set(
            " SET (SELECTED (MessageNew MessageExpunge)) (MAILBOXES Trash NONE) \
             (INBOXES (MessageNew MessageExpunge FlagChange)) \
             (SUBTREE Lists (MessageNew MessageExpunge)) (SUBSCRIBED (MailboxName))",
        );
        // The first group naming a mailbox decides; SELECTED names none of them.
        assert_eq!(events_for(&groups, "Trash", true), Events::default());
        assert!(events_for(&groups, "INBOX", false).flags);
        assert!(events_for(&groups, "INBOX/sub", false).flags);
        assert_eq!(events_for(&groups, "INBOXES", false), Events::default());
        assert_eq!(events_for(&groups, "Lists/rust", false), MSG);
        assert_eq!(events_for(&groups, "Lists", false), MSG);
        assert_eq!(events_for(&groups, "Listsx", false), Events::default());
        assert!(events_for(&groups, "Other", true).name);
        assert_eq!(events_for(&groups, "Other", false), Events::default());
    }

    #[test]
    fn changes_map_to_status_or_nothing() {
        let new = Change {
            new: true,
            ..Change::default()
        };
        let expunge = Change {
            expunge: true,
            ..Change::default()
        };
        let flags = Change {
            flags: true,
            ..Change::default()
        };
        assert!(MSG.wants(new) && MSG.wants(expunge));
        assert!(!MSG.wants(flags), "FlagChange not asked");
        let all = Events { flags: true, ..MSG };
        assert!(all.wants(flags));
        assert!(!Events::default().wants(new));
        assert_eq!(
            list_line(&["\\NonExistent"], "\"a\"", None),
            "LIST (\\NonExistent) \"/\" \"a\""
        );
        assert_eq!(
            list_line(&[], "b", Some("a")),
            "LIST () \"/\" b (\"OLDNAME\" (a))"
        );
    }
}
