"""SIGHUP reloads the configuration and the TLS certificate, and never stops
the server (crates/server/src/reload.rs, docs/config.md "Reloading"): reloadable
keys reach new sessions, sessions already open keep theirs, a broken file
changes nothing, keys that need a restart are named in a warning. Counters get
new limits and keep their counts (hourly sending, login failures); DNS
blocklists are set up again; `log.level` changes the log filter unless RUST_LOG
is set."""

import hashlib
import os
import signal
import socket
import ssl

from dnsserver import TestDNS
from harness import IMAP_LISTEN, POP3_LISTEN, wait_until
from network import network  # noqa: F401  (the fixture)
from sendtools import ip_cert
from smtpraw import RawSMTP
from tlsprobe import TLS_KINDS, presented_certificate

ALICE = "alice@example.org"

RELOADED = "reloaded the configuration"


def count(server, text):
    return server.log_text().count(text)


def hup(server, expect, before=None):
    """Sends SIGHUP and waits until the log has one more line with EXPECT (a
    reload's result); the server must still run."""
    seen = count(server, expect) if before is None else before
    server.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: count(server, expect) > seen or not server.running(),
               message="%r in the log after SIGHUP" % expect)
    assert server.running(), "SIGHUP stopped the server:\n" + server.log_tail()


def ehlo_size(server):
    with server.smtp() as s:
        s.ehlo("client.test.example")
        return int(s.esmtp_features["size"])


def fingerprint(server, kind="submissions"):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with server.netns():
        sock = socket.create_connection(server.addr(kind), timeout=15)
    with ctx.wrap_socket(sock) as tls:
        return hashlib.sha256(tls.getpeercert(binary_form=True)).hexdigest()


def starttls_fingerprint(server):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with server.smtp("submission") as s:
        s.starttls(context=ctx)
        return hashlib.sha256(s.sock.getpeercert(binary_form=True)).hexdigest()


