"""DKIM end to end: Postie A signs what its users submit, Postie B verifies what
arrives, and both agree with a foreign implementation (dkimpy, from PyPI).

    a.test   MX mx.a.test 127.0.0.2   Postie A (alice), DKIM keys from `postie dkim generate`
    b.test   MX mx.b.test 127.0.0.3   Postie B (bob), checks SPF / DKIM / DMARC
    c.test                            signed by dkimpy, sent straight to B from
                                      127.0.0.11, which c.test's SPF does not list

Postie A relays from 127.0.0.1 (no source address is bound), so a.test's SPF
record names that address besides its MX.
"""

import base64
import email
import email.policy
import re
import smtplib
import subprocess
import tempfile

import dkim
import nacl.signing
import pytest

from dnsserver import TestDNS
from harness import unique
from network import network  # noqa: F401  (the fixture)

A_ADDR, B_ADDR, FOREIGN_ADDR = "127.0.0.2", "127.0.0.3", "127.0.0.9"
ALICE, BOB = "alice@a.test", "bob@b.test"
PASSWORD = "dkim-secret"

RECORDS = [
    {"name": "a.test", "type": "MX", "value": "10 mx.a.test"},
    {"name": "mx.a.test", "type": "A", "value": A_ADDR},
    {"name": "a.test", "type": "TXT", "value": "v=spf1 mx ip4:127.0.0.1 -all"},
    {"name": "_dmarc.a.test", "type": "TXT", "value": "v=DMARC1; p=reject"},
    {"name": "b.test", "type": "MX", "value": "10 mx.b.test"},
    {"name": "mx.b.test", "type": "A", "value": B_ADDR},
    {"name": "c.test", "type": "TXT", "value": "v=spf1 ip4:%s -all" % FOREIGN_ADDR},
    {"name": "_dmarc.c.test", "type": "TXT", "value": "v=DMARC1; p=reject"},
]


def postie(factory, network, dns, name, addr):
    return factory(
        network=network,
        name=name,
        listen={"smtp": ["%s:25" % addr], "submission": ["%s:587" % addr],
                "submissions": []},
        # The harness turns the checks off (its default DNS is dead): on, as by default.
        smtp={"spf": True, "dkim_verify": True, "dmarc": "enforce"},
        extra={
            "hostname": "mx.%s.test" % name,
            "dns": {"nameservers": [dns.nameserver]},
            "queue": {"retry_schedule_secs": [1]},
        },
    )


def published_keys(output):
    """{record name: TXT value} from `postie dkim generate` output (zone lines)."""
    keys = {}
    for line in output.splitlines():
        if line.startswith(";") or not line.strip():
            continue
        name, ttl, klass, rtype, rest = line.split(None, 4)
        assert (klass, rtype) == ("IN", "TXT"), line
        keys[name.rstrip(".")] = "".join(re.findall(r'"((?:[^"\\]|\\.)*)"', rest))
    return keys


def dnsfunc_for(records):
    """A dkimpy `dnsfunc` answering from RECORDS ({name: txt})."""
    def dnsfunc(name, timeout=5):
        name = name.decode() if isinstance(name, bytes) else name
        return records.get(name.rstrip(".").lower(), "").encode()
    return dnsfunc


def signatures(message):
    return len(re.findall(rb"(?mi)^DKIM-Signature:", message))


def auth_results(message):
    """The Authentication-Results field of MESSAGE, unfolded."""
    parsed = email.message_from_bytes(message, policy=email.policy.compat32)
    values = parsed.get_all("Authentication-Results") or []
    assert len(values) == 1, values
    return " ".join(values[0].split())


@pytest.fixture
def world(network, server_factory):
    dns = TestDNS(network, RECORDS).start()
    a = postie(server_factory, network, dns, "a", A_ADDR)
    a.add_user(ALICE, PASSWORD)
    b = postie(server_factory, network, dns, "b", B_ADDR)
    b.add_user(BOB, PASSWORD)
    return network, dns, a, b


def submit(network, server, body):
    host, port = server.addr("submission")
    s = network.smtp(host, port)
    try:
        s.ehlo("client.test")
        s.login(ALICE, PASSWORD)
        s.sendmail(ALICE, [BOB], body)
        s.quit()
    finally:
        s.close()


