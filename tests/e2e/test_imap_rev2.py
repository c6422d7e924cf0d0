"""IMAP4rev2 (RFC 9051) end to end: the capability, ENABLE IMAP4rev2 and what it
changes (SEARCH answered with ESEARCH, SELECT/EXAMINE without RECENT and UNSEEN but
with a LIST of the mailbox, UTF-8 names), SEARCHRES (RFC 5182: `RETURN (SAVE)` and
`$`) and STATUS DELETED, all of which rev2 folds in.
"""

import pytest

from harness import IMAP_LISTEN
from imapraw import login, quoted

ALICE = ("alice@example.org", "alice-secret")


@pytest.fixture
def imap_server(server_factory):
    srv = server_factory(listen=IMAP_LISTEN)
    srv.add_user(*ALICE)
    return srv


def message(n):
    return ("From: bob@example.org\r\nTo: alice@example.org\r\nSubject: note %d\r\n\r\n"
            "body %d\r\n" % (n, n)).encode()


def with_messages(srv, count=5):
    """A session with `count` messages in INBOX (UIDs 1..count), INBOX selected."""
    c = login(srv, *ALICE)
    for n in range(1, count + 1):
        lines, status = c.append("INBOX", message(n))
        assert status.startswith("OK"), status
    return c


def tagged(c, lines):
    """`lines` with the command's own tag in `(TAG ...)` written as `T`."""
    return [line.replace('(TAG "%s")' % c.tag, '(TAG "T")') for line in lines]


def test_capabilities(imap_server):
    c = login(imap_server, *ALICE)
    caps = c.ok("CAPABILITY")[0].split()
    for cap in ("IMAP4rev1", "IMAP4rev2", "SEARCHRES", "ESEARCH", "ENABLE", "LITERAL+",
                "NAMESPACE", "UIDPLUS", "MOVE", "UNSELECT", "IDLE", "LIST-EXTENDED",
                "LIST-STATUS", "BINARY", "SPECIAL-USE", "STATUS=SIZE"):
        assert cap in caps, (cap, caps)


def test_enable_changes_select_and_search(imap_server):
    c = with_messages(imap_server, 3)
    # IMAP4rev1 behaviour first.
    rev1 = c.ok("SELECT INBOX")
    assert "* 3 RECENT" in rev1
    assert any(line.startswith("* OK [UNSEEN 1]") for line in rev1), rev1
    assert not any(line.startswith("* LIST") for line in rev1)
    assert c.ok("SEARCH ALL") == ["* SEARCH 1 2 3"]
    c.ok("UNSELECT")

    assert c.ok("ENABLE IMAP4rev2") == ["* ENABLED IMAP4rev2"]
    assert c.ok("ENABLE IMAP4rev2") == ["* ENABLED"]
    rev2 = c.ok("SELECT INBOX")
    assert "* 3 EXISTS" in rev2
    assert not any("RECENT" in line or "[UNSEEN" in line for line in rev2), rev2
    assert rev2[-1] == '* LIST (\\HasNoChildren) "/" "INBOX"', rev2
    assert any(line.startswith("* OK [UIDVALIDITY ") for line in rev2)
    assert any(line.startswith("* OK [PERMANENTFLAGS ") for line in rev2)

    # RFC 9051 §6.4.4: SEARCH answers with ESEARCH.
    assert tagged(c, c.ok("SEARCH ALL")) == ['* ESEARCH (TAG "T") ALL 1:3']
    assert tagged(c, c.ok("UID SEARCH SUBJECT \"note 2\"")) == ['* ESEARCH (TAG "T") UID ALL 2']
    assert tagged(c, c.ok("SEARCH DELETED")) == ['* ESEARCH (TAG "T")']
    assert tagged(c, c.ok("SEARCH RETURN (COUNT) ALL")) == ['* ESEARCH (TAG "T") COUNT 3']

    # EXAMINE of a mailbox with children and a special use.
    c.ok("CREATE Archive/2024")
    rev2 = c.ok("EXAMINE Archive")
    assert rev2[-1] == '* LIST (\\HasChildren \\Archive) "/" "Archive"', rev2
    assert not any("RECENT" in line for line in rev2)


def test_enable_imap4rev2_means_utf8_names(imap_server):
    c = login(imap_server, *ALICE)
    c.ok("CREATE &AOk-t&AOk-")
    c.ok("ENABLE IMAP4rev2")
    assert c.ok(b'LIST "" ' + quoted("%t\u00e9")) == [
        '* LIST (\\HasNoChildren) "/" "\u00e9t\u00e9"']
    rev2 = c.ok(b"SELECT " + quoted("\u00e9t\u00e9"))
    assert rev2[-1] == '* LIST (\\HasNoChildren) "/" "\u00e9t\u00e9"'


