"""ESORT and CONTEXT=SEARCH / CONTEXT=SORT (RFC 5267) end to end over a raw socket.

ESORT: `[UID] SORT RETURN (...)` answers one ESEARCH in the requested order: MIN and
MAX are the first and last sorted messages, ALL and PARTIAL keep the sort order (a
range only where numbers ascend). CONTEXT: `RETURN (UPDATE)` keeps a result live;
changes made by a second session reach the first at its next NOOP as ADDTO (after
EXISTS) and REMOVEFROM (before EXPUNGE); CANCELUPDATE stops them; past ten contexts
the server says NO [NOUPDATE].

The mailbox holds five messages whose subject order is not their UID order, and
whose UIDs are not their sequence numbers (UIDs 2 and 5 are expunged):

    seq uid subject      SORT (SUBJECT): alpha bravo charlie delta echo
     1   1  delta                  uids:   3     7     6      1     4
     2   3  alpha                  seqs:   2     5     4      1     3
     3   4  echo
     4   6  charlie
     5   7  bravo
"""

import pytest

from harness import IMAP_LISTEN
from imapraw import login

ALICE = ("alice@example.org", "alice-secret")
SUBJECTS = ["delta", "zz gone", "alpha", "echo", "zz gone", "charlie", "bravo"]


@pytest.fixture
def imap_server(server_factory):
    srv = server_factory(listen=IMAP_LISTEN)
    srv.add_user(*ALICE)
    return srv


def message(subject):
    return ("From: bob@example.org\r\nTo: alice@example.org\r\nSubject: %s\r\n\r\n"
            "body of %s\r\n" % (subject, subject)).encode()


def mailbox(srv):
    """INBOX selected as in the module docstring."""
    c = login(srv, *ALICE)
    for subject in SUBJECTS:
        lines, status = c.append("INBOX", message(subject))
        assert status.startswith("OK"), status
    c.ok("SELECT INBOX")
    c.ok("UID STORE 2,5 +FLAGS.SILENT (\\Deleted)")
    c.ok("EXPUNGE")
    assert c.ok("UID SORT (SUBJECT) UTF-8 ALL") == ["* SORT 3 7 6 1 4"]
    assert c.ok("SORT (SUBJECT) UTF-8 ALL") == ["* SORT 2 5 4 1 3"]
    return c


def esearch(c, text):
    """The one ESEARCH line `text` answers, its own tag written as `T`."""
    lines = c.ok(text)
    assert len(lines) == 1, (text, lines)
    return lines[0].replace('(TAG "%s")' % c.tag, '(TAG "T")')


def second(srv):
    """Another session of the same account, INBOX selected."""
    c = login(srv, *ALICE)
    c.ok("SELECT INBOX")
    return c


def test_capabilities(imap_server):
    c = login(imap_server, *ALICE)
    caps = c.ok("CAPABILITY")[0].split()
    for cap in ("ESORT", "CONTEXT=SEARCH", "CONTEXT=SORT", "SORT", "ESEARCH"):
        assert cap in caps, (cap, caps)


def test_esort_min_max_count_all_follow_the_sort_order(imap_server):
    c = mailbox(imap_server)
    # RFC 5267 §3.1: MIN/MAX are the first/last *sorted* messages, not the lowest.
    assert esearch(c, "UID SORT RETURN (MIN MAX COUNT ALL) (SUBJECT) UTF-8 ALL") == \
        '* ESEARCH (TAG "T") UID MIN 3 MAX 4 COUNT 5 ALL 3,7,6,1,4'
    assert esearch(c, "SORT RETURN (MIN MAX COUNT ALL) (SUBJECT) UTF-8 ALL") == \
        '* ESEARCH (TAG "T") MIN 2 MAX 3 COUNT 5 ALL 2,5,4,1,3'
    # §3.2: ranges only where the numbers ascend; the order is never compressed away.
    assert esearch(c, "UID SORT RETURN (ALL) (REVERSE SUBJECT) UTF-8 ALL") == \
        '* ESEARCH (TAG "T") UID ALL 4,1,6:7,3'
    assert esearch(c, "SORT RETURN () (REVERSE SUBJECT) UTF-8 ALL") == \
        '* ESEARCH (TAG "T") ALL 3,1,4:5,2'
    # With search keys, and nothing found.
    assert esearch(c, "UID SORT RETURN (MIN COUNT) (SUBJECT) UTF-8 NOT SUBJECT alpha") == \
        '* ESEARCH (TAG "T") UID MIN 7 COUNT 4'
    assert esearch(c, "UID SORT RETURN (MIN MAX COUNT ALL) (SUBJECT) UTF-8 SUBJECT nope") == \
        '* ESEARCH (TAG "T") UID COUNT 0'
    # Plain SORT is unchanged.
    assert c.ok("UID SORT (REVERSE SUBJECT) UTF-8 ALL") == ["* SORT 4 1 6 7 3"]


