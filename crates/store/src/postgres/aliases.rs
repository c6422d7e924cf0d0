//! TODO(issue 15): PostgreSQL aliases.

#![allow(unused_variables, unused_imports)]

use message::{Address, Domain, Envelope, QueueId};

use super::PgStore;
use crate::*;

pub(super) async fn alias_add(s: &PgStore, alias: &Address, target: &Address) -> Result<()> {
    todo!("postgres alias_add")
}

pub(super) async fn alias_remove(s: &PgStore, alias: &Address) -> Result<()> {
    todo!("postgres alias_remove")
}

pub(super) async fn alias_list(s: &PgStore) -> Result<Vec<(Address, Address)>> {
    todo!("postgres alias_list")
}
