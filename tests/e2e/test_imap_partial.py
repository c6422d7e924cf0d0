"""IMAP PARTIAL (RFC 9394) end to end over a raw socket: `SEARCH RETURN (PARTIAL m:n)`
and its UID form page through the hits in mailbox order, negative ranges count from
the last hit, a range past the hits yields what is there (or NIL), MIN/MAX/COUNT still
describe every hit, SAVE and MODSEQ follow §3.2, and malformed ranges are a BAD.

The mailbox holds ten messages whose UIDs are not their sequence numbers (UIDs 2 and
5 are expunged), so each answer shows which numbering it used.
"""

import re

import pytest

from harness import IMAP_LISTEN
from imapraw import login

ALICE = ("alice@example.org", "alice-secret")


@pytest.fixture
def imap_server(server_factory):
    srv = server_factory(listen=IMAP_LISTEN)
    srv.add_user(*ALICE)
    return srv


def message(n):
    return ("From: bob@example.org\r\nTo: alice@example.org\r\nSubject: note %d\r\n\r\n"
            "body %d\r\n" % (n, n)).encode()


def paged(srv):
    """INBOX selected with sequence numbers 1..10 holding UIDs 1,3,4,6..12; the
    first three (UIDs 1, 3, 4) are \\Seen."""
    c = login(srv, *ALICE)
    for n in range(1, 13):
        lines, status = c.append("INBOX", message(n))
        assert status.startswith("OK"), status
    c.ok("SELECT INBOX")
    c.ok("UID STORE 2,5 +FLAGS.SILENT (\\Deleted)")
    c.ok("EXPUNGE")
    c.ok("UID STORE 1,3,4 +FLAGS.SILENT (\\Seen)")
    assert c.ok("UID SEARCH ALL") == ["* SEARCH 1 3 4 6 7 8 9 10 11 12"]
    return c


def esearch(c, text):
    """The one ESEARCH line `text` answers, its own tag written as `T`."""
    lines = c.ok(text)
    assert len(lines) == 1, (text, lines)
    return lines[0].replace('(TAG "%s")' % c.tag, '(TAG "T")')


def test_partial_is_advertised(imap_server):
    c = login(imap_server, *ALICE)
    caps = c.ok("CAPABILITY")[0].split()
    assert "PARTIAL" in caps and "ESEARCH" in caps, caps


def test_pages_from_the_first_hit(imap_server):
    c = paged(imap_server)
    # RFC 9394 §3.1: the first result is 1; UID and sequence forms page alike.
    assert esearch(c, "UID SEARCH RETURN (PARTIAL 1:3) ALL") == \
        '* ESEARCH (TAG "T") UID PARTIAL (1:3 1,3:4)'
    assert esearch(c, "UID SEARCH RETURN (PARTIAL 4:6) ALL") == \
        '* ESEARCH (TAG "T") UID PARTIAL (4:6 6:8)'
    assert esearch(c, "SEARCH RETURN (PARTIAL 4:6) ALL") == \
        '* ESEARCH (TAG "T") PARTIAL (4:6 4:6)'
    # Ends in either order; the range comes back as asked.
    assert esearch(c, "UID SEARCH RETURN (partial 6:4) ALL") == \
        '* ESEARCH (TAG "T") UID PARTIAL (6:4 6:8)'
    # Paging over the hits of a real search: the unseen ones are UIDs 6..12.
    assert esearch(c, "UID SEARCH RETURN (PARTIAL 2:3) UNSEEN") == \
        '* ESEARCH (TAG "T") UID PARTIAL (2:3 7:8)'


def test_negative_ranges_count_from_the_last_hit(imap_server):
    c = paged(imap_server)
    # RFC 9394 §3.1: -1 is the last result, -2 the one before it.
    assert esearch(c, "UID SEARCH RETURN (PARTIAL -1:-3) ALL") == \
        '* ESEARCH (TAG "T") UID PARTIAL (-1:-3 10:12)'
    assert esearch(c, "UID SEARCH RETURN (PARTIAL -3:-1) ALL") == \
        '* ESEARCH (TAG "T") UID PARTIAL (-3:-1 10:12)'
    assert esearch(c, "SEARCH RETURN (PARTIAL -9:-10) ALL") == \
        '* ESEARCH (TAG "T") PARTIAL (-9:-10 1:2)'
    assert esearch(c, "UID SEARCH RETURN (PARTIAL -1:-1) SEEN") == \
        '* ESEARCH (TAG "T") UID PARTIAL (-1:-1 4)'


