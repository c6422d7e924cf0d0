//! One IMAP session's state and command dispatch (RFC 3501 IMAP4rev1; RFC 9051
//! IMAP4rev2 once enabled).
//!
//! Where it sits: the server's IMAP driver (`server/src/imap_driver.rs`) owns the
//! socket, TLS, COMPRESS, deadlines and imap-next's framing state machine; every
//! complete command it receives comes here ([`Session::command`]), is answered by the
//! file of its command family, and the response bytes collect in [`Session::out`] for
//! the driver to write. Everything the session needs from the server (the store,
//! settings, password checks, session slots, change notices, mailbox snapshots) it
//! asks through [`services::Services`]; it knows no socket, no clock and no tokio. The selected mailbox's sequence
//! numbers and pending untagged updates live in [`crate::selected::Selected`]; before
//! each tagged reply the session brings it up to date ([`Session::finish`]). Between
//! parsing and dispatch every command passes [`Session::prepare`] (`prepare.rs`):
//! mailbox names are decoded to UTF-8 there, and what ENABLEd extensions change is
//! applied.
//!
//! States (RFC 3501 §3): not authenticated (`account` is `None`), authenticated,
//! selected (`selected` is `Some`), logout (`close`).

mod access;
mod acl;
mod append;
pub mod auth;
mod catenate;
pub mod compress;
mod condstore;
mod context;
mod copy;
pub mod cpu;
mod esearch;
mod extended;
mod fetch;
mod fetch_partial;
mod flags;
mod keywords;
mod list;
mod list_extended;
mod mailbox;
mod multiappend;
mod names;
pub mod notify;
mod partial;
mod prepare;
mod qresync;
mod quota;
mod rev2;
mod search;
mod searchres;
mod select;
pub mod services;
pub mod snapshots;
mod sort;
mod summaries;
mod thread;
mod utf8;
mod wire;

use crate::selected::Selected;
use imap_codec::imap_types::command::{Command, CommandBody};
use imap_codec::imap_types::core::Tag;
use services::Services;
use std::net::SocketAddr;
use store_api::{Account, Mailbox};

/// The mailbox a session has selected.
pub struct Open {
    /// The store's record, as of the last sync.
    pub mailbox: Mailbox,
    /// Sequence numbers and pending updates.
    pub view: Selected,
    /// The mailbox's snapshot, shared with its other sessions (`snapshots.rs`).
    pub state: std::sync::Arc<snapshots::MailboxState>,
    /// Whose it is and what this session may do there, as of the SELECT (`access.rs`).
    pub access: access::Access,
}

impl Open {
    /// The name this session selected it by.
    pub fn name(&self) -> &str {
        self.access.name(&self.mailbox)
    }
}

/// A SASL exchange waiting for the client's next line.
pub enum SaslWait {
    /// PLAIN without an initial response: waiting for the one message.
    Plain,
    /// LOGIN: waiting for the user name.
    LoginUser,
    /// LOGIN: have the user name, waiting for the password.
    LoginPassword(String),
    /// SCRAM-SHA-256(-PLUS): the exchange, waiting for the client's next message.
    Scram(Box<proto::sasl::Exchange>),
    /// SCRAM: server-final sent for this account; the client's empty answer logs in.
    ScramAck(Box<proto::sasl::Exchange>, Box<store_api::Account>),
}

