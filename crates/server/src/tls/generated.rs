//! The self-signed certificate Postie makes for itself when `tls.cert` and `tls.key`
//! are not set: `data_dir/tls/cert.pem` and `key.pem`, with `generated.names`
//! recording the names it was made for.
//!
//! Where it sits: [`super::Certificates`] asks for it at start and on every reload
//! (SIGHUP). The certificate names the host name, `localhost`, the loopback addresses
//! and every specific address a listener is bound to, so a client that connects by IP
//! address and trusts this file (`postie send --ca`, msmtp `tls_trust_file`) can
//! verify it (RFC 6125 §6.4: IP addresses are matched against iPAddress SANs, RFC 5280
//! §4.2.1.6). When those names change (a new `hostname`, a listener on another
//! address) the certificate is made again; a configured certificate is never touched.

use crate::ServerError;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

/// What happened to the generated certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Made {
    /// It was there already, made for the names wanted now.
    Existing,
    /// There was none: it was created.
    Created,
    /// There was one for other names (listed): it was replaced.
    Regenerated(Vec<String>),
}

/// What to do about the generated certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Use the files as they are.
    Keep,
    /// Make a certificate: there is none (or half of one).
    Create,
    /// Make a new certificate: the one there names other things (listed; empty when
    /// nothing records what it was made for, as with certificates of older versions).
    Regenerate(Vec<String>),
}

/// The certificate and key files of the generated certificate under `data_dir`.
pub(crate) fn paths(data_dir: &Path) -> (PathBuf, PathBuf) {
    let dir = data_dir.join("tls");
    (dir.join("cert.pem"), dir.join("key.pem"))
}

/// The file recording the names the generated certificate was made for.
fn record_path(data_dir: &Path) -> PathBuf {
    data_dir.join("tls").join("generated.names")
}

/// The subject alternative names a generated certificate must carry: the host name,
/// `localhost`, `127.0.0.1`, `::1`, then every specific address a listener is bound
/// to, in the order of the config, without duplicates. Listeners on the unspecified
/// address (`0.0.0.0`, `::`) add nothing: no client connects to that address.
pub(crate) fn names(config: &config::Config) -> Vec<String> {
    let listen = &config.listen;
    let listeners = [
        &listen.smtp,
        &listen.submission,
        &listen.submissions,
        &listen.pop3,
        &listen.pop3s,
        &listen.imap,
        &listen.imaps,
        &listen.https,
    ];
    let fixed = [
        IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(Ipv6Addr::LOCALHOST),
    ];
    let ips = fixed.into_iter().chain(
        listeners
            .into_iter()
            .flatten()
            .map(|addr| addr.ip())
            .filter(|ip| !ip.is_unspecified()),
    );
    let hosts = [config.hostname.clone(), "localhost".to_owned()];
    let mut names = Vec::new();
    for name in hosts.into_iter().chain(ips.map(|ip| ip.to_string())) {
        if !names.contains(&name) {
            names.push(name);
        }
    }
    names
}

/// Whether the certificate files can stay, given whether both exist, the names they
/// were recorded for, and the names wanted now (compared as sets).
pub(crate) fn decide(
    files_exist: bool,
    recorded: Option<Vec<String>>,
    wanted: &[String],
) -> Decision {
    if !files_exist {
        return Decision::Create;
    }
    match recorded {
        Some(was) if same_names(&was, wanted) => Decision::Keep,
        Some(was) => Decision::Regenerate(was),
        None => Decision::Regenerate(Vec::new()),
    }
}

fn same_names(a: &[String], b: &[String]) -> bool {
    fn sorted(names: &[String]) -> Vec<&str> {
        let mut v: Vec<&str> = names.iter().map(String::as_str).collect();
        v.sort_unstable();
        v.dedup();
        v
    }
    sorted(a) == sorted(b)
}

