//! Postie's sending client, the library behind `postie send` and `postie sendmail`.
//!
//! Where it sits: beside the server, not inside it. A user's request becomes a message
//! in [`compose`]; [`transport`] sends it through any SMTP server (on the relay crate's
//! client, with an optional [`transcript`] of the dialogue), or [`local`] puts it into
//! the local Postie queue for the running server to deliver; [`bulk`] does the same
//! once per row of a CSV file, personalised, with rate limits and a resumable journal.
//!
//! Security stance: talks to the network only through [`transport`] (TLS verified by
//! default); [`local`] writes into the data directory's store; [`bulk`] reads the
//! files it is given and writes its results file. Passwords never reach a transcript.

pub mod bulk;
pub mod compose;
pub mod local;
pub mod transcript;
pub mod transport;