def test_esort_partial_pages_the_sorted_list(imap_server):
    c = mailbox(imap_server)
    assert esearch(c, "UID SORT RETURN (PARTIAL 2:3) (SUBJECT) UTF-8 ALL") == \
        '* ESEARCH (TAG "T") UID PARTIAL (2:3 7,6)'
    assert esearch(c, "UID SORT RETURN (PARTIAL -1:-2) (SUBJECT) UTF-8 ALL") == \
        '* ESEARCH (TAG "T") UID PARTIAL (-1:-2 1,4)'
    assert esearch(c, "SORT RETURN (COUNT PARTIAL 4:10) (SUBJECT) UTF-8 ALL") == \
        '* ESEARCH (TAG "T") COUNT 5 PARTIAL (4:10 1,3)'
    assert esearch(c, "UID SORT RETURN (PARTIAL 6:9) (SUBJECT) UTF-8 ALL") == \
        '* ESEARCH (TAG "T") UID PARTIAL (6:9 NIL)'


def test_esort_save_and_bad_forms(imap_server):
    c = mailbox(imap_server)
    # SAVE with MIN keeps the first sorted message for `$` (RFC 5182 §2.1).
    assert esearch(c, "UID SORT RETURN (SAVE MIN) (SUBJECT) UTF-8 ALL") == \
        '* ESEARCH (TAG "T") UID MIN 3'
    assert c.ok("UID SEARCH $") == ["* SEARCH 3"]
    for bad in ("UID SORT RETURN (PARTIAL 1:2 ALL) (SUBJECT) UTF-8 ALL",
                "UID SORT RETURN (FROB) (SUBJECT) UTF-8 ALL",
                "UID SORT RETURN (MIN) (FROB) UTF-8 ALL",
                "UID SORT RETURN (MIN) (SUBJECT) ALL",
                "UID SORT RETURN (MIN) (SUBJECT) UTF-8"):
        lines, status = c.cmd(bad)
        assert status.startswith("BAD") and lines == [], (bad, lines, status)


def test_search_context_reports_adds_and_removes(imap_server):
    c = mailbox(imap_server)
    other = second(imap_server)
    assert esearch(c, "UID SEARCH RETURN (COUNT UPDATE) UNSEEN") == \
        '* ESEARCH (TAG "T") UID COUNT 5'
    tag = c.tag
    # Nothing changed: nothing said.
    assert c.ok("NOOP") == []
    # New mail: ADDTO after the EXISTS (RFC 5267 §4.3.3), position 0 for SEARCH.
    lines, status = other.append("INBOX", message("foxtrot"))
    assert status.startswith("OK"), status
    lines = c.ok("NOOP")
    assert "* 6 EXISTS" in lines, lines
    add = '* ESEARCH (TAG "%s") UID ADDTO (0 8)' % tag
    assert add in lines and lines.index(add) > lines.index("* 6 EXISTS"), lines
    # A flag change takes a message out.
    other.ok("UID STORE 3 +FLAGS (\\Seen)")
    lines = c.ok("NOOP")
    assert '* ESEARCH (TAG "%s") UID REMOVEFROM (0 3)' % tag in lines, lines
    # An expunge: REMOVEFROM before the EXPUNGE (§4.3.4).
    other.ok("UID STORE 1 +FLAGS.SILENT (\\Deleted)")
    other.ok("EXPUNGE")
    lines = c.ok("NOOP")
    remove = '* ESEARCH (TAG "%s") UID REMOVEFROM (0 1)' % tag
    assert remove in lines and "* 1 EXPUNGE" in lines, lines
    assert lines.index(remove) < lines.index("* 1 EXPUNGE"), lines
    # CANCELUPDATE: no more reports.
    c.ok('CANCELUPDATE "%s"' % tag)
    other.ok("UID STORE 4 +FLAGS (\\Seen)")
    lines = c.ok("NOOP")
    assert lines and not any("ESEARCH" in l for l in lines), lines