def test_status_deleted(imap_server):
    c = with_messages(imap_server, 3)
    c.ok("SELECT INBOX")
    c.ok("STORE 1:2 +FLAGS.SILENT (\\Deleted)")
    assert c.ok("STATUS INBOX (MESSAGES DELETED)") == ["* STATUS \"INBOX\" (MESSAGES 3 DELETED 2)"]


def test_searchres_save_and_dollar(imap_server):
    c = with_messages(imap_server, 5)
    c.ok("SELECT INBOX")
    c.ok("STORE 2,4 +FLAGS.SILENT (\\Flagged)")
    # SAVE alone answers nothing (RFC 5182 §2.1).
    assert c.ok("SEARCH RETURN (SAVE) FLAGGED") == []
    assert c.ok("FETCH $ (UID)") == ["* 2 FETCH (UID 2)", "* 4 FETCH (UID 4)"]
    assert c.ok("UID FETCH $ (FLAGS)") == [
        "* 2 FETCH (UID 2 FLAGS (\\Flagged \\Recent))",
        "* 4 FETCH (UID 4 FLAGS (\\Flagged \\Recent))"]
    # "$" as a search key, alone, after UID, and under OR/NOT.
    assert c.ok("SEARCH $") == ["* SEARCH 2 4"]
    assert c.ok("UID SEARCH UID $ SUBJECT \"note 4\"") == ["* SEARCH 4"]
    assert c.ok("SEARCH OR $ 5") == ["* SEARCH 2 4 5"]
    assert c.ok("SEARCH NOT $") == ["* SEARCH 1 3 5"]
    # ... but "SUBJECT $" still looks for a dollar sign.
    assert c.ok("SEARCH SUBJECT $") == ["* SEARCH"]
    # STORE and COPY on "$".
    assert c.ok("STORE $ +FLAGS (\\Seen)") == [
        "* 2 FETCH (UID 2 FLAGS (\\Flagged \\Seen \\Recent))",
        "* 4 FETCH (UID 4 FLAGS (\\Flagged \\Seen \\Recent))"]
    lines, status = c.cmd("COPY $ Archive")
    assert status.startswith("OK [COPYUID ") and " 2,4 1:2]" in status, status
    # SAVE with MIN and MAX keeps only those two (RFC 5182 §2.1), and reports them.
    assert tagged(c, c.ok("SEARCH RETURN (SAVE MIN MAX) ALL")) == [
        '* ESEARCH (TAG "T") MIN 1 MAX 5']
    assert c.ok("SEARCH $") == ["* SEARCH 1 5"]
    # A UID SEARCH saves the same messages.
    c.ok("UID SEARCH RETURN (SAVE) UID 3")
    assert c.ok("FETCH $ (UID)") == ["* 3 FETCH (UID 3)"]
    # An expunged message drops out of "$".
    c.ok("STORE 3 +FLAGS.SILENT (\\Deleted)")
    c.ok("EXPUNGE")
    assert c.ok("FETCH $ (UID)") == []
    assert c.ok("SEARCH $") == ["* SEARCH"]
    # A failed SEARCH with SAVE empties it; a new SELECT does too.
    c.ok("SEARCH RETURN (SAVE) ALL")
    assert c.cmd("SEARCH RETURN (SAVE) FROB")[1].startswith("BAD")
    assert c.ok("FETCH $ (UID)") == []
    c.ok("SEARCH RETURN (SAVE) ALL")
    c.ok("SELECT INBOX")
    assert c.ok("FETCH $ (UID)") == []
    assert c.ok("UID EXPUNGE $") == []


def test_searchres_with_rev2_and_move(imap_server):
    c = with_messages(imap_server, 4)
    c.ok("ENABLE IMAP4rev2")
    c.ok("SELECT INBOX")
    c.ok("SEARCH RETURN (SAVE) SUBJECT \"note 3\"")
    assert tagged(c, c.ok("SEARCH $")) == ['* ESEARCH (TAG "T") ALL 3']
    lines, status = c.cmd("MOVE $ Trash")
    assert status.startswith("OK"), status
    assert "* 3 EXPUNGE" in lines, lines
    assert c.ok("STATUS Trash (MESSAGES)") == ['* STATUS "Trash" (MESSAGES 1)']
