"""Outbound relay end to end: several "hosts" on loopback in one network
namespace, a DNS server for the fake domains, real Postie servers and scripted
peers.

    a.test         MX mx.a.test  127.0.0.2   Postie A (alice)
    b.test         MX mx.b.test  127.0.0.3   Postie B (bob); also a smarthost
    tempfail.test  MX            127.0.0.4   peer: 451 once, then accepts
    reject.test    MX            127.0.0.5   peer: 550 5.1.1 at RCPT
    down.test      MX            127.0.0.6   nothing listening (until a test starts a peer)
    multi.test     MX 10 -> 127.0.0.8 (down), MX 20 -> 127.0.0.9 (peer)
    implicit.test  A             127.0.0.9   no MX: the domain's own address
    nullmx.test    MX 0 .                    RFC 7505: accepts no mail
    tarpit.test    MX            127.0.0.21  peer that never greets (a tarpit)
    zfast.test     MX            127.0.0.22  peer (sorts after tarpit.test)
    two.test       MX 10 -> 127.0.0.23 (peer: 421 greeting), MX 20 -> 127.0.0.24 (down)
    small.test     MX            127.0.0.25  peer with a SIZE limit

Retries are one second apart here ([queue] retry_schedule_secs = [1]) so that
retry and delay-warning paths run within a test's time.
"""

import email
import email.policy
import os
import re
import time

import pytest

from dnsserver import TestDNS
from harness import unique, wait_until
from network import network  # noqa: F401  (the fixture)
from peer import Peer
from postfix import Postfix

A_ADDR, B_ADDR = "127.0.0.2", "127.0.0.3"
ALICE, BOB = "alice@a.test", "bob@b.test"
PASSWORD = "relay-secret"

RECORDS = [
    {"name": "a.test", "type": "MX", "value": "10 mx.a.test"},
    {"name": "mx.a.test", "type": "A", "value": A_ADDR},
    {"name": "b.test", "type": "MX", "value": "10 mx.b.test"},
    {"name": "mx.b.test", "type": "A", "value": B_ADDR},
    {"name": "tempfail.test", "type": "MX", "value": "10 mx.tempfail.test"},
    {"name": "mx.tempfail.test", "type": "A", "value": "127.0.0.4"},
    {"name": "reject.test", "type": "MX", "value": "10 mx.reject.test"},
    {"name": "mx.reject.test", "type": "A", "value": "127.0.0.5"},
    {"name": "down.test", "type": "MX", "value": "10 mx.down.test"},
    {"name": "mx.down.test", "type": "A", "value": "127.0.0.6"},
    {"name": "multi.test", "type": "MX", "value": "10 mx1.multi.test"},
    {"name": "multi.test", "type": "MX", "value": "20 mx2.multi.test"},
    {"name": "mx1.multi.test", "type": "A", "value": "127.0.0.8"},
    {"name": "mx2.multi.test", "type": "A", "value": "127.0.0.9"},
    {"name": "implicit.test", "type": "A", "value": "127.0.0.9"},
    {"name": "nullmx.test", "type": "MX", "value": "0 ."},
    {"name": "pf.test", "type": "MX", "value": "10 mx.pf.test"},
    {"name": "mx.pf.test", "type": "A", "value": "127.0.0.10"},
    {"name": "tarpit.test", "type": "MX", "value": "10 mx.tarpit.test"},
    {"name": "mx.tarpit.test", "type": "A", "value": "127.0.0.21"},
    {"name": "zfast.test", "type": "MX", "value": "10 mx.zfast.test"},
    {"name": "mx.zfast.test", "type": "A", "value": "127.0.0.22"},
    {"name": "two.test", "type": "MX", "value": "10 mx1.two.test"},
    {"name": "two.test", "type": "MX", "value": "20 mx2.two.test"},
    {"name": "mx1.two.test", "type": "A", "value": "127.0.0.23"},
    {"name": "mx2.two.test", "type": "A", "value": "127.0.0.24"},
    {"name": "small.test", "type": "MX", "value": "10 mx.small.test"},
    {"name": "mx.small.test", "type": "A", "value": "127.0.0.25"},
]


