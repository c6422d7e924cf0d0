"""IMAP sessions that keep up with a mailbox by deltas, and messages parsed once.

Sessions of one mailbox share its list of messages in the server and move it forward
with only what changed (a delta of the store since the last mod-sequence), and each
message's ENVELOPE, BODYSTRUCTURE and SEARCH/SORT header keys come from a summary the
server parsed once, when the message was filed. These tests drive that from outside:

- several sessions see each other's STORE, APPEND and EXPUNGE as untagged updates,
  each at the moment the RFCs allow it for that session, and one session's pending
  expunge or silent STORE never shows in another;
- FETCH ENVELOPE/BODYSTRUCTURE and a header SEARCH still work when the message file
  is gone (proof that they do not re-read it), while BODY[] cannot;
- a summary that is damaged, of an unknown version or missing in the database is
  recomputed from the message and written back, never trusted or crashed on;
- mail delivered over SMTP has its summary stored when it is filed.
"""

import os
import re
import socket
import sqlite3

import pytest

from harness import IMAP_LISTEN

ALICE = ("alice@example.org", "alice-secret")

MESSAGE = (
    "From: Zed Zeppelin <zed@example.net>\r\n"
    "To: alice@example.org\r\n"
    "Subject: Zeppelin sighting\r\n"
    "Date: Wed, 09 Apr 2025 10:00:00 +0000\r\n"
    "Message-ID: <z1@example.net>\r\n"
    "\r\n"
    "Look up.\r\n"
)
ENVELOPE = ('ENVELOPE ("Wed, 09 Apr 2025 10:00:00 +0000" "Zeppelin sighting" '
            '(("Zed Zeppelin" NIL "zed" "example.net")) '
            '(("Zed Zeppelin" NIL "zed" "example.net")) '
            '(("Zed Zeppelin" NIL "zed" "example.net")) '
            '((NIL NIL "alice" "example.org")) NIL NIL NIL "<z1@example.net>")')
STRUCTURE = ('BODYSTRUCTURE ("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 10 1 '
             'NIL NIL NIL NIL)')


@pytest.fixture
def imap_server(server_factory):
    srv = server_factory(listen=IMAP_LISTEN)
    srv.add_user(*ALICE)
    return srv


class Client:
    """A line-level IMAP client that keeps literals inline (`{n}` then the bytes)."""

    def __init__(self, srv):
        with srv.netns():
            self.sock = socket.create_connection(srv.addr("imap"), timeout=10)
        self.buf = b""
        self.n = 0
        self.readline()
        self.ok("LOGIN %s %s" % ALICE)

    def _fill(self, size):
        while len(self.buf) < size:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise AssertionError("connection closed; got %r" % self.buf)
            self.buf += chunk

    def readline(self):
        while b"\r\n" not in self.buf:
            self._fill(len(self.buf) + 1)
        line, self.buf = self.buf.split(b"\r\n", 1)
        literal = re.search(rb"\{(\d+)\}$", line)
        if literal:
            size = int(literal.group(1))
            self._fill(size)
            data, self.buf = self.buf[:size], self.buf[size:]
            return (line + b"\r\n" + data).decode() + self.readline()
        return line.decode()

    def cmd(self, text):
        self.n += 1
        tag = "t%d" % self.n
        self.sock.sendall(("%s %s\r\n" % (tag, text)).encode())
        lines = []
        while True:
            line = self.readline()
            if line.startswith(tag + " "):
                return lines, line[len(tag) + 1:]
            lines.append(line)

    def ok(self, text):
        lines, status = self.cmd(text)
        assert status.startswith("OK"), (text, lines, status)
        return lines

    def append(self, message, flags=""):
        data = message.encode()
        lines = self.ok("APPEND INBOX (%s) {%d+}\r\n%s" % (flags, len(data), message))
        return lines

    def close(self):
        self.sock.close()


def db(srv):
    conn = sqlite3.connect(os.path.join(srv.data_dir, "postie.db"), timeout=10)
    conn.execute("PRAGMA busy_timeout = 10000")
    return conn


def summary_of(srv, uid):
    with db(srv) as conn:
        row = conn.execute(
            "SELECT m.summary FROM messages m JOIN mailboxes b ON b.id = m.mailbox_id "
            "WHERE b.name = 'INBOX' AND m.uid = ?", (uid,)).fetchone()
    return row[0]


def set_summary(srv, uid, value):
    with db(srv) as conn:
        conn.execute(
            "UPDATE messages SET summary = ? WHERE uid = ? AND mailbox_id = "
            "(SELECT id FROM mailboxes WHERE name = 'INBOX')", (value, uid))


def blob_path(srv, uid):
    with db(srv) as conn:
        (blob,) = conn.execute(
            "SELECT m.blob_id FROM messages m JOIN mailboxes b ON b.id = m.mailbox_id "
            "WHERE b.name = 'INBOX' AND m.uid = ?", (uid,)).fetchone()
    return os.path.join(srv.data_dir, "blobs", blob[:2], blob)


def remove_body(srv, uid):
    """Takes the message's bytes away: the database row of a small body (kept inline
    since schema 16), or the file of a large one."""
    with db(srv) as conn:
        (blob,) = conn.execute(
            "SELECT m.blob_id FROM messages m JOIN mailboxes b ON b.id = m.mailbox_id "
            "WHERE b.name = 'INBOX' AND m.uid = ?", (uid,)).fetchone()
        gone = conn.execute("DELETE FROM inline_blobs WHERE id = ?", (blob,)).rowcount
        conn.commit()
    if not gone:
        os.remove(blob_path(srv, uid))