/// Makes sure `data_dir/tls` holds a self-signed certificate for `names`: keeps the
/// one there if it was made for them, else writes a new one (key, then certificate,
/// then the record, each written to a temporary file and renamed into place).
pub(crate) fn ensure(data_dir: &Path, names: &[String]) -> Result<Made, ServerError> {
    let (cert_path, key_path) = paths(data_dir);
    let exist = cert_path.exists() && key_path.exists();
    let recorded = read_record(&record_path(data_dir));
    let made = match decide(exist, recorded, names) {
        Decision::Keep => return Ok(Made::Existing),
        Decision::Create => Made::Created,
        Decision::Regenerate(was) => Made::Regenerated(was),
    };
    let dir = data_dir.join("tls");
    let io = |e: std::io::Error| ServerError::Tls(format!("{}: {e}", dir.display()));
    // Owner only, whatever the umask: the folder holds the private key.
    {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .map_err(io)?;
    }
    let generated = rcgen::generate_simple_self_signed(names.to_vec())
        .map_err(|e| ServerError::Tls(format!("cannot make a certificate for {names:?}: {e}")))?;
    replace(&key_path, generated.signing_key.serialize_pem().as_bytes()).map_err(io)?;
    replace(&cert_path, generated.cert.pem().as_bytes()).map_err(io)?;
    let mut record =
        String::from("# The names tls/cert.pem was generated for; Postie rewrites it.\n");
    for name in names {
        record.push_str(name);
        record.push('\n');
    }
    replace(&record_path(data_dir), record.as_bytes()).map_err(io)?;
    Ok(made)
}

/// The names recorded for the generated certificate, if there is a record.
fn read_record(path: &Path) -> Option<Vec<String>> {
    let text = std::fs::read_to_string(path).ok()?;
    Some(
        text.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(str::to_owned)
            .collect(),
    )
}

/// Writes `path` whole or not at all (temporary file, then rename), readable by its
/// owner only.
fn replace(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn names_carry_the_host_name_loopback_and_specific_listener_addresses() {
        let mut config = config::Config {
            hostname: "mx.example.org".into(),
            ..config::Config::default()
        };
        config.listen.smtp = vec![
            "192.0.2.7:25".parse().unwrap(),
            "0.0.0.0:26".parse().unwrap(),
        ];
        config.listen.submission = vec!["[2001:db8::1]:587".parse().unwrap()];
        config.listen.imaps = vec![
            "[::]:993".parse().unwrap(),
            "192.0.2.7:993".parse().unwrap(),
        ];
        assert_eq!(
            names(&config),
            strings(&[
                "mx.example.org",
                "localhost",
                "127.0.0.1",
                "::1",
                "192.0.2.7",
                "2001:db8::1"
            ])
        );
    }

    #[test]
    fn names_have_no_duplicates() {
        let config = config::Config {
            hostname: "localhost".into(),
            ..config::Config::default()
        };
        // The defaults listen on 127.0.0.1 only.
        assert_eq!(names(&config), strings(&["localhost", "127.0.0.1", "::1"]));
    }

    #[test]
    fn decision_keeps_a_certificate_made_for_the_same_names_in_any_order() {
        let wanted = strings(&["mx.example", "localhost", "127.0.0.1"]);
        let recorded = strings(&["127.0.0.1", "mx.example", "localhost"]);
        assert_eq!(decide(true, Some(recorded), &wanted), Decision::Keep);
    }

    #[test]
    fn decision_regenerates_for_other_names_or_without_a_record() {
        let wanted = strings(&["new.example", "localhost"]);
        let old = strings(&["old.example", "localhost"]);
        assert_eq!(
            decide(true, Some(old.clone()), &wanted),
            Decision::Regenerate(old)
        );
        assert_eq!(decide(true, None, &wanted), Decision::Regenerate(vec![]));
        assert_eq!(decide(false, None, &wanted), Decision::Create);
    }

    #[test]
    fn ensure_creates_keeps_then_regenerates() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, _) = paths(dir.path());
        let first = strings(&["a.example", "localhost", "127.0.0.1"]);
        assert_eq!(ensure(dir.path(), &first).unwrap(), Made::Created);
        let pem = std::fs::read(&cert).unwrap();
        assert_eq!(ensure(dir.path(), &first).unwrap(), Made::Existing);
        assert_eq!(std::fs::read(&cert).unwrap(), pem, "kept as it was");
        let second = strings(&["b.example", "localhost", "127.0.0.1"]);
        assert_eq!(
            ensure(dir.path(), &second).unwrap(),
            Made::Regenerated(first)
        );
        assert_ne!(std::fs::read(&cert).unwrap(), pem, "replaced");
        assert_eq!(read_record(&record_path(dir.path())), Some(second));
    }
}
