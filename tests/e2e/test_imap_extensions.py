"""IMAP extensions end to end over a raw socket: ESEARCH (RFC 4731), LIST-EXTENDED
(RFC 5258), LIST-STATUS (RFC 5819) and SORT (RFC 5256, SORT=DISPLAY RFC 5957).

Messages are APPENDed with fixed headers and dates so every expected response is
exact; each extension also gets one malformed use that must be a tagged BAD.
"""

import re
import socket

import pytest

from harness import IMAP_LISTEN

ALICE = ("alice@example.org", "alice-secret")


@pytest.fixture
def imap_server(server_factory):
    srv = server_factory(listen=IMAP_LISTEN)
    srv.add_user(*ALICE)
    return srv


class Raw:
    """A line-level IMAP client: `cmd` sends one tagged command and returns the
    untagged lines and the tagged status line."""

    def __init__(self, srv):
        with srv.netns():
            self.sock = socket.create_connection(srv.addr("imap"), timeout=10)
        self.buf = b""
        self.greeting = self.readline()
        self.n = 0

    def readline(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise AssertionError("connection closed; got %r" % self.buf)
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line.decode()

    def cmd(self, text):
        self.n += 1
        tag = self.tag = "t%d" % self.n
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

    def append(self, mailbox, message, date):
        data = message.replace("\n", "\r\n").encode()
        self.n += 1
        tag = "t%d" % self.n
        self.sock.sendall(
            ('%s APPEND %s "%s" {%d+}\r\n' % (tag, mailbox, date, len(data))).encode()
            + data + b"\r\n")
        while True:
            line = self.readline()
            if line.startswith(tag + " "):
                assert line.startswith(tag + " OK"), line
                return

    def close(self):
        self.sock.close()


def login(srv):
    c = Raw(srv)
    c.ok("LOGIN %s %s" % ALICE)
    return c


def message(subject, sender, to, date, cc=None, body="Hello\n"):
    head = "From: %s\nTo: %s\n" % (sender, to)
    if cc:
        head += "Cc: %s\n" % cc
    return head + "Subject: %s\nDate: %s\n\n%s" % (subject, date, body)


# Four messages: sequence numbers 1-4 (UIDs 1-4).
MESSAGES = [
    (message("Re: banana", "Zed <zed@example.net>", "bob@example.org",
             "Wed, 09 Apr 2025 10:00:00 +0000", body="x" * 50 + "\n"),
     "01-Apr-2025 10:00:00 +0000"),
    (message("apple", "Amy Q <yan@example.net>", "carl@example.org",
             "Mon, 07 Apr 2025 10:00:00 +0000", cc="dora@example.org"),
     "02-Apr-2025 10:00:00 +0000"),
    (message("[list] Fwd: Cherry (fwd)", "mia@example.net", "abe@example.org",
             "Tue, 08 Apr 2025 23:30:00 -0500", cc="ann@example.org",
             body="y" * 500 + "\n"),
     "03-Apr-2025 10:00:00 +0000"),
    (message("=?UTF-8?Q?Re=3A_apple?=", "Bob <bob@example.net>", "carl@example.org",
             "Mon, 07 Apr 2025 10:00:00 +0000"),
     "04-Apr-2025 10:00:00 +0000"),
]


def with_messages(srv):
    c = login(srv)
    for raw, date in MESSAGES:
        c.append("INBOX", raw, date)
    c.ok("SELECT INBOX")
    return c


def test_capabilities_are_advertised(imap_server):
    c = login(imap_server)
    caps = c.ok("CAPABILITY")[0].split()
    for cap in ("ESEARCH", "LIST-EXTENDED", "LIST-STATUS", "SORT", "SORT=DISPLAY",
                "THREAD=REFERENCES", "THREAD=ORDEREDSUBJECT"):
        assert cap in caps, caps
    c.close()


# ----- ESEARCH (RFC 4731) -----------------------------------------------------

def esearch(c, text):
    """The command's untagged lines, its own tag in `(TAG ...)` written as `T`."""
    lines = c.ok(text)
    return [line.replace('(TAG "%s")' % c.tag, '(TAG "T")') for line in lines]


def test_esearch_result_options(imap_server):
    c = with_messages(imap_server)
    c.ok("STORE 1 +FLAGS (\\Seen)")
    assert esearch(c, "SEARCH RETURN (MIN MAX COUNT ALL) UNSEEN") == [
        '* ESEARCH (TAG "T") MIN 2 MAX 4 COUNT 3 ALL 2:4']
    assert esearch(c, "UID SEARCH RETURN (COUNT) ALL") == ['* ESEARCH (TAG "T") UID COUNT 4']
    # RETURN () means ALL.
    assert esearch(c, "UID SEARCH RETURN () OR UID 1 UID 4") == [
        '* ESEARCH (TAG "T") UID ALL 1,4']
    # No match: COUNT 0, and no MIN/MAX/ALL.
    assert esearch(c, "SEARCH RETURN (MIN COUNT) SUBJECT nothing-like-this") == [
        '* ESEARCH (TAG "T") COUNT 0']
    # Plain SEARCH is unchanged.
    assert c.ok("SEARCH UNSEEN") == ["* SEARCH 2 3 4"]
    c.close()


def test_esearch_bad_return_option(imap_server):
    c = with_messages(imap_server)
    lines, status = c.cmd("SEARCH RETURN (FROB) ALL")
    assert status.startswith("BAD"), status
    lines, status = c.cmd("SEARCH RETURN (MIN)")
    assert status.startswith("BAD"), status
    c.close()


# ----- LIST-EXTENDED (RFC 5258), SPECIAL-USE selection (RFC 6154) --------------

def hierarchy(srv):
    c = login(srv)
    for name in ("Work", "Work/a", "Work/b", "Play/x"):
        c.ok("CREATE %s" % name)
    c.ok("SUBSCRIBE INBOX")
    c.ok("SUBSCRIBE Work/a")
    c.ok("SUBSCRIBE Play/x")
    c.ok("SUBSCRIBE Gone")
    return c


def test_list_extended_selection_and_return_options(imap_server):
    c = hierarchy(imap_server)
    # The special-use mailboxes are subscribed when the account is made.
    assert c.ok('LIST (SUBSCRIBED) "" "*"') == [
        '* LIST (\\HasNoChildren \\Archive \\Subscribed) "/" "Archive"',
        '* LIST (\\HasNoChildren \\Drafts \\Subscribed) "/" "Drafts"',
        '* LIST (\\NonExistent \\Subscribed) "/" "Gone"',
        '* LIST (\\HasNoChildren \\Subscribed) "/" "INBOX"',
        '* LIST (\\HasNoChildren \\Junk \\Subscribed) "/" "Junk"',
        '* LIST (\\HasNoChildren \\Subscribed) "/" "Play/x"',
        '* LIST (\\HasNoChildren \\Sent \\Subscribed) "/" "Sent"',
        '* LIST (\\HasNoChildren \\Trash \\Subscribed) "/" "Trash"',
        '* LIST (\\HasNoChildren \\Subscribed) "/" "Work/a"',
    ]
    # RECURSIVEMATCH: parents of subscribed names that the patterns do not reach.
    assert c.ok('LIST (SUBSCRIBED RECURSIVEMATCH) "" ("Gone" "INBOX" "P%" "W%") '
                'RETURN (CHILDREN)') == [
        '* LIST (\\NonExistent \\Subscribed) "/" "Gone"',
        '* LIST (\\HasNoChildren \\Subscribed) "/" "INBOX"',
        '* LIST (\\HasChildren) "/" "Play" ("CHILDINFO" ("SUBSCRIBED"))',
        '* LIST (\\HasChildren) "/" "Work" ("CHILDINFO" ("SUBSCRIBED"))',
    ]
    assert c.ok('LIST (REMOTE) "" ("INBOX" "Work/*") RETURN (SUBSCRIBED)') == [
        '* LIST (\\HasNoChildren \\Subscribed) "/" "INBOX"',
        '* LIST (\\HasNoChildren \\Subscribed) "/" "Work/a"',
        '* LIST (\\HasNoChildren) "/" "Work/b"',
    ]
    assert c.ok('LIST (SPECIAL-USE) "" "*" RETURN (SPECIAL-USE)') == [
        '* LIST (\\HasNoChildren \\Archive) "/" "Archive"',
        '* LIST (\\HasNoChildren \\Drafts) "/" "Drafts"',
        '* LIST (\\HasNoChildren \\Junk) "/" "Junk"',
        '* LIST (\\HasNoChildren \\Sent) "/" "Sent"',
        '* LIST (\\HasNoChildren \\Trash) "/" "Trash"',
    ]
    # Plain LIST still answers as before.
    assert c.ok('LIST "" "Work*"') == [
        '* LIST (\\HasChildren) "/" "Work"',
        '* LIST (\\HasNoChildren) "/" "Work/a"',
        '* LIST (\\HasNoChildren) "/" "Work/b"',
    ]
    c.close()


def test_list_extended_bad_options(imap_server):
    c = login(imap_server)
    for bad in ('LIST (RECURSIVEMATCH) "" "*"', 'LIST (FROB) "" "*"',
                'LIST "" "*" RETURN (FROB)', 'LIST "" ()'):
        lines, status = c.cmd(bad)
        assert status.startswith("BAD"), (bad, lines, status)
        assert lines == []
    c.close()


# ----- LIST-STATUS (RFC 5819) ---------------------------------------------------

def test_list_status(imap_server):
    c = with_messages(imap_server)
    c.ok("STORE 1:2 +FLAGS (\\Seen)")
    c.ok("CREATE Work/a")
    assert c.ok('LIST "" ("INBOX" "Work*") RETURN (STATUS (MESSAGES UNSEEN UIDNEXT))') == [
        '* LIST (\\HasNoChildren) "/" "INBOX"',
        '* STATUS "INBOX" (MESSAGES 4 UNSEEN 2 UIDNEXT 5)',
        '* LIST (\\HasChildren) "/" "Work"',
        '* STATUS "Work" (MESSAGES 0 UNSEEN 0 UIDNEXT 1)',
        '* LIST (\\HasNoChildren) "/" "Work/a"',
        '* STATUS "Work/a" (MESSAGES 0 UNSEEN 0 UIDNEXT 1)',
    ]
    lines, status = c.cmd('LIST "" "*" RETURN (STATUS (FROB))')
    assert status.startswith("BAD") and lines == [], (lines, status)
    c.close()


# ----- SORT (RFC 5256), SORT=DISPLAY (RFC 5957) -------------------------------

def test_sort_keys(imap_server):
    c = with_messages(imap_server)

    def sort(args):
        lines = c.ok(args)
        assert len(lines) == 1 and re.match(r"\* SORT( \d+)*$", lines[0]), lines
        return lines[0]

    assert sort("SORT (ARRIVAL) UTF-8 ALL") == "* SORT 1 2 3 4"
    assert sort("SORT (REVERSE ARRIVAL) UTF-8 ALL") == "* SORT 4 3 2 1"
    # Base subjects: BANANA, APPLE, CHERRY, APPLE (RFC 2047-decoded "Re: apple").
    assert sort("SORT (SUBJECT) UTF-8 ALL") == "* SORT 2 4 1 3"
    # Dates in UTC: 2 and 4 tie (sequence order), 3 is 9 Apr 04:30 UTC, before 1.
    assert sort("SORT (DATE) UTF-8 ALL") == "* SORT 2 4 3 1"
    assert sort("SORT (REVERSE DATE) UTF-8 ALL") == "* SORT 1 3 2 4"
    assert sort("SORT (FROM) UTF-8 ALL") == "* SORT 4 3 2 1"  # bob mia yan zed
    assert sort("SORT (DISPLAYFROM) UTF-8 ALL") == "* SORT 2 4 3 1"  # Amy Bob mia Zed
    assert sort("SORT (TO) UTF-8 ALL") == "* SORT 3 1 2 4"
    assert sort("SORT (DISPLAYTO) UTF-8 ALL") == "* SORT 3 1 2 4"
    # No Cc sorts as the empty string, first.
    assert sort("SORT (CC) UTF-8 ALL") == "* SORT 1 4 3 2"
    assert sort("SORT (REVERSE SIZE) UTF-8 ALL") == "* SORT 3 1 2 4"
    assert sort("SORT (SUBJECT REVERSE DATE) UTF-8 ALL") == "* SORT 2 4 1 3"
    assert sort("SORT (SUBJECT) US-ASCII NOT SUBJECT banana") == "* SORT 2 4 3"
    assert sort("UID SORT (DATE) UTF-8 UID 3:4") == "* SORT 4 3"
    assert sort("SORT (DATE) UTF-8 SUBJECT nothing-like-this") == "* SORT"
    c.close()


def test_sort_errors(imap_server):
    c = with_messages(imap_server)
    for bad in ("SORT (THREAD) UTF-8 ALL", "SORT () UTF-8 ALL", "SORT (DATE) ALL",
                "SORT (REVERSE) UTF-8 ALL"):
        lines, status = c.cmd(bad)
        assert status.startswith("BAD"), (bad, lines, status)
    lines, status = c.cmd("SORT (DATE) KOI8-R ALL")
    assert status.startswith("NO [BADCHARSET"), status
    c.ok("UNSELECT")
    lines, status = c.cmd("SORT (DATE) UTF-8 ALL")
    assert status.startswith("BAD"), status
    c.close()