def any_listener_fingerprint(server, kind):
    """The certificate KIND presents, after STARTTLS (or STLS) where the
    listener starts in clear text."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return hashlib.sha256(presented_certificate(server, kind, ctx)).hexdigest()


def file_fingerprint(path):
    with open(path) as f:
        return hashlib.sha256(ssl.PEM_cert_to_DER_cert(f.read())).hexdigest()


def test_sighup_reloads_and_the_server_keeps_running(server_factory):
    srv = server_factory()
    hup(srv, RELOADED)
    hup(srv, RELOADED)  # and again
    assert "changed=none" in srv.log_text()
    assert ehlo_size(srv) == 1048576


def test_new_sessions_get_a_reloaded_limit_open_ones_keep_theirs(server_factory):
    srv = server_factory()
    old = srv.smtp()
    old.ehlo("client.test.example")
    assert int(old.esmtp_features["size"]) == 1048576
    srv.config["smtp"]["max_message_size"] = 2097152
    srv.write_config()
    hup(srv, RELOADED)
    assert "changed=smtp.max_message_size" in srv.log_text()
    assert ehlo_size(srv) == 2097152
    # The session opened before the reload goes on with its own configuration.
    old.ehlo("client.test.example")
    assert int(old.esmtp_features["size"]) == 1048576
    old.quit()


def test_a_broken_config_is_refused_and_the_old_one_stays(server_factory):
    srv = server_factory()
    srv.write_config(open(srv.config_path).read().replace(
        "max_message_size = 1048576", "max_message_size = 2097152\nmax_recipent = 3"))
    hup(srv, "reload refused: the config file is not valid")
    assert "max_recipent" in srv.log_text(), "the reason is logged"
    assert RELOADED not in srv.log_text()
    assert ehlo_size(srv) == 1048576
    # Not TOML at all.
    srv.write_config("smtp = [\n")
    hup(srv, "reload refused: the config file is not valid")
    assert ehlo_size(srv) == 1048576


def test_replaced_certificate_files_are_used_by_new_handshakes(server_factory, tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    cert, key = ip_cert(str(first), "127.0.0.1", name="first.test")
    srv = server_factory(extra={"tls": {"cert": cert, "key": key}},
                         listen=dict(POP3_LISTEN, **IMAP_LISTEN))
    old = file_fingerprint(cert)
    assert fingerprint(srv) == old
    # certbot / logrotate: new files at the same paths.
    new_cert, new_key = ip_cert(str(second), "127.0.0.1", name="second.test")
    os.replace(new_key, key)
    os.replace(new_cert, cert)
    assert fingerprint(srv) != file_fingerprint(cert), "not before the reload"
    hup(srv, RELOADED)
    assert fingerprint(srv) == file_fingerprint(cert)
    assert starttls_fingerprint(srv) == file_fingerprint(cert)
    # Every TLS listener, implicit TLS and STARTTLS, the web face too.
    for kind in TLS_KINDS:
        assert any_listener_fingerprint(srv, kind) == file_fingerprint(cert) != old, kind


def test_a_certificate_that_does_not_load_changes_nothing(server_factory, tmp_path):
    cert, key = ip_cert(str(tmp_path), "127.0.0.1")
    srv = server_factory(extra={"tls": {"cert": cert, "key": key}})
    before = fingerprint(srv)
    srv.config["smtp"]["max_message_size"] = 2097152
    srv.write_config()
    with open(cert, "w") as f:
        f.write("not a certificate\n")
    hup(srv, "reload refused: cannot load the TLS certificate")
    assert fingerprint(srv) == before
    assert ehlo_size(srv) == 1048576


def test_listen_change_needs_a_restart_the_rest_is_applied(server_factory):
    srv = server_factory()
    port = srv.port("smtp")
    srv.config["listen"]["smtp"] = ["127.0.0.1:0", "127.0.0.5:0"]
    srv.config["dns"]["nameservers"] = ["127.0.0.1:53"]
    srv.config["smtp"]["max_message_size"] = 3145728
    srv.write_config()
    hup(srv, RELOADED)
    log = srv.log_text()
    assert "listen.smtp changed but needs a restart" in log
    assert "dns.nameservers changed but needs a restart" in log
    assert " WARN " in [l for l in log.splitlines() if "listen.smtp changed" in l][0]
    assert srv.port("smtp") == port
    assert ehlo_size(srv) == 3145728


def raw(server, kind="smtp", source=None):
    """A RawSMTP session to KIND, from the client address SOURCE if given."""
    with server.netns():
        sock = socket.create_connection(
            server.addr(kind), timeout=15,
            source_address=(source, 0) if source else None)
    return RawSMTP(sock, timeout=15)


def reload_with(server, section, **keys):
    """Sets KEYS in [SECTION] of the config file, sends SIGHUP and checks that
    the reload named each key as changed."""
    server.config.setdefault(section, {}).update(keys)
    server.write_config()
    hup(server, RELOADED)
    line = [l for l in server.log_text().splitlines() if RELOADED in l][-1]
    for key in keys:
        assert "%s.%s" % (section, key) in line, line


def test_a_lowered_hourly_limit_counts_what_came_before(server_factory):
    srv = server_factory()
    c = raw(srv)
    c.ehlo()
    for _ in range(2):  # counted at MAIL, against the default of 2000 an hour
        c.expect("MAIL FROM:<x@remote.example>", 250)
        c.expect("RSET", 250)
    reload_with(srv, "smtp", max_messages_per_hour_per_ip=2)
    # The two messages before the reload count: the next is over the new limit,
    # in the open session as in a new one.
    c.expect("MAIL FROM:<x@remote.example>", 451, "4.7.1")
    c.close()
    c = raw(srv)
    c.ehlo()
    c.expect("MAIL FROM:<x@remote.example>", 451, "4.7.1")
    c.close()
    reload_with(srv, "smtp", max_messages_per_hour_per_ip=3)
    c = raw(srv)
    c.ehlo()
    c.expect("MAIL FROM:<x@remote.example>", 250)
    c.expect("RSET", 250)
    c.expect("MAIL FROM:<x@remote.example>", 451, "4.7.1")
    c.close()


def failed_login(server, password):
    c = raw(server, "submission")
    try:
        c.ehlo()
        return c.auth_plain(ALICE, password)
    finally:
        c.close()


def test_a_lowered_login_failure_limit_counts_the_failures_before(server_factory):
    srv = server_factory(auth={"failure_delay_ms": 0, "max_failures_per_ip": 10})
    srv.add_user(ALICE, "alice-secret")
    reply = failed_login(srv, "guess-1")
    assert reply.code == 535, reply
    reload_with(srv, "auth", max_failures_per_ip=2)
    reply = failed_login(srv, "guess-2")
    assert reply.code == 535, reply
    # Two failures of two: locked out, even with the right password.
    reply = failed_login(srv, "alice-secret")
    assert reply.code == 454 and reply.enhanced == "4.7.0", reply
    assert "locked out after repeated failed logins" in srv.log_text()


def test_a_dnsbl_zone_added_by_reload_refuses_listed_clients(network, server_factory):
    dns = TestDNS(network, [
        {"name": "2.0.0.127.zen.test", "type": "A", "value": "127.0.0.2"},
        {"name": "zen.test", "type": "TXT", "value": "a test blocklist"},
    ]).start()
    srv = server_factory(network=network, extra={"dns": {"nameservers": [dns.nameserver]}})
    srv.add_user(ALICE, "alice-secret")
    listed = "127.0.0.2"  # RFC 5782 §5: every list's test entry
    c = raw(srv, source=listed)
    c.ehlo()
    c.expect("MAIL FROM:<someone@listed.example>", 250)
    c.expect("RCPT TO:<%s>" % ALICE, 250)
    c.close()
    reload_with(srv, "smtp", dnsbl_zones=["zen.test"])
    c = raw(srv, source=listed)
    c.ehlo()
    c.expect("MAIL FROM:<someone@listed.example>", 250)
    r = c.expect("RCPT TO:<%s>" % ALICE, 554, "5.7.1")
    assert "listed by zen.test" in r.text, r
    c.close()


def debug_lines(server):
    return [l for l in server.log_text().splitlines() if " DEBUG " in l]


def test_log_level_debug_takes_effect_on_reload(server_factory, monkeypatch):
    monkeypatch.delenv("RUST_LOG", raising=False)
    srv = server_factory()
    ehlo_size(srv)  # a session: "connected" is logged at debug level
    assert debug_lines(srv) == []
    reload_with(srv, "log", level="debug")
    ehlo_size(srv)
    wait_until(lambda: any(l.endswith("connected") for l in debug_lines(srv)),
               message="a debug line for the new session")
    reload_with(srv, "log", level="info")
    seen = len(debug_lines(srv))
    ehlo_size(srv)
    assert not any(l.endswith("connected") for l in debug_lines(srv)[seen:]), \
        "back at info: no debug line for this session"


def test_rust_log_wins_over_a_reloaded_log_level(server_factory, monkeypatch):
    monkeypatch.setenv("RUST_LOG", "info")
    srv = server_factory()
    reload_with(srv, "log", level="debug")
    assert "RUST_LOG is set and wins" in srv.log_text()
    ehlo_size(srv)
    assert debug_lines(srv) == []
