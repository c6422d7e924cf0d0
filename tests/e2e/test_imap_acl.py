"""Shared mailboxes with access control lists (RFC 4314) in the Other Users/ and
Shared/ namespaces (RFC 2342), end to end with Python's imaplib and a raw socket.

A colleague's delegated INBOX: alice gives bob rights with SETACL; bob finds it as
`Other Users/alice@example.org/INBOX` and can do exactly what the rights say, no
more (NOPERM otherwise, NONEXISTENT when he may not even see it). A shared info@
INBOX: `postie share add ... --with anyone` puts it under `Shared/` for every
account; a colleague files into it (under info@'s quota), hears deliveries to it in
IDLE, and copies out of it.
"""

import socket
import time

import pytest

from harness import IMAP_LISTEN, send_marker, unique, wait_until
from imapraw import login, quoted

ALICE = ("alice@example.org", "alice-secret")
BOB = ("bob@example.org", "bob-secret")
CAROL = ("carol@example.org", "carol-secret")
INFO = ("info@example.org", "info-secret")
ALICES_INBOX = "Other Users/alice@example.org/INBOX"
INFOS_INBOX = "Shared/info@example.org/INBOX"


@pytest.fixture
def srv(server_factory):
    srv = server_factory(listen=IMAP_LISTEN)
    for user in (ALICE, BOB, CAROL, INFO):
        srv.add_user(*user)
    return srv


def message(subject):
    return ("From: x@example.net\r\nTo: alice@example.org\r\nSubject: %s\r\n\r\n"
            "body of %s\r\n" % (subject, subject)).encode()


def imaplib_login(srv, user):
    c = srv.imap()
    c.login(*user)
    return c


def ok(result):
    typ, data = result
    assert typ == "OK", (typ, data)
    return data


def filled(srv, count=2):
    """Alice's INBOX with `count` messages, over IMAP."""
    a = login(srv, *ALICE)
    for n in range(count):
        lines, status = a.append("INBOX", message("m%d" % n))
        assert status.startswith("OK"), status
    return a


def listed(c, pattern="*"):
    return [line for line in c.ok('LIST "" "%s"' % pattern)]


def test_capabilities_and_namespaces_with_imaplib(srv):
    c = imaplib_login(srv, ALICE)
    caps = c.capabilities
    # imaplib upper-cases them.
    assert {"ACL", "RIGHTS=TEXK", "NAMESPACE"} <= set(caps), caps
    data = ok(c.namespace())
    assert data == [b'(("" "/")) (("Other Users/" "/")) (("Shared/" "/"))'], data
    # The owner has every right, and GETACL says so (with RFC 2086's c and d).
    assert ok(c.myrights("INBOX")) == [b'"INBOX" "lrswipkxteacd"']
    assert ok(c.getacl("INBOX")) == [b'"INBOX" "alice@example.org" "lrswipkxteacd"']
    c.logout()


def test_delegated_read_only_inbox(srv):
    a = filled(srv)
    a.ok("SETACL INBOX bob@example.org lrs")
    assert a.ok("GETACL INBOX") == [
        '* ACL "INBOX" "alice@example.org" "lrswipkxteacd" "bob@example.org" "lrs"']
    b = login(srv, *BOB)
    # The namespace root and the owner are \Noselect names, the INBOX is bob's to see.
    top = listed(b, "%")
    assert '* LIST (\\Noselect \\HasChildren) "/" "Other Users"' in top, top
    assert '* LIST (\\HasNoChildren) "/" "%s"' % ALICES_INBOX in listed(b), listed(b)
    assert b.ok('MYRIGHTS "%s"' % ALICES_INBOX) == ['* MYRIGHTS "%s" "lrs"' % ALICES_INBOX]
    lines = b.ok('STATUS "%s" (MESSAGES UNSEEN)' % ALICES_INBOX)
    assert lines == ['* STATUS "%s" (MESSAGES 2 UNSEEN 2)' % ALICES_INBOX], lines
    # `s` without `w`: read-write for \Seen only.
    lines, status = b.cmd('SELECT "%s"' % ALICES_INBOX)
    assert status.startswith("OK [READ-WRITE]"), (lines, status)
    assert "* OK [PERMANENTFLAGS (\\Seen)] Flags permitted" in lines, lines
    fetched = b.ok("FETCH 1 (BODY[TEXT])")
    assert "body of m0" in fetched[0], fetched
    # Flags without the right are left out silently (RFC 4314 §4).
    lines = b.ok("STORE 2 +FLAGS (\\Flagged \\Seen)")
    assert len(lines) == 1 and "FLAGS (\\Seen" in lines[0], lines
    assert "Flagged" not in lines[0], lines
    assert b.cmd("STORE 2 FLAGS (\\Answered)")[1].startswith("NO [NOPERM]")
    assert b.cmd("EXPUNGE")[1].startswith("NO [NOPERM]")
    assert b.cmd("MOVE 1 INBOX")[1].startswith("NO [NOPERM]")
    assert b.append(quoted(ALICES_INBOX), message("x"))[1].startswith("NO [NOPERM]")
    assert b.cmd('GETACL "%s"' % ALICES_INBOX)[1].startswith("NO [NOPERM]")
    # What bob did is alice's too: both read, one flagged nothing.
    lines = a.ok("FETCH 1:2 (FLAGS)") if a.ok("SELECT INBOX") else []
    assert lines == ["* 1 FETCH (FLAGS (\\Seen))", "* 2 FETCH (FLAGS (\\Seen))"], lines
    # COPY out of it into his own mailbox works (`r` on the source).
    lines, status = b.cmd("UID COPY 1 INBOX")
    assert status.startswith("OK [COPYUID"), status


