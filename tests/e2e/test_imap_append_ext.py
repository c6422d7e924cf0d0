"""APPEND's extensions end to end, with raw dialogues:

- MULTIAPPEND (RFC 3502): several messages in one APPEND, stored all or none, with
  one APPENDUID naming all of them (RFC 4315 §3); a quota the messages exceed only
  together, a refused second message, a second literal past the APPENDLIMIT: nothing
  is stored;
- CATENATE (RFC 4469): a message built from TEXT literals and IMAP URLs of messages
  (and sections, and partials) the user has, also inside a MULTIAPPEND; a URL that
  does not resolve is `NO [BADURL url]`, a message past the limit `NO [TOOBIG]`.
"""

import re

import pytest

from harness import IMAP_LISTEN
from imapraw import login

ALICE = ("alice@example.org", "alice-secret")
BOB = ("bob@example.org", "bob-secret")

ONE = b"From: a@example.org\r\nSubject: one\r\n\r\nfirst\r\n"
TWO = b"From: b@example.org\r\nSubject: two\r\n\r\nsecond message\r\n"

MULTIPART = (
    b"From: c@example.org\r\n"
    b"Subject: parts\r\n"
    b"MIME-Version: 1.0\r\n"
    b'Content-Type: multipart/mixed; boundary="XX"\r\n'
    b"\r\n"
    b"--XX\r\n"
    b"Content-Type: text/plain\r\n"
    b"\r\n"
    b"part one text\r\n"
    b"--XX\r\n"
    b"Content-Type: text/plain; name=b.txt\r\n"
    b"\r\n"
    b"attached body\r\n"
    b"--XX--\r\n"
)


@pytest.fixture
def srv(server_factory):
    srv = server_factory(listen=IMAP_LISTEN)
    srv.add_user(*ALICE)
    srv.add_user(*BOB)
    return srv


def session(srv, who=ALICE):
    c = login(srv, *who)
    c.ok("SELECT INBOX")
    return c


def command(c, pieces):
    """Sends a tagged command whose `pieces` end in synchronising literals: after
    each piece but the last, waits for the `+` (RFC 3501 §7.5). Returns (untagged,
    status), or the first tagged answer that came instead of a `+`."""
    tag = c.next_tag()
    pieces = list(pieces)
    pieces[0] = tag.encode() + b" " + pieces[0]
    for i, piece in enumerate(pieces):
        c.send(piece)
        if i + 1 < len(pieces):
            line = c.readline().decode()
            if line.startswith(tag + " "):
                return [], line[len(tag) + 1:]
            assert line.startswith("+"), line
    return c.finish(tag)


def messages(c, mailbox="INBOX"):
    lines = c.ok("STATUS %s (MESSAGES)" % mailbox)
    return int(re.search(r"MESSAGES (\d+)", lines[0]).group(1))


def uidvalidity(c):
    lines = c.ok("STATUS INBOX (UIDVALIDITY)")
    return int(re.search(r"UIDVALIDITY (\d+)", lines[0]).group(1))


def appended(c, message, mailbox="INBOX"):
    lines, status = c.append(mailbox, message)
    assert status.startswith("OK [APPENDUID"), (lines, status)
    return int(re.search(r"APPENDUID \d+ (\d+)", status).group(1))


def body(c, uid):
    lines = c.ok("UID FETCH %d (BODY.PEEK[])" % uid)
    m = re.search(r"BODY\[\] \{(\d+)\}\r\n", lines[0])
    assert m, lines
    start = m.end()
    return lines[0][start:start + int(m.group(1))].encode("utf-8", "surrogateescape")


# ----- MULTIAPPEND ------------------------------------------------------------------

def test_capabilities_name_both(srv):
    c = login(srv, *ALICE)
    caps = c.ok("CAPABILITY")[0].split()
    assert "MULTIAPPEND" in caps and "CATENATE" in caps, caps