class World:
    """The DNS and Postie A (alice@a.test); B on request."""

    def __init__(self, network, server_factory, queue=None, relay=None):
        self.network = network
        self.factory = server_factory
        self.dns = TestDNS(network, RECORDS).start()
        self.a = self.postie("a", A_ADDR, queue=queue, relay=relay)
        self.a.add_user(ALICE, PASSWORD)
        self.b = None

    def postie(self, name, addr, queue=None, relay=None, start=True, smtp=None):
        extra = {
            "hostname": "mx.%s.test" % name,
            "dns": {"nameservers": [self.dns.nameserver]},
            "queue": {"retry_schedule_secs": [1], **(queue or {})},
        }
        if relay:
            extra["relay"] = relay
        return self.factory(
            network=self.network,
            name=name,
            start=start,
            listen={"smtp": ["%s:25" % addr], "submission": ["%s:587" % addr],
                    "submissions": []},
            smtp=smtp,
            extra=extra,
        )

    def with_b(self, smtp=None):
        self.b = self.postie("b", B_ADDR, smtp=smtp)
        self.b.add_user(BOB, PASSWORD)
        return self.b

    def submit(self, rcpts, marker, server=None, user=ALICE, sender=None, rcpt_options=(),
               mail_options=(), subject="relay test"):
        """Submits a message as USER on SERVER's submission port (AUTH in
        clear is allowed from loopback); returns the queue id."""
        server = server or self.a
        sender = sender or user
        if isinstance(rcpts, str):
            rcpts = [rcpts]
        body = ("From: <%s>\r\nTo: %s\r\nSubject: %s %s\r\n\r\nmarker %s\r\n"
                % (sender, ", ".join("<%s>" % r for r in rcpts), subject, marker, marker))
        host, port = server.addr("submission")
        s = self.network.smtp(host, port)
        try:
            s.ehlo("client.test")
            s.login(user, PASSWORD)
            s.mail(sender, list(mail_options))
            for r in rcpts:
                code, msg = s.rcpt(r, list(rcpt_options))
                assert code == 250, (r, code, msg)
            code, msg = s.data(body.encode())
            assert code == 250, (code, msg)
            s.quit()
        finally:
            s.close()
        return msg.decode().split()[-1]

    def peer(self, addr, mode="accept", **kwargs):
        return Peer(self.network, addr, mode=mode, **kwargs).start()


@pytest.fixture
def world(network, server_factory):
    return World(network, server_factory)


def reports(server, addr, count, timeout=30):
    """The first COUNT messages of ADDR's mailbox, parsed."""
    server.wait_for_mail(addr, count, timeout=timeout)
    return [email.message_from_bytes(m, policy=email.policy.default)
            for m in server.mailbox(addr)]


def status_fields(report):
    """The per-recipient fields of the message/delivery-status part, as one
    dict per recipient (names lower-cased)."""
    for part in report.walk():
        if part.get_content_type() in ("message/delivery-status",
                                       "message/global-delivery-status"):
            payload = part.get_payload()
            text = payload if isinstance(payload, str) else "\n\n".join(
                p.as_string() for p in payload)
            blocks = [b for b in text.replace("\r\n", "\n").split("\n\n") if b.strip()]
            out = []
            for block in blocks[1:]:
                fields = {}
                for line in block.replace("\n ", " ").splitlines():
                    name, _, value = line.partition(":")
                    # "type; value" fields may be written with or without the space
                    fields[name.strip().lower()] = value.strip().replace("; ", ";", 1)
                out.append(fields)
            return out
    raise AssertionError("no delivery-status part in:\n%s" % report)


