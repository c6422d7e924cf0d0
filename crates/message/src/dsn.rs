//! Delivery status notification requests (RFC 3461): what the sender of a message asked
//! to be told about its delivery, carried with the envelope from MAIL/RCPT through the
//! queue to the outbound relay (which passes them on) and to the bounce writer (which
//! honours them).

/// `RET=` on MAIL (RFC 3461 §4.3): how much of the message a failure report returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ret {
    /// `RET=FULL`: the whole message.
    Full,
    /// `RET=HDRS`: only its header.
    Headers,
}

impl Ret {
    /// The parameter value.
    pub fn as_str(self) -> &'static str {
        match self {
            Ret::Full => "FULL",
            Ret::Headers => "HDRS",
        }
    }

    /// Parses [`Ret::as_str`] back (case-insensitive).
    pub fn from_name(name: &str) -> Option<Self> {
        if name.eq_ignore_ascii_case("FULL") {
            Some(Ret::Full)
        } else if name.eq_ignore_ascii_case("HDRS") {
            Some(Ret::Headers)
        } else {
            None
        }
    }
}

/// `NOTIFY=` on RCPT (RFC 3461 §4.1): which events the sender wants reported. NEVER is
/// all three false with `never` set; an absent NOTIFY is [`Notify::default`] (failures,
/// and delays at the server's discretion: RFC 3461 §4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Notify {
    /// Report successful delivery.
    pub success: bool,
    /// Report failure.
    pub failure: bool,
    /// Report delay.
    pub delay: bool,
    /// `NOTIFY=` was given explicitly (so a missing DELAY means "no delay reports").
    pub explicit: bool,
}

impl Default for Notify {
    fn default() -> Self {
        Notify {
            success: false,
            failure: true,
            delay: true,
            explicit: false,
        }
    }
}

impl Notify {
    /// `NOTIFY=NEVER`.
    pub const NEVER: Notify = Notify {
        success: false,
        failure: false,
        delay: false,
        explicit: true,
    };

    /// The parameter value as sent on RCPT (`NEVER`, or a comma list), `None` when the
    /// sender gave none.
    pub fn to_param(self) -> Option<String> {
        if !self.explicit {
            return None;
        }
        let mut parts = Vec::new();
        if self.success {
            parts.push("SUCCESS");
        }
        if self.failure {
            parts.push("FAILURE");
        }
        if self.delay {
            parts.push("DELAY");
        }
        Some(if parts.is_empty() {
            "NEVER".to_string()
        } else {
            parts.join(",")
        })
    }

    /// Parses [`Notify::to_param`]'s form; `None` for an unknown keyword or NEVER mixed
    /// with others (RFC 3461 §4.1).
    pub fn from_param(value: &str) -> Option<Self> {
        let mut n = Notify {
            success: false,
            failure: false,
            delay: false,
            explicit: true,
        };
        let mut never = false;
        for word in value.split(',') {
            match word.to_ascii_uppercase().as_str() {
                "NEVER" => never = true,
                "SUCCESS" => n.success = true,
                "FAILURE" => n.failure = true,
                "DELAY" => n.delay = true,
                _ => return None,
            }
        }
        if never && (n.success || n.failure || n.delay) {
            return None;
        }
        Some(n)
    }
}

/// The DSN requests for one recipient.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RecipientDsn {
    /// `NOTIFY=`.
    pub notify: Notify,
    /// `ORCPT=` as given, `addr-type;xtext-address` (RFC 3461 §4.2), e.g.
    /// `rfc822;alice@example.org`.
    pub orcpt: Option<String>,
}

/// The DSN requests of a whole message.
#[derive(Debug, Clone, Eq, Default)]
pub struct Dsn {
    /// `RET=`.
    pub ret: Option<Ret>,
    /// `ENVID=`, xtext-decoded (RFC 3461 §4.4); encode again when passing it on.
    pub envid: Option<String>,
    /// Per recipient, index-aligned with `Envelope::recipients`; may be shorter (missing
    /// entries are the defaults).
    pub recipients: Vec<RecipientDsn>,
}

/// Equal when they ask for the same: a missing per-recipient record equals a default one.
impl PartialEq for Dsn {
    fn eq(&self, other: &Self) -> bool {
        let count = self.recipients.len().max(other.recipients.len());
        self.ret == other.ret
            && self.envid == other.envid
            && (0..count).all(|i| self.recipient(i) == other.recipient(i))
    }
}

impl Dsn {
    /// The requests for recipient `index`, defaults when none were recorded.
    pub fn recipient(&self, index: usize) -> RecipientDsn {
        self.recipients.get(index).cloned().unwrap_or_default()
    }
}

/// Decodes xtext (RFC 3461 §4): `+XX` is the octet with hex value XX.
pub fn xtext_decode(value: &str) -> Option<String> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'+' {
            let hex = value.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Encodes as xtext (RFC 3461 §4): `+`, `=`, controls, space and non-ASCII as `+XX`.
pub fn xtext_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for &b in value.as_bytes() {
        if (b'!'..=b'~').contains(&b) && b != b'+' && b != b'=' {
            out.push(b as char);
        } else {
            out.push_str(&format!("+{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notify_round_trips() {
        for text in ["NEVER", "SUCCESS", "FAILURE,DELAY", "SUCCESS,FAILURE,DELAY"] {
            let n = Notify::from_param(text).unwrap();
            assert_eq!(n.to_param().unwrap(), text);
        }
        assert_eq!(Notify::from_param("never"), Some(Notify::NEVER));
        assert_eq!(Notify::from_param("NEVER,SUCCESS"), None);
        assert_eq!(Notify::from_param("SOMETIMES"), None);
        assert_eq!(Notify::default().to_param(), None);
    }

    #[test]
    fn xtext_round_trips() {
        let raw = "a+b=c d\u{e9}";
        let encoded = xtext_encode(raw);
        assert_eq!(encoded, "a+2Bb+3Dc+20d+C3+A9");
        assert_eq!(xtext_decode(&encoded).unwrap(), raw);
        assert_eq!(xtext_decode("bad+Z"), None);
    }

    #[test]
    fn missing_recipient_records_are_defaults() {
        let short = Dsn::default();
        let long = Dsn {
            recipients: vec![RecipientDsn::default(); 3],
            ..Dsn::default()
        };
        assert_eq!(short, long);
        let mut asked = long.clone();
        asked.recipients[2].notify = Notify::NEVER;
        assert_ne!(short, asked);
    }

    #[test]
    fn ret_names() {
        assert_eq!(Ret::from_name("hdrs"), Some(Ret::Headers));
        assert_eq!(Ret::from_name(Ret::Full.as_str()), Some(Ret::Full));
        assert_eq!(Ret::from_name("x"), None);
    }
}
