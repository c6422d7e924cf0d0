"""`postie capture`, the developers' mail catcher (issue 17, docs/capture.md), as
the applications that use it see it: the real binary started with free ports
(harness.capture_server), smtplib and nodemailer sending with and without AUTH,
the mail read back over IMAP and POP3, a restart, the cap, and a relay attempt
that never leaves the machine."""

import email
import email.policy
import json
import os
import shutil
import time

import pytest

from dnsserver import TestDNS
from harness import capture_server, unique
from network import network  # noqa: F401  (the fixture)
from peer import Peer
from smtpraw import client_tls_context

HERE = os.path.dirname(os.path.abspath(__file__))
NODE_DIR = os.path.join(HERE, "node")


def send(srv, subject, login=None, sender="app@example.com", rcpts=("user@example.org",)):
    """Sends a small message with smtplib (AUTH when LOGIN=(user, password));
    returns the 250 reply text."""
    msg = ("From: <%s>\r\nTo: %s\r\nSubject: %s\r\n\r\nbody of %s\r\n"
           % (sender, ", ".join("<%s>" % r for r in rcpts), subject, subject)).encode()
    s = srv.smtp()
    try:
        s.ehlo()
        if login:
            s.login(*login)
        s.mail(sender)
        for r in rcpts:
            code, reply = s.rcpt(r)
            assert code == 250, (r, code, reply)
        code, reply = s.data(msg)
        assert code == 250, (code, reply)
        s.quit()
    finally:
        s.close()
    return reply.decode()


def imap_messages(srv, user, password="anything"):
    """Every message of USER's capture inbox over IMAP, as bytes, oldest first."""
    m = srv.imap()
    try:
        typ, _ = m.login(user, password)
        assert typ == "OK"
        typ, data = m.select("INBOX")
        assert typ == "OK"
        out = []
        for n in range(1, int(data[0]) + 1):
            typ, parts = m.fetch(str(n), "(BODY.PEEK[])")
            assert typ == "OK"
            out.append(parts[0][1])
        m.logout()
        return out
    finally:
        try:
            m.shutdown()
        except OSError:
            pass


def subjects(messages):
    return [email.message_from_bytes(m, policy=email.policy.default)["Subject"]
            for m in messages]


def pop3_messages(srv, user, password="whatever"):
    p = srv.pop3()
    try:
        p.user(user)
        p.pass_(password)
        count, _ = p.stat()
        out = [b"\r\n".join(p.retr(n)[1]) for n in range(1, count + 1)]
        p.quit()
        return out
    finally:
        p.close()


@pytest.fixture
def capture(server_factory):
    return capture_server(server_factory)


def test_starts_with_only_the_capture_listeners(capture):
    assert sorted(capture.listeners) == ["http", "imap", "pop3", "smtp"]
    text = capture.log_text()
    assert "postie capture: catching all mail, relaying none" in text
    assert "http://%s:%d/" % capture.addr("http") in text
    status, _ = capture.http_get("/healthz")
    assert status == 200


def test_smtplib_without_auth_goes_to_default(capture):
    subject = unique("noauth")
    s = capture.smtp()
    try:
        code, ehlo = s.ehlo()
        assert code == 250
        # AUTH on a plain connection, no STARTTLS without --tls.
        assert b"AUTH PLAIN LOGIN" in ehlo
        assert b"STARTTLS" not in ehlo
    finally:
        s.close()
    # Any sender, any recipients, however many domains: filed once.
    reply = send(capture, subject, sender="nobody@nowhere.invalid",
                 rcpts=("a@example.org", "b@gmail.com", "c@other.test"))
    assert "queued as" in reply
    msgs = imap_messages(capture, "default")
    assert subjects(msgs) == [subject]
    text = msgs[0].decode()
    assert text.startswith("Return-Path: <nobody@nowhere.invalid>\r\n")
    assert "Delivered-To: default@capture.invalid" in text
    assert "b@gmail.com" in text.split("\r\n\r\n")[0]  # X-Postie-Envelope-To
    assert "Received: from " in text
    # The same over POP3.
    assert subjects(pop3_messages(capture, "default")) == [subject]


def test_smtplib_with_auth_names_the_inbox(capture):
    first, second = unique("proj-a"), unique("proj-b")
    send(capture, first, login=("Project A", "any password at all"))
    send(capture, second, login=("project-b", "x"))
    assert subjects(imap_messages(capture, "project-a", "other password")) == [first]
    assert subjects(imap_messages(capture, "Project-B")) == [second]
    assert subjects(pop3_messages(capture, "project-a")) == [first]
    # Nothing of theirs in default.
    assert imap_messages(capture, "default") == []


def test_restart_keeps_mail(capture):
    subject = unique("keep")
    send(capture, subject, login=("ci", "pw"))
    capture.restart()
    assert subjects(imap_messages(capture, "ci")) == [subject]
    status, _ = capture.http_get("/healthz")
    assert status == 200


