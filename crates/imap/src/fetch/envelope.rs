//! ENVELOPE (RFC 3501 §7.4.2, RFC 9051 §7.5.2).
//!
//! Where it sits: [`super::envelope()`] (the message's own header) and
//! [`super::structure`] (each encapsulated message/rfc822) call [`from_header`]
//! with a raw header block. Every value is taken as sent, only unfolded: IMAP leaves
//! RFC 2047 decoding to the client.

use imap_codec::imap_types::envelope::{Address, Envelope};

use super::{
    address::address_list,
    header::{self, Field},
    strings::nstring,
};

/// The envelope of the message whose header block is `block`.
///
/// RFC 3501 §7.4.2: date, subject, in-reply-to and message-id are NIL when the
/// field is absent and the empty string when it is present but empty; sender and
/// reply-to are the from addresses when absent or empty; address lists are NIL when
/// empty.
pub(crate) fn from_header(block: &[u8]) -> Envelope<'static> {
    let fields = header::fields(block);
    let text = |name: &str| nstring(header::first_unfolded(&fields, name));
    let from = addresses(&fields, "From");
    let or_from = |list: Vec<Address<'static>>| if list.is_empty() { from.clone() } else { list };
    Envelope {
        date: text("Date"),
        subject: text("Subject"),
        sender: or_from(addresses(&fields, "Sender")),
        reply_to: or_from(addresses(&fields, "Reply-To")),
        to: addresses(&fields, "To"),
        cc: addresses(&fields, "Cc"),
        bcc: addresses(&fields, "Bcc"),
        in_reply_to: text("In-Reply-To"),
        message_id: text("Message-ID"),
        from,
    }
}

fn addresses(fields: &[Field<'_>], name: &str) -> Vec<Address<'static>> {
    header::first_unfolded(fields, name)
        .map(|v| address_list(&v))
        .unwrap_or_default()
}
