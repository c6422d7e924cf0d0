"""No open relay: an unauthenticated client on port 25 can reach local mailboxes
only, whatever address trick it tries (RFC 5321 §3.6.1, §4.1.1.3 and RFC 2505's
classic relay tests). Each refused recipient gets a 5xx at RCPT, nothing is queued
for another domain, and a real local recipient in the same transaction still works.
"""

import pytest

from harness import wait_until

ALICE = "alice@example.org"

# (recipient, what kind of refusal): "relay" = 550 5.7.1 relaying denied,
# "unknown" = 550 5.1.1 no such local user, "syntax" = 501/553 bad address.
TRICKS = [
    ("victim@remote.example", "relay"),
    ("VICTIM@REMOTE.EXAMPLE", "relay"),
    ("victim@remote.example.", "relay-or-syntax"),
    # Address literals (RFC 5321 §4.1.3) are not taken as recipients at all.
    ("victim@[192.0.2.1]", "relay-or-syntax"),
    ("victim@[IPv6:2001:db8::1]", "relay-or-syntax"),
    # RFC 2505 §2.6 "percent hack" and UUCP bang paths, behind a local domain:
    # the local part is opaque (RFC 5321 §2.4), so these are unknown local users.
    ("victim%remote.example@example.org", "unknown"),
    ("remote.example!victim@example.org", "unknown"),
    ('"victim@remote.example"@example.org', "unknown"),
    ('"victim%remote.example"@example.org', "unknown"),
    # A source route through us: RFC 5321 §4.1.1.3 says the route may be ignored,
    # which leaves a remote recipient.
    ("@example.org:victim@remote.example", "relay"),
    ("@example.org,@mx.example.org:victim@remote.example", "relay"),
    # Two at-signs without quotes is not an address.
    ("victim@remote.example@example.org", "syntax"),
    ("victim@example.org@remote.example", "syntax"),
]


def expect_refused(reply, kind):
    assert 500 <= reply.code < 600, reply
    if kind == "relay":
        assert reply.code == 550 and reply.enhanced == "5.7.1", reply
    elif kind == "unknown":
        assert reply.code == 550 and reply.enhanced == "5.1.1", reply
    elif kind == "syntax":
        assert reply.code in (501, 553), reply
    elif kind == "relay-or-syntax":
        assert (reply.code == 550 and reply.enhanced == "5.7.1") or reply.code in (501, 553), reply


@pytest.mark.parametrize("sender", ["attacker@evil.example", ALICE, "", "postmaster@example.org"])
def test_unauthenticated_client_cannot_relay(server, sender):
    c = server.raw("smtp")
    c.ehlo()
    c.expect("MAIL FROM:<%s>" % sender, 250)
    for rcpt, kind in TRICKS:
        expect_refused(c.cmd("RCPT TO:<%s>" % rcpt), kind)
    # The session is still good for its one legitimate recipient.
    c.expect("RCPT TO:<%s>" % ALICE, 250, "2.1.5")
    c.expect("DATA", 354)
    c.send("From: <%s>\r\nTo: <%s>\r\nSubject: relay test\r\n\r\nhi\r\n.\r\n" % (sender or "x@y.example", ALICE))
    c.expect(None, 250)
    c.expect("QUIT", 221)
    wait_until(lambda: len(server.mail_list(ALICE)) == 1)
    # Nothing waits in the queue for any other domain.
    listing = server.queue_list()
    assert "remote.example" not in listing.lower(), listing
    assert "192.0.2.1" not in listing and "2001:db8" not in listing.lower(), listing


def test_submission_ports_need_auth_for_everything(server):
    """Port 587 without AUTH: not even a local recipient (RFC 6409 §4.3)."""
    c = server.raw("submission")
    c.ehlo()
    c.expect("STARTTLS", 220)
    c.starttls()
    c.ehlo()
    r = c.cmd("MAIL FROM:<%s>" % ALICE)
    assert r.code == 530 and r.enhanced == "5.7.0", r
    c.expect("QUIT", 221)
