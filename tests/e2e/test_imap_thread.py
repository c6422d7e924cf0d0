"""THREAD and UID THREAD (RFC 5256) end to end: imaplib's `thread()` / `uid('THREAD')`
and imapclient's `thread()` on a realistic conversation.

The mailbox (sequence numbers 1-10; two messages are APPENDed and expunged first, so
UIDs are 3-12 and differ from sequence numbers) holds:

    1  Project kickoff          09:00  Message-ID <kickoff@>
    2  Re: Project kickoff      09:30  References <kickoff@>
    3  Lunch?                   10:00
    4  Re: Project kickoff      09:45  In-Reply-To <kickoff@> only
    5  Re: Re: Project kickoff  11:00  References <kickoff@> <bob1@>
    6  Re: Budget               12:00  References <budget@> (not in the mailbox)
    7  Re: Budget               12:30  References <budget@> (not in the mailbox)
    8  Fwd: Lunch?              13:00  no references: grouped with 3 by subject
    9  Weekly report            08:00
   10  Re: Weekly report        14:00  broken References: grouped with 9 by subject
"""

import imaplib
import re

import pytest

from harness import IMAP_LISTEN

try:
    import imapclient
except ImportError:  # scripts/install-test-deps installs it
    imapclient = None

ALICE = ("alice@example.org", "alice-secret")


@pytest.fixture
def imap_server(server_factory):
    srv = server_factory(listen=IMAP_LISTEN)
    srv.add_user(*ALICE)
    return srv


def message(seq, subject, time, msgid=None, references=None, in_reply_to=None):
    head = "From: user%d@example.org\r\nTo: team@example.org\r\n" % seq
    head += "Subject: %s\r\nDate: Fri, 01 Mar 2024 %s:00 +0000\r\n" % (subject, time)
    if msgid:
        head += "Message-ID: <%s@example.org>\r\n" % msgid
    if references:
        head += "References: %s\r\n" % references
    if in_reply_to:
        head += "In-Reply-To: %s\r\n" % in_reply_to
    return (head + "\r\nMessage %d\r\n" % seq).encode()


CONVERSATION = [
    message(1, "Project kickoff", "09:00", "kickoff"),
    message(2, "Re: Project kickoff", "09:30", "bob1",
            references="<kickoff@example.org>", in_reply_to="<kickoff@example.org>"),
    message(3, "Lunch?", "10:00", "lunch"),
    message(4, "Re: Project kickoff", "09:45", "carol1", in_reply_to="<kickoff@example.org>"),
    message(5, "Re: Re: Project kickoff", "11:00", "alice2",
            # Folded, and quoted: <"kickoff"@...> is the same Message ID.
            references='<"kickoff"@example.org>\r\n <bob1@example.org>'),
    message(6, "Re: Budget", "12:00", "dave1", references="<budget@example.org>"),
    message(7, "Re: Budget", "12:30", "erin1", references="<budget@example.org>"),
    message(8, "Fwd: Lunch?", "13:00", "fwd"),
    message(9, "Weekly report", "08:00", "weekly"),
    message(10, "Re: Weekly report", "14:00", references="<not-a-message-id"),
]

# RFC 5256 §3 REFERENCES over the whole mailbox, by sequence number.
REFERENCES = "(9 10)(1 (2 5)(4))(3 8)((6)(7))"
# ORDEREDSUBJECT: one flat thread per base subject, by the first message's date.
ORDEREDSUBJECT = "(9 10)(1 (2)(4)(5))(3 8)(6 7)"
UID_OFFSET = 2


def to_uids(text):
    return re.sub(r"\d+", lambda m: str(int(m.group()) + UID_OFFSET), text)


def connect(srv):
    c = srv.imap()
    c.login(*ALICE)
    return c


def fill(srv):
    """The conversation in INBOX, selected, on a fresh imaplib session."""
    c = connect(srv)
    for junk in (b"Subject: junk\r\n\r\nx\r\n", b"Subject: junk\r\n\r\ny\r\n"):
        assert c.append("INBOX", None, None, junk)[0] == "OK"
    c.select("INBOX")
    c.store("1:2", "+FLAGS", "\\Deleted")
    c.expunge()
    for raw in CONVERSATION:
        assert c.append("INBOX", None, None, raw)[0] == "OK"
    typ, data = c.select("INBOX")
    assert (typ, data) == ("OK", [b"10"])
    return c


def thread(c, *args):
    typ, data = c.thread(*args)
    assert typ == "OK", data
    return b"".join(d for d in data if d).decode()


def test_thread_is_advertised(imap_server):
    c = connect(imap_server)
    caps = c.capability()[1][0].decode().split()
    assert "THREAD=REFERENCES" in caps and "THREAD=ORDEREDSUBJECT" in caps, caps
    c.logout()


def test_references_builds_the_conversation_tree(imap_server):
    c = fill(imap_server)
    assert thread(c, "REFERENCES", "UTF-8", "ALL") == REFERENCES
    # The algorithm and charset names are case-insensitive.
    assert thread(c, "references", "us-ascii", "ALL") == REFERENCES
    typ, data = c.uid("THREAD", "REFERENCES", "UTF-8", "ALL")
    assert typ == "OK" and data == [to_uids(REFERENCES).encode()], data
    c.logout()