def test_not_shared_is_nonexistent_and_deleteacl_hides_it(srv):
    a = filled(srv, 1)
    b = login(srv, *BOB)
    for command in ('SELECT "%s"', 'STATUS "%s" (MESSAGES)', 'MYRIGHTS "%s"',
                    'GETACL "%s"'):
        status = b.cmd(command % ALICES_INBOX)[1]
        assert status.startswith("NO [NONEXISTENT]"), (command, status)
    # `p` alone does not reveal it either (RFC 4314 §4, §6).
    a.ok("SETACL INBOX bob@example.org p")
    assert b.cmd('SELECT "%s"' % ALICES_INBOX)[1].startswith("NO [NONEXISTENT]")
    assert not [l for l in listed(b) if "Other Users" in l]
    a.ok("SETACL INBOX bob@example.org +lr")
    assert b.ok('MYRIGHTS "%s"' % ALICES_INBOX) == ['* MYRIGHTS "%s" "lrp"' % ALICES_INBOX]
    # No right to change: EXAMINE and SELECT are both read-only.
    assert b.cmd('SELECT "%s"' % ALICES_INBOX)[1].startswith("OK [READ-ONLY]")
    a.ok("DELETEACL INBOX bob@example.org")
    assert a.ok("GETACL INBOX") == ['* ACL "INBOX" "alice@example.org" "lrswipkxteacd"']
    assert not [l for l in listed(b) if "Other Users" in l]
    assert b.cmd('STATUS "%s" (MESSAGES)' % ALICES_INBOX)[1].startswith("NO [NONEXISTENT]")


def test_setacl_errors(srv):
    a = login(srv, *ALICE)
    assert a.cmd("SETACL INBOX bob@example.org lrz")[1].startswith("BAD")
    assert a.cmd("SETACL INBOX alice@example.org lr")[1].startswith("NO [CANNOT]")
    assert a.cmd("SETACL INBOX -bob@example.org lr")[1].startswith("NO [CANNOT]")
    assert a.cmd("SETACL INBOX nobody@example.org lr")[1].startswith("NO [NONEXISTENT]")
    assert a.cmd("SETACL Nowhere bob@example.org lr")[1].startswith("NO [NONEXISTENT]")
    assert a.cmd("SETACL INBOX")[1].startswith("BAD")
    assert a.ok("LISTRIGHTS INBOX bob@example.org") == [
        '* LISTRIGHTS "INBOX" "bob@example.org" "" l r s w i p k x t e a c d']
    assert a.ok("LISTRIGHTS INBOX alice@example.org") == [
        '* LISTRIGHTS "INBOX" "alice@example.org" lrswipkxtea']
    # Obsolete c and d (RFC 4314 §2.1.1), and +/- modifiers.
    a.ok("SETACL INBOX bob@example.org lrcd")
    a.ok("SETACL INBOX bob@example.org -x")
    assert a.ok("GETACL INBOX")[0].endswith('"bob@example.org" "lrktecd"')