/// One connection's IMAP state.
pub struct Session<'a> {
    pub shared: &'a dyn Services,
    pub peer: SocketAddr,
    /// TLS is up (imaps, or after STARTTLS).
    pub tls: bool,
    /// The connection's `tls-exporter` value (TLS 1.3 only, RFC 9266), set by the
    /// driver after the handshake; with it SCRAM-SHA-256-PLUS is offered.
    pub tls_exporter: Option<[u8; 32]>,
    /// SCRAM is offered (default yes); the driver turns it off in capture mode,
    /// which takes any password.
    pub scram: bool,
    /// The logged-in account (authenticated state).
    pub account: Option<Account>,
    pub selected: Option<Open>,
    /// Failed logins on this connection.
    pub auth_failures: u32,
    /// An AUTHENTICATE in progress: its tag and what it waits for.
    pub sasl: Option<(Tag<'static>, SaslWait)>,
    /// The tag of an IDLE in progress (RFC 2177).
    pub idling: Option<Tag<'static>>,
    /// Response bytes not yet written.
    pub out: Vec<u8>,
    /// The session is over: write `out` and close.
    pub close: bool,
    /// STARTTLS was accepted: write `out`, then start the handshake.
    pub starttls: bool,
    /// CONDSTORE/QRESYNC (RFC 7162), UTF8=ACCEPT and IMAP4rev2 as enabled on this
    /// connection.
    pub enabled: condstore::Enabled,
    /// COMPRESS=DEFLATE (RFC 4978): see `compress.rs`.
    pub compression: compress::State,
    /// The saved search result, `$` (RFC 5182): see `searchres.rs`.
    pub saved_search: searchres::Saved,
    /// Live SEARCH/SORT results (RFC 5267 §4.3): see `context.rs`.
    pub contexts: context::Contexts,
    /// The keywords the client was told the selected mailbox has: see `keywords.rs`.
    pub keywords: keywords::Shown,
    /// This session's place in its account's session count, held while logged in.
    pub user_slot: Option<services::UserSlot>,
    /// The NOTIFY in force (RFC 5465): see `notify.rs`.
    pub notify: notify::State,
}

/// How a command ended, for its tagged reply.
pub enum Status {
    Ok(String),
    No(String),
    Bad(String),
}

impl<'a> Session<'a> {
    pub fn new(shared: &'a dyn Services, peer: SocketAddr, tls: bool) -> Self {
        Session {
            shared,
            peer,
            tls,
            tls_exporter: None,
            scram: true,
            account: None,
            selected: None,
            auth_failures: 0,
            sasl: None,
            idling: None,
            out: Vec::new(),
            close: false,
            starttls: false,
            enabled: condstore::Enabled::default(),
            compression: compress::State::Off,
            saved_search: searchres::Saved::default(),
            contexts: context::Contexts::default(),
            keywords: keywords::Shown::default(),
            user_slot: None,
            notify: notify::State::default(),
        }
    }

    /// Appends one response line (CRLF added).
    pub fn line(&mut self, text: &str) {
        self.out.extend_from_slice(text.as_bytes());
        self.out.extend_from_slice(b"\r\n");
    }

    /// Appends an untagged response: `* text`.
    pub fn untagged(&mut self, text: &str) {
        self.line(&format!("* {text}"));
    }

    /// Runs one command and writes its responses, ending with the tagged status.
    pub async fn command(&mut self, command: Command<'static>) {
        let tag = command.tag.inner().to_owned();
        let name = command.body.name();
        tracing::debug!(tag = %tag, command = name, "IMAP command");
        // RFC 3501 §7.4.1: no EXPUNGE during FETCH, STORE, SEARCH (sequence-number forms).
        let allow_expunge = !matches!(
            command.body,
            CommandBody::Fetch { uid: false, .. }
                | CommandBody::Store { uid: false, .. }
                | CommandBody::Search { uid: false, .. }
                | CommandBody::Sort { uid: false, .. }
                | CommandBody::Thread { uid: false, .. }
        );
        // Names to UTF-8, and what enabled extensions change: see `prepare.rs`.
        let status = match self.prepare(&tag, command.body).await {
            prepare::Prepared::Run(body) => self.dispatch(body).await,
            prepare::Prepared::Done(status) => status,
        };
        self.finish(&tag, status, allow_expunge).await;
    }

    /// Brings the selected mailbox up to date, writes the updates the client is owed,
    /// then the tagged reply. A session that is closing has sent its `* BYE`, after
    /// which only the tagged reply may come (RFC 3501 §6.1.3): its updates went out
    /// before the BYE, if at all.
    pub async fn finish(&mut self, tag: &str, status: Status, allow_expunge: bool) {
        if !self.close {
            self.send_updates(allow_expunge).await;
        }
        let line = match status {
            Status::Ok(text) => format!("{tag} OK {text}"),
            Status::No(text) => format!("{tag} NO {text}"),
            Status::Bad(text) => format!("{tag} BAD {text}"),
        };
        self.line(&line);
    }