def test_mail_reaches_the_other_domain_via_mx(world):
    b = world.with_b()
    marker = unique("ab")
    qid = world.submit(BOB, marker)
    b.wait_for_mail(BOB, 1, timeout=30)
    (stored,) = b.mailbox(BOB)
    assert marker.encode() in stored
    assert b"by mx.b.test" in stored and b"by mx.a.test" in stored, stored[:600]
    # Delivered once: A's queue empties and B holds exactly one copy.
    wait_until(lambda: qid.lower() not in world.a.queue_list().lower(), 15,
               message="A's queue to empty")
    assert len(b.mail_list(BOB)) == 1


def test_temporary_failure_is_retried_then_delivered(world):
    peer = world.peer("127.0.0.4", mode="tempfail", tempfail=1)
    marker = unique("tf")
    world.submit("user@tempfail.test", marker)
    (msg,) = peer.wait_for(1, timeout=30)
    assert marker.encode() in msg["data"]
    assert msg["mail_from"] == ALICE
    first, second = peer.transactions()[:2]
    assert first["rcpts"][0][1].startswith("451"), first
    assert second["rcpts"][0][1].startswith("250"), second
    assert world.a.mailbox(ALICE) == [], "no bounce, no delay warning (too early)"


def test_permanent_failure_bounces_to_the_sender(world):
    world.peer("127.0.0.5", mode="reject")
    marker = unique("rj")
    world.submit("nobody@reject.test", marker)
    (bounce,) = reports(world.a, ALICE, 1)
    assert bounce.get_content_type() == "multipart/report"
    assert bounce.get_param("report-type") == "delivery-status"
    assert "MAILER-DAEMON@mx.a.test" in bounce["From"]
    assert bounce["Auto-Submitted"] == "auto-replied"
    (fields,) = status_fields(bounce)
    assert fields["final-recipient"].lower() == "rfc822;nobody@reject.test"
    assert fields["action"] == "failed"
    assert fields["status"] == "5.1.1"
    assert fields["diagnostic-code"].startswith("smtp;550 5.1.1"), fields
    assert fields["remote-mta"] == "dns;mx.reject.test"
    # The original comes back whole (no RET=HDRS asked).
    assert marker in bounce.as_string()
    # Sent from the null reverse-path: the stored copy says so.
    raw = world.a.mailbox(ALICE)[0]
    assert raw.startswith(b"Return-Path: <>"), raw[:200]


@pytest.mark.parametrize("domain,status", [("nullmx.test", "5.1.10"), ("nxdomain.test", "5.1.2")])
def test_domains_that_take_no_mail_bounce_at_once(world, domain, status):
    world.submit("someone@%s" % domain, unique("nx"))
    (bounce,) = reports(world.a, ALICE, 1, timeout=20)
    (fields,) = status_fields(bounce)
    assert fields["action"] == "failed"
    assert fields["status"] == status, fields


def test_next_mx_and_implicit_mx(world):
    peer = world.peer("127.0.0.9")
    m1, m2 = unique("mx2"), unique("imp")
    world.submit("x@multi.test", m1)   # MX 10 is down: MX 20 takes it
    world.submit("y@implicit.test", m2)  # no MX: the A record
    got = peer.wait_for(2, timeout=30)
    rcpts = sorted(m["rcpt_tos"][0] for m in got)
    assert rcpts == ["x@multi.test", "y@implicit.test"]
    assert world.a.mailbox(ALICE) == []


def test_recipients_of_one_domain_share_a_transaction(world):
    peer = world.peer("127.0.0.9")
    marker = unique("two")
    world.submit(["one@implicit.test", "two@implicit.test"], marker)
    (msg,) = peer.wait_for(1, timeout=30)
    assert sorted(msg["rcpt_tos"]) == ["one@implicit.test", "two@implicit.test"]
    assert len(peer.transactions()) == 1
    assert marker.encode() in msg["data"]


