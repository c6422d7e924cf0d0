//! Plain data the [`crate::Store`] trait passes in and out.

use message::{Address, Envelope, QueueId};

/// Row id of an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AccountId(pub i64);

/// Row id of a mailbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MailboxId(pub i64);

/// A user who can log in and receive mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// Row id.
    pub id: AccountId,
    /// The address, as added.
    pub address: Address,
    /// Argon2 PHC string; never the password itself.
    pub password_hash: String,
    /// The name shown for the account (web pages, the API); `None` when unset. Free
    /// text from an administrator or the user: escape it wherever it is shown.
    pub display_name: Option<String>,
    /// May administer the server through the web pages and the API (`postie user
    /// admin ADDR on`).
    pub admin: bool,
}

/// Who an access control entry is for (RFC 4314 §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Grantee {
    /// Every account of the store (RFC 4314's `anyone`).
    Anyone,
    /// One account.
    Account(AccountId),
}

/// One stored entry of a mailbox's access control list (RFC 4314 §2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AclEntry {
    pub grantee: Grantee,
    /// `anyone`, or the grantee's address as added.
    pub identifier: String,
    /// RFC 4314 §2.1 right letters, as stored.
    pub rights: String,
}

/// A mailbox another account shares with this one ([`crate::Store::acl_shared_with`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedMailbox {
    /// The owner's account.
    pub owner: AccountId,
    /// The owner's address, as added.
    pub owner_address: Address,
    /// The mailbox, as the owner's [`crate::Store::mailbox_list`] gives it.
    pub mailbox: Mailbox,
    /// This account's rights: its own entry's letters and `anyone`'s together, each
    /// letter once, in the order RFC 4314 §2.1 lists them (`lrswipkxtea`, then any
    /// other).
    pub rights: String,
    /// `anyone` has an entry (the mailbox is shared with the whole server).
    pub anyone: bool,
}

/// One of an account's mailboxes, with its IMAP UID counters (RFC 3501 §2.3.1.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mailbox {
    /// Row id.
    pub id: MailboxId,
    /// Name, `INBOX` for the inbox.
    pub name: String,
    /// UIDVALIDITY: fixed when the mailbox is created.
    pub uid_validity: u32,
    /// UIDNEXT: the UID the next message will get.
    pub uid_next: u32,
    /// HIGHESTMODSEQ (RFC 7162 §3.1.1): the largest mod-sequence any change in this
    /// mailbox (a new message, a flag change, an expunge) was given; 1 when new.
    pub highest_modseq: u64,
    /// The account's subscription list names this mailbox (RFC 3501 §6.3.6).
    pub subscribed: bool,
    /// Its special use (RFC 6154 §2), e.g. `\Sent`; `None` for an ordinary mailbox.
    pub special_use: Option<String>,
    /// The highest UID whose `\Recent` flag (RFC 3501 §2.3.2) some session has
    /// claimed ([`crate::Store::mailbox_recent_claim`]); the messages above it are
    /// recent for the next session that selects the mailbox. 0 when new.
    pub recent_uid: u32,
}

/// What changed in a mailbox after a mod-sequence ([`crate::Store::message_changes_since`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailboxChanges {
    /// The mailbox as it is now (name, UIDNEXT, HIGHESTMODSEQ, ...), read with the rest.
    pub mailbox: Mailbox,
    /// `changed` is every message of the mailbox: replace, do not merge.
    pub full: bool,
    /// The messages changed or added after the mod-sequence, by ascending UID.
    pub changed: Vec<ImapMessage>,
    /// The UIDs expunged after the mod-sequence, ascending (may name messages the
    /// caller never saw: added and expunged in between).
    pub expunged: Vec<u32>,
}

/// What IMAP needs to know about a message without reading its body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImapMessage {
    /// IMAP UID, unique and ascending within the mailbox.
    pub uid: u32,
    /// Its flags (RFC 3501 §2.3.2): the system flags spelled `\Seen`, `\Answered`,
    /// `\Flagged`, `\Deleted`, `\Draft`, then keywords, each group sorted
    /// and deduplicated case-insensitively. Never `\Recent`, which is a session's, not the store's.
    pub flags: Vec<String>,
    /// Its mod-sequence (RFC 7162 §3.1): the HIGHESTMODSEQ of its last change.
    pub modseq: u64,
    /// Size in octets of the full message as `message_read` returns it (RFC822.SIZE).
    pub size: u64,
    /// INTERNALDATE, unix seconds.
    pub received_at: i64,
}

/// How [`crate::Store::message_flags_set`] combines the given flags with a message's
/// own: STORE's `+FLAGS`, `-FLAGS` and `FLAGS` (RFC 3501 §6.4.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlagChange {
    /// Adds the given flags.
    Add,
    /// Removes the given flags.
    Remove,
    /// Replaces the message's flags with the given ones.
    Replace,
}