def test_sessions_see_each_others_changes_as_before(imap_server):
    a, b, c = Client(imap_server), Client(imap_server), Client(imap_server)
    for i in range(3):
        a.append(MESSAGE.replace("sighting", "sighting %d" % i))
    for s in (a, b, c):
        assert "* 3 EXISTS" in s.ok("SELECT INBOX")
    # A STORE in one session is an unsolicited FETCH in the others, at their next
    # command, and an echo in its own.
    # (a selected first: \Recent is a's alone, RFC 3501 §2.3.2.)
    assert a.ok("STORE 2 +FLAGS (\\Flagged)") == ["* 2 FETCH (UID 2 FLAGS (\\Flagged \\Recent))"]
    assert b.ok("NOOP") == ["* 2 FETCH (UID 2 FLAGS (\\Flagged))"]
    assert b.ok("NOOP") == [], "nothing is sent twice"
    # .SILENT: the storing session is told nothing, the others are.
    assert a.ok("STORE 3 +FLAGS.SILENT (\\Seen)") == []
    assert a.ok("NOOP") == []
    # An APPEND is an EXISTS everywhere.
    a.append(MESSAGE)
    # a heard of it first (its APPEND's own EXISTS): b gets no \Recent for it.
    assert b.ok("NOOP") == ["* 4 EXISTS", "* 0 RECENT", "* 3 FETCH (UID 3 FLAGS (\\Seen))"]
    # An expunge while b runs a FETCH by sequence number: b may not be told yet
    # (RFC 3501 §7.4.1) and keeps the message's number; c, idle, is told at once.
    a.ok("STORE 1 +FLAGS.SILENT (\\Deleted)")
    assert a.ok("EXPUNGE")[-1] == "* 1 EXPUNGE"
    lines, status = b.cmd("FETCH 1:4 (FLAGS)")
    assert status.startswith("NO [EXPUNGEISSUED]"), (lines, status)
    assert not any("EXPUNGE" in line for line in lines), lines
    assert "* 4 FETCH (FLAGS ())" in lines
    assert c.ok("NOOP") == [
        "* 1 EXPUNGE", "* 3 EXISTS", "* 0 RECENT", "* 1 FETCH (UID 2 FLAGS (\\Flagged))",
        "* 2 FETCH (UID 3 FLAGS (\\Seen))"]
    # b's pending expunge did not leak into c, nor c's into b.
    assert c.ok("FETCH 1:* (UID)") == [
        "* 1 FETCH (UID 2)", "* 2 FETCH (UID 3)", "* 3 FETCH (UID 4)"]
    assert b.ok("NOOP") == ["* 1 EXPUNGE"]
    assert b.ok("UID SEARCH ALL") == ["* SEARCH 2 3 4"]
    assert b.ok("SEARCH FLAGGED") == ["* SEARCH 1"]
    for s in (a, b, c):
        s.close()


def test_envelope_and_search_do_not_read_the_message_file(imap_server):
    a = Client(imap_server)
    a.append(MESSAGE)
    a.ok("SELECT INBOX")
    remove_body(imap_server, 1)
    assert a.ok("FETCH 1 (ENVELOPE)") == ["* 1 FETCH (%s)" % ENVELOPE]
    assert a.ok("UID FETCH 1 (BODYSTRUCTURE RFC822.SIZE)") == [
        "* 1 FETCH (UID 1 %s RFC822.SIZE %d)" % (STRUCTURE, len(MESSAGE))]
    assert a.ok('UID SEARCH SUBJECT "zeppelin" FROM "ZED@" SENTON 9-Apr-2025') == [
        "* SEARCH 1"]
    assert a.ok("SORT (SUBJECT) UTF-8 ALL") == ["* SORT 1"]
    # The bytes themselves are gone: BODY[] cannot be answered.
    lines, status = a.cmd("FETCH 1 (BODY.PEEK[])")
    assert status.startswith("NO"), (lines, status)
    a.close()


@pytest.mark.parametrize("stored", [b"\x02\xff\xff\xff", b"\x7fnot ours", None],
                         ids=["damaged", "unknown-version", "missing"])
def test_unusable_summaries_are_recomputed_and_written_back(imap_server, stored):
    a = Client(imap_server)
    a.append(MESSAGE)
    good = summary_of(imap_server, 1)
    assert good is not None and good[0] == 2, "APPEND stores a version-2 summary"
    set_summary(imap_server, 1, stored)
    a.ok("SELECT INBOX")
    assert a.ok("FETCH 1 (ENVELOPE BODYSTRUCTURE)") == [
        "* 1 FETCH (%s %s)" % (ENVELOPE, STRUCTURE)]
    assert summary_of(imap_server, 1) == good, "recomputed and stored again"
    set_summary(imap_server, 1, stored)
    assert a.ok('SEARCH HEADER Message-ID "z1@"') == ["* SEARCH 1"]
    assert summary_of(imap_server, 1) == good
    a.close()


def test_delivered_mail_is_summarized_when_filed(imap_server):
    with imap_server.smtp() as smtp:
        smtp.sendmail("zed@example.net", ["alice@example.org"], MESSAGE)
    imap_server.wait_for_mail("alice@example.org", 1)
    summary = summary_of(imap_server, 1)
    assert summary is not None and summary[0] == 2
    a = Client(imap_server)
    a.ok("SELECT INBOX")
    remove_body(imap_server, 1)
    assert a.ok("FETCH 1 (ENVELOPE)") == ["* 1 FETCH (%s)" % ENVELOPE]
    a.close()