def test_ranges_past_the_hits(imap_server):
    c = paged(imap_server)
    # RFC 9394 §3.1: what is in the set, or NIL when nothing is.
    assert esearch(c, "UID SEARCH RETURN (PARTIAL 9:20) ALL") == \
        '* ESEARCH (TAG "T") UID PARTIAL (9:20 11:12)'
    assert esearch(c, "UID SEARCH RETURN (PARTIAL -8:-100) ALL") == \
        '* ESEARCH (TAG "T") UID PARTIAL (-8:-100 1,3:4)'
    assert esearch(c, "UID SEARCH RETURN (PARTIAL 11:20) ALL") == \
        '* ESEARCH (TAG "T") UID PARTIAL (11:20 NIL)'
    assert esearch(c, "UID SEARCH RETURN (PARTIAL -11:-4294967295) ALL") == \
        '* ESEARCH (TAG "T") UID PARTIAL (-11:-4294967295 NIL)'
    # No hit at all: the page is NIL, not left out.
    assert esearch(c, "UID SEARCH RETURN (PARTIAL 1:100) SUBJECT nothing-like-this") == \
        '* ESEARCH (TAG "T") UID PARTIAL (1:100 NIL)'


def test_min_max_count_describe_every_hit(imap_server):
    c = paged(imap_server)
    assert esearch(c, "UID SEARCH RETURN (MIN MAX COUNT PARTIAL 2:3) UNSEEN") == \
        '* ESEARCH (TAG "T") UID MIN 6 MAX 12 COUNT 7 PARTIAL (2:3 7:8)'
    assert esearch(c, "SEARCH RETURN (PARTIAL -1:-2 COUNT) UNSEEN") == \
        '* ESEARCH (TAG "T") COUNT 7 PARTIAL (-1:-2 9:10)'
    assert esearch(c, "SEARCH RETURN (COUNT PARTIAL 1:5) DELETED") == \
        '* ESEARCH (TAG "T") COUNT 0 PARTIAL (1:5 NIL)'


def fetched_uids(c, text):
    return [int(re.search(r"UID (\d+)", line).group(1)) for line in c.ok(text)]


def test_save_keeps_the_page_or_everything_with_count(imap_server):
    c = paged(imap_server)
    # RFC 9394 §3.2: SAVE with PARTIAL keeps the page (and the MIN/MAX messages).
    assert esearch(c, "UID SEARCH RETURN (SAVE PARTIAL -1:-2) ALL") == \
        '* ESEARCH (TAG "T") UID PARTIAL (-1:-2 11:12)'
    assert fetched_uids(c, "UID FETCH $ (UID)") == [11, 12]
    esearch(c, "SEARCH RETURN (PARTIAL 4:5 SAVE MIN) ALL")
    assert fetched_uids(c, "UID FETCH $ (UID)") == [1, 6, 7]
    # ... and with COUNT every hit.
    assert esearch(c, "UID SEARCH RETURN (SAVE COUNT PARTIAL 1:1) UNSEEN") == \
        '* ESEARCH (TAG "T") UID COUNT 7 PARTIAL (1:1 6)'
    assert fetched_uids(c, "UID FETCH $ (UID)") == [6, 7, 8, 9, 10, 11, 12]


def modseqs(c, uids):
    """{uid: modseq} from a FETCH (the first one may also bring an
    `OK [HIGHESTMODSEQ]`, RFC 7162 §3.1)."""
    out = {}
    for line in c.ok("UID FETCH %s (MODSEQ)" % uids):
        if " FETCH (" in line:
            uid = int(re.search(r"UID (\d+)", line).group(1))
            out[uid] = int(re.search(r"MODSEQ \((\d+)\)", line).group(1))
    return out


def test_modseq_covers_the_page(imap_server):
    c = paged(imap_server)
    all_modseqs = modseqs(c, "1:*")
    assert len(all_modseqs) == 10, all_modseqs
    last, highest = all_modseqs[12], max(all_modseqs.values())
    assert highest > last
    # RFC 9394 §3.2 with RFC 7162 §3.1.5: MODSEQ of the messages returned.
    assert esearch(c, "UID SEARCH RETURN (PARTIAL -1:-1) MODSEQ 1") == \
        '* ESEARCH (TAG "T") UID PARTIAL (-1:-1 12) MODSEQ %d' % last
    assert esearch(c, "UID SEARCH RETURN (COUNT PARTIAL -1:-1) MODSEQ 1") == \
        '* ESEARCH (TAG "T") UID COUNT 10 PARTIAL (-1:-1 12) MODSEQ %d' % highest


