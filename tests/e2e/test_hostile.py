"""The attack suite, SMTP side and general (issue 12): every finding of the
hardening issue that a stranger on port 25 (or a local user, for the data
directory) can reach, against the real binary, plus the classes they stand for.
The IMAP/POP3-side attacks are in test_hostile_imap.py.

Each test's docstring names its finding. Other client addresses are 127.0.0.x
(every one works on the loopback of the server's network namespace). Nothing
sleeps for timing: every wait is a poll with a deadline; the tarpit tests
assert lower bounds on measured delays only.
"""

import imaplib
import os
import socket
import stat
import subprocess
import threading
import time

import pytest

from dnsserver import TestDNS
from harness import (HOSTNAME, IMAP_LISTEN, postie_bin, send_marker, only_marker, unique,
                     wait_until)
from network import network  # noqa: F401  (the fixture)
from smtpraw import ConnectionClosed, RawSMTP

ALICE, BOB = "alice@example.org", "bob@example.org"
PASSWORDS = {ALICE: "alice-secret", BOB: "bob-secret"}
MiB = 1024 * 1024


# ----- helpers ------------------------------------------------------------------

def start(server_factory, users=(ALICE, BOB), **kwargs):
    srv = server_factory(**kwargs)
    for u in users:
        srv.add_user(u, PASSWORDS[u])
    return srv


def connect_from(srv, kind, source, timeout=30):
    """A TCP socket to the KIND listener from the client address SOURCE."""
    with srv.netns():
        return socket.create_connection(srv.addr(kind), timeout=timeout,
                                        source_address=(source, 0))


def raw_from(srv, source, kind="smtp", timeout=30, read_greeting=True):
    return RawSMTP(connect_from(srv, kind, source, timeout), timeout=timeout,
                   read_greeting=read_greeting)


def login(c, user=ALICE):
    c.ehlo()
    r = c.auth_plain(user, PASSWORDS[user])
    assert r.code == 235, r
    return c


