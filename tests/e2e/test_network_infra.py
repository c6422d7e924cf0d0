"""Self-tests of the multi-host test infrastructure: Network (one shared
namespace, several loopback "hosts"), TestDNS, Peer and Postfix. The outbound
relay's tests build on these; here each piece is proven to do what it claims.
"""

import os
import signal
import smtplib
import socket
import subprocess
import sys

import pytest
from dnslib import EDNS0, QTYPE, RCODE, DNSRecord

from dnsserver import TestDNS
from harness import unique, wait_until
from network import Network, network, require_netns  # noqa: F401  (network: the fixture)
from peer import Peer
from postfix import POSTFIX, Postfix

HERE = os.path.dirname(os.path.abspath(__file__))

needs_postfix = pytest.mark.skipif(
    not os.path.exists(POSTFIX),
    reason="postfix is not installed (%s missing): run scripts/install-test-deps" % POSTFIX)


def message(sender, rcpt, marker, extra_body=""):
    return ("From: <%s>\r\nTo: <%s>\r\nSubject: %s\r\nMessage-ID: <%s@client.test>\r\n\r\n"
            "%s\r\n%s" % (sender, rcpt, marker, marker, marker, extra_body)).encode()


def netns_id(pid):
    st = os.stat("/proc/%d/ns/net" % pid)
    return st.st_dev, st.st_ino


# ----- Network and Server(network=...) ---------------------------------------------

def test_two_servers_share_one_network(network, server_factory):
    a = server_factory(network=network, listen={"smtp": ["127.0.0.2:25"]},
                       extra={"hostname": "mx.a.test"})
    b = server_factory(network=network, listen={"smtp": ["127.0.0.3:25"]},
                       extra={"hostname": "mx.b.test"})
    assert a.addr("smtp") == ("127.0.0.2", 25)
    assert b.addr("smtp") == ("127.0.0.3", 25)
    # Both live in the network's namespace, not in the test's.
    assert netns_id(a.proc.pid) == netns_id(network.pid) == netns_id(b.proc.pid)
    assert netns_id(a.proc.pid) != netns_id(os.getpid())

    for host, name in (("127.0.0.2", "mx.a.test"), ("127.0.0.3", "mx.b.test")):
        s = network.smtp(host, 25)
        try:
            code, text = s.ehlo()
            assert code == 250 and text.split(b"\n")[0].startswith(name.encode()), (host, text)
        finally:
            s.quit()

    # Mail to each reaches that server's own mailbox.
    a.add_user("alice@a.test", "alice-secret")
    b.add_user("bob@b.test", "bob-secret")
    for srv, rcpt in ((a, "alice@a.test"), (b, "bob@b.test")):
        marker = unique()
        s = srv.smtp()
        try:
            s.sendmail("sender@client.test", [rcpt], message("sender@client.test", rcpt, marker))
            s.quit()
        finally:
            s.close()
        srv.wait_for_mail(rcpt, 1)
        assert marker.encode() in srv.mailbox(rcpt)[0]

    # External tools reach them through Server.tool() (nsenter).
    p = b.tool(["swaks", "--server", "127.0.0.2:25", "--quit-after", "EHLO", "--helo", "c.test"])
    assert p.returncode == 0 and b"mx.a.test" in p.stdout, p.stdout + p.stderr

    # The host's namespace does not see them.
    probe = socket.socket()
    probe.settimeout(5)
    try:
        assert probe.connect_ex(("127.0.0.2", 25)) != 0
    finally:
        probe.close()


def test_network_close_kills_detached_processes():
    net = Network()
    # A daemon that leaves its parent (like Postfix's master).
    p = net.run(["sh", "-c", "sleep 1000 >/dev/null 2>&1 & echo $!"], text=True)
    pid = int(p.stdout.strip())
    assert os.path.exists("/proc/%d" % pid)
    assert pid in net.members()
    holder = net.pid
    net.close()
    wait_until(lambda: not _alive(pid), 10, message="the detached sleep to be killed")
    assert not _alive(holder)