@pytest.mark.parametrize("options", [
    "PARTIAL 0:5",           # §4: nz-number
    "PARTIAL 1:0",
    "PARTIAL -1:5",          # §4: no mixed signs
    "PARTIAL 1:-5",
    "PARTIAL 1:*",           # §4: no "*"
    "PARTIAL 1:4294967296",  # §4: a 32-bit number
    "PARTIAL 5",
    "PARTIAL",               # §4: the range is mandatory
    "PARTIAL 1:5 ALL",       # §3.1: one PARTIAL or one ALL
    "ALL PARTIAL 1:5",
    "PARTIAL 1:5 PARTIAL 6:9",
])
def test_malformed_partial_is_bad(imap_server, options):
    c = paged(imap_server)
    lines, status = c.cmd("UID SEARCH RETURN (%s) ALL" % options)
    assert status.startswith("BAD"), (options, lines, status)
    assert not any(line.startswith("* ESEARCH") for line in lines), lines
    # The session goes on.
    assert esearch(c, "UID SEARCH RETURN (PARTIAL 1:1) ALL") == \
        '* ESEARCH (TAG "T") UID PARTIAL (1:1 1)'


# ----- the PARTIAL FETCH modifier (RFC 9394 §3.3) -------------------------------------

def fetch_lines(c, text):
    """The FETCH responses of a UID FETCH, each as (uid, line)."""
    lines = c.ok(text)
    out = []
    for line in lines:
        if " FETCH (" in line:
            out.append((int(re.search(r"UID (\d+)", line).group(1)), line))
    return out


def partial_uids(c, text):
    return [uid for uid, _ in fetch_lines(c, text)]


def test_fetch_partial_last_and_first(imap_server):
    c = paged(imap_server)
    # RFC 9394 §3.3: only the messages of the set in the range, in UID order; -1
    # the last (§3.1).
    assert partial_uids(c, "UID FETCH 1:* (FLAGS) (PARTIAL -1:-3)") == [10, 11, 12]
    assert partial_uids(c, "UID FETCH 1:* (FLAGS) (PARTIAL -3:-1)") == [10, 11, 12]
    assert partial_uids(c, "UID FETCH 1:* (FLAGS) (PARTIAL 1:3)") == [1, 3, 4]
    assert partial_uids(c, "UID FETCH 1:* FLAGS (partial 5:4)") == [6, 7]
    # The range counts the messages the set names, not the mailbox.
    assert partial_uids(c, "UID FETCH 4:9 (UID) (PARTIAL 2:3)") == [6, 7]
    assert partial_uids(c, "UID FETCH 2:5,11 (UID) (PARTIAL -1:-2)") == [4, 11]
    # The answer is an ordinary FETCH, with its sequence numbers.
    lines = c.ok("UID FETCH 1:* (FLAGS) (PARTIAL -1:-1)")
    assert lines == ["* 10 FETCH (UID 12 FLAGS (\\Recent))"], lines
    lines = c.ok("UID FETCH 1:* (FLAGS) (PARTIAL 1:1)")
    assert lines == ["* 1 FETCH (UID 1 FLAGS (\\Seen \\Recent))"], lines


def test_fetch_partial_past_the_end_gives_nothing(imap_server):
    c = paged(imap_server)
    # RFC 9394 §3.1 as §3.3 uses it: what is in the range, maybe nothing, and OK.
    assert partial_uids(c, "UID FETCH 1:* (FLAGS) (PARTIAL 9:20)") == [11, 12]
    assert partial_uids(c, "UID FETCH 1:* (FLAGS) (PARTIAL -8:-100)") == [1, 3, 4]
    lines, status = c.cmd("UID FETCH 1:* (FLAGS) (PARTIAL 11:20)")
    assert status.startswith("OK"), status
    assert lines == [], lines
    lines, status = c.cmd("UID FETCH 1:* (FLAGS) (PARTIAL -11:-4294967295)")
    assert status.startswith("OK"), status
    assert lines == [], lines
    # A set naming no message at all.
    lines, status = c.cmd("UID FETCH 100:200 (FLAGS) (PARTIAL 1:5)")
    assert status.startswith("OK") and lines == [], (lines, status)


