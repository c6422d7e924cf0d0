//! ENVELOPE (RFC 3501 §7.4.2, RFC 9051 §7.5.2).
//!
//! Where it sits: [`super::envelope()`] (the message's own header) and
//! [`super::structure`] (each encapsulated message/rfc822) call [`from_part`] with the
//! summary part of a message's header (`crate::summary`), whose kept fields include
//! every ENVELOPE field. Every value is taken as sent, only unfolded: IMAP leaves
//! RFC 2047 decoding to the client.

use imap_codec::imap_types::envelope::{Address, Envelope};

use super::{address::address_list, header::unfold, strings::nstring};
use crate::summary::Part;
use crate::summary::parts::name;

/// The envelope of the message whose header the summary part `part` holds.
///
/// RFC 3501 §7.4.2: date, subject, in-reply-to and message-id are NIL when the
/// field is absent and the empty string when it is present but empty; sender and
/// reply-to are the from addresses when absent or empty; address lists are NIL when
/// empty.
pub(crate) fn from_part(part: &Part<'_>) -> Envelope<'static> {
    let text = |id: u8| nstring(part.first(id).map(unfold));
    let from = addresses(part, name::FROM);
    let or_from = |list: Vec<Address<'static>>| if list.is_empty() { from.clone() } else { list };
    Envelope {
        date: text(name::DATE),
        subject: text(name::SUBJECT),
        sender: or_from(addresses(part, name::SENDER)),
        reply_to: or_from(addresses(part, name::REPLY_TO)),
        to: addresses(part, name::TO),
        cc: addresses(part, name::CC),
        bcc: addresses(part, name::BCC),
        in_reply_to: text(name::IN_REPLY_TO),
        message_id: text(name::MESSAGE_ID),
        from,
    }
}

fn addresses(part: &Part<'_>, id: u8) -> Vec<Address<'static>> {
    part.first(id)
        .map(|v| address_list(&unfold(v)))
        .unwrap_or_default()
}
