//! Mail authentication: SPF / DKIM / DMARC verdicts for inbound mail, DKIM signing
//! and keys for outbound mail, and the DNS records a local domain publishes. Built on
//! Stalwart's mail-auth crate, which does the protocols; this crate decides what to
//! check, how to sign, where keys live and what to publish.
//!
//! Where it sits (DESIGN §1): the pipeline, between the end of DATA and the queue,
//! calls [`strip::strip_ours`] on every message, [`verify::Verifier::check`] for
//! unauthenticated mail on the `smtp` listener, and [`sign::sign`] with the keys from
//! [`keys::KeyStore`] for mail our users submit. The CLI uses [`keys`] (`postie dkim`),
//! [`records`] and [`check`] (`postie dns`).
//!
//! - [`keys`]: generating, listing, removing and loading DKIM keys under the data dir.
//! - [`keyset`]: signing keys handed in as records (a shared store keeps them).
//! - [`sign`]: `DKIM-Signature` fields for a message.
//! - [`verify`]: inbound SPF, DKIM, DMARC and the `Authentication-Results` field.
//! - [`strip`]: removing `Authentication-Results` fields that claim our name.
//! - [`records`]: the records to publish, in zone-file syntax.
//! - [`check`]: comparing them with what DNS answers.
//! - [`sts_publish`]: the MTA-STS policy we serve and the records announcing it.
//! - [`resolver`]: mail-auth's resolver on the configured name servers.
//! - [`fields`]: header fields as byte ranges.
//!
//! Security stance: DNS queries (through [`resolver`]) and files under
//! `DATA_DIR/dkim` (through [`keys`]) are the only I/O. Everything read from the network
//! is untrusted and parsed by mail-auth or by the bounded splitter in [`fields`].

pub mod check;
pub mod fields;
pub mod keys;
pub mod keyset;
pub mod records;
pub mod resolver;
pub mod sign;
pub mod strip;
pub mod sts_publish;
pub mod verify;

pub use keys::{Algorithm, KeyError, KeyInfo, KeyStore, LoadedKey};
pub use keyset::{KeyRecord, KeySet, SharedKeys};
pub use mail_auth::MessageAuthenticator;
pub use verify::{Action, Checks, DmarcMode, Origin, Verdict, Verifier};
