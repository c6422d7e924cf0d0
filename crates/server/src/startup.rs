//! The human summary `postie serve` prints once its listeners are up: where the data
//! and the certificate are, how many domains and accounts exist, and, on a first
//! start, the two commands that create the first ones.
//!
//! Where it sits: called by [`crate::run_with_store`] after binding; the text itself
//! is built by a pure function ([`summary`]) so it is tested without a server. Reads
//! the store (two list queries), writes nothing.

use std::path::{Path, PathBuf};

/// What the summary reports; gathered by [`gather`], rendered by [`summary`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Facts {
    /// The server's host name (`hostname`).
    pub hostname: String,
    /// The data directory, absolute when it could be resolved.
    pub data_dir: PathBuf,
    /// The certificate file the TLS listeners present.
    pub certificate: PathBuf,
    /// True when Postie made the certificate itself (no `tls.cert`).
    pub self_signed: bool,
    /// With `[acme]`: the CA's directory the certificate comes from.
    pub acme: Option<String>,
    /// Domains served, if the store could say.
    pub domains: Option<usize>,
    /// Accounts, if the store could say.
    pub accounts: Option<usize>,
}

/// Collects the facts for the summary from the config and the store.
pub(crate) async fn gather(config: &config::Config, store: &dyn store::Store) -> Facts {
    let certificate = crate::tls::certificate_path(config);
    Facts {
        hostname: config.hostname.clone(),
        data_dir: absolute(&config.data_dir),
        certificate: absolute(&certificate),
        self_signed: certificate_is_generated(config),
        acme: config.acme.as_ref().map(|a| a.directory.clone()),
        domains: store.domain_list().await.ok().map(|d| d.len()),
        accounts: store.account_list().await.ok().map(|a| a.len()),
    }
}

/// True when the TLS listeners present the certificate Postie generated (no
/// `tls.cert` and `tls.key` pair configured), as [`crate::tls::certificate_path`] decides.
fn certificate_is_generated(config: &config::Config) -> bool {
    !(config.tls.cert.is_some() && config.tls.key.is_some())
}

/// `path` made absolute against the working directory (the admin commands may be run
/// from elsewhere, so a relative `./postie-data` would mislead).
fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// The block of text, lines ending in `\n`.
pub(crate) fn summary(facts: &Facts) -> String {
    let mut out = format!("\nPostie is running as {}.\n", facts.hostname);
    out += &format!("  data:        {}\n", facts.data_dir.display());
    let kind = if facts.self_signed {
        "self-signed: clients need it as a CA file (--ca) or an exception"
    } else {
        "from tls.cert"
    };
    match &facts.acme {
        Some(directory) => {
            out += &format!(
                "  certificate: from the ACME CA {directory} (renewed in the background; \
                 postie cert status)\n"
            )
        }
        None => out += &format!("  certificate: {} ({kind})\n", facts.certificate.display()),
    }
    let count = |n: Option<usize>| n.map_or_else(|| "?".to_string(), |n| n.to_string());
    out += &format!(
        "  domains:     {}, accounts: {}\n",
        count(facts.domains),
        count(facts.accounts)
    );
    if facts.domains == Some(0) || facts.accounts == Some(0) {
        out += "  Nothing to deliver to yet. Create the first domain and account\n";
        out += "  (add --config FILE if the server runs with one):\n";
        if facts.domains == Some(0) {
            out += "    postie domain add example.org\n";
        }
        out += "    echo 'a long secret' | postie user add alice@example.org --password-stdin\n";
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(domains: usize, accounts: usize) -> Facts {
        Facts {
            hostname: "mx.example.org".into(),
            data_dir: "/srv/postie-data".into(),
            certificate: "/srv/postie-data/tls/cert.pem".into(),
            self_signed: true,
            acme: None,
            domains: Some(domains),
            accounts: Some(accounts),
        }
    }

    #[test]
    fn a_first_start_names_the_two_commands() {
        let text = summary(&facts(0, 0));
        assert!(text.contains("data:        /srv/postie-data\n"), "{text}");
        assert!(text.contains("certificate: /srv/postie-data/tls/cert.pem (self-signed"));
        assert!(text.contains("domains:     0, accounts: 0"));
        assert!(text.contains("postie domain add example.org"));
        assert!(text.contains("postie user add alice@example.org --password-stdin"));
    }

    #[test]
    fn a_domain_without_accounts_asks_only_for_an_account() {
        let text = summary(&facts(1, 0));
        assert!(!text.contains("postie domain add"), "{text}");
        assert!(text.contains("postie user add"), "{text}");
    }

    #[test]
    fn a_server_in_use_gets_no_advice() {
        let text = summary(&facts(2, 5));
        assert!(text.contains("domains:     2, accounts: 5"), "{text}");
        assert!(!text.contains("postie "), "{text}");
        assert!(text.lines().count() <= 5, "short: {text}");
    }

    #[test]
    fn a_configured_certificate_is_named_as_such() {
        let mut f = facts(1, 1);
        f.self_signed = false;
        assert!(summary(&f).contains("(from tls.cert)"));
    }

    #[test]
    fn an_acme_certificate_names_its_ca() {
        let mut f = facts(1, 1);
        f.acme = Some("https://acme.example/dir".into());
        let text = summary(&f);
        assert!(
            text.contains("certificate: from the ACME CA https://acme.example/dir"),
            "{text}"
        );
    }

    #[test]
    fn relative_paths_become_absolute() {
        let p = absolute(Path::new("postie-data"));
        assert!(p.is_absolute());
        assert!(p.ends_with("postie-data"));
    }
}