def test_down_destination_gets_a_delay_warning_then_delivery(network, server_factory):
    world = World(network, server_factory, queue={"delay_warning_secs": 2})
    marker = unique("dn")
    qid = world.submit("later@down.test", marker)
    (warning,) = reports(world.a, ALICE, 1, timeout=30)
    (fields,) = status_fields(warning)
    assert fields["action"] == "delayed"
    assert fields["status"].startswith("4."), fields
    assert "will-retry-until" in fields
    assert "Delayed Mail" in warning["Subject"]
    (entry,) = [e for e in world.a.queue_entries() if e["id"] == qid.lower()]
    (rcpt,) = entry["recipients"]
    assert rcpt["address"] == "later@down.test" and rcpt["status"] == "pending", entry
    assert rcpt["last_error"], entry
    peer = world.peer("127.0.0.6")
    (msg,) = peer.wait_for(1, timeout=30)
    assert marker.encode() in msg["data"]
    wait_until(lambda: qid.lower() not in world.a.queue_list().lower(), 15,
               message="queue to empty")
    assert len(world.a.mail_list(ALICE)) == 1, "one delay warning, no bounce"


def test_required_tls_to_mx_hosts(network, server_factory):
    world = World(network, server_factory, relay={"require_tls": True})
    clear = world.peer("127.0.0.9")  # implicit.test: no STARTTLS
    qid = world.submit("x@implicit.test", unique("rt"))
    wait_until(lambda: "4.7.4" in world.a.queue_list(), 20, message="the refusal in the listing")
    assert clear.messages() == []
    assert qid.lower() in world.a.queue_list().lower()
    clear.stop()
    tls_peer = world.peer("127.0.0.9", tls=True)
    (msg,) = tls_peer.wait_for(1, timeout=30)
    assert msg["tls"], msg


def test_smarthost_with_starttls_and_auth(world):
    # B is the smarthost of another server, which logs in as bob but sends for its own
    # users: B must not tie senders to the login (docs/security.md, sender check).
    b = world.with_b(smtp={"sender_check": False})
    relay = {
        "smarthost": "mx.b.test:587",
        "smarthost_tls": "starttls",
        "smarthost_user": BOB,
        "smarthost_password": PASSWORD,
        "smarthost_ca": os.path.join(b.data_dir, "tls", "cert.pem"),
    }
    a2 = world.postie("a2", "127.0.0.12", relay=relay)
    a2.add_user("carol@c2.test", PASSWORD)
    marker = unique("sh")
    # To b.test: B takes it as an authenticated submission and files it for bob.
    world.submit(BOB, marker, server=a2, user="carol@c2.test")
    b.wait_for_mail(BOB, 1, timeout=30)
    (stored,) = b.mailbox(BOB)
    assert marker.encode() in stored
    # TLS and authentication were used: "with ESMTPSA" (RFC 3848).
    assert b"with ESMTPSA" in stored, stored[:800]
    # Mail for another domain also goes through the smarthost, which relays it
    # on to that domain's MX.
    peer = world.peer("127.0.0.9")
    m2 = unique("sh2")
    world.submit("friend@implicit.test", m2, server=a2, user="carol@c2.test")
    (msg,) = peer.wait_for(1, timeout=30)
    assert m2.encode() in msg["data"]
    # a2 only talks to its smarthost, so B's Received line is B's relaying.
    assert b"by mx.b.test" in msg["data"] and b"by mx.a2.test" in msg["data"]


def test_smarthost_with_a_wrong_password_keeps_mail_queued(world):
    b = world.with_b()
    relay = {
        "smarthost": "mx.b.test:587",
        "smarthost_user": BOB,
        "smarthost_password": "wrong",
        "smarthost_ca": os.path.join(b.data_dir, "tls", "cert.pem"),
    }
    a2 = world.postie("a2", "127.0.0.12", relay=relay)
    a2.add_user("carol@c2.test", PASSWORD)
    qid = world.submit(BOB, unique("pw"), server=a2, user="carol@c2.test")
    wait_until(lambda: "535" in a2.queue_list(), 20, message="the 535 in the queue listing")
    listing = a2.queue_list()
    assert qid.lower() in listing.lower() and "pending" in listing, listing
    assert b.mail_list(BOB) == []
    assert a2.mail_list("carol@c2.test") == [], "no bounce for a configuration problem"