def test_network_swept_when_test_process_dies():
    """A test process killed outright (no cleanup code runs) leaves nothing
    behind: the holder gets SIGTERM through PR_SET_PDEATHSIG and kills the
    rest of the namespace."""
    require_netns()
    code = (
        "import sys; sys.path.insert(0, %r)\n"
        "from network import Network\n"
        "net = Network()\n"
        "p = net.run(['sh', '-c', 'sleep 1000 >/dev/null 2>&1 & echo $!'], text=True)\n"
        "print(net.pid, p.stdout.strip(), flush=True)\n"
        "sys.stdin.read()\n" % HERE)
    child = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
    try:
        holder, sleeper = (int(x) for x in child.stdout.readline().split())
        assert _alive(holder) and _alive(sleeper)
        child.send_signal(signal.SIGKILL)
        child.wait(10)
        wait_until(lambda: not _alive(sleeper) and not _alive(holder), 10,
                   message="the namespace to be swept")
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        child.stdin.close()
        child.stdout.close()


def _alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


# ----- TestDNS -----------------------------------------------------------------------

LONG_TXT = "v=DKIM1; k=rsa; p=" + "A" * 600

RECORDS = [
    {"name": "a.test", "type": "MX", "value": "10 mx.a.test"},
    {"name": "a.test", "type": "MX", "value": "20 mx2.a.test", "ttl": 300},
    {"name": "mx.a.test", "type": "A", "value": "127.0.0.2"},
    {"name": "mx2.a.test", "type": "A", "value": "127.0.0.3"},
    {"name": "only-a.test", "type": "A", "value": "127.0.0.4"},
    {"name": "v6.test", "type": "AAAA", "value": "::1"},
    {"name": "sel._domainkey.a.test", "type": "TXT", "value": LONG_TXT},
    {"name": "alias.test", "type": "CNAME", "value": "mx.a.test"},
    {"name": "_submission._tcp.a.test", "type": "SRV", "value": "0 1 587 mx.a.test"},
    {"name": "null.test", "type": "MX", "value": "0 ."},
]


def answers(reply, qtype=None):
    return [rr for rr in reply.rr if qtype is None or QTYPE[rr.rtype] == qtype]


def test_dns_answers_mx_a_nxdomain_nodata(network):
    dns = TestDNS(network, RECORDS).start()
    assert dns.nameserver == "127.0.0.53:53"

    r = dns.query("a.test", "MX")
    assert r.header.rcode == RCODE.NOERROR and r.header.aa == 1
    mx = sorted((rr.rdata.preference, str(rr.rdata.label)) for rr in answers(r, "MX"))
    assert mx == [(10, "mx.a.test."), (20, "mx2.a.test.")]
    assert sorted(rr.ttl for rr in answers(r, "MX")) == [1, 300]

    r = dns.query("MX.A.Test.", "A")  # case-insensitive
    assert [str(rr.rdata) for rr in answers(r, "A")] == ["127.0.0.2"]
    r = dns.query("v6.test", "AAAA")
    assert [str(rr.rdata) for rr in answers(r, "AAAA")] == ["::1"]

    # NXDOMAIN: nothing at or below the name; the zone's SOA in authority.
    r = dns.query("nothere.test", "A")
    assert r.header.rcode == RCODE.NXDOMAIN and not r.rr
    assert [QTYPE[rr.rtype] for rr in r.auth] == ["SOA"]
    r = dns.query("nothere.a.test", "MX")
    assert r.header.rcode == RCODE.NXDOMAIN

    # NODATA: the name exists with other types only (implicit MX case).
    r = dns.query("only-a.test", "MX")
    assert r.header.rcode == RCODE.NOERROR and not r.rr
    assert [QTYPE[rr.rtype] for rr in r.auth] == ["SOA"]
    r = dns.query("only-a.test", "AAAA")
    assert r.header.rcode == RCODE.NOERROR and not r.rr
    # ... or is an empty non-terminal.
    r = dns.query("_domainkey.a.test", "TXT")
    assert r.header.rcode == RCODE.NOERROR and not r.rr

    # Null MX, CNAME chasing, SRV.
    r = dns.query("null.test", "MX")
    assert [(rr.rdata.preference, str(rr.rdata.label)) for rr in answers(r, "MX")] == [(0, ".")]
    r = dns.query("alias.test", "A")
    assert [str(rr.rdata.label) for rr in answers(r, "CNAME")] == ["mx.a.test."]
    assert [str(rr.rdata) for rr in answers(r, "A")] == ["127.0.0.2"]
    r = dns.query("_submission._tcp.a.test", "SRV")
    assert [(rr.rdata.port, str(rr.rdata.target)) for rr in answers(r, "SRV")] == [
        (587, "mx.a.test.")]

    # A long TXT comes back whole (as 255-byte strings) over TCP; over UDP
    # without EDNS the reply is too big and is truncated.
    r = dns.query("sel._domainkey.a.test", "TXT", tcp=True)
    (txt,) = answers(r, "TXT")
    assert b"".join(txt.rdata.data).decode() == LONG_TXT
    assert all(len(chunk) <= 255 for chunk in txt.rdata.data)
    big = [{"name": "big.test", "type": "TXT", "value": "x" * 250 + str(i)} for i in range(4)]
    dns.add_records(big)
    r = dns.query("big.test", "TXT")
    assert r.header.tc == 1 and not r.rr
    assert len(answers(dns.query("big.test", "TXT", tcp=True), "TXT")) == 4
    # A query offering a bigger EDNS buffer gets it all over UDP, and an OPT.
    q = DNSRecord.question("big.test", "TXT")
    q.add_ar(EDNS0(udp_len=1232))
    with network.netns():
        r = DNSRecord.parse(q.send(dns.addr, dns.port, timeout=5))
    assert r.header.tc == 0 and len(answers(r, "TXT")) == 4
    assert [QTYPE[rr.rtype] for rr in r.ar] == ["OPT"]

    # Not ours: refused.
    r = dns.query("example.com", "A")
    assert r.header.rcode == RCODE.REFUSED

    # The log names every query.
    assert ("udp", "127.0.0.1", "a.test", "MX") in dns.queries()
    assert ("tcp", "127.0.0.1", "sel._domainkey.a.test", "TXT") in dns.queries()