def test_sequence_number_context_removes_before_the_expunge(imap_server):
    c = mailbox(imap_server)
    other = second(imap_server)
    assert esearch(c, "SEARCH RETURN (UPDATE COUNT) ALL") == '* ESEARCH (TAG "T") COUNT 5'
    tag = c.tag
    # UID 6 is sequence number 4 until the EXPUNGE is sent (RFC 5267 §4.3.2).
    other.ok("UID STORE 6 +FLAGS.SILENT (\\Deleted)")
    other.ok("EXPUNGE")
    lines = c.ok("NOOP")
    remove = '* ESEARCH (TAG "%s") REMOVEFROM (0 4)' % tag
    assert remove in lines and "* 4 EXPUNGE" in lines, lines
    assert lines.index(remove) < lines.index("* 4 EXPUNGE"), lines
    # New mail as sequence number 5, after the EXISTS.
    other.append("INBOX", message("golf"))
    lines = c.ok("NOOP")
    add = '* ESEARCH (TAG "%s") ADDTO (0 5)' % tag
    assert "* 5 EXISTS" in lines and add in lines, lines
    assert lines.index(add) > lines.index("* 5 EXISTS"), lines


def test_sequence_numbers_in_the_program_are_fixed_when_asked(imap_server):
    c = mailbox(imap_server)
    other = second(imap_server)
    # Sequence numbers 2:3 are UIDs 3 and 4 when the command comes (RFC 5267 §4.3).
    assert esearch(c, "UID SEARCH RETURN (ALL UPDATE) 2:3") == '* ESEARCH (TAG "T") UID ALL 3:4'
    tag = c.tag
    # Renumbering makes 2:3 name UIDs 4 and 6, but the context keeps UIDs 3 and 4.
    other.ok("UID STORE 1 +FLAGS.SILENT (\\Deleted)")
    other.ok("EXPUNGE")
    lines = c.ok("NOOP")
    assert "* 1 EXPUNGE" in lines and not any("ESEARCH" in l for l in lines), lines
    # A change to UID 3 still reaches it: it leaves when expunged.
    other.ok("UID STORE 3 +FLAGS.SILENT (\\Deleted)")
    other.ok("EXPUNGE")
    lines = c.ok("NOOP")
    assert '* ESEARCH (TAG "%s") UID REMOVEFROM (0 3)' % tag in lines, lines


