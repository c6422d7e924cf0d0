//! Lines logged through the `log` crate (rustls, tokio-rustls and a few other
//! libraries use it) go to the same `tracing` subscriber as Postie's own lines, with
//! one correction: rustls warns "Illegal SNI …" whenever a client sends an IP address
//! as its server name (RFC 6066 §3 allows only host names), which ordinary clients
//! connecting by address do (OpenSSL's `s_client -servername 127.0.0.1`, some mail
//! clients). That is the client's business, not a problem of the server, so it is
//! logged at debug level instead of as a warning.
//!
//! Where it sits: installed once by `init_logging` (main.rs), after the subscriber.

use tracing_log::AsLog;

/// Sends `log` records on to `tracing`, demoting rustls' complaints about the
/// client's SNI.
struct Bridge(tracing_log::LogTracer);

impl log::Log for Bridge {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        self.0.enabled(metadata)
    }

    fn log(&self, record: &log::Record<'_>) {
        if is_client_sni_complaint(record) {
            let demoted = log::Record::builder()
                .level(log::Level::Debug)
                .target(record.target())
                .args(*record.args())
                .module_path(record.module_path())
                .file(record.file())
                .line(record.line())
                .build();
            self.0.log(&demoted);
        } else {
            self.0.log(record);
        }
    }

    fn flush(&self) {}
}

/// rustls' warnings about the server name a client sent (`Illegal SNI extension: …`,
/// `Illegal SNI hostname received …`).
fn is_client_sni_complaint(record: &log::Record<'_>) -> bool {
    record.level() == log::Level::Warn
        && record.target().starts_with("rustls")
        && record.args().to_string().starts_with("Illegal SNI")
}

/// Routes the `log` crate into the global `tracing` subscriber, which must already be
/// set (its level filter bounds what `log` records are made at all).
pub fn install() {
    if log::set_boxed_logger(Box::new(Bridge(tracing_log::LogTracer::new()))).is_ok() {
        log::set_max_level(tracing::level_filters::LevelFilter::current().as_log());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record_is_complaint(level: log::Level, target: &str, text: &str) -> bool {
        is_client_sni_complaint(
            &log::Record::builder()
                .level(level)
                .target(target)
                .args(format_args!("{text}"))
                .build(),
        )
    }

    #[test]
    fn only_rustls_sni_warnings_are_demoted() {
        let ip = "Illegal SNI extension: ignoring IP address presented as hostname (\"127.0.0.1\")";
        assert!(record_is_complaint(
            log::Level::Warn,
            "rustls::msgs::handshake",
            ip
        ));
        assert!(!record_is_complaint(
            log::Level::Warn,
            "rustls::msgs::handshake",
            "other trouble"
        ));
        assert!(!record_is_complaint(log::Level::Warn, "somecrate", ip));
        assert!(!record_is_complaint(
            log::Level::Error,
            "rustls::msgs::handshake",
            ip
        ));
    }
}