def test_fetch_partial_sets_seen_only_in_the_window(imap_server):
    c = paged(imap_server)
    got = fetch_lines(c, "UID FETCH 1:* (BODY[TEXT]) (PARTIAL -1:-2)")
    assert [uid for uid, _ in got] == [11, 12], got
    # RFC 3501 §6.4.5: only the messages fetched became \Seen.
    lines = c.ok("UID SEARCH UNSEEN")
    assert lines == ["* SEARCH 6 7 8 9 10"], lines


def test_fetch_partial_with_changedsince(imap_server):
    c = paged(imap_server)
    base = modseqs(c, "1:*")
    top = max(base.values())
    c.ok("UID STORE 3,6,9,11 +FLAGS.SILENT (\\Flagged)")
    # RFC 9394 §3.4: CHANGEDSINCE keeps the changed messages (3, 6, 9, 11), then
    # PARTIAL takes its window of them; the order of the two does not matter.
    for mods in ("CHANGEDSINCE %d PARTIAL -1:-2" % top,
                 "PARTIAL -1:-2 CHANGEDSINCE %d" % top):
        got = fetch_lines(c, "UID FETCH 1:* (FLAGS) (%s)" % mods)
        assert [uid for uid, _ in got] == [9, 11], (mods, got)
        # RFC 7162 §3.1.4.1: CHANGEDSINCE implies MODSEQ.
        assert all("MODSEQ (" in line for _, line in got), got
    assert partial_uids(c, "UID FETCH 1:* (FLAGS) (CHANGEDSINCE %d PARTIAL 1:1)" % top) == [3]
    assert partial_uids(c, "UID FETCH 1:* (FLAGS) (CHANGEDSINCE %d PARTIAL 5:9)" % top) == []
    # Nothing changed since the newest: nothing to page.
    newest = max(modseqs(c, "1:*").values())
    assert partial_uids(c, "UID FETCH 1:* (FLAGS) (CHANGEDSINCE %d PARTIAL 1:9)" % newest) == []


def test_fetch_partial_of_the_saved_result(imap_server):
    c = paged(imap_server)
    c.ok("UID SEARCH RETURN (SAVE) UNSEEN")
    assert partial_uids(c, "UID FETCH $ (UID) (PARTIAL 2:3)") == [7, 8]


@pytest.mark.parametrize("modifiers", [
    "PARTIAL 0:5",           # §4: nz-number
    "PARTIAL -1:5",          # §4: no mixed signs
    "PARTIAL 1:*",           # §4: no "*"
    "PARTIAL 1:4294967296",  # §4: a 32-bit number
    "PARTIAL 5",
    "PARTIAL",               # §4: the range is mandatory
    "PARTIAL 1:5 PARTIAL 6:9",
    "CHANGEDSINCE 1 PARTIAL",
])
def test_malformed_fetch_partial_is_bad(imap_server, modifiers):
    c = paged(imap_server)
    lines, status = c.cmd("UID FETCH 1:* (FLAGS) (%s)" % modifiers)
    assert status.startswith("BAD"), (modifiers, lines, status)
    assert not any(" FETCH " in line for line in lines), lines
    # The session goes on.
    assert partial_uids(c, "UID FETCH 1:* (FLAGS) (PARTIAL 1:1)") == [1]


def test_fetch_partial_needs_uid_fetch(imap_server):
    c = paged(imap_server)
    # RFC 9394 §3.3: the modifier extends UID FETCH.
    lines, status = c.cmd("FETCH 1:* (FLAGS) (PARTIAL 1:2)")
    assert status.startswith("BAD"), (lines, status)
    assert not any(" FETCH " in line for line in lines), lines


def test_fetch_partial_with_vanished(imap_server):
    c = paged(imap_server)
    c.ok("ENABLE QRESYNC")
    # RFC 7162 §3.2.6: VANISHED (EARLIER) names the expunged UIDs of the whole set
    # (2 and 5); PARTIAL windows the messages that are there.
    lines = c.ok("UID FETCH 1:* (FLAGS) (CHANGEDSINCE 1 VANISHED PARTIAL -1:-1)")
    assert lines[0] == "* VANISHED (EARLIER) 2,5", lines
    assert all(" FETCH (" in line for line in lines[1:]), lines
    assert len(lines) == 2 and "UID 12 " in lines[1], lines
