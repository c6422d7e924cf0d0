"""DANE (RFC 7672) on outbound mail, end to end, as far as it goes here: the test
DNS serves TLSA records and sets the AD bit for the `dane.test` zone, as a
validating resolver would (nothing is signed: Postie does not validate DNSSEC
itself, it trusts the AD bit because `dns.dnssec = true` says the resolver
validates).

    ok.dane.test    MX -> 127.0.0.31, TLSA 3 1 1 of the peer's key   delivered
    bad.dane.test   MX -> 127.0.0.32, TLSA 3 1 1 of another key      deferred
    plain.test      MX -> 127.0.0.33, a mismatching TLSA record without AD: delivered
                    (no DANE without AD, though Postie asks for AD, RFC 6840 §5.7)
"""

import hashlib
import os
import subprocess
import tempfile

import pytest

from dnsserver import TestDNS
from harness import unique, wait_until
from network import network  # noqa: F401  (the fixture)
from peer import Peer, self_signed_cert

A_ADDR = "127.0.0.2"
ALICE = "alice@a.test"
PASSWORD = "dane-secret"


def spki_sha256(cert):
    pub = subprocess.run(["openssl", "x509", "-in", cert, "-pubkey", "-noout"],
                         check=True, capture_output=True, timeout=60).stdout
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "DER"], input=pub,
                         check=True, capture_output=True, timeout=60).stdout
    return hashlib.sha256(der).hexdigest()


class World:
    def __init__(self, network, server_factory, dnssec=True):
        self.network = network
        self.dir = tempfile.mkdtemp(prefix="postie-dane-")
        records = [{"name": "a.test", "type": "MX", "value": "10 mx.a.test"},
                   {"name": "mx.a.test", "type": "A", "value": A_ADDR}]
        self.peers = {}
        other = os.path.join(self.dir, "other")
        os.makedirs(other)
        other_cert, _ = self_signed_cert(other, "mx.other.test")
        for domain, addr in (("ok.dane.test", "127.0.0.31"), ("bad.dane.test", "127.0.0.32"),
                             ("plain.test", "127.0.0.33")):
            mx = "mx." + domain
            d = os.path.join(self.dir, domain)
            os.makedirs(d)
            cert, key = self_signed_cert(d, mx)
            digest = spki_sha256(cert if domain == "ok.dane.test" else other_cert)
            records += [{"name": domain, "type": "MX", "value": "10 " + mx},
                        {"name": mx, "type": "A", "value": addr},
                        {"name": "_25._tcp." + mx, "type": "TLSA", "value": "3 1 1 " + digest}]
            self.peers[domain] = Peer(network, addr, tls=(cert, key), hostname=mx).start()
        self.dns = TestDNS(network, records, authenticated=["dane.test"]).start()
        self.a = server_factory(
            network=network, name="a",
            listen={"smtp": ["%s:25" % A_ADDR], "submission": ["%s:587" % A_ADDR],
                    "submissions": []},
            extra={"hostname": "mx.a.test",
                   "dns": {"nameservers": [self.dns.nameserver], "dnssec": dnssec},
                   "queue": {"retry_schedule_secs": [1]}})
        self.a.add_user(ALICE, PASSWORD)

    def submit(self, rcpt, marker):
        body = "From: <%s>\r\nTo: <%s>\r\nSubject: dane %s\r\n\r\n%s\r\n" % (ALICE, rcpt, marker, marker)
        host, port = self.a.addr("submission")
        s = self.network.smtp(host, port)
        try:
            s.login(ALICE, PASSWORD)
            s.sendmail(ALICE, [rcpt], body.encode())
            s.quit()
        finally:
            s.close()

    def deferred_with(self, rcpt, text):
        return any(r["address"] == rcpt and text in (r.get("last_error") or "")
                   for e in self.a.queue_entries() for r in e["recipients"])


def test_a_matching_tlsa_record_delivers_and_a_mismatch_defers(network, server_factory):
    w = World(network, server_factory)
    marker = unique("dane")
    w.submit("bob@ok.dane.test", marker)
    (msg,) = w.peers["ok.dane.test"].wait_for(1, timeout=30)
    assert marker.encode() in msg["data"] and msg["tls"]

    w.submit("bob@bad.dane.test", unique("dane"))
    wait_until(lambda: w.deferred_with("bob@bad.dane.test", "4.7.5"), 30,
               message="the DANE mismatch deferred")
    assert w.peers["bad.dane.test"].messages() == []
    assert all(e["cmd"] != "MAIL" for e in w.peers["bad.dane.test"].journal())

    # Without AD the (mismatching) records mean nothing: opportunistic TLS, delivered.
    marker = unique("dane")
    w.submit("bob@plain.test", marker)
    (msg,) = w.peers["plain.test"].wait_for(1, timeout=30)
    assert marker.encode() in msg["data"]


def test_without_dns_dnssec_the_ad_bit_is_not_trusted(network, server_factory):
    w = World(network, server_factory, dnssec=False)
    marker = unique("dane")
    w.submit("bob@bad.dane.test", marker)
    (msg,) = w.peers["bad.dane.test"].wait_for(1, timeout=30)
    assert marker.encode() in msg["data"]
