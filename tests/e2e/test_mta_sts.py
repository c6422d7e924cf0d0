"""MTA-STS (RFC 8461) applied to recipient domains, and the TLS-RPT (RFC 8460)
report about it, end to end: a DNS server for the fake domains, an HTTPS policy
server (stsserver.py) with a certificate from a test CA that Postie trusts
through `relay.tls_ca_file`, scripted SMTP peers as MX hosts.

    good.test      enforce, mx: mx.good.test     peer 127.0.0.11, CA-signed cert
    wrongmx.test   enforce, mx: other.wrongmx.test  peer 127.0.0.12 (CA-signed) is not in it
    badcert.test   enforce, mx: mx.badcert.test  peer 127.0.0.13, self-signed cert
    testing.test   testing, mx: mx.testing.test  peer 127.0.0.14, self-signed cert;
                   _smtp._tls: rua=mailto:tlsrpt@rpt.test and an https: URI
                   on the policy server
    rpt.test       MX -> 127.0.0.15, the peer that receives reports
    nosts.test     no policy                     peer 127.0.0.16, self-signed cert

The policy server listens on 127.0.0.20:443; every mta-sts.DOMAIN points there.
"""

import gzip
import json
import email
import email.policy
import os
import subprocess
import tempfile
import time

import pytest

from dnsserver import TestDNS
from harness import unique, wait_until
from network import network  # noqa: F401  (the fixture)
from peer import Peer, self_signed_cert

A_ADDR = "127.0.0.2"
STS_ADDR = "127.0.0.20"
ALICE = "alice@a.test"
PASSWORD = "sts-secret"

DOMAINS = {
    # domain: (peer address, policy text or None, certificate: "ca" | "self")
    "good.test": ("127.0.0.11", "enforce\nmx: mx.good.test", "ca"),
    "wrongmx.test": ("127.0.0.12", "enforce\nmx: other.wrongmx.test", "ca"),
    "badcert.test": ("127.0.0.13", "enforce\nmx: mx.badcert.test", "self"),
    "testing.test": ("127.0.0.14", "testing\nmx: *.testing.test", "self"),
    "nosts.test": ("127.0.0.16", None, "self"),
}


def openssl(*args, cwd):
    subprocess.run(["openssl"] + list(args), cwd=cwd, check=True, capture_output=True, timeout=60)


def make_ca(directory):
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=Postie Test CA",
            "-keyout", "ca.key", "-out", "ca.pem", cwd=directory)
    return os.path.join(directory, "ca.pem")


def ca_cert(directory, name, hosts):
    """A certificate for HOSTS signed by the test CA in DIRECTORY; (cert, key)."""
    key, csr, cert = name + ".key", name + ".csr", name + ".pem"
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=" + hosts[0],
            "-keyout", key, "-out", csr, cwd=directory)
    ext = os.path.join(directory, name + ".ext")
    with open(ext, "w") as f:
        f.write("subjectAltName=" + ",".join("DNS:" + h for h in hosts) + "\n")
    openssl("x509", "-req", "-in", csr, "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-days", "2", "-extfile", ext, "-out", cert, cwd=directory)
    return os.path.join(directory, cert), os.path.join(directory, key)