def test_two_messages_are_appended_with_one_appenduid(srv):
    c = session(srv)
    validity = uidvalidity(c)
    date = b'"05-Dec-2026 10:00:00 +0000"'
    lines, status = command(c, [
        b"APPEND INBOX (\\Seen) {%d}\r\n" % len(ONE),
        ONE + b" (\\Flagged $Work) " + date + b" {%d}\r\n" % len(TWO),
        TWO + b"\r\n",
    ])
    m = re.fullmatch(r"OK \[APPENDUID (\d+) (\d+):(\d+)\] .*", status)
    assert m, (lines, status)
    assert int(m.group(1)) == validity
    first, last = int(m.group(2)), int(m.group(3))
    assert last == first + 1
    assert body(c, first) == ONE and body(c, last) == TWO
    fetched = c.ok("UID FETCH %d:%d (FLAGS INTERNALDATE)" % (first, last))
    assert "\\Seen" in fetched[0] and "\\Flagged" not in fetched[0], fetched
    assert "\\Flagged" in fetched[1] and "$Work" in fetched[1], fetched
    assert '"05-Dec-2026 10:00:00 +0000"' in fetched[1], fetched
    # Non-synchronising literals (LITERAL+) work the same, three at once.
    lines, status = c.cmd(b"APPEND INBOX {1+}\r\na {1+}\r\nb () {1+}\r\nc")
    assert re.fullmatch(r"OK \[APPENDUID \d+ %d:%d\] .*" % (last + 1, last + 3), status), status
    assert messages(c) == 5


def test_over_quota_together_stores_none(srv):
    c = session(srv)
    big = ONE + b"x" * 600 + b"\r\n"
    srv.cli("user", "quota", ALICE[0], "--storage", "1K")
    # Each fits alone; together they do not.
    lines, status = command(c, [
        b"APPEND INBOX {%d}\r\n" % len(big),
        big + b" {%d}\r\n" % len(big),
        big + b"\r\n",
    ])
    assert status.startswith("NO [OVERQUOTA]"), (lines, status)
    assert messages(c) == 0
    appended(c, big)
    assert messages(c) == 1


def test_a_refused_second_message_stores_none(srv):
    c = session(srv)
    # A flag the server does not keep: NO, and the first message is not kept either.
    lines, status = c.cmd(b"APPEND INBOX {%d+}\r\n%s (\\Frob) {%d+}\r\n%s"
                          % (len(ONE), ONE, len(TWO), TWO))
    assert status.startswith("NO [CANNOT]"), (lines, status)
    # An empty second message.
    lines, status = c.cmd(b"APPEND INBOX {%d+}\r\n%s {0+}\r\n" % (len(ONE), ONE))
    assert status.startswith("NO"), (lines, status)
    # A malformed date on the second: a syntax error.
    lines, status = c.cmd(b"APPEND INBOX {%d+}\r\n%s \"31-Foo-2026 10:00:00 +0000\" {%d+}\r\n%s"
                          % (len(ONE), ONE, len(TWO), TWO))
    assert status.startswith("BAD"), (lines, status)
    # Garbage after the first message.
    lines, status = c.cmd(b"APPEND INBOX {%d+}\r\n%s junk" % (len(ONE), ONE))
    assert status.startswith("BAD"), (lines, status)
    # No such mailbox.
    lines, status = c.cmd(b"APPEND Nowhere {%d+}\r\n%s {%d+}\r\n%s"
                          % (len(ONE), ONE, len(TWO), TWO))
    assert status.startswith("NO [TRYCREATE]"), (lines, status)
    assert messages(c) == 0
    # The connection is still in step.
    lines, status = c.cmd(b"APPEND INBOX {%d+}\r\n%s {%d+}\r\n%s"
                          % (len(ONE), ONE, len(TWO), TWO))
    assert status.startswith("OK [APPENDUID"), (lines, status)
    assert messages(c) == 2


def test_a_second_literal_past_the_limit_stores_none(server_factory):
    srv = server_factory(listen=IMAP_LISTEN, extra={"imap": {"max_literal_size": 2048}})
    srv.add_user(*ALICE)
    c = session(srv)
    # Refused at its announcement, before any of it is read: the first message is
    # not stored.
    lines, status = command(c, [
        b"APPEND INBOX {%d}\r\n" % len(ONE),
        ONE + b" {4096}\r\n",
        b"x" * 4096 + b"\r\n",
    ])
    assert status.startswith("BAD [TOOBIG]"), (lines, status)
    other = session(srv)
    assert messages(other) == 0


