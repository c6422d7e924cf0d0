"""IMAP NOTIFY (RFC 5465), byte for byte with raw dialogues: after `NOTIFY SET` the
server speaks while the client sends nothing (§5), with

- `* STATUS` for a mailbox other than the selected one when mail arrives there, or is
  expunged (§5.1, §5.2);
- `* n EXISTS` and a FETCH of MessageNew's attributes for mail arriving in the
  selected mailbox, and a FETCH for another session's flag change (§5.1, §5.3);
- `* LIST` when a mailbox is created, deleted or (un)subscribed (§5.4, §5.5);
- `NOTIFY SET STATUS` answering a STATUS for each mailbox at once (§3);
- nothing unsolicited after `NOTIFY NONE`;
- `NO [BADEVENT (...)]` for an event it does not support, `BAD` for syntax.

Every wait for an unsolicited response polls the socket up to a deadline.
"""

import re
import socket
import time

import pytest

from harness import IMAP_LISTEN
from imapraw import login

ALICE = ("alice@example.org", "alice-secret")

MESSAGE = (
    b"From: Zed <zed@example.net>\r\n"
    b"To: alice@example.org\r\n"
    b"Subject: notify me\r\n"
    b"\r\n"
    b"Hello\r\n"
)

WATCH = (
    "NOTIFY SET (SELECTED (MessageNew (UID FLAGS) MessageExpunge FlagChange)) "
    "(PERSONAL (MessageNew MessageExpunge))"
)


@pytest.fixture
def imap_server(server_factory):
    srv = server_factory(listen=IMAP_LISTEN)
    srv.add_user(*ALICE)
    return srv


def deliver(srv, count):
    """Sends one message to alice over SMTP and waits until she has `count`."""
    with srv.smtp() as smtp:
        smtp.sendmail("zed@example.net", ["alice@example.org"], MESSAGE)
    srv.wait_for_mail(ALICE[0], count)


def wait_for(c, pattern, timeout=10):
    """Reads unsolicited responses until one matches `pattern` (a regex); returns
    every response read. Fails at the deadline."""
    deadline = time.monotonic() + timeout
    seen = []
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("no %r within %ss; got %r" % (pattern, timeout, seen))
            c.sock.settimeout(left)
            try:
                line = c.response()
            except socket.timeout:
                continue
            seen.append(line)
            if re.fullmatch(pattern, line):
                return seen
    finally:
        c.sock.settimeout(15)


def nothing_pending(c):
    """Asserts the server has sent nothing `c` has not read."""
    assert c.buf == b"", c.buf
    c.sock.setblocking(False)
    try:
        data = c.sock.recv(65536)
    except BlockingIOError:
        data = b""
    finally:
        c.sock.setblocking(True)
        c.sock.settimeout(15)
    assert data == b"", data


def test_notify_is_advertised(imap_server):
    c = login(imap_server, *ALICE)
    (caps,) = c.ok("CAPABILITY")
    assert " NOTIFY" in caps, caps
    c.close()


def test_other_mailbox_status_and_selected_updates_arrive_unasked(imap_server):
    a = login(imap_server, *ALICE)
    a.ok("CREATE Work")
    a.ok("SELECT Work")
    assert a.ok(WATCH) == []

    # New mail in INBOX, which A does not have selected: a STATUS, no command sent.
    deliver(imap_server, 1)
    wait_for(a, r'\* STATUS "?INBOX"? \(MESSAGES 1 UIDNEXT 2 UNSEEN 1\)')

    # New mail in the selected mailbox: EXISTS, then FETCH (UID FLAGS).
    a.ok("SELECT INBOX")
    deliver(imap_server, 2)
    seen = wait_for(a, r"\* 2 FETCH \(UID 2 FLAGS \(.*\)\)")
    assert "* 2 EXISTS" in seen, seen

    # Another session's flag change in the selected mailbox: FETCH with UID and FLAGS.
    b = login(imap_server, *ALICE)
    b.ok("SELECT INBOX")
    b.ok("STORE 1 +FLAGS.SILENT (\\Flagged)")
    wait_for(a, r"\* 1 FETCH \(UID 1 FLAGS \(.*\\Flagged.*\)\)")

    # An expunge in another mailbox: its STATUS again.
    b.ok("COPY 1 Work")
    wait_for(a, r'\* STATUS "?Work"? \(MESSAGES 1 UIDNEXT 2 UNSEEN 1\)')
    b.ok("SELECT Work")
    b.ok("STORE 1 +FLAGS.SILENT (\\Deleted)")
    b.ok("EXPUNGE")
    wait_for(a, r'\* STATUS "?Work"? \(MESSAGES 0 UIDNEXT 2 UNSEEN 0\)')

    # An expunge in the selected mailbox: EXPUNGE with no command running.
    b.ok("SELECT INBOX")
    b.ok("STORE 2 +FLAGS.SILENT (\\Deleted)")
    b.ok("EXPUNGE")
    wait_for(a, r"\* 2 EXPUNGE")
    a.ok("LOGOUT")
    b.close()