def test_dns_set_records_changes_answers(network):
    dns = TestDNS(network, RECORDS).start()
    assert [str(rr.rdata) for rr in answers(dns.query("mx.a.test", "A"))] == ["127.0.0.2"]
    assert dns.query("new.test", "TXT").header.rcode == RCODE.NXDOMAIN
    dns.set_records([
        {"name": "mx.a.test", "type": "A", "value": "127.0.0.9"},
        {"name": "new.test", "type": "TXT", "value": "v=spf1 -all"},
    ])
    assert [str(rr.rdata) for rr in answers(dns.query("mx.a.test", "A"))] == ["127.0.0.9"]
    r = dns.query("new.test", "TXT")
    assert [b"".join(rr.rdata.data) for rr in answers(r, "TXT")] == [b"v=spf1 -all"]
    # Records not in the new set are gone.
    assert dns.query("only-a.test", "A").header.rcode == RCODE.NXDOMAIN
    assert dns.query("a.test", "MX").header.rcode == RCODE.NOERROR  # empty non-terminal now
    assert not dns.query("a.test", "MX").rr


# ----- Peer ----------------------------------------------------------------------------

def test_peer_accept_records_envelope_and_body(network):
    peer = Peer(network, "127.0.0.4").start()
    s = network.smtp("127.0.0.4", 25)
    try:
        code, _ = s.ehlo("client.test")
        assert code == 250
        assert s.has_extn("size") and s.has_extn("8bitmime") and s.has_extn("smtputf8")
        assert not s.has_extn("starttls") and not s.has_extn("auth")
        body = message("from@client.test", "x@a.test", "peer-marker", ".leading dot\r\n")
        s.sendmail("from@client.test", ["x@a.test", "y@a.test"], body,
                   mail_options=["BODY=8BITMIME"])  # smtplib adds SIZE= itself
        s.sendmail("", ["z@a.test"], b"Subject: bounce\r\n\r\nnull sender\r\n")
        s.quit()
    finally:
        s.close()
    first, second = peer.wait_for(2)
    assert first["mail_from"] == "from@client.test"
    assert first["rcpt_tos"] == ["x@a.test", "y@a.test"]
    assert first["mail_options"] == ["SIZE=%d" % len(body), "BODY=8BITMIME"]
    assert first["data"] == body  # dot-unstuffed, byte for byte
    assert first["helo"] == "client.test" and first["client"] == "127.0.0.1"
    assert first["tls"] is False and first["auth"] is None
    assert second["mail_from"] == "" and second["rcpt_tos"] == ["z@a.test"]
    assert [t["data"][:3] for t in peer.transactions()] == ["250", "250"]


