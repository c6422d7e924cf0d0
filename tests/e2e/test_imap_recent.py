"""\\Recent (RFC 3501 §2.3.2) the way Dovecot gives it, SEARCH past the end of the
mailbox, and SORT/SEARCH over address groups and comments, end to end.

\\Recent belongs to the first session that selects the mailbox after a message
arrives (or, already selected, is the first told of it by EXISTS); other sessions
never see it; EXAMINE and STATUS claim nothing; IMAP4rev2 (RFC 9051) has no \\Recent.
Raw socket sessions (from test_imap_condstore) so every untagged line is checked.
"""

import re
import time

import pytest

from harness import IMAP_LISTEN
from test_imap import ALICE, deliver
from test_imap_condstore import session

DEADLINE = 10.0


@pytest.fixture
def imap_server(server_factory):
    srv = server_factory(listen=dict(IMAP_LISTEN))
    srv.add_user(*ALICE)
    return srv


def recent(lines):
    """The `* n RECENT` counts among untagged lines."""
    return [int(m.group(1)) for m in (re.match(r"\* (\d+) RECENT$", l) for l in lines) if m]


def search(c, text):
    untagged, _ = c.ok(text)
    line = [l for l in untagged if l.startswith("* SEARCH")]
    assert len(line) == 1, (text, untagged)
    return [int(x) for x in line[0].split()[2:]]


def flags_of(c, seq):
    untagged, _ = c.ok("FETCH %d (FLAGS)" % seq)
    line = [l for l in untagged if l.startswith("* %d FETCH" % seq)][0]
    return re.search(r"FLAGS \(([^)]*)\)", line).group(1).split()


def status(c, items):
    """STATUS INBOX (items) as {item: number}."""
    untagged, _ = c.ok("STATUS INBOX (%s)" % items)
    assert len(untagged) == 1 and untagged[0].startswith("* STATUS "), untagged
    body = re.search(r"\(([^)]*)\)$", untagged[0]).group(1).split()
    return {k: int(v) for k, v in zip(body[::2], body[1::2])}


def wait_for_exists(c, count):
    """NOOPs until an EXISTS says `count`; returns the untagged lines of that NOOP."""
    end = time.monotonic() + DEADLINE
    while time.monotonic() < end:
        untagged, _ = c.ok("NOOP")
        if "* %d EXISTS" % count in untagged:
            return untagged
    raise AssertionError("no * %d EXISTS in time" % count)


def append(c, message):
    data = message.replace("\n", "\r\n").encode()
    untagged, tagged = c.cmd("APPEND INBOX {%d+}\r\n%s" % (len(data), data.decode()))
    assert tagged.startswith("OK"), (tagged, untagged)


def test_the_first_select_owns_recent(imap_server):
    deliver(imap_server, 1)
    a = session(imap_server)
    untagged, _ = a.ok("SELECT INBOX")
    assert recent(untagged) == [1]
    assert "\\Recent" in flags_of(a, 1)
    assert search(a, "SEARCH RECENT") == [1]
    assert search(a, "SEARCH NEW") == [1]
    assert search(a, "SEARCH OLD") == []

    b = session(imap_server)
    untagged, _ = b.ok("SELECT INBOX")
    assert recent(untagged) == [0]
    assert "\\Recent" not in flags_of(b, 1)
    assert search(b, "SEARCH RECENT") == []
    assert search(b, "SEARCH NEW") == []
    assert search(b, "SEARCH OLD") == [1]

    # Mail arriving while both are selected: the first told of it owns it.
    deliver(imap_server, 1)
    untagged = wait_for_exists(a, 2)
    assert recent(untagged) == [2]
    assert "\\Recent" in flags_of(a, 2)
    untagged = wait_for_exists(b, 2)
    assert recent(untagged) == [0]
    assert "\\Recent" not in flags_of(b, 2)

    # NEW is RECENT UNSEEN; \Recent stays beside the stored flags.
    untagged, _ = a.ok("STORE 1 +FLAGS (\\Seen)")
    line = [l for l in untagged if l.startswith("* 1 FETCH")][0]
    assert "\\Seen" in line and "\\Recent" in line
    assert search(a, "SEARCH NEW") == [2]
    assert search(a, "SEARCH RECENT") == [1, 2]
    assert search(a, "SEARCH NOT RECENT") == []
    # STATUS of the selected mailbox is this session's count.
    assert status(a, "RECENT") == {"RECENT": 2}
    a.close()
    b.close()

    # The claim is durable: a later session gets nothing.
    c = session(imap_server)
    untagged, _ = c.ok("SELECT INBOX")
    assert recent(untagged) == [0]
    c.close()


def test_examine_and_status_claim_nothing(imap_server):
    deliver(imap_server, 2)
    a = session(imap_server)
    assert status(a, "MESSAGES RECENT") == {"MESSAGES": 2, "RECENT": 2}
    # EXAMINE sees what is recent but leaves it for the next SELECT (RFC 3501 §6.3.2).
    untagged, _ = a.ok("EXAMINE INBOX")
    assert recent(untagged) == [2]
    a.ok("CLOSE")
    assert status(a, "RECENT") == {"RECENT": 2}

    b = session(imap_server)
    untagged, _ = b.ok("SELECT INBOX")
    assert recent(untagged) == [2]
    assert status(a, "RECENT") == {"RECENT": 0}
    untagged, _ = a.ok("EXAMINE INBOX")
    assert recent(untagged) == [0]
    assert search(a, "SEARCH RECENT") == []
    a.close()
    b.close()