def test_shared_with_anyone_through_the_cli(srv):
    srv.cli("share", "add", INFO[0], "INBOX", "--with", "anyone")
    c = login(srv, *CAROL)
    assert '* LIST (\\HasNoChildren) "/" "%s"' % INFOS_INBOX in listed(c), listed(c)
    # Filing into it counts against info@'s quota, not carol's.
    srv.cli("user", "quota", INFO[0], "--storage", "1K")
    lines, status = c.append(quoted(INFOS_INBOX), message("first"))
    assert status.startswith("OK [APPENDUID"), status
    lines, status = c.append(quoted(INFOS_INBOX), message("x" * 2000))
    assert status.startswith("NO [OVERQUOTA]"), status
    lines, status = c.append("INBOX", message("x" * 2000))
    assert status.startswith("OK"), status
    # Info's quota is not carol's to see: no quota root for the shared mailbox.
    assert c.ok('GETQUOTAROOT "%s"' % INFOS_INBOX) == ['* QUOTAROOT "%s"' % INFOS_INBOX]
    status = c.cmd('GETQUOTAROOT "Shared/nobody@example.org/INBOX"')[1]
    assert status.startswith("NO [NONEXISTENT]"), status
    # Carol hears a delivery to info@ while idling in it.
    c.ok('SELECT "%s"' % INFOS_INBOX)
    c.send(b"i IDLE\r\n")
    assert c.response().startswith("+ ")
    srv.cli("user", "quota", INFO[0], "--storage", "none")
    send_marker(srv, INFO[0])
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if c.response() == "* 2 EXISTS":
            break
    else:
        pytest.fail("no EXISTS during IDLE")
    c.send(b"DONE\r\n")
    c.finish("i")
    # Moving from it needs t and e, which the default rights give.
    lines, status = c.cmd("UID MOVE 1 INBOX")
    assert status.startswith("OK"), (lines, status)
    i = login(srv, *INFO)
    i.ok("SELECT INBOX")
    assert len(i.ok("UID SEARCH ALL")[0].split()) == 3, "the marker is left"


def test_create_and_delete_under_a_shared_mailbox(srv):
    a = login(srv, *ALICE)
    a.ok("SETACL INBOX bob@example.org lrk")
    b = login(srv, *BOB)
    b.ok('CREATE "%s/Projects"' % ALICES_INBOX)
    # Alice has it, with the parent's entries; bob can't delete it without `x`.
    assert '* LIST (\\HasNoChildren) "/" "INBOX/Projects"' in listed(a), listed(a)
    assert a.ok("GETACL INBOX/Projects")[0].endswith('"bob@example.org" "lrkc"')
    assert b.cmd('DELETE "%s/Projects"' % ALICES_INBOX)[1].startswith("NO [NOPERM]")
    a.ok("SETACL INBOX/Projects bob@example.org +x")
    b.ok('DELETE "%s/Projects"' % ALICES_INBOX)
    assert not [l for l in listed(a) if "Projects" in l]
    # Own names under the namespace roots, and renames into or out of them, are not.
    assert b.cmd('CREATE "Other Users/x"')[1].startswith("NO [NOPERM]")
    assert b.cmd('RENAME "%s" Mine' % ALICES_INBOX)[1].startswith("NO [NOPERM]")


def test_notify_reports_shared_mailboxes_outside_the_personal_namespace(srv):
    """RFC 5465 §6: SUBTREE "Other Users" names the mailboxes shared with the
    session; PERSONAL does not."""
    a = login(srv, *ALICE)
    a.ok("SETACL INBOX bob@example.org lr")
    b = login(srv, *BOB)
    lines = b.ok('NOTIFY SET STATUS (SUBTREE "Other Users" (MessageNew MessageExpunge))')
    assert lines == ['* STATUS "%s" (MESSAGES 0 UIDNEXT 1 UIDVALIDITY %s UNSEEN 0)'
                     % (ALICES_INBOX, lines[0].split("UIDVALIDITY ")[1].split()[0])], lines
    a.append("INBOX", message("for bob to hear of"))
    # The STATUS comes without a command (NOTIFY's wake-ups), within the deadline.
    deadline = time.monotonic() + 20
    seen = []
    while not any(l.startswith('* STATUS "%s" (MESSAGES 1' % ALICES_INBOX) for l in seen):
        left = deadline - time.monotonic()
        if left <= 0:
            pytest.fail("no STATUS for the shared mailbox; got %r" % seen)
        b.sock.settimeout(left)
        try:
            seen.append(b.response())
        except socket.timeout:
            pass
    b.sock.settimeout(30)
    b2 = login(srv, *BOB)
    lines = b2.ok("NOTIFY SET STATUS (PERSONAL (MessageNew MessageExpunge))")
    assert not [l for l in lines if "Other Users" in l], lines