def proc_status(srv, field):
    """A field of /proc/<pid>/status of the server, in KiB (VmRSS, VmHWM)."""
    with open("/proc/%d/status" % srv.proc.pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise AssertionError("no %s in /proc/%d/status" % (field, srv.proc.pid))


def unread_octets(srv, kind="smtp"):
    """Octets sent to the KIND listener that the server has not read yet: the
    receive queues of its connections plus the send queues of their clients
    (/proc/<pid>/net/tcp of the server's namespace). 0 means the server has read
    everything every client sent."""
    port = srv.port(kind)
    total = 0
    for name in ("tcp", "tcp6"):
        try:
            f = open("/proc/%d/net/%s" % (srv.proc.pid, name))
        except FileNotFoundError:
            continue
        with f:
            next(f)
            for line in f:
                fields = line.split()
                local = int(fields[1].rsplit(":", 1)[1], 16)
                remote = int(fields[2].rsplit(":", 1)[1], 16)
                tx, rx = (int(x, 16) for x in fields[4].split(":"))
                if fields[3] == "0A":  # LISTEN: rx_queue is the backlog
                    continue
                if local == port:
                    total += rx    # the server's side: received, not read
                elif remote == port:
                    total += tx    # the client's side: not yet received
    return total


def check_is_postie(srv):
    with open("/proc/%d/comm" % srv.proc.pid) as f:
        comm = f.read().strip()
    assert comm.startswith("postie"), "the harness pid is not the server itself: %s" % comm


def send_data(c, payload, sender="sender@example.net", rcpt=ALICE):
    """MAIL, RCPT, DATA and PAYLOAD with its end; returns the final reply."""
    c.expect("MAIL FROM:<%s>" % sender, 250)
    c.expect("RCPT TO:<%s>" % rcpt, 250)
    c.expect("DATA", 354)
    c.send(payload + b"\r\n.\r\n")
    return c.reply()


def still_serving(srv):
    """The process lives and a fresh client gets a greeting."""
    assert srv.running(), "the server process died:\n%s" % srv.log_tail()
    c = srv.raw("smtp")
    try:
        assert c.greeting.code == 220, c.greeting
        c.expect("NOOP", 250)
    finally:
        c.close()


def delivered_marker(srv, rcpt=ALICE):
    """A normal message right after is accepted and delivered."""
    marker = send_marker(srv, rcpt)
    wait_until(lambda: any(marker.encode() in m for m in srv.mailbox(rcpt)),
               timeout=30, message="the marker message")


# ----- finding 1: nested MIME -----------------------------------------------------

DEEP = 40000
BIG = {"max_message_size": 4 * MiB}


def nested_rfc822(depth, sender=ALICE):
    """DEPTH nested message/rfc822 parts: each header block says the body is a
    message, whose header block says the same (~1.9 MB at 40,000)."""
    head = ("From: <%s>\r\nTo: <%s>\r\nSubject: deep rfc822\r\n" % (sender, ALICE)).encode()
    part = b"Content-Type: message/rfc822\r\nX-Depth: nested\r\n\r\n"
    return head + part * depth + b"Subject: bottom\r\n\r\nbottom\r\n"


def nested_multipart(depth, sender="sender@example.net"):
    head = ("From: <%s>\r\nTo: <%s>\r\nSubject: deep multipart\r\nMIME-Version: 1.0\r\n"
            % (sender, ALICE)).encode()
    out = [head]
    for i in range(depth):
        out.append(b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (i, i))
    out.append(b"Content-Type: text/plain\r\n\r\nbottom\r\n")
    for i in reversed(range(depth)):
        out.append(b"--b%d--\r\n" % i)
    return b"".join(out)


def forwarded_five_levels():
    """A legitimately nested message: five forwards of a forward."""
    inner = (b"From: <origin@example.net>\r\nSubject: original\r\n\r\nthe original text\r\n")
    for level in range(5):
        inner = (b"From: <fwd%d@example.net>\r\nSubject: Fwd %d\r\nMIME-Version: 1.0\r\n"
                 b'Content-Type: multipart/mixed; boundary="L%d"\r\n\r\n'
                 b"--L%d\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n"
                 b"--L%d\r\nContent-Type: message/rfc822\r\n\r\n" % (level, level, level, level, level)
                 + inner + b"\r\n--L%d--\r\n" % level)
    return inner


def test_f1_deeply_nested_rfc822_is_refused_on_smtp_and_the_server_lives(server_factory):
    """Finding 1: 40,000 nested message/rfc822 parts to a local user on the MX
    listener used to overflow the stack and abort the process before the 250."""
    srv = start(server_factory, smtp=BIG)
    c = srv.raw("smtp")
    c.ehlo()
    r = send_data(c, nested_rfc822(DEEP, sender="sender@example.net"))
    assert (r.code, r.enhanced) == (554, "5.6.0"), r
    c.close()
    still_serving(srv)
    delivered_marker(srv)
    assert not any(b"deep rfc822" in m for m in srv.mailbox(ALICE))


def test_f1_deeply_nested_rfc822_is_refused_on_submission(server_factory):
    """Finding 1, through submission (authenticated)."""
    srv = start(server_factory, smtp=BIG)
    c = login(srv.raw("submission"))
    r = send_data(c, nested_rfc822(DEEP), sender=ALICE)
    assert (r.code, r.enhanced) == (554, "5.6.0"), r
    c.close()
    still_serving(srv)
    delivered_marker(srv)


def test_f1_deeply_nested_multiparts_do_not_kill_the_server(server_factory):
    """Finding 1's class: 10,000 nested multiparts (accepted or 554 5.6.0)."""
    srv = start(server_factory, smtp=BIG)
    c = srv.raw("smtp")
    c.ehlo()
    r = send_data(c, nested_multipart(10000))
    assert r.code == 250 or (r.code, r.enhanced) == (554, "5.6.0"), r
    c.close()
    still_serving(srv)
    delivered_marker(srv, BOB)


def test_f1_imap_append_of_a_deep_message_is_answered(server_factory):
    """Finding 1, through IMAP APPEND: the server answers (OK or NO) and stays up;
    if it took the message, FETCH BODYSTRUCTURE of it is answered too."""
    srv = start(server_factory, smtp=BIG, listen=IMAP_LISTEN)
    deep = nested_rfc822(DEEP)
    m = srv.imap()
    try:
        m.login(ALICE, PASSWORDS[ALICE])
        try:
            typ, data = m.append("INBOX", None, None, deep)
        except imaplib.IMAP4.error as e:  # a tagged NO/BAD
            typ, data = "NO", [str(e).encode()]
        print("APPEND of %d octets: %s %r" % (len(deep), typ, data))
        assert typ in ("OK", "NO"), (typ, data)
        if typ == "OK":
            typ, data = m.select("INBOX")
            assert typ == "OK", data
            typ, data = m.fetch(data[0].decode(), "(BODYSTRUCTURE)")
            assert typ == "OK", data
            print("BODYSTRUCTURE: %r" % (data[0][:200],))
        m.logout()
    finally:
        try:
            m.shutdown()
        except Exception:
            pass
    still_serving(srv)
    m = srv.imap()
    m.login(ALICE, PASSWORDS[ALICE])
    assert m.select("INBOX")[0] == "OK"
    m.logout()


def test_f1_a_legitimately_nested_message_is_still_accepted(server_factory):
    """Finding 1: the depth limit does not refuse ordinary forwards of forwards."""
    srv = start(server_factory, smtp=BIG)
    c = srv.raw("smtp")
    c.ehlo()
    msg = forwarded_five_levels()
    r = send_data(c, msg)
    assert r.code == 250, r
    c.close()
    srv.wait_for_mail(ALICE, 1)
    assert srv.mailbox(ALICE)[0].endswith(msg + b"\r\n")


# ----- finding 4: a connection pool per listener ----------------------------------

def test_f4_a_port_25_flood_leaves_submission_open(server_factory):
    """Finding 4: idle connections filling the smtp listener (from 4 addresses)
    used to make submission and submissions answer 421 as well."""
    srv = start(server_factory, smtp={"max_connections": 20, "max_connections_per_ip": 10})
    flood = []
    try:
        for i in range(20):
            c = raw_from(srv, "127.0.0.%d" % (2 + i % 4))
            assert c.greeting.code == 220, (i, c.greeting)
            flood.append(c)
        extra = raw_from(srv, "127.0.0.6")
        assert extra.greeting.code == 421, extra.greeting
        extra.close()

        # Submission greets and takes an authenticated message meanwhile.
        sub = raw_from(srv, "127.0.0.6", kind="submission")
        assert sub.greeting.code == 220, sub.greeting
        login(sub)
        r = send_data(sub, b"From: <alice@example.org>\r\nSubject: during flood\r\n\r\nok\r\n",
                      sender=ALICE, rcpt=BOB)
        assert r.code == 250, r
        sub.expect("QUIT", 221)
        sub.close()

        # So does submissions (implicit TLS).
        tls = srv.raw("submissions")
        assert tls.greeting.code == 220, tls.greeting
        login(tls)
        tls.expect("QUIT", 221)
        tls.close()
    finally:
        for c in flood:
            c.close()
    srv.wait_for_mail(BOB, 1)
    assert b"during flood" in srv.mailbox(BOB)[0]


# ----- finding 5: a memory budget for unfinished DATA -------------------------------

SPOOL_CONNECTIONS = 30
SPOOL_EACH = 8 * MiB


def spool_body(n):
    """About SPOOL_EACH octets of valid mail lines, unique to connection N."""
    head = ("From: <sender@example.net>\r\nTo: <%s>\r\nSubject: spool %d\r\n\r\n"
            % (ALICE, n)).encode()
    line = (b"%04d " % n) + b"0123456789abcdefghijklmnopqrstuvwxyz" * 2 + b"\r\n"
    return head + line * (SPOOL_EACH // len(line))


def test_f5_unfinished_data_is_spooled_not_held_in_memory(server_factory):
    """Finding 5: 30 connections each holding 8 MiB of unfinished DATA (past
    smtp.spool_threshold, 256 KiB) must not cost 30 x 8 MiB of RAM."""
    srv = start(server_factory, smtp={"max_message_size": 16 * MiB,
                                      "max_connections_per_ip": 100})
    check_is_postie(srv)
    conns = []
    bodies = [spool_body(n) for n in range(SPOOL_CONNECTIONS)]
    try:
        for n in range(SPOOL_CONNECTIONS):
            c = srv.raw("smtp")
            c.ehlo()
            c.expect("MAIL FROM:<sender@example.net>", 250)
            c.expect("RCPT TO:<%s>" % ALICE, 250)
            c.expect("DATA", 354)
            conns.append(c)
        rss_before = proc_status(srv, "VmRSS")

        def feed(n):
            conns[n].sock.sendall(bodies[n])

        threads = [threading.Thread(target=feed, args=(n,)) for n in range(SPOOL_CONNECTIONS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        total = sum(len(b) for b in bodies)
        # Every octet has been read by the server (not just queued in the kernel).
        wait_until(lambda: unread_octets(srv) == 0, timeout=120,
                   message="the server to read the %d MiB" % (total // MiB))
        peak = proc_status(srv, "VmHWM")
        rss_after = proc_status(srv, "VmRSS")
        growth = (max(peak, rss_after) - rss_before) / 1024.0
        print("30 x 8 MiB of unfinished DATA: RSS %.1f MiB before, %.1f MiB after, "
              "peak growth %.1f MiB" % (rss_before / 1024.0, rss_after / 1024.0, growth))
        assert growth < 80, "RSS grew by %.1f MiB for %d MiB of unfinished DATA" % (
            growth, total // MiB)

        for n, c in enumerate(conns):
            c.send(b".\r\n")
        for n, c in enumerate(conns):
            r = c.reply()
            assert r.code == 250, (n, r)
    finally:
        for c in conns:
            c.close()
    rows = srv.wait_for_mail(ALICE, SPOOL_CONNECTIONS, timeout=120)
    stored = srv.mail_read(ALICE, rows[7][0])
    n = int(stored.split(b"Subject: spool ", 1)[1].split(b"\r\n", 1)[0])
    assert stored.endswith(bodies[n]), "message %d not stored byte-identical" % n


# ----- finding 6: BDAT gets DATA's policy; headers read the strict way ----------------

@pytest.mark.parametrize("bad", [b"bare\rCR", b"bare\nLF", b"a NUL\0here"],
                         ids=["bare-cr", "bare-lf", "nul"])
def test_f6_bdat_refuses_what_data_refuses(server, bad):
    """Finding 6: BDAT bodies skipped the bare CR / bare LF / NUL policy that DATA
    applies (554 5.6.0); the transaction is reset and nothing is delivered."""
    c = server.raw("smtp")
    assert "CHUNKING" in c.ehlo()
    body = (b"From: <sender@example.net>\r\nTo: <alice@example.org>\r\nSubject: smuggle\r\n\r\n"
            b"line one\r\n" + bad + b"\r\nline three\r\n")
    c.expect("MAIL FROM:<sender@example.net>", 250)
    c.expect("RCPT TO:<%s>" % ALICE, 250)
    c.send(b"BDAT %d LAST\r\n" % len(body) + body)
    r = c.reply()
    assert (r.code, r.enhanced) == (554, "5.6.0"), r
    # The transaction is gone: RCPT needs a new MAIL first.
    c.expect("RCPT TO:<%s>" % ALICE, 503)
    c.expect("MAIL FROM:<sender@example.net>", 250)
    c.expect("RSET", 250)
    c.close()
    marker = send_marker(server, ALICE)
    only_marker(server, ALICE, marker)


@pytest.mark.parametrize("verb", ["DATA", "BDAT"])
def test_f6_a_bare_cr_cannot_hide_a_from_header(server, verb):
    """Finding 6: `Subject: x\\rFrom: other@example.org` from authenticated alice
    passed the sender check while other parsers read a From: line there."""
    c = login(server.raw("submission"))
    msg = (b"From: <alice@example.org>\r\nTo: <bob@example.org>\r\n"
           b"Subject: x\rFrom: <other@example.org>\r\n\r\nbody\r\n")
    c.expect("MAIL FROM:<%s>" % ALICE, 250)
    c.expect("RCPT TO:<%s>" % BOB, 250)
    if verb == "DATA":
        c.expect("DATA", 354)
        c.send(msg + b".\r\n")
    else:
        c.send(b"BDAT %d LAST\r\n" % len(msg) + msg)
    r = c.reply()
    assert (r.code, r.enhanced) in ((554, "5.6.0"), (550, "5.7.1")), r
    c.close()
    marker = send_marker(server, BOB)
    only_marker(server, BOB, marker)


class RawSink:
    """A remote MX on ADDR:25 in NETWORK that records the raw octets of each
    message's DATA (up to and with the final dot line) or BDAT chunks. It
    offers CHUNKING when CHUNKING is true."""

    def __init__(self, network, addr, chunking=False):
        self.chunking = chunking
        self.bodies = []
        self.lock = threading.Lock()
        with network.netns():
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.sock.bind((addr, 25))
            self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def stop(self):
        self.stopped.set()
        self.thread.join(10)
        self.sock.close()

    def _serve(self):
        while not self.stopped.is_set():
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            threading.Thread(target=self._session, args=(conn,), daemon=True).start()

    def _session(self, conn):
        conn.settimeout(30)
        buf = b""

        def line():
            nonlocal buf
            while b"\r\n" not in buf:
                chunk = conn.recv(65536)
                if not chunk:
                    raise EOFError
                buf += chunk
            out, buf = buf.split(b"\r\n", 1)
            return out

        def exactly(n):
            nonlocal buf
            while len(buf) < n:
                chunk = conn.recv(65536)
                if not chunk:
                    raise EOFError
                buf += chunk
            out, buf = buf[:n], buf[n:]
            return out

        try:
            conn.sendall(b"220 sink.test ESMTP\r\n")
            chunks = []
            while True:
                cmd = line()
                verb = cmd.split(b" ", 1)[0].upper()
                if verb == b"EHLO":
                    ext = b"250-CHUNKING\r\n" if self.chunking else b""
                    conn.sendall(b"250-sink.test\r\n" + ext + b"250 8BITMIME\r\n")
                elif verb == b"DATA":
                    conn.sendall(b"354 go on\r\n")
                    while b"\r\n.\r\n" not in buf and not buf.startswith(b".\r\n"):
                        chunk = conn.recv(65536)
                        if not chunk:
                            raise EOFError
                        buf += chunk
                    end = 3 if buf.startswith(b".\r\n") else buf.index(b"\r\n.\r\n") + 5
                    data, buf = buf[:end], buf[end:]
                    with self.lock:
                        self.bodies.append(("DATA", data))
                    conn.sendall(b"250 2.0.0 taken\r\n")
                elif verb == b"BDAT":
                    parts = cmd.split()
                    chunks.append(exactly(int(parts[1])))
                    if len(parts) > 2 and parts[2].upper() == b"LAST":
                        with self.lock:
                            self.bodies.append(("BDAT", b"".join(chunks)))
                        chunks = []
                    conn.sendall(b"250 2.0.0 chunk taken\r\n")
                elif verb == b"QUIT":
                    conn.sendall(b"221 bye\r\n")
                    return
                else:
                    conn.sendall(b"250 ok\r\n")
        except (EOFError, OSError):
            pass
        finally:
            conn.close()


def bare_line_ends(data):
    """Offsets of every CR not followed by LF and every LF not preceded by CR."""
    out = []
    for i, b in enumerate(data):
        if b == 13 and data[i + 1:i + 2] != b"\n":
            out.append(i)
        if b == 10 and (i == 0 or data[i - 1] != 13):
            out.append(i)
    return out


@pytest.mark.parametrize("chunking", [False, True], ids=["data", "bdat"])
def test_f6_the_relay_never_sends_a_bare_cr_or_lf(network, server_factory, chunking):  # noqa: F811
    """Finding 6, relay half: a queued body holding `\\r.\\r\\n` (postie sendmail
    keeps a bare CR inside a line) went out unchanged, the SMTP smuggling shape.
    A sink MX records the raw octets the relay sends."""
    dns = TestDNS(network, [
        {"name": "sink.test", "type": "MX", "value": "10 mx.sink.test"},
        {"name": "mx.sink.test", "type": "A", "value": "127.0.0.11"},
    ]).start()
    sink = RawSink(network, "127.0.0.11", chunking=chunking)
    try:
        srv = server_factory(network=network, listen={"smtp": ["127.0.0.2:25"],
                                                      "submission": [], "submissions": []},
                             extra={"hostname": "mx.a.test",
                                    "dns": {"nameservers": [dns.nameserver]},
                                    "queue": {"retry_schedule_secs": [1]}})
        srv.add_user("alice@a.test", "pw-alice")
        token = unique("smuggle")
        message = ("From: <alice@a.test>\nTo: <victim@sink.test>\nSubject: %s\n\n"
                   "innocent\r.\nMAIL FROM:<evil@a.test>\rbare lf\nend\n" % token).encode()
        p = subprocess.run([postie_bin(), "sendmail", "--config", srv.config_path,
                            "-f", "alice@a.test", "victim@sink.test"],
                           input=message, capture_output=True, timeout=60)
        assert p.returncode == 0, p
        wait_until(lambda: sink.bodies, timeout=60, message="the relay to deliver to the sink")
        kind, wire = sink.bodies[0]
        assert kind == ("BDAT" if chunking else "DATA"), kind
        assert token.encode() in wire
        bad = bare_line_ends(wire)
        assert not bad, "bare CR/LF at %r in what the relay sent:\n%r" % (bad[:10], wire)
        # The would-be end of data became a stuffed dot line (DATA) or a plain one.
        dot = b"\r\n..\r\n" if not chunking else b"\r\n.\r\n"
        assert b"innocent" + dot + b"MAIL FROM:<evil@a.test>\r\nbare lf\r\nend\r\n" in wire, wire
    finally:
        sink.stop()


# ----- finding 7: harvesting and error limits -----------------------------------------

def test_f7_unknown_recipients_are_tarpitted_and_cut_off(server_factory):
    """Finding 7: 10,000 unknown RCPTs were answered in 0.2 s without a disconnect.
    Now each counts as an error: past smtp.soft_error_limit (3) each reply waits
    error_delay_ms x (errors - 3), and after smtp.max_errors (20) comes 421 4.7.0."""
    srv = start(server_factory, smtp={"error_delay_ms": 100, "max_errors": 20,
                                      "soft_error_limit": 3})
    c = srv.raw("smtp", timeout=60)
    c.ehlo()
    c.expect("MAIL FROM:<sender@example.net>", 250)
    timings, codes = [], []
    closed = False
    for i in range(25):
        started = time.monotonic()
        try:
            r = c.cmd("RCPT TO:<nobody%d@example.org>" % i)
        except ConnectionClosed:
            closed = True
            break
        timings.append(time.monotonic() - started)
        codes.append((r.code, r.enhanced))
        if r.code == 421:
            break
    print("replies: %r" % codes)
    print("seconds per reply: %s" % ", ".join("%.2f" % t for t in timings))
    assert codes[-1] == (421, "4.7.0"), codes
    refused = [x for x in codes if x[0] == 550]
    assert 19 <= len(refused) <= 20, "%d unknown recipients before the 421" % len(refused)
    assert all(x == (550, "5.1.1") for x in refused), codes
    assert closed or c.closed(10), "the connection stays open after 421"
    # The tarpit: error n (1-based) waits at least 0.1 s x (n - 4), allowing for
    # whether the count includes the error being answered.
    for n, t in enumerate(timings[:len(refused)], start=1):
        if n > 4:
            assert t >= 0.09 * (n - 4), "reply %d after %.3fs: no delay" % (n, t)
    # At least 1 + 2 + ... + 15 steps of 0.1 s in all, whichever way it counts.
    assert sum(timings) >= 0.095 * sum(range(1, 16)), "total %.2fs" % sum(timings)


def test_f7_bad_commands_and_unknown_recipients_share_the_count(server_factory):
    """Finding 7: bad commands and unknown recipients both count toward max_errors."""
    srv = start(server_factory, smtp={"error_delay_ms": 1, "max_errors": 6,
                                      "soft_error_limit": 3})
    c = srv.raw("smtp")
    c.ehlo()
    for _ in range(3):
        assert c.cmd("XYZZY").code == 500
    c.expect("MAIL FROM:<sender@example.net>", 250)
    codes = []
    for i in range(5):
        try:
            r = c.cmd("RCPT TO:<nobody%d@example.org>" % i)
        except ConnectionClosed:
            break
        codes.append(r.code)
        if r.code == 421:
            break
    assert codes and codes[-1] == 421, codes
    assert codes.count(550) <= 3, codes


def test_f7_errors_per_client_address_shut_that_address_out(server_factory):
    """Finding 7: the error count is also per client address
    (smtp.max_errors_per_ip within smtp.error_window_secs): past it, new
    connections from that address get 421 4.7.0 at the greeting, while another
    address is served normally."""
    srv = start(server_factory, smtp={"error_delay_ms": 1, "max_errors_per_ip": 5,
                                      "error_window_secs": 3600})
    bad = "127.0.0.7"
    errors = 0
    for _ in range(4):  # several connections, 2 errors each
        c = raw_from(srv, bad)
        if c.greeting.code == 421:
            break
        c.ehlo()
        c.expect("MAIL FROM:<sender@example.net>", 250)
        for i in range(2):
            try:
                r = c.cmd("RCPT TO:<harvest%d@example.org>" % errors)
            except ConnectionClosed:
                break
            errors += 1
            if r.code == 421:
                break
        c.close()
    assert errors >= 5, errors
    c = raw_from(srv, bad)
    assert (c.greeting.code, c.greeting.enhanced) == (421, "4.7.0"), c.greeting
    c.close()
    other = raw_from(srv, "127.0.0.8")
    assert other.greeting.code == 220, other.greeting
    other.ehlo()
    r = send_data(other, b"Subject: from elsewhere\r\n\r\nok\r\n")
    assert r.code == 250, r
    other.close()


# ----- finding 8: deadlines, not idle timers -------------------------------------------

DRIP_PERIOD = 0.3


def drip_until_closed(c, payload, limit):
    """Sends PAYLOAD one byte every DRIP_PERIOD, never a whole line, until the
    server closes; returns the seconds it took (or fails after LIMIT)."""
    started = time.monotonic()
    for i in range(10**6):
        try:
            c.send(payload[i % len(payload):i % len(payload) + 1])
        except OSError:
            return time.monotonic() - started
        if c.closed(DRIP_PERIOD):  # waits DRIP_PERIOD unless the server closes
            return time.monotonic() - started
        assert time.monotonic() - started < limit, (
            "a 1-byte-per-%.1fs drip still held the session after %ss:\n%s"
            % (DRIP_PERIOD, limit, c.format_transcript()))


def test_f8_a_command_line_drip_is_cut_off(server_factory):
    """Finding 8: timeouts reset on every byte, so one byte per period held a
    session forever. smtp.command_timeout_secs is now a deadline for a whole line."""
    srv = start(server_factory, smtp={"command_timeout_secs": 2})
    c = srv.raw("smtp")
    c.ehlo()
    took = drip_until_closed(c, b"MAIL FROM:<drip" + b"x" * 200, limit=10)
    print("command drip cut off after %.1fs" % took)
    assert b"421 4.4.2" in c.buf or any(
        who == "S" and b"421 4.4.2" in data for who, data in c.transcript), c.format_transcript()


def test_f8_a_data_drip_is_cut_off(server_factory):
    """Finding 8: smtp.data_timeout_secs bounds each block of DATA the same way."""
    srv = start(server_factory, smtp={"data_timeout_secs": 2, "command_timeout_secs": 2})
    c = srv.raw("smtp")
    c.ehlo()
    c.expect("MAIL FROM:<sender@example.net>", 250)
    c.expect("RCPT TO:<%s>" % ALICE, 250)
    c.expect("DATA", 354)
    c.send(b"Subject: drip\r\n\r\n")
    took = drip_until_closed(c, b"dripping body text\r\n", limit=10)
    print("DATA drip cut off after %.1fs" % took)
    assert srv.mail_list(ALICE) == []


def test_f8_a_bdat_drip_is_cut_off(server_factory):
    """Finding 8: each BDAT chunk must arrive within smtp.data_timeout_secs."""
    srv = start(server_factory, smtp={"data_timeout_secs": 2, "command_timeout_secs": 2})
    c = srv.raw("smtp")
    c.ehlo()
    c.expect("MAIL FROM:<sender@example.net>", 250)
    c.expect("RCPT TO:<%s>" % ALICE, 250)
    c.send(b"BDAT 100000 LAST\r\n")
    took = drip_until_closed(c, b"chunk octets ", limit=10)
    print("BDAT drip cut off after %.1fs" % took)


def test_f8_a_tls_handshake_that_never_completes_is_closed(server_factory):
    """Finding 8: a TLS handshake must complete within its (fixed, 30 s) deadline;
    one byte of a ClientHello used to hold a submissions slot forever. Slow by
    nature: it waits out the real deadline."""
    srv = start(server_factory)
    with srv.netns():
        sock = socket.create_connection(srv.addr("submissions"), timeout=60)
    c = RawSMTP(sock, timeout=60, read_greeting=False)
    started = time.monotonic()
    c.send(b"\x16")  # the first byte of a TLS record, then nothing
    assert c.closed(45), "a stalled TLS handshake still open after 45s"
    took = time.monotonic() - started
    print("stalled TLS handshake closed after %.1fs" % took)
    assert took < 45


# ----- the classes: over-long lines, AUTH ---------------------------------------------

def test_an_overlong_command_line_is_refused_at_once_without_memory_growth(server_factory):
    """Finding 5's class: an over-long command line gets 500 5.5.2 as soon as it
    passes the limit, without waiting for its CRLF, and is not buffered."""
    srv = start(server_factory)
    check_is_postie(srv)
    rss_before = proc_status(srv, "VmRSS")
    c = srv.raw("smtp", timeout=10)
    c.ehlo()
    c.send(b"MAIL FROM:<" + b"a" * 100000)  # no CRLF
    r = c.reply()  # within the 10 s socket timeout, before any CRLF
    assert (r.code, r.enhanced) == (500, "5.5.2"), r
    # Keep talking without a line end: 20 MiB more must not be buffered.
    sent = 0
    try:
        for _ in range(20):
            c.sock.sendall(b"b" * MiB)
            sent += MiB
    except OSError:
        pass  # the server may close instead of discarding
    if sent == 20 * MiB:
        wait_until(lambda: unread_octets(srv) == 0, timeout=60,
                   message="the server to read (and drop) the long line")
    growth = (proc_status(srv, "VmHWM") - rss_before) / 1024.0
    print("sent %d MiB without CRLF; peak RSS growth %.1f MiB" % (sent // MiB, growth))
    assert growth < 16, growth
    c.close()
    still_serving(srv)


def test_an_overlong_auth_line_is_refused(server_factory):
    """AUTH exchanges are capped (12,288 octets) before buffering."""
    srv = start(server_factory)
    c = srv.raw("submission")
    c.ehlo()
    r = c.cmd("AUTH PLAIN " + "QUFB" * 4000)  # 16,011 octets
    assert r.code in (500, 501, 535), r
    assert r.code // 100 == 5
    # The continuation form too.
    c = srv.raw("submission")
    c.ehlo()
    c.expect("AUTH LOGIN", 334)
    r = c.cmd("QUFB" * 4000)
    assert r.code // 100 == 5, r
    still_serving(srv)


def test_bad_base64_in_auth_is_501(server_factory):
    """A malformed AUTH response is a syntax error (RFC 4954 §4: 501)."""
    srv = start(server_factory)
    c = srv.raw("submission")
    c.ehlo()
    c.expect("AUTH PLAIN !!!not-base64***", 501)
    c.expect("AUTH LOGIN", 334)
    c.expect("@@@@", 501)
    c.expect("NOOP", 250)


# ----- finding 9: postmaster --------------------------------------------------------

def test_f9_postmaster_is_accepted_on_a_fresh_server(server_factory):
    """Finding 9: with no postmaster alias and no smtp.postmaster, RCPT
    postmaster was refused (550 5.1.1), though RFC 5321 §4.5.1 requires it. It now
    goes to the first administrator (the oldest account) on every local domain and
    as the bare <postmaster>."""
    srv = server_factory()
    srv.add_user(ALICE, PASSWORDS[ALICE])  # the first account
    srv.add_user(BOB, PASSWORDS[BOB])
    srv.add_domain("other.test")           # a local domain without any user
    rcpts = ["postmaster@example.org", "PostMaster@other.test", "postmaster@" + HOSTNAME,
             "Postmaster"]
    for i, rcpt in enumerate(rcpts):
        c = srv.raw("smtp")
        c.ehlo()
        c.expect("MAIL FROM:<sender@example.net>", 250)
        c.expect("RCPT TO:<%s>" % rcpt, 250)
        c.expect("DATA", 354)
        c.send(b"Subject: to postmaster %d\r\n\r\nhello\r\n.\r\n" % i)
        c.expect(None, 250)
        c.close()
    srv.wait_for_mail(ALICE, len(rcpts))
    got = b"".join(srv.mailbox(ALICE))
    for i in range(len(rcpts)):
        assert b"Subject: to postmaster %d" % i in got
    assert srv.mail_list(BOB) == []


def test_f9_postmaster_is_refused_only_without_any_account(server_factory):
    """Finding 9: a server with no account at all has nowhere to put it."""
    srv = server_factory()
    srv.add_domain("example.org")
    c = srv.raw("smtp")
    c.ehlo()
    c.expect("MAIL FROM:<sender@example.net>", 250)
    c.expect("RCPT TO:<postmaster@example.org>", 550, "5.1.1")
    c.close()
    srv.add_user(BOB, PASSWORDS[BOB])
    c = srv.raw("smtp")
    c.ehlo()
    c.expect("MAIL FROM:<sender@example.net>", 250)
    c.expect("RCPT TO:<postmaster@example.org>", 250)
    c.close()


# ----- finding 10: data directory permissions -----------------------------------------

def loose_paths(root):
    """Paths under ROOT (and ROOT) that group or others can read/enter."""
    loose = []
    for dirpath, dirnames, filenames in os.walk(root):
        for name in [None] + dirnames + filenames:
            path = dirpath if name is None else os.path.join(dirpath, name)
            st = os.lstat(path)
            if stat.S_ISLNK(st.st_mode):
                continue
            if st.st_mode & 0o077:
                loose.append("%s %o" % (os.path.relpath(path, root), st.st_mode & 0o777))
    return sorted(set(loose))


def test_f10_the_data_dir_is_private_whatever_the_umask(server_factory):
    """Finding 10: under umask 022 postie.db (password hashes) was 0644 and the
    folders 0755. Everything Postie creates must be 0600 / 0700."""
    old = os.umask(0o022)
    try:
        srv = server_factory(start=False)
        srv.start()
        srv.add_user(ALICE, PASSWORDS[ALICE])
        srv.add_user(BOB, PASSWORDS[BOB])
        srv.cli("alias", "add", "info@example.org", ALICE)
        srv.cli("dkim", "generate", "example.org")
        marker = send_marker(srv, ALICE)
        p = subprocess.run([postie_bin(), "sendmail", "--config", srv.config_path, BOB],
                           input=b"Subject: local\n\nfrom sendmail\n", capture_output=True,
                           timeout=60)
        assert p.returncode == 0, p
        srv.wait_for_mail(ALICE, 1)
        srv.wait_for_mail(BOB, 1)
        assert marker.encode() in srv.mailbox(ALICE)[0]
        srv.queue_list()
        names = set(os.listdir(srv.data_dir))
        assert "postie.db" in names, names
        loose = loose_paths(srv.data_dir)
        assert not loose, "readable by group/others under umask 022: %r" % loose
    finally:
        os.umask(old)


def test_f10_an_old_world_readable_data_dir_is_repaired_on_start(server_factory):
    """Finding 10: an upgrade fixes an install an older version left at 0755/0644."""
    srv = start(server_factory, users=(ALICE,))
    srv.stop()
    os.chmod(srv.data_dir, 0o755)
    os.chmod(os.path.join(srv.data_dir, "postie.db"), 0o644)
    srv.start()
    assert stat.S_IMODE(os.stat(srv.data_dir).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(os.path.join(srv.data_dir, "postie.db")).st_mode) == 0o600
    assert not loose_paths(srv.data_dir), loose_paths(srv.data_dir)