    async fn dispatch(&mut self, body: CommandBody<'static>) -> Status {
        use CommandBody as C;
        // Any state (RFC 3501 §6.1).
        match body {
            C::Capability => return self.capability(),
            C::Noop => return Status::Ok("NOOP completed".into()),
            C::Logout => {
                // RFC 3501 §6.1.3: the updates the client is owed, then BYE, then the
                // tagged OK and nothing else.
                self.send_updates(true).await;
                self.untagged("BYE Postie logging out");
                self.close = true;
                return Status::Ok("LOGOUT completed".into());
            }
            C::Id { .. } => {
                self.untagged("ID (\"name\" \"Postie\")");
                return Status::Ok("ID completed".into());
            }
            _ => {}
        }
        if self.account.is_none() {
            return match body {
                C::StartTLS => self.starttls(),
                C::Login { username, password } => {
                    let user = String::from_utf8_lossy(username.as_ref()).into_owned();
                    let pass = String::from_utf8_lossy(password.declassify().as_ref()).into_owned();
                    self.login(&user, pass).await
                }
                _ => Status::Bad("Log in first".into()),
            };
        }
        match body {
            C::StartTLS | C::Login { .. } => Status::Bad("Already logged in".into()),
            C::Enable { capabilities } => self.enable_extensions(capabilities.as_ref()),
            C::Compress { algorithm } => self.compress(&algorithm),
            C::Namespace => {
                // RFC 2342 §5: the personal namespace without a prefix, then the
                // mailboxes others share by name and with anyone (`access.rs`).
                self.untagged(&format!(
                    "NAMESPACE ((\"\" \"/\")) ((\"{}/\" \"/\")) ((\"{}/\" \"/\"))",
                    crate::acl::OTHER_USERS,
                    crate::acl::SHARED
                ));
                Status::Ok("NAMESPACE completed".into())
            }
            C::Select {
                mailbox,
                parameters,
            } => {
                self.select_with(&wire::mailbox_name(&mailbox), false, &parameters)
                    .await
            }
            C::Examine {
                mailbox,
                parameters,
            } => {
                self.select_with(&wire::mailbox_name(&mailbox), true, &parameters)
                    .await
            }
            C::Create { mailbox } => self.create(&wire::mailbox_name(&mailbox)).await,
            C::Delete { mailbox } => self.delete(&wire::mailbox_name(&mailbox)).await,
            C::Rename { from, to } => {
                self.rename(&wire::mailbox_name(&from), &wire::mailbox_name(&to))
                    .await
            }
            C::Subscribe { mailbox } => self.subscribe(&wire::mailbox_name(&mailbox), true).await,
            C::Unsubscribe { mailbox } => {
                self.subscribe(&wire::mailbox_name(&mailbox), false).await
            }
            C::List {
                reference,
                mailbox_wildcard,
            } => {
                let pattern = wire::list_pattern(&mailbox_wildcard);
                self.list(&wire::mailbox_name(&reference), &pattern, false)
                    .await
            }
            C::Lsub {
                reference,
                mailbox_wildcard,
            } => {
                let pattern = wire::list_pattern(&mailbox_wildcard);
                self.list(&wire::mailbox_name(&reference), &pattern, true)
                    .await
            }
            C::Status {
                mailbox,
                item_names,
            } => {
                self.status(&wire::mailbox_name(&mailbox), &item_names)
                    .await
            }
            C::Append {
                mailbox,
                flags,
                date,
                message,
            } => {
                self.append(&wire::mailbox_name(&mailbox), &flags, date, message)
                    .await
            }
            // RFC 9208: see `quota.rs`.
            C::GetQuotaRoot { mailbox } => self.get_quota_root(&wire::mailbox_name(&mailbox)).await,
            C::GetQuota { root } => self.get_quota(&wire::astring_text(&root)).await,
            C::SetQuota { .. } => self.set_quota(),
            body => self.selected_command(body).await,
        }
    }

