"""DNS blocklists (RFC 5782) on the `smtp` listener, end to end (docs/security.md):
a listed client is refused with 554 5.7.1 naming the list, at RCPT (the default:
postmaster and authenticated clients excepted) or instead of the greeting
(`dnsbl_reject_at = "connect"`: then 503 to everything until QUIT); an unlisted
client, a list's error answer and a list that does not answer never stop mail.

The lists live in a TestDNS on 127.0.0.53 inside a shared Network; clients connect
from different 127.0.0.x addresses. RFC 5782 §5: 127.0.0.2 is every list's test
entry, so `2.0.0.127.zen.test` is listed.
"""

import socket
import time

import pytest

from dnsserver import TestDNS
from network import network  # noqa: F401  (the fixture)
from smtpraw import RawSMTP

ALICE = "alice@example.org"

LISTED = "127.0.0.2"
CLEAN = "127.0.0.3"
ERROR_CODE = "127.0.0.4"

RECORDS = [
    {"name": "2.0.0.127.zen.test", "type": "A", "value": "127.0.0.2"},
    {"name": "2.0.0.127.zen.test", "type": "TXT", "value": "test entry"},
    # What Spamhaus answers for queries through public resolvers: an error, not a listing.
    {"name": "4.0.0.127.zen.test", "type": "A", "value": "127.255.255.254"},
    # Something in the zone, so the zone exists.
    {"name": "zen.test", "type": "TXT", "value": "a test blocklist"},
]


def start(network, server_factory, **smtp):
    dns = TestDNS(network, RECORDS).start()
    smtp = dict({"dnsbl_zones": ["zen.test", "dead.example"], "postmaster": ALICE}, **smtp)
    srv = server_factory(network=network, smtp=smtp,
                         extra={"dns": {"nameservers": [dns.nameserver]}})
    srv.add_user(ALICE, "alice-secret")
    return srv, dns


def client(srv, source):
    with srv.netns():
        sock = socket.create_connection(srv.addr("smtp"), timeout=30, source_address=(source, 0))
    return RawSMTP(sock, timeout=30)


def test_listed_client_is_refused_at_rcpt_except_for_postmaster(network, server_factory):
    srv, dns = start(network, server_factory)
    c = client(srv, LISTED)
    assert c.greeting.code == 220, c.greeting
    c.ehlo()
    c.expect("MAIL FROM:<someone@listed.example>", 250)
    r = c.expect("RCPT TO:<%s>" % ALICE, 554, "5.7.1")
    assert "listed by zen.test" in r.text and "[127.0.0.2]" in r.text, r
    # RFC 5321 §4.5.1: postmaster stays reachable, to ask about the listing.
    c.expect("RCPT TO:<postmaster@example.org>", 250)
    c.expect("DATA", 354)
    c.send("From: <someone@listed.example>\r\nSubject: please delist\r\n\r\nhi\r\n.\r\n")
    c.expect(None, 250)
    c.expect("QUIT", 221)
    c.close()
    srv.wait_for_mail(ALICE, 1)
    (msg,) = srv.mailbox(ALICE)
    assert b"please delist" in msg
    names = [name.lower() for _, _, name, _ in dns.queries()]
    assert "2.0.0.127.zen.test" in names, names
    assert "2.0.0.127.dead.example" in names, names

    # A listed client that authenticates is one of ours: not refused.
    c = client(srv, LISTED)
    c.ehlo()
    assert c.auth_plain(ALICE, "alice-secret").code == 235
    c.expect("MAIL FROM:<%s>" % ALICE, 250)
    c.expect("RCPT TO:<%s>" % ALICE, 250)
    c.close()


def test_unlisted_clients_and_list_errors_do_not_stop_mail(network, server_factory):
    srv, _ = start(network, server_factory)
    for source in (CLEAN, ERROR_CODE):
        c = client(srv, source)
        c.ehlo()
        c.expect("MAIL FROM:<someone@remote.example>", 250)
        c.expect("RCPT TO:<%s>" % ALICE, 250)
        c.close()
    log = srv.log_text()
    assert "outside 127.0.0.0/24" in log, "the error answer was noticed and ignored"
    # dead.example is REFUSED by the test DNS: logged, and the client let through.
    assert "DNSBL lookup failed" in log


def test_listed_client_is_refused_at_connect_when_configured(network, server_factory):
    srv, _ = start(network, server_factory, dnsbl_reject_at="connect")
    c = client(srv, LISTED)
    assert c.greeting.code == 554, c.greeting
    assert c.greeting.enhanced == "5.7.1" and "listed by zen.test" in c.greeting.text
    # RFC 5321 §3.1: the server waits for QUIT, answering 503 meanwhile.
    c.expect("EHLO client.test", 503, "5.5.1")
    c.expect("MAIL FROM:<someone@listed.example>", 503)
    c.expect("QUIT", 221)
    assert c.closed(10)
    c = client(srv, CLEAN)
    assert c.greeting.code == 220, c.greeting
    c.close()


def test_an_unreachable_list_fails_open(server_factory):
    """No Network needed: the harness's name server (127.0.0.1:9) never answers."""
    srv = server_factory(smtp={"dnsbl_zones": ["zen.test"]})
    srv.add_user(ALICE, "alice-secret")
    c = srv.raw("smtp", timeout=30)
    c.ehlo()
    c.expect("MAIL FROM:<someone@remote.example>", 250)
    # The RCPT waits for the lookup (two tries of 2 s at most), then goes through.
    started = time.monotonic()
    c.expect("RCPT TO:<%s>" % ALICE, 250)
    assert time.monotonic() - started < 10
    c.expect("QUIT", 221)
    c.close()
    assert "treating the client as not listed" in srv.log_text()


@pytest.mark.parametrize("zones", [["not a zone"], [""]])
def test_bad_zone_names_are_config_errors(server_factory, zones):
    srv = server_factory(start=False, smtp={"dnsbl_zones": zones})
    p = srv.cli("queue", "list", check=False)
    assert p.returncode != 0 and "smtp.dnsbl_zones" in p.stderr, p.stderr