# ----- CATENATE ---------------------------------------------------------------------

def test_catenate_builds_from_text_and_urls(srv):
    c = session(srv)
    uid = appended(c, MULTIPART)
    validity = uidvalidity(c)
    header = b"From: me@example.org\r\nSubject: forwarded\r\n\r\n"
    url = b"/INBOX;UIDVALIDITY=%d/;UID=%d/;SECTION=2" % (validity, uid)
    lines, status = command(c, [
        b"APPEND INBOX (\\Draft) CATENATE (TEXT {%d}\r\n" % len(header),
        header + b" URL \"" + url + b"\" TEXT {6}\r\n",
        b'--end\n URL "/inbox/;UID=%d/;SECTION=HEADER.FIELDS%%20(SUBJECT)/;PARTIAL=2.5")\r\n'
        % uid,
    ])
    m = re.fullmatch(r"OK \[APPENDUID %d (\d+)\] .*" % validity, status)
    assert m, (lines, status)
    assert body(c, int(m.group(1))) == header + b"attached body" + b"--end\n" + b"bject"
    assert "\\Draft" in c.ok("UID FETCH %s (FLAGS)" % m.group(1))[0]
    # The whole message by URL, in a MULTIAPPEND beside a plain literal, with the
    # mailbox named in URL encoding.
    c.ok('CREATE "Old Mail"')
    old = appended(c, ONE, '"Old Mail"')
    lines, status = c.cmd(b"APPEND INBOX {%d+}\r\n%s CATENATE (URL \"/Old%%20Mail/;UID=%d\")"
                          % (len(TWO), TWO, old))
    m = re.fullmatch(r"OK \[APPENDUID \d+ (\d+):(\d+)\] .*", status)
    assert m, (lines, status)
    assert body(c, int(m.group(1))) == TWO and body(c, int(m.group(2))) == ONE


def test_a_url_that_does_not_resolve_is_badurl(srv):
    c = session(srv)
    uid = appended(c, ONE)
    validity = uidvalidity(c)
    bob = session(srv, BOB)
    bob_uid = appended(bob, TWO)
    before = messages(c)
    for url in [
        b"/INBOX/;UID=%d" % (uid + 100),
        b"/INBOX;UIDVALIDITY=%d/;UID=%d" % (validity + 1, uid),
        b"/Nowhere/;UID=%d" % uid,
        b"/INBOX/;UID=%d/;SECTION=7" % uid,
        b"imap://alice@example.org/INBOX/;UID=%d" % uid,
        b"/INBOX/;UID=%d/;URLAUTH=anonymous" % uid,
        # Bob's INBOX is not Alice's: her own INBOX has no such UID.
        b"/INBOX/;UID=%d" % (bob_uid + 50),
    ]:
        # A good message first: nothing of the command is stored.
        lines, status = c.cmd(b"APPEND INBOX {%d+}\r\n%s CATENATE (TEXT {2+}\r\nhi URL \"%s\")"
                              % (len(TWO), TWO, url))
        assert status.startswith("NO [BADURL %s]" % url.decode()), (url, lines, status)
    assert messages(c) == before
    # A response code cannot carry a space or `]`: they are percent-encoded.
    lines, status = c.cmd(b'APPEND INBOX CATENATE (URL "/No Such]/;UID=1")')
    assert status.startswith("NO [BADURL /No%20Such%5D/;UID=1]"), (lines, status)


def test_catenate_past_the_limit_is_toobig(server_factory):
    srv = server_factory(listen=IMAP_LISTEN, extra={"imap": {"max_literal_size": 2048}})
    srv.add_user(*ALICE)
    c = session(srv)
    big = ONE + b"y" * 1200 + b"\r\n"
    uid = appended(c, big)
    lines, status = c.cmd(b"APPEND INBOX CATENATE (URL /INBOX/;UID=%d URL /INBOX/;UID=%d)"
                          % (uid, uid))
    assert status.startswith("NO [TOOBIG]"), (lines, status)
    assert messages(c) == 1
    # One copy fits.
    lines, status = c.cmd(b"APPEND INBOX CATENATE (URL /INBOX/;UID=%d)" % uid)
    assert status.startswith("OK [APPENDUID"), (lines, status)
    assert messages(c) == 2
