"""ACME end to end (docs/tls.md, Certificates): a real `postie serve` gets its
certificate from Pebble (Let's Encrypt's test CA, /usr/bin/pebble) on loopback,
with both challenge types, serves it on every TLS listener (implicit TLS and
STARTTLS, the web face too), renews it when it is due and when told to
(`postie cert renew`), and keeps the old one while Pebble is down (retries,
`postie_acme_renewal_failures` set), recovering when Pebble is back.

Everything runs in one private network namespace (network.Network): a TestDNS
answers the certificate's name with 127.0.0.1, Pebble validates against the
postie `http` (HTTP-01) and `https` (TLS-ALPN-01) listeners on the ports its
config names, and Pebble's own HTTPS certificate comes from a CA made here with
openssl (`acme.ca_file`). The issued chain is checked with Python ssl against
Pebble's root, fetched from its management interface (`/roots/0`).
"""

import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import time
import urllib.request

import pytest

from dnsserver import TestDNS
from harness import wait_until
from network import network  # noqa: F401  (the fixture)
from tlsprobe import TLS_KINDS, presented_certificate

PEBBLE = shutil.which("pebble") or "/usr/bin/pebble"
NAME = "mail.acme.test"
ACME_PORT = 14000
MANAGEMENT_PORT = 15000
# Pebble validates HTTP-01 on httpPort and TLS-ALPN-01 on tlsPort: postie's web
# listeners are put there (fixed ports are fine in the private namespace).
HTTP_PORT = 5002
TLS_PORT = 5001

pytestmark = pytest.mark.skipif(not os.path.exists(PEBBLE), reason="pebble is not installed")


def make_test_ca(root):
    """A CA and a certificate for 127.0.0.1 signed by it: Pebble's HTTPS."""
    ca_key, ca_cert = os.path.join(root, "ca.key"), os.path.join(root, "ca.pem")
    key, csr, cert = (os.path.join(root, n) for n in ("pebble.key", "pebble.csr", "pebble.pem"))
    ext = os.path.join(root, "ext.cnf")
    with open(ext, "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n")

    def run(*argv):
        subprocess.run(["openssl"] + list(argv), check=True, capture_output=True)

    run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", ca_key, "-out", ca_cert, "-days", "2", "-subj", "/CN=postie test CA")
    run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", key, "-out", csr, "-subj", "/CN=127.0.0.1")
    run("x509", "-req", "-in", csr, "-CA", ca_cert, "-CAkey", ca_key, "-CAcreateserial",
        "-out", cert, "-days", "2", "-extfile", ext)
    return ca_cert, cert, key


class Pebble:
    """Pebble in the test's network namespace."""

    def __init__(self, network, root, dns, validity_secs=None):
        self.network = network
        self.root = root
        self.dns = dns
        self.ca, cert, key = make_test_ca(root)
        config = {
            "pebble": {
                "listenAddress": "127.0.0.1:%d" % ACME_PORT,
                "managementListenAddress": "127.0.0.1:%d" % MANAGEMENT_PORT,
                "certificate": cert,
                "privateKey": key,
                "httpPort": HTTP_PORT,
                "tlsPort": TLS_PORT,
                "ocspResponderURL": "",
                "externalAccountBindingRequired": False,
            }
        }
        if validity_secs is not None:
            config["pebble"]["certificateValidityPeriod"] = validity_secs
        self.config_path = os.path.join(root, "pebble.json")
        with open(self.config_path, "w") as f:
            json.dump(config, f)
        self.log_path = os.path.join(root, "pebble.log")
        self.proc = None
        self.starts = 0

    @property
    def directory(self):
        return "https://127.0.0.1:%d/dir" % ACME_PORT

    def start(self):
        self.starts += 1
        env = dict(os.environ, PEBBLE_VA_NOSLEEP="1", PEBBLE_WFE_NONCEREJECT="0")
        log = open(self.log_path, "ab")
        try:
            self.proc = self.network.popen(
                [PEBBLE, "-config", self.config_path, "-dnsserver", self.dns.nameserver],
                stdout=log, stderr=subprocess.STDOUT, env=env)
        finally:
            log.close()
        self.network.wait_listening("127.0.0.1", ACME_PORT, proc=self.proc, what="pebble")
        self.network.wait_listening("127.0.0.1", MANAGEMENT_PORT, proc=self.proc, what="pebble")
        return self

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(20)

    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def root_pem(self):
        """The root this Pebble run signs under (a new one at every start)."""
        ctx = ssl.create_default_context(cafile=self.ca)
        with self.network.netns():
            url = "https://127.0.0.1:%d/roots/0" % MANAGEMENT_PORT
            with urllib.request.urlopen(url, context=ctx, timeout=15) as r:
                return r.read().decode()