class World:
    def __init__(self, network, server_factory):
        self.network = network
        self.dir = tempfile.mkdtemp(prefix="postie-sts-")
        self.ca = make_ca(self.dir)
        records = [
            {"name": "a.test", "type": "MX", "value": "10 mx.a.test"},
            {"name": "mx.a.test", "type": "A", "value": A_ADDR},
            {"name": "rpt.test", "type": "MX", "value": "10 mx.rpt.test"},
            {"name": "mx.rpt.test", "type": "A", "value": "127.0.0.15"},
            {"name": "_smtp._tls.testing.test", "type": "TXT",
             "value": "v=TLSRPTv1; rua=mailto:tlsrpt@rpt.test,https://mta-sts.testing.test/tlsrpt"},
        ]
        self.policies = os.path.join(self.dir, "policies")
        os.makedirs(self.policies)
        sts_hosts = []
        self.peers = {}
        for domain, (addr, policy, cert) in DOMAINS.items():
            mx = "mx." + domain
            records += [{"name": domain, "type": "MX", "value": "10 " + mx},
                        {"name": mx, "type": "A", "value": addr}]
            if policy is not None:
                sts_hosts.append("mta-sts." + domain)
                records += [{"name": "_mta-sts." + domain, "type": "TXT", "value": "v=STSv1; id=1"},
                            {"name": "mta-sts." + domain, "type": "A", "value": STS_ADDR}]
                with open(os.path.join(self.policies, "mta-sts.%s.txt" % domain), "w") as f:
                    f.write("version: STSv1\r\nmode: %s\r\nmax_age: 86400\r\n"
                            % policy.replace("\n", "\r\n"))
            if cert == "ca":
                tls = ca_cert(self.dir, mx, [mx])
            else:
                d = os.path.join(self.dir, mx)
                os.makedirs(d)
                tls = self_signed_cert(d, mx)
            self.peers[domain] = Peer(network, addr, tls=tls, hostname=mx).start()
        self.rpt = Peer(network, "127.0.0.15", hostname="mx.rpt.test").start()
        self.dns = TestDNS(network, records).start()
        cert, key = ca_cert(self.dir, "sts", sts_hosts)
        log = open(os.path.join(self.dir, "sts.log"), "ab")
        self.sts = network.popen(
            ["python3", "-u", os.path.join(os.path.dirname(__file__), "stsserver.py"),
             "--listen", STS_ADDR + ":443", "--dir", self.policies, "--cert", cert, "--key", key],
            stdout=log, stderr=subprocess.STDOUT)
        log.close()
        network.wait_listening(STS_ADDR, 443, proc=self.sts, what="stsserver")
        self.a = server_factory(
            network=network, name="a",
            listen={"smtp": ["%s:25" % A_ADDR], "submission": ["%s:587" % A_ADDR],
                    "submissions": []},
            extra={
                "hostname": "mx.a.test",
                "dns": {"nameservers": [self.dns.nameserver]},
                "queue": {"retry_schedule_secs": [1]},
                "relay": {"tls_ca_file": self.ca},
                "tls_rpt": {"organization": "Postie Test", "contact": "postmaster@a.test"},
            })
        self.a.add_user(ALICE, PASSWORD)

    def stop_sts(self):
        if self.sts.poll() is None:
            self.sts.terminate()
            self.sts.wait(10)

    def submit(self, rcpt, marker):
        body = ("From: <%s>\r\nTo: <%s>\r\nSubject: sts %s\r\n\r\nmarker %s\r\n"
                % (ALICE, rcpt, marker, marker))
        host, port = self.a.addr("submission")
        s = self.network.smtp(host, port)
        try:
            s.ehlo("client.test")
            s.login(ALICE, PASSWORD)
            s.mail(ALICE)
            code, msg = s.rcpt(rcpt)
            assert code == 250, (code, msg)
            code, msg = s.data(body.encode())
            assert code == 250, (code, msg)
            s.quit()
        finally:
            s.close()
        return msg.decode().split()[-1].lower()

    def tls_rpt_send(self, day):
        """`postie tls-rpt send --day DAY`, inside the namespace (it asks the test
        DNS for _smtp._tls records); its output."""
        p = self.network.run([self.a.bin, "tls-rpt", "send", "--day", day,
                              "--config", self.a.config_path], text=True)
        assert p.returncode == 0, (p.stdout, p.stderr)
        return p.stdout

    def entry(self, qid):
        for e in self.a.queue_entries():
            if e["id"] == qid:
                return e
        return None


@pytest.fixture
def world(network, server_factory):
    w = World(network, server_factory)
    yield w
    w.stop_sts()


