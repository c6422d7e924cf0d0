"""SCRAM-SHA-256 and SCRAM-SHA-256-PLUS (RFC 5802, RFC 7677, channel binding
`tls-exporter` per RFC 9266) on SMTP AUTH, IMAP AUTHENTICATE and POP3 AUTH, end to
end, with Python's `scramp` as the independent client.

scramp 1.5.0 computes every message and proof itself but refuses the *name*
`tls-exporter` (its README: the ssl module cannot export keying material). It takes
channel binding data as bytes for any name it accepts, so the one patch below adds the
name; the bytes come from pyOpenSSL's `export_keying_material(b"EXPORTER-Channel-
Binding", 32)` on a TLS 1.3 connection, as RFC 9266 §2 defines them.

Plain-text connections (allowed on loopback by the harness' auth.allow_plaintext)
use SCRAM-SHA-256; implicit TLS 1.3 (submissions, imaps, pop3s) uses -PLUS.
"""

import base64
import json
import socket
import struct

import pytest
import scramp.core
from OpenSSL import SSL
from scramp import ScramClient, ScramException

from harness import HOSTNAME, IMAP_LISTEN, POP3_LISTEN, wait_until

# See the module docstring: let scramp use the name RFC 9266 gives.
scramp.core.CbName.SUPPORTED_TYPES = scramp.core.CbName.SUPPORTED_TYPES | {"tls-exporter"}
scramp.core.CbName.UNSUPPORTED_TYPES = frozenset()

ALICE, PASSWORD = "alice@example.org", "alice-secret"
LISTEN = dict(POP3_LISTEN, **IMAP_LISTEN)
PLAIN, PLUS = "SCRAM-SHA-256", "SCRAM-SHA-256-PLUS"
LABEL = b"EXPORTER-Channel-Binding"
TIMEOUT = 15


def start(server_factory, **auth):
    # Short waits after failed logins: some tests fail on purpose.
    auth = dict({"failure_delay_ms": 50, "max_failure_delay_ms": 200}, **auth)
    srv = server_factory(listen=LISTEN, auth=auth)
    srv.add_user(ALICE, PASSWORD)
    return srv


def b64(data):
    return base64.b64encode(data.encode() if isinstance(data, str) else data).decode()


def unb64(text):
    return base64.b64decode(text).decode()


class Lines:
    """Line I/O over a plain socket or a pyOpenSSL connection, with a deadline on
    every read (the socket's timeout)."""

    def __init__(self, conn):
        self.conn = conn
        self.buf = b""

    def send(self, line):
        self.conn.sendall(line.encode() + b"\r\n")

    def line(self):
        while b"\n" not in self.buf:
            chunk = self.conn.recv(4096)
            if not chunk:
                raise EOFError("connection closed; have %r" % self.buf)
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.rstrip(b"\r").decode()

    def close(self):
        try:
            self.conn.close()
        except Exception:
            pass


def plain(srv, kind):
    with srv.netns():
        sock = socket.create_connection(srv.addr(kind), timeout=TIMEOUT)
    return Lines(sock)


def tls13(srv, kind, max_version=None):
    """Implicit TLS with pyOpenSSL (TLS 1.3 unless `max_version` caps it); returns
    the line reader and the tls-exporter value (None below TLS 1.3)."""
    with srv.netns():
        sock = socket.create_connection(srv.addr(kind), timeout=TIMEOUT)
    # pyOpenSSL wants a blocking socket; the deadline is the kernel's (a read past
    # it fails with WantReadError).
    sock.settimeout(None)
    deadline = struct.pack("ll", TIMEOUT, 0)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, deadline)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, deadline)
    ctx = SSL.Context(SSL.TLS_CLIENT_METHOD)
    ctx.set_verify(SSL.VERIFY_NONE, lambda *a: True)
    if max_version is not None:
        ctx.set_max_proto_version(max_version)
    conn = SSL.Connection(ctx, sock)
    conn.set_tlsext_host_name(HOSTNAME.encode())
    conn.set_connect_state()
    conn.do_handshake()
    version = conn.get_protocol_version_name()
    binding = conn.export_keying_material(LABEL, 32) if version == "TLSv1.3" else None
    return Lines(conn), binding, version


# ----- one SASL exchange, per protocol -----------------------------------------

class Smtp:
    challenge, ok = "334", "235"

    def __init__(self, io):
        self.io = io
        assert self.reply()[0].startswith("220")
        io.send("EHLO client.test.example")
        self.ehlo = self.reply()

    def reply(self):
        lines = [self.io.line()]
        while lines[-1][3:4] == "-":
            lines.append(self.io.line())
        return lines

    def mechanisms(self):
        for line in self.ehlo:
            if line[4:].startswith("AUTH "):
                return line[9:].split()
        return []

    def start(self, mech, first):
        self.io.send("AUTH %s %s" % (mech, b64(first)))
        return self.reply()[-1]

    def step(self, data):
        self.io.send(data)
        return self.reply()[-1]

    def data(self, line):
        return line[4:] if line.startswith("334 ") else None