def test_orderedsubject(imap_server):
    c = fill(imap_server)
    assert thread(c, "ORDEREDSUBJECT", "UTF-8", "ALL") == ORDEREDSUBJECT
    typ, data = c.uid("THREAD", "ORDEREDSUBJECT", "UTF-8", "ALL")
    assert typ == "OK" and data == [to_uids(ORDEREDSUBJECT).encode()], data
    c.logout()


def test_search_keys_restrict_the_messages(imap_server):
    c = fill(imap_server)
    assert thread(c, "REFERENCES", "UTF-8", "SUBJECT", "kickoff") == "(1 (2 5)(4))"
    # Without the kickoff message its replies hang from a dummy parent, and 5 still
    # finds 2 through its References.
    assert thread(c, "REFERENCES", "UTF-8", "SUBJECT", '"Re:"') == "((2 5)(4))((6)(7))(10)"
    assert thread(c, "REFERENCES", "UTF-8", "UID", "3:5") == "(1 2)(3)"
    assert thread(c, "ORDEREDSUBJECT", "UTF-8", "NOT", "SUBJECT", "kickoff") == "(9 10)(3 8)(6 7)"
    typ, data = c.uid("THREAD", "REFERENCES", "UTF-8", "SUBJECT", "Budget")
    assert typ == "OK" and data == [b"((8)(9))"], data
    # Nothing matches: an empty THREAD response.
    typ, data = c.thread("REFERENCES", "UTF-8", "SUBJECT", "nothing-like-this")
    assert typ == "OK" and data in ([None], [b""]), data
    c.logout()


def test_errors(imap_server):
    c = connect(imap_server)
    # Not selected (imaplib refuses to send THREAD then, so by hand).
    c.send(b"x1 THREAD REFERENCES UTF-8 ALL\r\n")
    assert c.readline() == b"x1 BAD No mailbox selected\r\n"
    c.logout()
    c = fill(imap_server)
    # An algorithm we do not offer is a BAD.
    with pytest.raises(imaplib.IMAP4.error, match=r"CLIENTBUG.*threading algorithm"):
        c.thread("X-FANCY", "UTF-8", "ALL")
    # Missing charset or keys: a syntax error.
    with pytest.raises(imaplib.IMAP4.error):
        c.thread("REFERENCES", "ALL")
    # A charset we do not know is NO [BADCHARSET] (RFC 5256 §3, as SEARCH).
    typ, data = c.thread("REFERENCES", "KOI8-R", "ALL")
    assert typ == "NO" and b"[BADCHARSET (UTF-8 US-ASCII)]" in data[0], data
    # The session still works.
    assert thread(c, "REFERENCES", "UTF-8", "ALL") == REFERENCES
    c.logout()


def test_no_expunge_during_sequence_number_thread(imap_server):
    """RFC 3501 §7.4.1: THREAD (not UID THREAD) must not report an EXPUNGE; the
    expunged message is left out of the tree."""
    c = fill(imap_server)
    other = connect(imap_server)
    other.select("INBOX")
    other.store("8", "+FLAGS", "\\Deleted")  # Fwd: Lunch?
    other.expunge()
    other.logout()
    c.untagged_responses.clear()
    assert thread(c, "REFERENCES", "UTF-8", "ALL") == "(9 10)(1 (2 5)(4))(3)((6)(7))"
    assert "EXPUNGE" not in c.untagged_responses, c.untagged_responses
    # UID THREAD may: the EXPUNGE comes, and the numbers after it move down.
    typ, data = c.uid("THREAD", "REFERENCES", "UTF-8", "ALL")
    assert typ == "OK", data
    assert c.untagged_responses.get("EXPUNGE") == [b"8"], c.untagged_responses
    assert thread(c, "REFERENCES", "UTF-8", "ALL") == "(8 9)(1 (2 5)(4))(3)((6)(7))"
    c.logout()


@pytest.mark.skipif(imapclient is None,
                    reason="imapclient missing: run scripts/install-test-deps")
def test_imapclient_thread(imap_server):
    fill(imap_server).logout()
    host, port = imap_server.addr("imap")
    with imap_server.netns():
        c = imapclient.IMAPClient(host, port, ssl=False, timeout=30)
    c.login(*ALICE)
    assert c.has_capability("THREAD=REFERENCES")
    c.select_folder("INBOX")
    u = lambda n: n + UID_OFFSET  # noqa: E731 - imapclient works with UIDs
    assert c.thread() == (
        (u(9), u(10)),
        (u(1), (u(2), u(5)), (u(4),)),
        (u(3), u(8)),
        ((u(6),), (u(7),)),
    )
    assert c.thread("ORDEREDSUBJECT", ["SUBJECT", "kickoff"]) == (
        (u(1), (u(2),), (u(4),), (u(5),)),
    )
    c.use_uid = False
    assert c.thread("REFERENCES", ["SINCE", "1-Jan-2000"]) == (
        (9, 10), (1, (2, 5), (4,)), (3, 8), ((6,), (7,)),
    )
    c.logout()