def test_peer_tempfail_then_accept(network):
    peer = Peer(network, "127.0.0.4", mode="tempfail", tempfail=2).start()
    outcomes = []
    for i in range(3):
        s = network.smtp("127.0.0.4", 25)
        try:
            try:
                s.sendmail("a@client.test", ["r@a.test"], b"Subject: %d\r\n\r\nx\r\n" % i)
                outcomes.append(250)
            except smtplib.SMTPRecipientsRefused as e:
                code, text = e.recipients["r@a.test"]
                assert text == b"4.3.0 try again later"
                outcomes.append(code)
            s.quit()
        finally:
            s.close()
    assert outcomes == [451, 451, 250]
    (msg,) = peer.wait_for(1)
    assert msg["txn"] == 3 and msg["data"] == b"Subject: 2\r\n\r\nx\r\n"
    txns = peer.transactions()
    assert [t["rcpts"][0][1][:3] for t in txns] == ["451", "451", "250"]


def test_peer_tempfail_at_end_of_data(network):
    peer = Peer(network, "127.0.0.4", mode="tempfail", tempfail=1, tempfail_at="data").start()
    s = network.smtp("127.0.0.4", 25)
    try:
        with pytest.raises(smtplib.SMTPDataError) as e:
            s.sendmail("a@client.test", ["r@a.test"], b"Subject: 1\r\n\r\nx\r\n")
        assert e.value.smtp_code == 451
        s.rset()
        s.sendmail("a@client.test", ["r@a.test"], b"Subject: 2\r\n\r\nx\r\n")
        s.quit()
    finally:
        s.close()
    (msg,) = peer.wait_for(1)
    assert msg["txn"] == 2


def test_peer_reject_modes(network):
    rej = Peer(network, "127.0.0.4", mode="reject").start()
    rej_data = Peer(network, "127.0.0.5", mode="reject-data").start()
    partial = Peer(network, "127.0.0.7", reject_rcpts=["bad@a.test"]).start()

    s = network.smtp("127.0.0.4", 25)
    try:
        with pytest.raises(smtplib.SMTPRecipientsRefused) as e:
            s.sendmail("a@client.test", ["r@a.test"], b"Subject: x\r\n\r\nx\r\n")
        code, text = e.value.recipients["r@a.test"]
        assert code == 550 and text.startswith(b"5.1.1")
    finally:
        s.close()

    s = network.smtp("127.0.0.5", 25)
    try:
        with pytest.raises(smtplib.SMTPDataError) as e:
            s.sendmail("a@client.test", ["r@a.test"], b"Subject: x\r\n\r\nx\r\n")
        assert e.value.smtp_code == 554 and e.value.smtp_error.startswith(b"5.6.0")
    finally:
        s.close()

    s = network.smtp("127.0.0.7", 25)
    try:
        refused = s.sendmail("a@client.test", ["good@a.test", "bad@a.test"],
                             b"Subject: x\r\n\r\nx\r\n")
        assert refused == {"bad@a.test": (550, b"5.1.1 mailbox unavailable")}
        s.quit()
    finally:
        s.close()

    (msg,) = partial.wait_for(1)
    assert msg["rcpt_tos"] == ["good@a.test"]
    assert rej.messages() == [] and rej_data.messages() == []


def test_peer_starttls_and_auth(network):
    peer = Peer(network, "127.0.0.4", tls=True, require_tls=True, auth="user:pass").start()
    s = network.smtp("127.0.0.4", 25)
    try:
        s.ehlo("client.test")
        assert s.has_extn("starttls") and not s.has_extn("auth")
        code, _ = s.mail("a@client.test")
        assert code == 530  # STARTTLS first
        import ssl
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        s.starttls(context=ctx)
        s.ehlo("client.test")
        assert not s.has_extn("starttls") and "PLAIN" in s.esmtp_features["auth"].split()
        code, _ = s.mail("a@client.test")
        assert code == 530  # AUTH first
        s.rset()
        with pytest.raises(smtplib.SMTPAuthenticationError):
            s.login("user", "wrong")
        s.login("user", "pass")
        s.sendmail("a@client.test", ["r@a.test"], b"Subject: tls\r\n\r\nover tls\r\n")
        s.quit()
    finally:
        s.close()
    (msg,) = peer.wait_for(1)
    assert msg["tls"] is True and msg["tls_version"].startswith("TLS")
    assert msg["auth"] == "user"