class Pop3:
    ok = "+OK"

    def __init__(self, io):
        self.io = io
        assert io.line().startswith("+OK")

    def mechanisms(self):
        self.io.send("CAPA")
        lines = []
        while (line := self.io.line()) != ".":
            lines.append(line)
        sasl = [l for l in lines if l.startswith("SASL ")]
        return sasl[0].split()[1:] if sasl else []

    def start(self, mech, first):
        self.io.send("AUTH %s %s" % (mech, b64(first)))
        return self.io.line()

    def step(self, data):
        self.io.send(data)
        return self.io.line()

    def data(self, line):
        return line[2:] if line.startswith("+ ") else None


class Imap:
    ok = "a1 OK"

    def __init__(self, io):
        self.io = io
        assert io.line().startswith("* OK")

    def mechanisms(self):
        self.io.send("c CAPABILITY")
        caps = []
        while not (line := self.io.line()).startswith("c "):
            caps += line.split()
        return [c[5:] for c in caps if c.startswith("AUTH=")]

    def untagged(self):
        while (line := self.io.line()).startswith("* "):
            pass
        return line

    def start(self, mech, first):
        # RFC 4959: the client-first message as the initial response.
        self.io.send("a1 AUTHENTICATE %s %s" % (mech, b64(first)))
        return self.untagged()

    def step(self, data):
        self.io.send(data)
        return self.untagged()

    def data(self, line):
        return line[2:] if line.startswith("+ ") else line[1:] if line == "+" else None


PROTOCOLS = {
    "smtp": (Smtp, "submission", "submissions"),
    "imap": (Imap, "imap", "imaps"),
    "pop3": (Pop3, "pop3", "pop3s"),
}


def scram(session, user, password, mech=PLAIN, binding=None, client_binding="same"):
    """Runs SCRAM with scramp; returns (True, last line) on success or (False, the
    line that refused). Raises if the server's signature (v=) is wrong."""
    cb = binding if client_binding == "same" else client_binding
    client = ScramClient([mech], user, password,
                         channel_binding=None if cb is None else ("tls-exporter", cb))
    line = session.start(mech, client.get_client_first())
    if session.data(line) is None:
        return False, line
    client.set_server_first(unb64(session.data(line)))
    line = session.step(b64(client.get_client_final()))
    if session.data(line) is None:
        return False, line
    # RFC 5802 §3: scramp checks the ServerSignature; a wrong one raises.
    client.set_server_final(unb64(session.data(line)))
    line = session.step("")
    return line.startswith(session.ok), line


def connect(srv, proto, secure):
    cls, clear_kind, tls_kind = PROTOCOLS[proto]
    if secure:
        io, binding, version = tls13(srv, tls_kind)
        assert version == "TLSv1.3", version
        return cls(io), binding
    return cls(plain(srv, clear_kind)), None


# ----- the tests --------------------------------------------------------------

@pytest.mark.parametrize("proto", ["smtp", "imap", "pop3"])
def test_scram_sha_256_in_clear_text_and_plus_over_tls13(server_factory, proto):
    srv = start(server_factory)
    session, _ = connect(srv, proto, secure=False)
    assert PLAIN in session.mechanisms() and PLUS not in session.mechanisms()
    ok, line = scram(session, ALICE, PASSWORD)
    assert ok, line
    session.io.close()

    session, binding = connect(srv, proto, secure=True)
    assert PLUS in session.mechanisms(), "-PLUS is offered on TLS 1.3"
    ok, line = scram(session, ALICE, PASSWORD, mech=PLUS, binding=binding)
    assert ok, line
    session.io.close()
    assert "logged in with SCRAM" in srv.log_text()


@pytest.mark.parametrize("proto", ["smtp", "imap", "pop3"])
def test_wrong_password_and_wrong_binding_are_refused(server_factory, proto):
    srv = start(server_factory)
    session, binding = connect(srv, proto, secure=True)
    ok, line = scram(session, ALICE, "not-the-password", mech=PLUS, binding=binding)
    assert not ok, line
    # Another connection's binding data (a relay in the middle): refused.
    ok, line = scram(session, ALICE, PASSWORD, mech=PLUS, binding=binding,
                     client_binding=bytes(32))
    assert not ok, line
    session.io.close()
    # RFC 5802 §6: a client that can bind but thinks the server cannot (gs2 `y`)
    # while -PLUS is on offer is being downgraded: refused.
    session, binding = connect(srv, proto, secure=True)
    ok, line = scram(session, ALICE, PASSWORD, mech=PLAIN, binding=binding)
    assert not ok, line
    # An unknown user fails the same way, at the end (a plausible server-first).
    ok, line = scram(session, "nobody@example.org", PASSWORD, mech=PLUS, binding=binding)
    assert not ok, line
    session.io.close()


