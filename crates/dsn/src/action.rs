//! What happened to one recipient (RFC 3464 §2.3.3), and whether the sender asked to be
//! told about it (RFC 3461 §6.2). The queue runner calls [`wanted`] before building a
//! [`crate::Report`], so recipients the sender did not ask about never reach a report.

use message::dsn::Notify;

/// The `Action` field of a per-recipient block (RFC 3464 §2.3.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Delivery failed and will not be retried.
    Failed,
    /// Delivery has not succeeded yet; the message stays queued.
    Delayed,
    /// Delivered to the recipient's mailbox.
    Delivered,
    /// Handed to a system that does not send delivery notifications itself.
    Relayed,
    /// Delivered to a list or alias, which forwards it to further addresses.
    Expanded,
}

impl Action {
    /// The field value: `failed`, `delayed`, `delivered`, `relayed` or `expanded`.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Failed => "failed",
            Action::Delayed => "delayed",
            Action::Delivered => "delivered",
            Action::Relayed => "relayed",
            Action::Expanded => "expanded",
        }
    }
}

/// Whether a report of `action` should be sent for a recipient with these DSN requests
/// and this envelope sender.
///
/// RFC 3461 §6.2: failures are reported when NOTIFY includes FAILURE, delays when it
/// includes DELAY, and delivered / relayed / expanded when it includes SUCCESS (an
/// absent NOTIFY is [`Notify::default`]: failures and delays). A message with a null
/// reverse-path is itself a notification and never gets one, whatever NOTIFY says: a
/// bounce is never bounced (RFC 5321 §4.5.5, RFC 3834 §2).
pub fn wanted(action: Action, notify: Notify, sender_is_null: bool) -> bool {
    if sender_is_null {
        return false;
    }
    match action {
        Action::Failed => notify.failure,
        Action::Delayed => notify.delay,
        Action::Delivered | Action::Relayed | Action::Expanded => notify.success,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [Action; 5] = [
        Action::Failed,
        Action::Delayed,
        Action::Delivered,
        Action::Relayed,
        Action::Expanded,
    ];

    #[test]
    fn field_values() {
        let names: Vec<_> = ALL.iter().map(|a| a.as_str()).collect();
        assert_eq!(
            names,
            ["failed", "delayed", "delivered", "relayed", "expanded"]
        );
    }

    #[test]
    fn truth_table() {
        // Every combination of the three NOTIFY flags against every action.
        for bits in 0..8u8 {
            let notify = Notify {
                success: bits & 1 != 0,
                failure: bits & 2 != 0,
                delay: bits & 4 != 0,
                explicit: true,
            };
            for action in ALL {
                let expected = match action {
                    Action::Failed => notify.failure,
                    Action::Delayed => notify.delay,
                    _ => notify.success,
                };
                assert_eq!(
                    wanted(action, notify, false),
                    expected,
                    "{action:?} {notify:?}"
                );
                assert!(
                    !wanted(action, notify, true),
                    "null sender: {action:?} {notify:?}"
                );
            }
        }
    }

    #[test]
    fn defaults_and_never() {
        let d = Notify::default();
        assert!(wanted(Action::Failed, d, false));
        assert!(wanted(Action::Delayed, d, false));
        assert!(!wanted(Action::Delivered, d, false));
        assert!(!wanted(Action::Relayed, d, false));
        for action in ALL {
            assert!(!wanted(action, Notify::NEVER, false));
        }
        let success = Notify::from_param("SUCCESS").unwrap();
        assert!(wanted(Action::Delivered, success, false));
        assert!(wanted(Action::Expanded, success, false));
        assert!(!wanted(Action::Failed, success, false));
        assert!(!wanted(Action::Delayed, success, false));
    }
}