# "large" is past smtp.spool_threshold (256 KiB): spooled to disk at both ends, and
# signed at A and verified at B off the async workers (docs/security.md).
@pytest.mark.parametrize("size", ["small", "large"])
def test_relayed_mail_is_signed_and_passes_every_check_and_dkimpy(world, size):
    network, dns, a, b = world
    padding = "" if size == "small" else ("x" * 76 + "\r\n") * (600 * 1024 // 78)
    out = a.cli("dkim", "generate", "a.test").stdout
    keys = published_keys(out)
    selectors = sorted(n.split(".")[0] for n in keys)
    assert len(selectors) == 2 and selectors[0].endswith("e") and selectors[1].endswith("r"), out
    dns.add_records([{"name": n, "type": "TXT", "value": v} for n, v in keys.items()])
    listed = a.cli("dkim", "list").stdout
    assert all(s in listed for s in selectors), listed

    marker = unique("dkim")
    submit(network, a, ("From: Alice <%s>\r\nTo: <%s>\r\nSubject: signed %s\r\n\r\n"
                        "marker %s\r\n%s" % (ALICE, BOB, marker, marker, padding)).encode())
    b.wait_for_mail(BOB, 1, timeout=30)
    (stored,) = b.mailbox(BOB)
    assert marker.encode() in stored
    assert stored.endswith(padding.encode() or b"\r\n")
    assert len(stored) > len(padding)
    assert signatures(stored) == 2, stored[:2000]
    results = auth_results(stored)
    assert results.startswith("mx.b.test;"), results
    assert results.count("dkim=pass") == 2, results
    assert "spf=pass" in results and "smtp.mailfrom=alice@a.test" in results, results
    assert "dmarc=pass" in results and "header.from=a.test" in results, results

    # A foreign verifier agrees with both of our signatures (Ed25519 and RSA).
    verifier = dkim.DKIM(stored)
    for idx in range(2):
        assert verifier.verify(idx=idx, dnsfunc=dnsfunc_for(keys)), (idx, verifier.domain)


def openssl_rsa_key():
    """A fresh RSA-2048 key: (PEM private key, base64 SubjectPublicKeyInfo)."""
    with tempfile.NamedTemporaryFile(suffix=".pem") as f:
        subprocess.run(["openssl", "genrsa", "-out", f.name, "2048"], check=True,
                       capture_output=True)
        pem = open(f.name, "rb").read()
        der = subprocess.run(["openssl", "rsa", "-in", f.name, "-pubout", "-outform", "DER"],
                             check=True, capture_output=True).stdout
    return pem, base64.b64encode(der).decode()


def test_a_dkimpy_signature_verifies_and_passes_dmarc_on_its_own(world):
    network, dns, a, b = world
    ed = nacl.signing.SigningKey.generate()
    ed_private = base64.b64encode(bytes(ed))
    ed_public = base64.b64encode(bytes(ed.verify_key)).decode()
    rsa_pem, rsa_public = openssl_rsa_key()
    dns.add_records([
        {"name": "ed._domainkey.c.test", "type": "TXT",
         "value": "v=DKIM1; k=ed25519; p=%s" % ed_public},
        {"name": "rsa._domainkey.c.test", "type": "TXT",
         "value": "v=DKIM1; k=rsa; p=%s" % rsa_public},
    ])
    marker = unique("foreign")
    message = ("From: Carol <carol@c.test>\r\nTo: <%s>\r\nSubject: from dkimpy %s\r\n"
               "Date: Mon, 02 Nov 2026 10:00:00 +0000\r\nMessage-ID: <%s@c.test>\r\n\r\n"
               "marker %s\r\n" % (BOB, marker, marker, marker)).encode()
    headers = [b"from", b"to", b"subject", b"date", b"message-id"]
    signed = message
    for selector, key, algo in ((b"rsa", rsa_pem, b"rsa-sha256"),
                                (b"ed", ed_private, b"ed25519-sha256")):
        signed = dkim.sign(signed, selector, b"c.test", key, signature_algorithm=algo,
                           include_headers=headers,
                           canonicalize=(b"relaxed", b"relaxed")) + signed
    # Sent from an address c.test's SPF does not list: DMARC must pass on DKIM alone.
    host, port = b.addr("smtp")
    with network.netns():
        s = smtplib.SMTP(host, port, local_hostname="relay.elsewhere.test",
                         source_address=("127.0.0.11", 0), timeout=30)
    try:
        s.sendmail("carol@c.test", [BOB], signed)
        s.quit()
    finally:
        s.close()
    b.wait_for_mail(BOB, 1, timeout=30)
    (stored,) = b.mailbox(BOB)
    results = auth_results(stored)
    assert results.count("dkim=pass") == 2, results
    assert "header.s=ed" in results and "header.s=rsa" in results, results
    assert "spf=fail" in results, results
    assert "dmarc=pass" in results, results