def test_sort_context_keeps_positions(imap_server):
    c = mailbox(imap_server)
    other = second(imap_server)
    assert esearch(c, "UID SORT RETURN (UPDATE MIN) (SUBJECT) UTF-8 UNSEEN") == \
        '* ESEARCH (TAG "T") UID MIN 3'
    tag = c.tag
    # "baker" sorts second: alpha baker bravo charlie delta echo.
    other.append("INBOX", message("baker"))
    lines = c.ok("NOOP")
    add = '* ESEARCH (TAG "%s") UID ADDTO (2 8)' % tag
    assert add in lines and lines.index(add) > lines.index("* 6 EXISTS"), lines
    # charlie (UID 6) is fourth now; two new ones at the end and the start.
    other.ok("UID STORE 6 +FLAGS (\\Seen)")
    lines = c.ok("NOOP")
    assert '* ESEARCH (TAG "%s") UID REMOVEFROM (4 6)' % tag in lines, lines
    other.append("INBOX", message("zulu"))
    other.append("INBOX", message("aardvark"))
    lines = c.ok("NOOP")
    # Applied in order: aardvark first, then zulu last of seven.
    assert '* ESEARCH (TAG "%s") UID ADDTO (1 10 7 9)' % tag in lines, lines
    # Sequence-number SORT context: the expunged message's number, before EXPUNGE.
    # UPDATE alone reports nothing at once (RFC 5267 §4.3: no interaction).
    assert c.ok("SORT RETURN (UPDATE) (REVERSE SUBJECT) UTF-8 ALL") == []
    seq_tag = c.tag
    other.ok("UID STORE 1 +FLAGS.SILENT (\\Deleted)")
    other.ok("EXPUNGE")
    lines = c.ok("NOOP")
    # REVERSE SUBJECT: zulu echo delta charlie bravo baker alpha aardvark; delta is
    # third, sequence number 1.
    remove = '* ESEARCH (TAG "%s") REMOVEFROM (3 1)' % seq_tag
    assert remove in lines and lines.index(remove) < lines.index("* 1 EXPUNGE"), lines
    # CANCELUPDATE takes several tags.
    c.ok('CANCELUPDATE "%s" "%s"' % (tag, seq_tag))
    other.append("INBOX", message("able"))
    lines = c.ok("NOOP")
    assert lines and not any("ESEARCH" in l for l in lines), lines


def test_limits_tag_reuse_and_unselect(imap_server):
    c = mailbox(imap_server)
    other = second(imap_server)
    for _ in range(10):
        assert esearch(c, "UID SEARCH RETURN (UPDATE COUNT) ALL") == \
            '* ESEARCH (TAG "T") UID COUNT 5'
    # RFC 5267 §4.3.1: the eleventh is refused, its other options still answered.
    lines = c.ok("UID SORT RETURN (UPDATE COUNT) (SUBJECT) UTF-8 ALL")
    assert lines == ['* ESEARCH (TAG "%s") UID COUNT 5' % c.tag,
                     '* NO [NOUPDATE "%s"] Too many contexts (at most 10)' % c.tag], lines
    other.append("INBOX", message("hotel"))
    lines = c.ok("NOOP")
    assert sum("ADDTO (0 8)" in l for l in lines) == 10, lines
    # §4.3: a tag still naming an updating context is a BAD.
    c.ok('CANCELUPDATE %s' % " ".join('"t%d"' % n for n in range(c.n - 11, c.n - 1)))
    c.send(b'X1 UID SEARCH RETURN (UPDATE) ALL\r\n')
    lines, status = c.finish("X1")
    assert status.startswith("OK"), (lines, status)
    c.send(b'X1 UID SORT RETURN (UPDATE COUNT) (SUBJECT) UTF-8 ALL\r\n')
    lines, status = c.finish("X1")
    assert status.startswith("BAD") and lines == [], (lines, status)
    # Updates end when the mailbox is no longer selected (§4.3): UNSELECT, or a
    # SELECT even of the same mailbox (RFC 3501 §6.3.1: it deselects first).
    c.ok("UNSELECT")
    c.ok("SELECT INBOX")
    other.append("INBOX", message("india"))
    lines = c.ok("NOOP")
    assert lines and not any("ESEARCH" in l for l in lines), lines
    c.send(b'X2 UID SEARCH RETURN (UPDATE) ALL\r\n')
    lines, status = c.finish("X2")
    assert status.startswith("OK"), (lines, status)
    other.append("INBOX", message("juliet"))
    lines = c.ok("NOOP")
    assert any("ADDTO" in l for l in lines), lines
    c.ok("SELECT INBOX")
    other.append("INBOX", message("kilo"))
    lines = c.ok("NOOP")
    assert lines and not any("ESEARCH" in l for l in lines), lines
    # CANCELUPDATE needs the selected state and quoted tags.
    lines, status = c.cmd("CANCELUPDATE X1")
    assert status.startswith("BAD"), status
    c.ok("UNSELECT")
    lines, status = c.cmd('CANCELUPDATE "X1"')
    assert status.startswith("BAD"), status