def test_enforce_with_a_matching_mx_and_a_verified_certificate_delivers(world):
    marker = unique("sts")
    qid = world.submit("bob@good.test", marker)
    (msg,) = world.peers["good.test"].wait_for(1, timeout=30)
    assert marker.encode() in msg["data"]
    assert msg["tls"], "delivered over STARTTLS"
    wait_until(lambda: world.entry(qid) is None, 15, message="the queue to empty")
    # The policy is cached in the store under mta-sts/DOMAIN (fetched once).
    with open(os.path.join(world.policies, "requests.log")) as f:
        assert "mta-sts.good.test /.well-known/mta-sts.txt" in f.read()


def test_enforce_with_a_wrong_mx_defers(world):
    qid = world.submit("bob@wrongmx.test", unique("sts"))

    def deferred():
        e = world.entry(qid)
        return e and any("4.7.5" in (r.get("last_error") or "") for r in e["recipients"])
    wait_until(deferred, 30, message="a 4.7.5 deferral in the queue")
    (rcpt,) = world.entry(qid)["recipients"]
    assert rcpt["status"] == "pending", rcpt
    assert "MTA-STS" in rcpt["last_error"], rcpt
    assert world.peers["wrongmx.test"].journal() == [], "nothing reached the MX outside the policy"


def test_enforce_with_an_unverifiable_certificate_defers(world):
    qid = world.submit("bob@badcert.test", unique("sts"))

    def deferred():
        e = world.entry(qid)
        return e and any("4.7.5" in (r.get("last_error") or "") for r in e["recipients"])
    wait_until(deferred, 30, message="a 4.7.5 deferral in the queue")
    (rcpt,) = world.entry(qid)["recipients"]
    assert rcpt["status"] == "pending", rcpt
    # Never sent in clear text after the failed verification.
    assert world.peers["badcert.test"].messages() == []
    assert all(e["cmd"] != "MAIL" for e in world.peers["badcert.test"].journal())


def test_no_policy_delivers_opportunistically(world):
    marker = unique("sts")
    world.submit("bob@nosts.test", marker)
    (msg,) = world.peers["nosts.test"].wait_for(1, timeout=30)
    assert marker.encode() in msg["data"] and msg["tls"]