def test_success_reports_relayed_and_delivered(world):
    b = world.with_b()
    world.peer("127.0.0.9")  # implicit.test: a peer without DSN
    marker = unique("dsn")
    world.submit([BOB, "z@implicit.test"], marker, rcpt_options=["NOTIFY=SUCCESS"],
                 mail_options=["RET=HDRS", "ENVID=env-" + marker])
    got = reports(world.a, ALICE, 2, timeout=30)
    actions = {}
    for report in got:
        for fields in status_fields(report):
            actions[fields["final-recipient"].split(";")[1].strip().lower()] = fields["action"]
    # B supports DSN, so B reports the delivery; the peer does not, so A
    # reports "relayed" itself (RFC 3461 §6.2.2).
    assert actions == {BOB: "delivered", "z@implicit.test": "relayed"}, actions
    for report in got:
        assert ("env-" + marker) in report.as_string()
    assert "MAILER-DAEMON@mx.b.test" in " ".join(str(r["From"]) for r in got)


def test_queue_hold_release_flush_and_delete(world):
    marker = unique("q")
    qid = world.submit("held@down.test", marker)
    wait_until(lambda: "last error:" in world.a.queue_list(), 20, message="a failed attempt")
    world.a.cli("queue", "hold", qid)
    assert "HELD" in world.a.queue_list()
    shown = world.a.cli("queue", "show", qid).stdout
    assert "held@down.test" in shown and marker in shown, shown
    # `show` gives the absolute time of the next attempt and the last error.
    assert re.search(r"held@down\.test: pending, \d+ attempts, next \w{3}, \d+ \w{3} \d{4} "
                     r"[\d:]+ [+-]\d{4} \(in [^)]*\), last error: ", shown), shown
    peer = world.peer("127.0.0.6")
    world.a.cli("queue", "flush")
    # Give the runner several looks at the queue: still nothing may go out.
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        assert peer.messages() == [], "a held message was delivered"
        time.sleep(0.2)
    world.a.cli("queue", "release", qid)
    (msg,) = peer.wait_for(1, timeout=20)
    assert marker.encode() in msg["data"]

    # flush --domain, and delete with a bounce.
    peer.stop()
    q2 = world.submit("gone@down.test", unique("q2"))
    wait_until(lambda: "last error:" in world.a.queue_list(), 20, message="a failed attempt")
    out = world.a.cli("queue", "flush", "--domain", "down.test").stdout
    assert "1 recipients due now" in out, out
    world.a.cli("queue", "delete", q2, "--bounce")
    assert q2.lower() not in world.a.queue_list().lower()
    (bounce,) = reports(world.a, ALICE, 1)
    (fields,) = status_fields(bounce)
    assert fields["action"] == "failed" and "administrator" in bounce.as_string()
    missing = world.a.cli("queue", "hold", "0000000000000001", check=False)
    assert missing.returncode != 0


def test_kill_and_restart_loses_and_repeats_nothing(world):
    markers = [unique("k%d" % i) for i in range(20)]
    for m in markers:
        world.submit("k@down.test", m)
    world.a.kill()
    peer = world.peer("127.0.0.6")
    world.a.start()
    got = peer.wait_for(20, timeout=60)
    wait_until(lambda: "k@down.test" not in world.a.queue_list(), 20,
               message="the queue to empty")
    bodies = [m["data"] for m in peer.messages()]
    for m in markers:
        assert sum(m.encode() in b for b in bodies) == 1, m
    assert len(got) == 20


def test_postie_relays_to_postfix(world):
    pf = Postfix(world.network, "127.0.0.10").start()
    marker = unique("pf")
    world.submit("someone@pf.test", marker)
    (got,) = pf.wait_delivered(1, timeout=30)
    assert marker.encode() in got["data"]
    assert b"by mx.a.test" in got["data"], got["data"][:600]
    assert got["rcpt"] == "someone@pf.test"