def test_notify_none_stops_unsolicited_responses(imap_server):
    a = login(imap_server, *ALICE)
    a.ok("SELECT INBOX")
    a.ok(WATCH)
    assert a.ok("NOTIFY NONE") == []
    # A control session that still has NOTIFY on hears of the same delivery.
    control = login(imap_server, *ALICE)
    control.ok("SELECT INBOX")
    control.ok(WATCH)
    deliver(imap_server, 1)
    wait_for(control, r"\* 1 FETCH \(UID 1 FLAGS \(.*\)\)")
    nothing_pending(a)
    # The update is still owed, at the next command.
    lines = a.ok("NOOP")
    assert "* 1 EXISTS" in lines, lines
    control.close()
    a.close()


def test_set_status_answers_every_mailbox_at_once(imap_server):
    a = login(imap_server, *ALICE)
    a.ok("CREATE Work")
    lines = a.ok("NOTIFY SET STATUS (MAILBOXES (INBOX Work) (MessageNew MessageExpunge))")
    assert len(lines) == 2, lines
    for line, name in zip(lines, ["INBOX", "Work"]):
        assert re.fullmatch(
            r'\* STATUS "?%s"? \(MESSAGES 0 UIDNEXT 1 UIDVALIDITY \d+ UNSEEN 0\)' % name, line
        ), lines
    # Mailboxes the groups do not name get none.
    assert not any("Sent" in line for line in lines)
    a.close()


def test_mailbox_names_and_subscriptions_are_reported(imap_server):
    a = login(imap_server, *ALICE)
    a.ok("NOTIFY SET (PERSONAL (MailboxName SubscriptionChange))")
    b = login(imap_server, *ALICE)
    b.ok("CREATE Projects")
    wait_for(a, r'\* LIST \(\) "/" "?Projects"?')
    b.ok("SUBSCRIBE Projects")
    wait_for(a, r'\* LIST \(\\Subscribed\) "/" "?Projects"?')
    b.ok("RENAME Projects Done")
    wait_for(a, r'\* LIST \(.*\) "/" "?Done"? \("OLDNAME" \("?Projects"?\)\)')
    b.ok("DELETE Done")
    wait_for(a, r'\* LIST \(\\NonExistent\) "/" "?Done"?')
    b.close()
    a.close()


def test_unsupported_events_and_bad_syntax(imap_server):
    a = login(imap_server, *ALICE)
    _, status = a.cmd("NOTIFY SET (PERSONAL (MessageNew MessageExpunge AnnotationChange))")
    assert status.startswith(
        "NO [BADEVENT (MessageNew MessageExpunge FlagChange MailboxName SubscriptionChange)]"
    ), status
    for bad in [
        "NOTIFY",
        "NOTIFY SET",
        "NOTIFY SET (PERSONAL (MessageNew))",
        "NOTIFY SET (INBOXES (FlagChange))",
        "NOTIFY SET (PERSONAL (MessageNew (UID) MessageExpunge))",
        "NOTIFY SET (SELECTED (MailboxName))",
        "NOTIFY SET (SELECTED (MessageNew MessageExpunge)) (SELECTED-DELAYED (MessageNew MessageExpunge))",
        "NOTIFY SET (SELECTED (MessageNew (UID " + "(" * 200 + ")" * 200 + ") MessageExpunge))",
    ]:
        _, status = a.cmd(bad)
        assert status.startswith("BAD"), (bad, status)
    # Still usable afterwards.
    a.ok("NOOP")
    a.close()


def test_notify_needs_login(imap_server):
    from imapraw import RawIMAP

    c = RawIMAP(imap_server.connect("imap"))
    _, status = c.cmd("NOTIFY NONE")
    assert status == "BAD Log in first", status
    c.close()
