//! Hand-written deserializers where the derived ones would give a poor message:
//! lists of socket addresses, the `"252" | "disabled"` policies, and
//! [`PlaintextAuth`] (whose derived form says only "wanted string or table" for a
//! value of the wrong type).

use std::fmt;
use std::net::SocketAddr;

use serde::Deserialize;
use serde::de::{self, Deserializer, SeqAccess, Unexpected, Visitor};

use crate::{ExpnPolicy, PlaintextAuth, VrfyPolicy};

/// Deserializes a list of `"ip:port"` strings; a bad entry is reported with its text.
pub(crate) fn socket_addrs<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<SocketAddr>, D::Error> {
    d.deserialize_seq(AddrList)
}

struct AddrList;

impl<'de> Visitor<'de> for AddrList {
    type Value = Vec<SocketAddr>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(r#"a list of "ip:port" socket addresses, like ["127.0.0.1:25"]"#)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::new();
        while let Some(Addr(addr)) = seq.next_element()? {
            out.push(addr);
        }
        Ok(out)
    }
}

/// One list entry.
struct Addr(SocketAddr);

impl<'de> Deserialize<'de> for Addr {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(AddrVisitor)
    }
}

struct AddrVisitor;

impl Visitor<'_> for AddrVisitor {
    type Value = Addr;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(r#"an "ip:port" string, like "127.0.0.1:25" or "[::1]:25""#)
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Addr, E> {
        s.parse().map(Addr).map_err(|_| {
            E::custom(format!(
                r#"invalid socket address {s:?} (want ip:port, like "127.0.0.1:25" or "[::1]:25")"#
            ))
        })
    }
}

/// Accepts `"252"`, the integer `252` (both: answer 252) and `"disabled"` (answer 502).
struct Policy;

impl Visitor<'_> for Policy {
    /// `true` for 252, `false` for disabled.
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(r#""252" or "disabled""#)
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<bool, E> {
        match s {
            "252" => Ok(true),
            "disabled" => Ok(false),
            _ => Err(E::invalid_value(Unexpected::Str(s), &self)),
        }
    }

    fn visit_i64<E: de::Error>(self, n: i64) -> Result<bool, E> {
        match n {
            252 => Ok(true),
            _ => Err(E::invalid_value(Unexpected::Signed(n), &self)),
        }
    }

    fn visit_u64<E: de::Error>(self, n: u64) -> Result<bool, E> {
        match n {
            252 => Ok(true),
            _ => Err(E::invalid_value(Unexpected::Unsigned(n), &self)),
        }
    }
}

impl<'de> Deserialize<'de> for VrfyPolicy {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(if d.deserialize_any(Policy)? {
            Self::Ambiguous
        } else {
            Self::Disabled
        })
    }
}

impl<'de> Deserialize<'de> for ExpnPolicy {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(if d.deserialize_any(Policy)? {
            Self::Ambiguous
        } else {
            Self::Disabled
        })
    }
}

/// Accepts `"never"`, `"loopback"` and `"always"`.
struct Plaintext;

/// The TOML spellings of [`PlaintextAuth`], as serialized.
const PLAINTEXT: &[&str] = &["never", "loopback", "always"];

impl Visitor<'_> for Plaintext {
    type Value = PlaintextAuth;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(r#""never", "loopback" or "always""#)
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<PlaintextAuth, E> {
        match s {
            "never" => Ok(PlaintextAuth::Never),
            "loopback" => Ok(PlaintextAuth::Loopback),
            "always" => Ok(PlaintextAuth::Always),
            _ => Err(E::unknown_variant(s, PLAINTEXT)),
        }
    }
}

impl<'de> Deserialize<'de> for PlaintextAuth {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(Plaintext)
    }
}