def recipient_states(server, qid):
    """{address: status} of queue entry QID in `queue list --json` ({} once gone)."""
    for entry in server.queue_entries():
        if entry["id"].lower() == qid.lower():
            return {r["address"]: r["status"] for r in entry["recipients"]}
    return {}


def test_a_silent_server_holds_up_no_other_domain(world):
    # tarpit.test sorts before zfast.test: delivered one domain after the other, the
    # fast one would wait for the tarpit's greeting timeout (5 minutes).
    tarpit = world.peer("127.0.0.21", mode="tarpit")
    fast = world.peer("127.0.0.22")
    marker = unique("hol")
    qid = world.submit(["x@tarpit.test", "y@zfast.test"], marker)
    (msg,) = fast.wait_for(1, timeout=20)
    assert msg["rcpt_tos"] == ["y@zfast.test"] and marker.encode() in msg["data"]
    # Recorded as soon as its server took it, while the tarpit still stalls.
    want = {"x@tarpit.test": "pending", "y@zfast.test": "delivered"}
    wait_until(lambda: recipient_states(world.a, qid) == want, 20,
               message="the fast recipient recorded as delivered")
    shown = world.a.cli("queue", "show", qid).stdout
    assert "y@zfast.test: delivered" in shown, shown
    assert re.search(r"x@tarpit\.test: pending, 0 attempts", shown), shown
    assert tarpit.running()


def test_queue_show_lists_the_last_error_of_each_mx_host(world):
    world.peer("127.0.0.23", mode="greet421")  # MX 10; MX 20 (127.0.0.24) is down
    qid = world.submit("z@two.test", unique("two"))
    wait_until(lambda: "mx2.two.test" in world.a.cli("queue", "show", qid).stdout, 20,
               message="a failed attempt at both hosts")
    shown = world.a.cli("queue", "show", qid).stdout
    lines = shown.splitlines()
    (i,) = [n for n, line in enumerate(lines) if line.startswith("  z@two.test: pending")]
    # The summary is the last error (ours: the connection was refused), then each host
    # tried, in order, indented under the recipient.
    assert "last error: 4.4.1 mx2.two.test[127.0.0.24]: " in lines[i], shown
    assert " said: " not in lines[i], shown
    assert lines[i + 1] == "      mx1.two.test[127.0.0.23]: 421 4.3.2 too busy", shown
    assert lines[i + 2].startswith("      mx2.two.test[127.0.0.24]: 4.4.1 "), shown
    # The table keeps one line per recipient: only the summary.
    listing = world.a.queue_list()
    assert "mx1.two.test" not in listing and "mx2.two.test[127.0.0.24]" in listing, listing
    (entry,) = [e for e in world.a.queue_entries() if e["id"].lower() == qid.lower()]
    (rcpt,) = entry["recipients"]
    assert [h["host"] for h in rcpt["hosts"]] == ["mx1.two.test[127.0.0.23]",
                                                  "mx2.two.test[127.0.0.24]"], rcpt
    assert rcpt["hosts"][0]["error"] == "421 4.3.2 too busy", rcpt
    assert rcpt["last_error"].splitlines()[0].startswith("4.4.1 mx2.two.test"), rcpt


def test_a_size_refusal_we_decide_bounces_as_ours(world):
    peer = world.peer("127.0.0.25", size=200)  # EHLO says SIZE 200
    world.submit("big@small.test", unique("big") + " " + "x" * 400)
    (bounce,) = reports(world.a, ALICE, 1)
    (fields,) = status_fields(bounce)
    assert fields["action"] == "failed" and fields["status"] == "5.3.4", fields
    # We decided it, from the SIZE the server declared: no Remote-MTA, no "smtp; 552".
    assert fields["diagnostic-code"].startswith("x-postie;5.3.4 mx.small.test[127.0.0.25]: "), \
        fields
    assert "remote-mta" not in fields, fields
    assert peer.messages() == [] and peer.transactions() == []