def test_testing_mode_delivers_and_the_report_says_what_failed(world):
    marker = unique("sts")
    qid = world.submit("bob@testing.test", marker)
    (msg,) = world.peers["testing.test"].wait_for(1, timeout=30)
    assert marker.encode() in msg["data"]
    wait_until(lambda: world.entry(qid) is None, 15, message="the queue to empty")
    # Also one enforce-mode failure for a domain without a _smtp._tls record.
    world.submit("bob@badcert.test", unique("sts"))
    wait_until(lambda: any("4.7.5" in (r.get("last_error") or "")
                           for e in world.a.queue_entries() for r in e["recipients"]),
               30, message="the badcert deferral")

    day = time.strftime("%Y-%m-%d", time.gmtime())
    # The server writes its counts to the store within a second of an attempt; until
    # the badcert one is there, a run may send the testing.test report alone.
    sent = []

    def both_reported():
        sent.append(world.tls_rpt_send(day))
        out = "".join(sent)
        return "testing.test: mailto:" in out and "badcert.test:" in out

    wait_until(both_reported, 15, message="both domains' results in the store")
    out = "".join(sent)
    assert "testing.test: mailto:tlsrpt@rpt.test: queued" in out, out
    assert "testing.test: https://mta-sts.testing.test/tlsrpt: posted" in out, out
    assert "badcert.test: no _smtp._tls record" in out, out

    (report,) = world.rpt.wait_for(1, timeout=30)
    assert report["rcpt_tos"] == ["tlsrpt@rpt.test"]
    parsed = email.message_from_bytes(report["data"], policy=email.policy.default)
    assert parsed["TLS-Report-Domain"] == "testing.test"
    assert parsed["TLS-Report-Submitter"] == "Postie Test"
    assert parsed["Subject"].startswith("Report Domain: testing.test Submitter: Postie Test Report-ID: <")
    assert parsed.get_content_type() == "multipart/report"
    assert parsed.get_param("report-type") == "tlsrpt"
    (attachment,) = [p for p in parsed.walk() if p.get_content_type() == "application/tlsrpt+gzip"]
    doc = json.loads(gzip.decompress(attachment.get_payload(decode=True)))
    assert doc["organization-name"] == "Postie Test"
    assert doc["contact-info"] == "postmaster@a.test"
    assert doc["date-range"]["start-datetime"] == day + "T00:00:00Z"
    (policy,) = doc["policies"]
    assert policy["policy"]["policy-type"] == "sts"
    assert policy["policy"]["policy-domain"] == "testing.test"
    assert "mode: testing" in policy["policy"]["policy-string"]
    assert policy["policy"]["mx-host"] == ["*.testing.test"]
    assert policy["summary"]["total-failure-session-count"] == 1, policy
    assert policy["summary"]["total-successful-session-count"] == 0, policy
    (detail,) = policy["failure-details"]
    assert detail["result-type"] == "certificate-not-trusted", detail
    assert detail["receiving-mx-hostname"] == "mx.testing.test"
    assert detail["receiving-ip"] == "127.0.0.14"

    # The same report went by HTTPS POST (RFC 8460 §5.4).
    with open(os.path.join(world.policies, "post-1.type")) as f:
        assert f.read() == "application/tlsrpt+gzip"
    with open(os.path.join(world.policies, "post-1.bin"), "rb") as f:
        posted = json.loads(gzip.decompress(f.read()))
    assert posted["report-id"] == doc["report-id"]
    assert posted["policies"] == doc["policies"]

    # Sent results are forgotten: a second run has nothing for that day.
    again = world.tls_rpt_send(day)
    assert "testing.test" not in again, again


def submit_requiring_tls(world, rcpt, marker):
    """Submits over STARTTLS with `MAIL FROM:<…> REQUIRETLS` (RFC 8689 §4.1)."""
    import ssl
    body = ("From: <%s>\r\nTo: <%s>\r\nSubject: requiretls %s\r\n\r\nmarker %s\r\n"
            % (ALICE, rcpt, marker, marker))
    host, port = world.a.addr("submission")
    s = world.network.smtp(host, port)
    try:
        s.ehlo("client.test")
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        s.starttls(context=ctx)
        s.ehlo("client.test")
        assert s.has_extn("requiretls"), s.esmtp_features
        s.login(ALICE, PASSWORD)
        code, msg = s.mail(ALICE, ["REQUIRETLS"])
        assert code == 250, (code, msg)
        code, msg = s.rcpt(rcpt)
        assert code == 250, (code, msg)
        code, msg = s.data(body.encode())
        assert code == 250, (code, msg)
        s.quit()
    finally:
        s.close()


@pytest.mark.parametrize("domain", ["nosts.test", "good.test"])
def test_requiretls_mail_bounces_with_5_7_30_where_it_cannot_be_honoured(world, domain):
    """REQUIRETLS end to end (RFC 8689 §4.2.1): accepted on submission over TLS, then
    refused by our relay, never sent in a way that would drop the requirement: to a
    domain without MTA-STS or DANE (nosts.test), and to one whose enforce policy
    verifies but whose MX does not advertise REQUIRETLS (good.test). The sender gets
    a bounce with status 5.7.30, and the MX never sees MAIL."""
    marker = unique("rtls")
    submit_requiring_tls(world, "bob@" + domain, marker)
    world.a.wait_for_mail(ALICE, 1, timeout=30)
    (uid, *_rest) = world.a.mail_list(ALICE)[0]
    bounce = world.a.mail_read(ALICE, uid).decode("utf-8", "replace")
    assert "5.7.30" in bounce, bounce
    assert marker in bounce, "the bounce names the message"
    assert [e for e in world.peers[domain].journal() if e["cmd"] == "MAIL"] == []