def test_imap4rev2_has_no_recent_and_claims_none(imap_server):
    deliver(imap_server, 1)
    a = session(imap_server)
    a.ok("ENABLE IMAP4rev2")
    untagged, _ = a.ok("SELECT INBOX")
    assert recent(untagged) == []
    assert "\\Recent" not in flags_of(a, 1)
    deliver(imap_server, 1)
    untagged = wait_for_exists(a, 2)
    assert recent(untagged) == []

    # Left for an IMAP4rev1 session to claim.
    b = session(imap_server)
    untagged, _ = b.ok("SELECT INBOX")
    assert recent(untagged) == [2]
    a.close()
    b.close()


def test_search_past_the_end_is_empty_not_an_error(imap_server):
    deliver(imap_server, 3)
    c = session(imap_server)
    c.ok("SELECT INBOX")
    assert search(c, "SEARCH 2:10") == [2, 3]
    assert search(c, "SEARCH 10:20") == []
    assert search(c, "SEARCH 4") == []
    assert search(c, "SEARCH OR 1 7") == [1]
    untagged, tagged = c.ok("SEARCH RETURN (MIN MAX COUNT) 7:9")
    assert untagged == ['* ESEARCH (TAG "c%d") COUNT 0' % c.n], untagged
    uids = search(c, "UID SEARCH ALL")
    # RFC 3501 §6.4.8: `*` is the highest UID, so 999:* holds it.
    assert search(c, "UID SEARCH UID 999:*") == [uids[-1]]
    assert search(c, "UID SEARCH UID %d:*" % uids[1]) == uids[1:]
    c.ok("CREATE Empty")
    c.ok("SELECT Empty")
    assert search(c, "SEARCH 1:*") == []
    assert search(c, "UID SEARCH UID 1:*") == []
    c.close()


GROUP_AND_COMMENTS = [
    # 1: an ordinary Cc.
    "From: Mike <mike@domain.org>\nTo: mike@domain.org\nCc: mike@domain.org\n"
    "Subject: one\n\nbody\n",
    # 2: a group: sorts on the group's name, user2, not on its first member.
    "From: user2: blah@domain1.org;\nTo: user2: blah@domain1.org;\n"
    "Cc: user2: blah@domain1.org;\nSubject: two\n\nbody\n",
    # 3: comments inside the addr-spec are not part of the address.
    "From: <user-from (comment)@ (comment) domain.org>\n"
    "To: <aaa (zzz)@ (zzz) domain.org>\nCc: <aaa (zzz)@ (zzz) domain.org>\n"
    "Subject: three\n\nbody\n",
]


def test_sort_and_search_read_groups_and_comments(imap_server):
    c = session(imap_server)
    for message in GROUP_AND_COMMENTS:
        append(c, message)
    c.ok("SELECT INBOX")
    untagged, _ = c.ok("SORT (CC) US-ASCII ALL")
    # aaa < mike < user2 (the group's name; its member blah would come first).
    assert untagged == ["* SORT 3 1 2"], untagged
    untagged, _ = c.ok("SORT (REVERSE CC) US-ASCII ALL")
    assert untagged == ["* SORT 2 1 3"], untagged
    untagged, _ = c.ok("SORT (TO) US-ASCII ALL")
    assert untagged == ["* SORT 3 1 2"], untagged
    # DISPLAYFROM: "Mike" < "user-from@domain.org" < "user2" (RFC 5957 §3).
    untagged, _ = c.ok("SORT (DISPLAYFROM) UTF-8 ALL")
    assert untagged == ["* SORT 1 3 2"], untagged
    untagged, _ = c.ok("SORT (DISPLAYTO) UTF-8 ALL")
    assert untagged == ["* SORT 3 1 2"], untagged
    # SEARCH finds the address without its comments, and the group by name or member.
    assert search(c, "SEARCH FROM user-from@domain.org") == [3]
    assert search(c, "SEARCH CC aaa@domain.org") == [3]
    assert search(c, "SEARCH TO user2") == [2]
    assert search(c, "SEARCH CC blah@domain1.org") == [2]
    assert search(c, "SEARCH FROM nobody@domain.org") == []
    c.close()


def test_enable_imap4rev2_while_selected_stops_recent_at_once(imap_server):
    # RFC 9051 has no \Recent: once ENABLE IMAP4rev2 succeeds, no FETCH shows it and
    # no `* n RECENT` follows an EXISTS, without waiting for the next SELECT.
    deliver(imap_server, 1)
    a = session(imap_server)
    untagged, _ = a.ok("SELECT INBOX")
    assert recent(untagged) == [1]
    assert "\\Recent" in flags_of(a, 1)
    untagged, _ = a.ok("ENABLE IMAP4rev2")
    assert "* ENABLED IMAP4rev2" in untagged, untagged
    assert "\\Recent" not in flags_of(a, 1)
    deliver(imap_server, 1)
    untagged = wait_for_exists(a, 2)
    assert recent(untagged) == [], untagged
    assert "\\Recent" not in flags_of(a, 2)

    # Another session's flag change is reported without \Recent too.
    b = session(imap_server)
    b.ok("SELECT INBOX")
    b.ok("STORE 1 +FLAGS.SILENT (\\Flagged)")
    untagged, _ = a.ok("NOOP")
    changed = [l for l in untagged if l.startswith("* 1 FETCH")]
    assert changed and "\\Recent" not in changed[0], untagged
    a.close()
    b.close()
