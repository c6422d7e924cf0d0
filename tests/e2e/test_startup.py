"""What `postie serve` tells the person who started it: the one-line reason and a
non-zero exit when a port is taken, the summary block after the listeners (data,
certificate, counts, and the first two commands on a first start), one line for
the database instead of one per migration step."""

import os
import socket
import subprocess

from harness import Server, postie_bin, to_toml, wait_until


def summary_block(srv):
    """The human block printed after `postie ready` (waits for its last line)."""
    wait_until(lambda: "domains:" in srv.log_text(), timeout=10, message="startup summary")
    text = srv.log_text()
    start = text.index("Postie is running as")
    return text[start:]


def test_port_in_use_exits_non_zero_naming_address_and_key(tmp_path):
    # Another program holds the port, as a second `postie serve &` or a system MTA would.
    holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    port = holder.getsockname()[1]
    try:
        config = {
            "hostname": "mx.test.example",
            "data_dir": str(tmp_path / "data"),
            "listen": {"smtp": ["127.0.0.1:%d" % port], "submission": [], "submissions": [],
                       "pop3": [], "pop3s": [], "imap": [], "imaps": []},
            "dns": {"nameservers": ["127.0.0.1:9"]},
        }
        cfg = tmp_path / "postie.toml"
        cfg.write_text(to_toml(config))
        p = subprocess.run([postie_bin(), "serve", "--config", str(cfg)],
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=60,
                           env=dict(os.environ, NO_COLOR="1"))
    finally:
        holder.close()
    err = p.stderr.decode("utf-8", "replace")
    assert p.returncode != 0, err
    last = err.strip().splitlines()[-1]
    assert last.startswith("postie: cannot listen on 127.0.0.1:%d for smtp" % port), last
    assert "already in use" in last, last
    assert "`listen.smtp`" in last, last
    # It never claimed to be ready.
    assert "postie ready" not in err


def test_first_start_prints_where_things_are_and_the_first_commands(server_factory):
    srv = server_factory()
    block = summary_block(srv)
    assert "data:        %s" % os.path.abspath(srv.data_dir) in block, block
    cert = os.path.join(os.path.abspath(srv.data_dir), "tls", "cert.pem")
    assert "certificate: %s (self-signed" % cert in block, block
    assert os.path.exists(cert)
    assert "domains:     0, accounts: 0" in block, block
    assert "postie domain add example.org" in block, block
    assert "postie user add alice@example.org --password-stdin" in block, block
    # One line for the new database, not one per migration step.
    log = srv.log_text()
    assert log.count("created the database") == 1, log
    assert "migrating database schema" not in log, log


def test_a_server_in_use_gets_counts_and_no_advice(server_factory):
    srv = server_factory()
    srv.add_user("alice@example.org", "alice-secret")
    srv.add_user("bob@example.org", "bob-secret")
    srv.add_domain("example.net")
    srv.restart()
    block = summary_block(srv)
    assert "domains:     2, accounts: 2" in block, block
    assert "postie domain add" not in block, block
    assert "created the database" not in srv.log_text()


def test_a_configured_certificate_is_named(server_factory, tmp_path):
    # Reuse a generated pair as the operator's own files.
    first = Server()
    try:
        first.start()
        first.stop()
        cert = os.path.join(first.data_dir, "tls", "cert.pem")
        key = os.path.join(first.data_dir, "tls", "key.pem")
        srv = server_factory(extra={"tls": {"cert": cert, "key": key}})
        block = summary_block(srv)
        assert "certificate: %s (from tls.cert)" % cert in block, block
    finally:
        first.cleanup()