@pytest.fixture
def acme_env(network, tmp_path):
    names = (NAME, "autoconfig.acme.test", "mta-sts.acme.test")
    dns = TestDNS(network, [{"name": n, "type": "A", "value": "127.0.0.1"} for n in names],
                  zones=["test"]).start()
    pebble = None

    def make(validity_secs=None):
        nonlocal pebble
        pebble = Pebble(network, str(tmp_path), dns, validity_secs).start()
        return pebble

    yield make
    if pebble is not None:
        pebble.stop()


def acme_server(server_factory, network, pebble, challenge, **acme):
    listen = {
        "smtp": ["127.0.0.1:0"], "submission": ["127.0.0.1:0"], "submissions": ["127.0.0.1:0"],
        "pop3": ["127.0.0.1:0"], "pop3s": ["127.0.0.1:0"],
        "imap": ["127.0.0.1:0"], "imaps": ["127.0.0.1:0"],
        "http": ["127.0.0.1:%d" % HTTP_PORT], "https": ["127.0.0.1:%d" % TLS_PORT],
    }
    section = {
        "directory": pebble.directory,
        "contact": "mailto:postmaster@acme.test",
        "challenge": challenge,
        "ca_file": pebble.ca,
        "check_secs": 1,
    }
    section.update(acme)
    return server_factory(network=network, name="acme", listen=listen,
                          extra={"hostname": NAME, "acme": section})


def served(server, kind, cafile):
    """The leaf (DER) `kind` presents in a handshake that verifies against
    CAFILE for NAME; STARTTLS first where the listener speaks clear text."""
    return presented_certificate(server, kind, ssl.create_default_context(cafile=cafile), NAME)


def status(server):
    return json.loads(server.cli("cert", "status", "--json").stdout)


def metric(server, name):
    with server.netns():
        url = "http://127.0.0.1:%d/metrics" % HTTP_PORT
        with urllib.request.urlopen(url, timeout=15) as r:
            text = r.read().decode()
    m = re.search(r"^%s (\S+)$" % re.escape(name), text, re.M)
    return float(m.group(1)) if m else None


def write_root(pebble, tmp_path, n):
    path = os.path.join(str(tmp_path), "pebble-root-%d.pem" % n)
    with open(path, "w") as f:
        f.write(pebble.root_pem())
    return path


def wait_served_everywhere(server, root, differs_from=None, timeout=60):
    """Polls until every TLS listener presents one certificate verifying
    against ROOT (and other than DIFFERS_FROM); returns its DER."""
    seen = {}

    def check():
        seen.clear()
        for kind in TLS_KINDS:
            try:
                seen[kind] = served(server, kind, root)
            except (ssl.SSLError, OSError):
                return False
        ders = set(seen.values())
        return len(ders) == 1 and differs_from not in ders

    wait_until(check, timeout=timeout, interval=0.3,
               message="the ACME certificate on every listener:\n%s" % server.log_tail(40))
    return seen["https"]


