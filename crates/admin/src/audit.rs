//! The audit trail: one log line per administrative change, whichever face made it.
//!
//! Where it sits: called by the faces (the CLI, the web pages and API) after an admin
//! operation of this crate changed something, never by the operations themselves,
//! which do not know who asked. The line goes to the `postie::audit` tracing target,
//! so a log filter can route or keep it apart.

/// Logs that `actor` did `action` to `target`: `cli`, or the signed-in address, or
/// `token:NAME` for an API token; an action like `user.add`; the object's name (an
/// address, a token name, a queue id). Never a password or a token's secret.
pub fn log(actor: &str, action: &str, target: &str) {
    tracing::info!(
        target: "postie::audit",
        actor,
        action,
        object = target,
        "admin action"
    );
}

#[cfg(test)]
mod tests {
    #[test]
    fn logging_without_a_subscriber_is_harmless() {
        super::log("cli", "user.add", "alice@example.org");
    }
}