/// What a flag change did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FlagsResult {
    /// The messages whose flags changed, in their new state, by ascending UID.
    pub changed: Vec<ImapMessage>,
    /// UIDs left alone because they changed after UNCHANGEDSINCE (RFC 7162 §3.1.3:
    /// the `MODIFIED` response code), ascending.
    pub modified: Vec<u32>,
}

/// What the store knows about a message without reading its body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageMeta {
    /// IMAP UID, unique and ascending within the mailbox.
    pub uid: u32,
    /// Size in octets of the full message as `message_read` returns it.
    pub size: u64,
    /// When it was delivered (unix seconds): IMAP INTERNALDATE.
    pub received_at: i64,
    /// The queue id it arrived under (copies keep the original's); an id made up when
    /// it was appended for a message that came by IMAP APPEND.
    pub queue_id: QueueId,
}

/// Where one recipient of a queued message stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecipientStatus {
    /// Not yet delivered; try again at `next_attempt` (unix seconds).
    Pending {
        /// Attempts so far.
        attempts: u32,
        /// Earliest time of the next attempt.
        next_attempt: i64,
        /// Why the last attempt failed, if one did.
        last_error: Option<String>,
    },
    /// Delivered.
    Delivered,
    /// Given up on, with the reason.
    Failed(String),
}

/// A recipient of a queued message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedRecipient {
    /// The address.
    pub address: Address,
    /// Where it stands.
    pub status: RecipientStatus,
}

/// A message in the queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedMessage {
    /// Its id.
    pub id: QueueId,
    /// Envelope as accepted (recipients in the same order as `recipients`).
    pub envelope: Envelope,
    /// Per-recipient state, index-aligned with `envelope.recipients`.
    pub recipients: Vec<QueuedRecipient>,
    /// When it was accepted (unix seconds).
    pub queued_at: i64,
    /// Body size in octets.
    pub size: u64,
    /// Held by the administrator (`postie queue hold`): never due until released.
    pub held: bool,
    /// The delay warning (RFC 3464 `Action: delayed`) has been sent.
    pub warned: bool,
}

/// What happened to a delivery attempt that did not file the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecipientOutcome {
    /// Try again at `next_attempt` (unix seconds).
    Deferred {
        /// Earliest next attempt.
        next_attempt: i64,
        /// Why it failed this time.
        reason: String,
    },
    /// Final failure.
    Failed {
        /// Why.
        reason: String,
    },
    /// Delivered elsewhere (e.g. relayed to another server).
    Delivered,
}

/// An account's limits (RFC 9208 §5: the STORAGE and MESSAGE resources), set by the
/// administrator (`postie user quota`); `None` is unlimited.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Quota {
    /// Most octets all the account's messages may take together (their RFC822.SIZE).
    pub storage: Option<u64>,
    /// Most messages the account may hold, in all its mailboxes together.
    pub messages: Option<u64>,
}

impl Quota {
    /// True when neither resource is limited.
    pub fn is_unlimited(&self) -> bool {
        self.storage.is_none() && self.messages.is_none()
    }

    /// True when `usage` plus `octets` in `count` more messages stays within every limit.
    pub fn admits(&self, usage: &QuotaUsage, octets: u64, count: u64) -> bool {
        let fits = |limit: Option<u64>, used: u64, more: u64| {
            limit.is_none_or(|l| used.checked_add(more).is_some_and(|total| total <= l))
        };
        fits(self.storage, usage.storage, octets) && fits(self.messages, usage.messages, count)
    }

    /// True when not even one more (empty) message fits: SMTP's "mailbox full" at RCPT.
    pub fn is_full(&self, usage: &QuotaUsage) -> bool {
        self.storage.is_some_and(|l| usage.storage >= l)
            || self.messages.is_some_and(|l| usage.messages >= l)
    }
}

/// What an account uses of the resources [`Quota`] limits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QuotaUsage {
    /// Octets of all its messages in all its mailboxes (the sum of their RFC822.SIZE).
    pub storage: u64,
    /// How many messages it holds in all its mailboxes.
    pub messages: u64,
}

/// One message of [`crate::Store::message_append_many`], as
/// [`crate::Store::message_append_with`] takes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NewMessage<'a> {
    /// The message, byte for byte.
    pub body: &'a [u8],
    /// Its flags (system flags and keywords).
    pub flags: &'a [String],
    /// Its INTERNALDATE, seconds since the epoch.
    pub received_at: i64,
    /// The IMAP layer's summary of it, if computed.
    pub summary: Option<&'a [u8]>,
}

/// A local recipient to file a message for at the moment it is queued (see
/// [`crate::Store::enqueue_and_file`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filing {
    /// Index of the recipient in the envelope.
    pub recipient: usize,
    /// The account whose INBOX receives the message.
    pub account: AccountId,
    /// The per-recipient lines put before the body (`Return-Path:`, `Delivered-To:`).
    pub prefix: Vec<u8>,
    /// The message's summary for IMAP (see [`crate::Store::message_append_with`]), if
    /// the caller computed one.
    pub summary: Option<Vec<u8>>,
}