@pytest.mark.parametrize("challenge", ["tls-alpn-01", "http-01"])
def test_a_fresh_server_gets_a_certificate_and_serves_it_everywhere(
        network, acme_env, server_factory, tmp_path, challenge):
    pebble = acme_env()
    server = acme_server(server_factory, network, pebble, challenge)
    root = write_root(pebble, tmp_path, 1)
    first = wait_served_everywhere(server, root)
    st = status(server)
    assert st["source"] == "acme", st
    assert st["names"] == [NAME], st
    assert "Pebble" in st["issuer"], st
    assert st["chain"] >= 2, st
    assert metric(server, "postie_tls_certificate_not_after_seconds") == st["not_after_unix"]
    assert metric(server, "postie_acme_renewal_failures") == 0
    # The challenge answers are gone from the store once the order is done.
    if challenge == "tls-alpn-01":
        assert "TLS-ALPN-01 validation answered" in server.log_text()

    # `postie cert renew`: a new certificate, served without a restart.
    p = network.run([server.bin, "cert", "renew", "--config", server.config_path], timeout=120)
    assert p.returncode == 0, (p.stdout, p.stderr)
    out = p.stdout.decode()
    assert "issued: serial" in out, out
    serial = re.search(r"serial ([0-9a-f]+)", out).group(1)
    assert serial != st["serial"]
    renewed = wait_served_everywhere(server, root, differs_from=first)
    assert status(server)["serial"] == serial
    # SIGHUP reloads the generated certificate underneath; the ACME one stays on top.
    reloads = server.log_text().count("reloaded the configuration")
    server.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: server.log_text().count("reloaded the configuration") > reloads,
               message="the reload")
    assert {served(server, kind, root) for kind in TLS_KINDS} == {renewed}
    assert server.starts == 1


def test_a_client_offering_acme_alpn_gets_the_normal_certificate(
        network, acme_env, server_factory, tmp_path):
    pebble = acme_env()
    server = acme_server(server_factory, network, pebble, "tls-alpn-01")
    root = write_root(pebble, tmp_path, 1)
    leaf = wait_served_everywhere(server, root)
    # No order pending: `acme-tls/1` offered (with http/1.1) changes nothing, and
    # nothing is negotiated, as before.
    for alpn in (["acme-tls/1"], ["h2", "http/1.1", "acme-tls/1"], ["http/1.1"]):
        ctx = ssl.create_default_context(cafile=root)
        ctx.set_alpn_protocols(alpn)
        with server.netns():
            sock = socket.create_connection(server.addr("https"), timeout=15)
        with ctx.wrap_socket(sock, server_hostname=NAME) as tls:
            assert tls.getpeercert(binary_form=True) == leaf
            assert tls.selected_alpn_protocol() is None, alpn


def test_renews_when_due_and_survives_the_ca_being_down(
        network, acme_env, server_factory, tmp_path):
    # Pebble issues for 40 days; renewing 45 days ahead makes each one due at once.
    pebble = acme_env(validity_secs=40 * 86400)
    server = acme_server(server_factory, network, pebble, "http-01", renew_before_days=45)
    root = write_root(pebble, tmp_path, 1)
    first = wait_served_everywhere(server, root)
    second = wait_served_everywhere(server, root, differs_from=first)
    assert "why=\"expires soon\"" in server.log_text() or "expires soon" in server.log_text()

    # The CA goes away: the last certificate stays, failures are counted and logged.
    pebble.stop()
    wait_until(lambda: (metric(server, "postie_acme_renewal_failures") or 0) >= 2,
               timeout=60, interval=0.3, message="renewal failures counted")
    log = server.log_text()
    assert log.count("certificate renewal failed") >= 2, server.log_tail(40)
    assert "ERROR" in log or "error" in log
    assert status(server)["source"] == "acme"
    # Served unchanged on every listener.
    ders = {served(server, kind, root) for kind in TLS_KINDS}
    assert len(ders) == 1, "one certificate everywhere while the CA is down"
    held = ders.pop()

    # The CA is back (with a new root and no memory of the account): the server
    # recovers by itself and the failure gauge goes back to 0.
    pebble.start()
    root2 = write_root(pebble, tmp_path, 2)
    wait_served_everywhere(server, root2, differs_from=held, timeout=90)
    wait_until(lambda: metric(server, "postie_acme_renewal_failures") == 0,
               timeout=30, message="failures reset after a success")
    assert server.starts == 1


def test_a_new_local_domain_adds_its_service_names(network, acme_env, server_factory, tmp_path):
    pebble = acme_env()
    server = acme_server(server_factory, network, pebble, "tls-alpn-01",
                         include_service_names=True)
    root = write_root(pebble, tmp_path, 1)
    first = wait_served_everywhere(server, root)
    assert status(server)["names"] == [NAME]
    # A new local domain: its autoconfig. and mta-sts. names are ordered, by the
    # running server, at its next check.
    server.add_domain("acme.test")
    wait_served_everywhere(server, root, differs_from=first)
    wait_until(lambda: status(server)["names"] == [NAME, "autoconfig.acme.test",
                                                   "mta-sts.acme.test"],
               message="the service names in the certificate")
    ctx = ssl.create_default_context(cafile=root)
    with server.netns():
        sock = socket.create_connection(server.addr("https"), timeout=15)
    with ctx.wrap_socket(sock, server_hostname="mta-sts.acme.test") as tls:
        assert tls.getpeercert()["subjectAltName"]


