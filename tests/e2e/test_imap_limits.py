"""IMAP limits end to end: logged-in sessions per account (`imap.max_sessions_per_user`).

A refused login is a tagged `NO [LIMIT]` (RFC 5530) that leaves the connection
usable; a closed session gives its place back; other accounts are not affected.
"""

import imaplib

import pytest

from harness import IMAP_LISTEN

ALICE = ("alice@example.org", "alice-secret")
BOB = ("bob@example.org", "bob-secret")


@pytest.fixture
def limited(server_factory):
    srv = server_factory(listen=IMAP_LISTEN, extra={"imap": {"max_sessions_per_user": 2}})
    srv.add_user(*ALICE)
    srv.add_user(*BOB)
    return srv


def test_sessions_per_user_are_limited_and_released(limited):
    first = limited.imap()
    first.login(*ALICE)
    second = limited.imap()
    second.login(*ALICE)

    third = limited.imap()
    with pytest.raises(imaplib.IMAP4.error) as refused:
        third.login(*ALICE)
    assert "[LIMIT]" in str(refused.value)
    # Another account still logs in, and the refused connection is still usable.
    bob = limited.imap()
    bob.login(*BOB)
    assert third.noop()[0] == "OK"

    # A session that ends gives its place back.
    first.logout()
    third.login(*ALICE)
    assert third.select("INBOX")[0] == "OK"
    for c in (second, third, bob):
        c.logout()


def test_authenticate_is_limited_too(limited):
    held = [limited.imap(), limited.imap()]
    for c in held:
        c.login(*ALICE)
    extra = limited.imap()
    with pytest.raises(imaplib.IMAP4.error) as refused:
        extra.authenticate("PLAIN", lambda _: b"\0alice@example.org\0alice-secret")
    assert "[LIMIT]" in str(refused.value)
    for c in held:
        c.logout()
    extra.logout()
