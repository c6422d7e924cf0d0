"""COMPRESS=DEFLATE (RFC 4978) end to end: a client that, after `COMPRESS DEFLATE`
is answered OK, speaks raw DEFLATE both ways (Python's zlib with wbits=-15, a sync
flush after each command), over plain TCP and over TLS (imaps).

Each test drives a whole session through the compressed stream: SELECT, APPEND and
FETCH of a message larger than one read buffer, IDLE with an update from another
session, a refused second COMPRESS, and LOGOUT.
"""

import time

import pytest

from harness import IMAP_LISTEN
from imapraw import RawIMAP, login

ALICE = ("alice@example.org", "alice-secret")


@pytest.fixture
def imap_server(server_factory):
    srv = server_factory(listen=IMAP_LISTEN)
    srv.add_user(*ALICE)
    return srv


def big_message():
    """About 300 KB, varied enough that DEFLATE does not shrink it to nothing."""
    lines = ["Line %06d: the quick brown fox %d jumps over %x lazy dogs" % (i, i * 7, i * 13)
             for i in range(5000)]
    body = "\r\n".join(lines) + "\r\n"
    return ("From: bob@example.org\r\nTo: alice@example.org\r\nSubject: big\r\n\r\n"
            + body).encode()


def read_until(c, predicate, seconds=10):
    """Responses until one satisfies `predicate` (IDLE updates arrive unasked)."""
    deadline = time.monotonic() + seconds
    seen = []
    while time.monotonic() < deadline:
        line = c.response()
        seen.append(line)
        if predicate(line):
            return seen
    raise AssertionError("not seen in %ds: %r" % (seconds, seen))


def compressed_session(srv, kind):
    c = login(srv, *ALICE, kind=kind)
    caps = c.ok("CAPABILITY")[0].split()
    assert "COMPRESS=DEFLATE" in caps, caps
    c.compress()
    return c


@pytest.mark.parametrize("kind", ["imap", "imaps"])
def test_a_whole_session_over_deflate(imap_server, kind):
    c = compressed_session(imap_server, kind)
    # RFC 4978 §3: only once.
    lines, status = c.cmd("COMPRESS DEFLATE")
    assert status.startswith("NO [COMPRESSIONACTIVE]"), status
    message = big_message()
    lines, status = c.append("INBOX", message)
    assert status.startswith("OK [APPENDUID "), status
    assert "* 1 EXISTS" in c.ok("SELECT INBOX")
    fetched = c.ok("FETCH 1 (RFC822.SIZE BODY.PEEK[])")
    assert fetched == ["* 1 FETCH (RFC822.SIZE %d BODY[] {%d}\r\n%s)"
                       % (len(message), len(message), message.decode())]

    # IDLE: an APPEND from another (uncompressed) session shows up as EXISTS.
    tag = c.next_tag()
    c.send(tag.encode() + b" IDLE\r\n")
    assert c.response().startswith("+ ")
    other = login(imap_server, *ALICE, kind=kind)
    other.append("INBOX", b"Subject: ping\r\n\r\nping\r\n")
    read_until(c, lambda line: line == "* 2 EXISTS")
    c.send(b"DONE\r\n")
    lines, status = c.finish(tag)
    assert status.startswith("OK"), status

    lines, status = c.cmd("LOGOUT")
    assert status.startswith("OK") and lines[0].startswith("* BYE"), (lines, status)
    other.close()
    c.close()


def test_compress_needs_login_and_deflate(imap_server):
    c = RawIMAP(imap_server.connect("imap"))
    assert "COMPRESS=DEFLATE" not in c.ok("CAPABILITY")[0]
    assert c.cmd("COMPRESS DEFLATE")[1].startswith("BAD")
    c.ok("LOGIN %s %s" % ALICE)
    # RFC 4978 §3: an unknown mechanism is a BAD, and nothing changes.
    assert c.cmd("COMPRESS GZIP")[1].startswith("BAD")
    assert c.ok("NOOP") == []
    c.compress()
    assert c.ok("NOOP") == []
    c.close()