def test_cert_status_of_the_generated_certificate(server_factory):
    server = server_factory()
    st = status(server)
    assert set(st) == {"source", "location", "subject", "names", "issuer", "not_before",
                       "not_after", "not_after_unix", "serial", "chain", "note"}, st
    assert st["source"] == "generated", st
    assert "127.0.0.1" in st["names"] and "mx.test.example" in st["names"], st
    assert st["location"].endswith("tls/cert.pem"), st
    assert st["note"] is None
    text = server.cli("cert", "status").stdout
    assert re.search(r"^source: +generated$", text, re.M), text
    assert re.search(r"^not after: +\d{4}-\d\d-\d\dT", text, re.M), text
    assert st["serial"] in text


def test_nodes_on_one_store_share_the_certificate_and_the_challenges(
        cluster_db, network, acme_env, server_factory, tmp_path):
    # Two nodes on one PostgreSQL store; DNS sends the CA to node A (127.0.0.1)
    # only. Node B never sees a validation, yet serves what was ordered, and an
    # order made with B's config is validated through A, which reads the
    # challenge answers from the store.
    pebble = acme_env()
    nodes = []
    for name, addr in (("a", "127.0.0.1"), ("b", "127.0.0.3")):
        if addr != "127.0.0.1":
            network.add_address(addr)
        listen = {
            "smtp": ["%s:25" % addr], "submission": [], "submissions": ["%s:465" % addr],
            "pop3": [], "pop3s": [], "imap": [], "imaps": ["%s:993" % addr],
            "http": ["%s:%d" % (addr, HTTP_PORT)], "https": ["%s:%d" % (addr, TLS_PORT)],
        }
        nodes.append(server_factory(
            network=network, name=name, listen=listen,
            extra={"hostname": NAME, "store": {"url": cluster_db},
                   "acme": {"directory": pebble.directory, "ca_file": pebble.ca,
                            "challenge": "http-01", "check_secs": 1}}))
    a, b = nodes
    root = write_root(pebble, tmp_path, 1)
    kinds = ("submissions", "imaps", "https")

    def same_everywhere(differs_from=None):
        ders = set()
        for node_ in nodes:
            for kind in kinds:
                try:
                    ders.add(served(node_, kind, root))
                except (ssl.SSLError, OSError):
                    return None
        if len(ders) == 1 and differs_from not in ders:
            return ders.pop()
        return None

    wait_until(lambda: same_everywhere() is not None, timeout=60, interval=0.3,
               message="one ACME certificate on both nodes:\n%s\n%s"
               % (a.log_tail(20), b.log_tail(20)))
    first = same_everywhere()
    p = network.run([b.bin, "cert", "renew", "--config", b.config_path], timeout=120)
    assert p.returncode == 0, (p.stdout, p.stderr)
    wait_until(lambda: same_everywhere(differs_from=first) is not None, timeout=60,
               interval=0.3, message="the renewed certificate on both nodes")
    # B's order passed although the CA reaches only A: A answered HTTP-01 from the
    # store. Pebble fetched from A, never from B's address.
    assert "127.0.0.3" not in pebble.log()
    assert a.starts == 1 and b.starts == 1


def test_sighup_serves_a_certificate_renewed_by_another_process_at_once(
        network, acme_env, server_factory, tmp_path):
    """With a long `check_secs`, the running server would pick the certificate that
    `postie cert renew` stored only at its next check; a SIGHUP makes it look now."""
    pebble = acme_env()
    server = acme_server(server_factory, network, pebble, "tls-alpn-01", check_secs=3600)
    root = write_root(pebble, tmp_path, 1)
    first = wait_served_everywhere(server, root)
    p = network.run([server.bin, "cert", "renew", "--config", server.config_path], timeout=120)
    assert p.returncode == 0, (p.stdout, p.stderr)
    server.proc.send_signal(signal.SIGHUP)
    renewed = wait_served_everywhere(server, root, differs_from=first, timeout=30)
    assert renewed != first