def test_imaplib_authenticate_with_a_scramp_callback(server_factory):
    srv = start(server_factory)
    m = srv.imap()
    assert "AUTH=SCRAM-SHA-256" in m.capabilities
    assert "AUTH=SCRAM-SHA-256-PLUS" not in m.capabilities
    client = ScramClient([PLAIN], ALICE, PASSWORD)
    steps = iter([
        lambda _: client.get_client_first().encode(),
        lambda c: (client.set_server_first(c.decode()), client.get_client_final().encode())[1],
        lambda c: (client.set_server_final(c.decode()), b"")[1],
    ])
    typ, _ = m.authenticate(PLAIN, lambda challenge: next(steps)(challenge))
    assert typ == "OK"
    typ, data = m.select("INBOX")
    assert typ == "OK", data
    m.logout()


def test_plus_is_not_offered_below_tls13(server_factory):
    srv = start(server_factory)
    for proto in ("smtp", "imap", "pop3"):
        cls, _, tls_kind = PROTOCOLS[proto]
        io, binding, version = tls13(srv, tls_kind, max_version=SSL.TLS1_2_VERSION)
        assert version == "TLSv1.2" and binding is None
        session = cls(io)
        mechs = session.mechanisms()
        assert PLAIN in mechs and PLUS not in mechs, (proto, mechs)
        # Asking for it anyway: not available.
        line = session.start(PLUS, "p=tls-exporter,,n=%s,r=abcdef" % ALICE)
        assert session.data(line) is None, line
        io.close()


def test_scram_failures_count_toward_the_lockout(server_factory):
    srv = start(server_factory, max_failures_per_ip=100, max_failures_per_account=3)
    for _ in range(3):
        session, _ = connect(srv, "smtp", secure=False)
        ok, line = scram(session, ALICE, "wrong")
        assert not ok and line.startswith("535"), line
        session.io.close()
    # Locked: even the right password is refused, before any proof is checked.
    session, _ = connect(srv, "smtp", secure=False)
    ok, line = scram(session, ALICE, PASSWORD)
    assert not ok and line.startswith("454"), line
    session.io.close()
    session, _ = connect(srv, "pop3", secure=False)
    ok, line = scram(session, ALICE, PASSWORD)
    assert not ok and line.startswith("-ERR [SYS/TEMP]"), line
    session.io.close()


def app_password(srv, name):
    out = srv.cli("user", "app-password", "add", ALICE, "--name", name).stdout
    return out.splitlines()[-1]


def last_used(srv, name):
    items = json.loads(srv.cli("user", "app-password", "list", ALICE, "--json").stdout)
    item = [i for i in items if i["name"] == name][0]
    return item.get("last_used")


def test_app_passwords_work_with_scram_and_stop_when_revoked(server_factory):
    srv = start(server_factory, account_password="web-only")
    phone = app_password(srv, "phone")
    assert last_used(srv, "phone") in (None, "never")
    for proto in ("smtp", "imap", "pop3"):
        session, binding = connect(srv, proto, secure=True)
        ok, line = scram(session, ALICE, phone, mech=PLUS, binding=binding)
        assert ok, (proto, line)
        session.io.close()
        # web-only: the account password's keys are not accepted on mail protocols.
        session, _ = connect(srv, proto, secure=False)
        ok, line = scram(session, ALICE, PASSWORD)
        assert not ok, (proto, line)
        session.io.close()
    assert last_used(srv, "phone") not in (None, "never")
    srv.cli("user", "app-password", "revoke", ALICE, "--name", "phone")
    session, _ = connect(srv, "imap", secure=False)
    ok, line = scram(session, ALICE, phone)
    assert not ok, line
    session.io.close()


def test_a_password_changed_with_the_cli_replaces_the_keys(server_factory):
    srv = start(server_factory)
    srv.cli("user", "passwd", ALICE, "--password-stdin", input="brand-new\n")
    for proto in ("smtp", "imap", "pop3"):
        session, _ = connect(srv, proto, secure=False)
        ok, line = scram(session, ALICE, PASSWORD)
        assert not ok, (proto, line)
        session.io.close()
        session, binding = connect(srv, proto, secure=True)
        ok, line = scram(session, ALICE, "brand-new", mech=PLUS, binding=binding)
        assert ok, (proto, line)
        session.io.close()