    /// Commands of the selected state (RFC 3501 §6.4).
    async fn selected_command(&mut self, body: CommandBody<'static>) -> Status {
        use CommandBody as C;
        if self.selected.is_none() {
            return match body {
                C::Check
                | C::Close
                | C::Unselect
                | C::Expunge
                | C::ExpungeUid { .. }
                | C::Search { .. }
                | C::Sort { .. }
                | C::Thread { .. }
                | C::Fetch { .. }
                | C::Store { .. }
                | C::Copy { .. }
                | C::Move { .. } => Status::Bad("No mailbox selected".into()),
                _ => Status::Bad("Command not supported".into()),
            };
        }
        match body {
            C::Check => Status::Ok("CHECK completed".into()),
            C::Close => self.close_mailbox(true).await,
            C::Unselect => self.close_mailbox(false).await,
            C::Expunge => self.expunge(None).await,
            C::ExpungeUid { sequence_set } => self.expunge(Some(&sequence_set)).await,
            C::Search {
                charset,
                criteria,
                uid,
            } => self.search(charset, criteria.as_ref(), uid).await,
            C::Sort {
                sort_criteria,
                charset,
                search_criteria,
                uid,
            } => {
                self.sort(
                    sort_criteria.as_ref(),
                    charset,
                    search_criteria.as_ref(),
                    uid,
                )
                .await
            }
            C::Thread {
                algorithm,
                charset,
                search_criteria,
                uid,
            } => {
                self.thread(&algorithm, charset, search_criteria.as_ref(), uid)
                    .await
            }
            C::Fetch {
                sequence_set,
                macro_or_item_names,
                uid,
                modifiers,
            } => {
                self.fetch_with(&sequence_set, macro_or_item_names, uid, &modifiers)
                    .await
            }
            C::Store {
                sequence_set,
                kind,
                response,
                flags,
                uid,
                modifiers,
            } => {
                let since = self.store_modifiers(&modifiers);
                self.store_flags(&sequence_set, kind, response, &flags, uid, since)
                    .await
            }
            C::Copy {
                sequence_set,
                mailbox,
                uid,
            } => {
                self.copy(&sequence_set, &wire::mailbox_name(&mailbox), uid, false)
                    .await
            }
            C::Move {
                sequence_set,
                mailbox,
                uid,
            } => {
                self.copy(&sequence_set, &wire::mailbox_name(&mailbox), uid, true)
                    .await
            }
            _ => Status::Bad("Command not supported".into()),
        }
    }

    /// The account of an authenticated session (callers checked the state).
    pub fn account_id(&self) -> store_api::AccountId {
        self.account
            .as_ref()
            .map(|a| a.id)
            .unwrap_or(store_api::AccountId(0))
    }

    /// Tells every session of this account (and this one's IDLE) that its mailboxes
    /// changed, and the sessions of the selected mailbox's owner when it is another
    /// account's (`access.rs`).
    pub fn publish_change(&self) {
        self.shared.publish_change(self.account_id());
        if let Some(open) = &self.selected {
            self.publish_change_of(open.access.owner);
        }
    }

    /// Tells the sessions of `owner` (a mailbox's owner) that its mailboxes changed,
    /// unless that is this session's account, already told.
    pub fn publish_change_of(&self, owner: store_api::AccountId) {
        if owner != self.account_id() {
            self.shared.publish_change(owner);
        }
    }

    /// Whether a change published for `account` concerns this session: its own
    /// account's, or the owner's of the mailbox it has selected.
    pub fn hears(&self, account: i64) -> bool {
        account == self.account_id().0
            || self
                .selected
                .as_ref()
                .is_some_and(|open| open.access.owner.0 == account)
    }
}

/// Logs a store failure and gives the tagged NO for it (RFC 5530 SERVERBUG).
pub fn store_failed(what: &str, e: &store_api::StoreError) -> Status {
    // A mailbox another session deleted meanwhile is not a server bug (RFC 5530).
    if let store_api::StoreError::NotFound(_) = e {
        return Status::No("[NONEXISTENT] The mailbox no longer exists".into());
    }
    tracing::error!(error = %e, "IMAP {what} failed");
    Status::No(format!("[SERVERBUG] {what} failed"))
}