def test_the_cap_keeps_the_newest(server_factory):
    srv = capture_server(server_factory, capture_args=["--max-messages", "3"])
    sent = [unique("cap%d" % n) for n in range(5)]
    for n, subject in enumerate(sent):
        # Across two inboxes: the cap counts them all.
        send(srv, subject, login=("cap-a", "x") if n % 2 else None)
    kept = subjects(imap_messages(srv, "default")) + subjects(imap_messages(srv, "cap-a"))
    assert sorted(kept) == sorted(sent[2:])
    # Still the cap after a restart, and the oldest goes first again.
    srv.restart()
    newest = unique("cap5")
    send(srv, newest)
    kept = subjects(imap_messages(srv, "default")) + subjects(imap_messages(srv, "cap-a"))
    assert sorted(kept) == sorted(sent[3:] + [newest])


def test_api_lists_what_was_captured_when_it_is_there(capture):
    subject = unique("api")
    send(capture, subject)
    status, body = capture.http_get("/api/v1/messages")
    if status == 404:
        pytest.skip("the capture API is not in this build yet")
    assert status == 200, body
    assert json.loads(body)["total"] >= 1


PEER_ADDR = "127.0.0.5"
CAPTURE_ADDR = "127.0.0.2"
RECORDS = [
    {"name": "catch.test", "type": "MX", "value": "10 mx.catch.test"},
    {"name": "mx.catch.test", "type": "A", "value": PEER_ADDR},
]


def test_an_attempted_relay_never_leaves_the_machine(network, server_factory):  # noqa: F811
    dns = TestDNS(network, RECORDS).start()
    peer = Peer(network, PEER_ADDR, mode="accept").start()
    srv = capture_server(
        server_factory,
        network=network,
        listen={"smtp": ["%s:25" % CAPTURE_ADDR], "http": ["%s:0" % CAPTURE_ADDR],
                "imap": ["%s:0" % CAPTURE_ADDR], "pop3": ["%s:0" % CAPTURE_ADDR]},
        extra={"dns": {"nameservers": [dns.nameserver]},
               "queue": {"retry_schedule_secs": [1]}},
    )
    subjects_sent = [unique("relay"), unique("relay-auth")]
    send(srv, subjects_sent[0], rcpts=("victim@catch.test",))
    # Authenticated too (a normal server would relay this one).
    send(srv, subjects_sent[1], login=("relayer", "x"), rcpts=("victim@catch.test",))
    assert subjects(imap_messages(srv, "default")) == [subjects_sent[0]]
    assert subjects(imap_messages(srv, "relayer")) == [subjects_sent[1]]
    # Give a queue runner (retries every second) time to try, then look.
    time.sleep(3)
    assert peer.messages() == []
    assert peer.transactions() == []
    queue = srv.cli("queue", "list", "--json").stdout
    assert json.loads(queue or "[]") == []


@pytest.mark.skipif(shutil.which("node") is None
                    or not os.path.exists(os.path.join(NODE_DIR, "node_modules", "nodemailer")),
                    reason="node or nodemailer missing: run scripts/install-test-deps")
def test_nodemailer_with_and_without_auth(capture):
    host, port = capture.addr("smtp")
    plain, authed = unique("node"), unique("node-auth")
    for argv in ([host, str(port), plain], [host, str(port), authed, "node-app", "secret"]):
        done = capture.tool(["node", os.path.join(NODE_DIR, "send.js")] + argv, text=True)
        assert done.returncode == 0, done.stderr
        assert "queued as" in json.loads(done.stdout)["response"]
    assert subjects(imap_messages(capture, "default")) == [plain]
    msgs = imap_messages(capture, "node-app")
    assert subjects(msgs) == [authed]
    parsed = email.message_from_bytes(msgs[0], policy=email.policy.default)
    assert parsed["From"] == "Node App <node-app@example.com>"
    assert parsed.get_body(("html",)).get_content().strip() == "<p>sent by <b>nodemailer</b></p>"


def test_tls_adds_starttls_and_implicit_tls_without_requiring_auth(server_factory):
    srv = capture_server(server_factory, start=False, capture_args=["--tls"])
    if not srv.netns_enabled:
        pytest.skip("--tls binds fixed ports (1465, 1993, 1995, 8026): needs a private network namespace")
    srv.start()
    assert {"submissions", "imaps", "pop3s", "https"} <= set(srv.listeners)
    assert srv.port("submissions") == 1465 and srv.port("https") == 8026
    s = srv.smtp()
    try:
        assert b"STARTTLS" in s.ehlo()[1]
    finally:
        s.close()
    plain, implicit = unique("starttls"), unique("implicit")
    s = srv.smtp()
    try:
        s.starttls(context=client_tls_context())
        s.sendmail("app@example.com", ["x@example.org"],
                   ("Subject: %s\r\n\r\nx\r\n" % plain).encode())
        s.quit()
    finally:
        s.close()
    # Implicit TLS, no AUTH: still the default inbox (not a submission port here).
    s = srv.smtp("submissions")
    try:
        s.sendmail("app@example.com", ["x@example.org"],
                   ("Subject: %s\r\n\r\nx\r\n" % implicit).encode())
        s.quit()
    finally:
        s.close()
    m = srv.imap("imaps")
    try:
        m.login("default", "any")
        typ, data = m.select("INBOX")
        assert typ == "OK" and int(data[0]) == 2
        m.logout()
    except BaseException:
        m.shutdown()
        raise
    p = srv.pop3("pop3s")
    try:
        p.user("default")
        p.pass_("any")
        assert p.stat()[0] == 2
        p.quit()
    finally:
        p.close()