# ----- Postfix --------------------------------------------------------------------------

@needs_postfix
def test_postfix_delivers_locally_and_relays_to_peer(network):
    peer = Peer(network, "127.0.0.4", tls=True).start()
    pf = Postfix(network, "127.0.0.6", local_domains=["pf.test"],
                 transport={"relay.test": "[127.0.0.4]:25"}).start()

    local, remote = unique("local"), unique("remote")
    s = network.smtp("127.0.0.6", 25)
    try:
        s.ehlo("client.test")
        assert b"mx.pf.test" in s.ehlo_resp
        s.sendmail("sender@client.test", ["bob@pf.test"],
                   message("sender@client.test", "bob@pf.test", local))
        s.sendmail("sender@client.test", ["carol@relay.test"],
                   message("sender@client.test", "carol@relay.test", remote))
        s.quit()
    finally:
        s.close()

    (got,) = pf.wait_delivered(1)
    assert got["rcpt"] == "bob@pf.test"
    assert got["msg"]["Subject"] == local
    assert got["path"].startswith(os.path.join(pf.vmail, "pf.test") + os.sep)

    (relayed,) = peer.wait_for(1)
    assert relayed["mail_from"] == "sender@client.test"
    assert relayed["rcpt_tos"] == ["carol@relay.test"]
    assert relayed["helo"] == "mx.pf.test"
    assert relayed["client"] == "127.0.0.6"  # smtp_bind_address: it is its own "host"
    assert relayed["tls"] is True  # Postfix's client uses STARTTLS when offered
    assert remote.encode() in relayed["data"]
    assert b"by mx.pf.test (Postfix)" in relayed["data"]
    # The relayed message was not delivered locally.
    assert [m["path"] for m in pf.delivered()] == [got["path"]]


@needs_postfix
def test_postfix_users_relayhost_and_retry(network):
    """Only listed users exist; everything else goes to the relayhost, which
    tempfails once: Postfix retries within seconds."""
    peer = Peer(network, "127.0.0.4", mode="tempfail", tempfail=1).start()
    pf = Postfix(network, "127.0.0.6", users=["alice@pf.test"],
                 relayhost="[127.0.0.4]:25").start()
    s = network.smtp("127.0.0.6", 25)
    try:
        with pytest.raises(smtplib.SMTPRecipientsRefused) as e:
            s.sendmail("sender@client.test", ["nobody@pf.test"], b"Subject: x\r\n\r\nx\r\n")
        assert e.value.recipients["nobody@pf.test"][0] == 550
        s.rset()
        s.sendmail("sender@client.test", ["alice@pf.test", "dave@elsewhere.test"],
                   message("sender@client.test", "alice@pf.test", "both"))
        s.quit()
    finally:
        s.close()
    (got,) = pf.wait_delivered(1)
    assert got["rcpt"] == "alice@pf.test"
    assert got["path"].startswith(os.path.join(pf.vmail, "pf.test", "alice") + os.sep)
    (relayed,) = peer.wait_for(1, timeout=30)
    assert relayed["rcpt_tos"] == ["dave@elsewhere.test"]
    assert [t["rcpts"][0][1][:3] for t in peer.transactions()] == ["451", "250"]


@needs_postfix
def test_postfix_relays_to_postie(network, server_factory):
    srv = server_factory(network=network, listen={"smtp": ["127.0.0.2:25"]})
    srv.add_user("alice@example.org", "alice-secret")
    pf = Postfix(network, "127.0.0.6", local_domains=[],
                 transport={"example.org": "[127.0.0.2]:25"}).start()
    marker = unique()
    s = network.smtp("127.0.0.6", 25)
    try:
        s.sendmail("sender@client.test", ["alice@example.org"],
                   message("sender@client.test", "alice@example.org", marker))
        s.quit()
    finally:
        s.close()
    srv.wait_for_mail("alice@example.org", 1, timeout=30)
    (stored,) = srv.mailbox("alice@example.org")
    assert marker.encode() in stored
    assert b"by mx.pf.test (Postfix)" in stored
    wait_until(lambda: "status=sent" in pf.log(), 10, message="postfix to log the delivery")
