"""Mailbox-name encoding end to end: modified UTF-7 (RFC 3501 §5.1.3) for sessions
that have not enabled UTF-8, raw UTF-8 after ENABLE UTF8=ACCEPT (RFC 6855), and
APPEND's UTF8 data extension (RFC 6855 §4).

Names are stored once, as UTF-8: one session creates a name in one encoding and a
second session, in the other mode, must see the same mailbox in its own encoding.
"""

import pytest

from harness import IMAP_LISTEN
from imapraw import login, quoted

ALICE = ("alice@example.org", "alice-secret")
ETE = "\u00e9t\u00e9"  # été
DRAFTS = "Entw\u00fcrfe"  # Entwürfe


@pytest.fixture
def imap_server(server_factory):
    srv = server_factory(listen=IMAP_LISTEN)
    srv.add_user(*ALICE)
    return srv


def utf8_session(srv):
    c = login(srv, *ALICE)
    assert c.ok("ENABLE UTF8=ACCEPT") == ["* ENABLED UTF8=ACCEPT"]
    return c


def listed(c, pattern='"" "*"'):
    """The names in a LIST's responses, as sent (quotes kept)."""
    return [line.split(' "/" ', 1)[1] for line in c.ok("LIST " + pattern)]


def test_modified_utf7_in_and_out(imap_server):
    legacy = login(imap_server, *ALICE)
    caps = legacy.ok("CAPABILITY")[0].split()
    assert "UTF8=ACCEPT" in caps
    legacy.ok("CREATE &AOk-t&AOk-")
    legacy.ok('CREATE "a&-b/&AOk-"')
    names = listed(legacy)
    assert '"&AOk-t&AOk-"' in names and '"a&-b"' in names and '"a&-b/&AOk-"' in names
    legacy.ok("SELECT &AOk-t&AOk-")
    status = legacy.ok("STATUS &AOk-t&AOk- (MESSAGES)")
    assert status == ['* STATUS "&AOk-t&AOk-" (MESSAGES 0)']
    assert legacy.ok("GETQUOTAROOT &AOk-t&AOk-") == ['* QUOTAROOT "&AOk-t&AOk-"']
    # The same mailboxes, stored as UTF-8, seen by a UTF-8 session.
    modern = utf8_session(imap_server)
    names = listed(modern)
    assert '"%s"' % ETE in names and '"a&b"' in names and '"a&b/\u00e9"' in names
    assert "&AOk-t&AOk-" not in " ".join(names)
    modern.ok(b"SELECT " + quoted(ETE))
    assert modern.ok(b"GETQUOTAROOT " + quoted(ETE)) == ['* QUOTAROOT "%s"' % ETE]


def test_invalid_modified_utf7_is_refused_and_never_stored(imap_server):
    c = login(imap_server, *ALICE)
    for wire in (b"&AGE-", b'"&Jjo!"', b"&U,BTFw-&ZeVnLIqe-", quoted(ETE)):
        lines, status = c.cmd(b"CREATE " + wire)
        assert status.startswith("NO [CLIENTBUG]"), (wire, status)
        assert "modified UTF-7" in status
    # A name that is not there is NONEXISTENT; one that is not valid mUTF-7 is a NO
    # too (not BAD: the syntax is fine, RFC 3501 §7.1.3).
    assert c.cmd("SELECT &AOk-")[1].startswith("NO [NONEXISTENT]")
    assert c.cmd("SELECT &AGE-")[1].startswith("NO [CLIENTBUG]")
    names = listed(c)
    assert all("&" not in n and "\u00e9" not in n for n in names), names


def test_utf8_accept_names_both_ways(imap_server):
    modern = utf8_session(imap_server)
    modern.ok(b"CREATE " + quoted(DRAFTS))
    modern.ok(b"CREATE " + quoted(DRAFTS + "/" + ETE))
    modern.ok(b"SUBSCRIBE " + quoted(DRAFTS))
    assert '"%s"' % DRAFTS in listed(modern)
    assert modern.ok("LSUB \"\" \"Entw*\"") == ['* LSUB () "/" "%s"' % DRAFTS]
    assert modern.ok(b"STATUS " + quoted(DRAFTS) + b" (MESSAGES UIDNEXT)") == [
        '* STATUS "%s" (MESSAGES 0 UIDNEXT 1)' % DRAFTS]
    # LIST-EXTENDED with LIST-STATUS, and a UTF-8 pattern.
    lines = modern.ok(b'LIST "" ' + quoted(DRAFTS + "/%") + b" RETURN (STATUS (MESSAGES))")
    assert lines == [
        '* LIST (\\HasNoChildren) "/" "%s/%s"' % (DRAFTS, ETE),
        '* STATUS "%s/%s" (MESSAGES 0)' % (DRAFTS, ETE),
    ]
    # Once UTF-8 is on, "&" is just a character.
    modern.ok('CREATE "R&D"')
    assert '"R&D"' in listed(modern)
    # A legacy session sees them in modified UTF-7, and can use that form.
    legacy = login(imap_server, *ALICE)
    names = listed(legacy)
    assert '"Entw&APw-rfe"' in names and '"Entw&APw-rfe/&AOk-t&AOk-"' in names
    assert '"R&-D"' in names
    lines = legacy.ok('LIST (SUBSCRIBED) "" "Entw&APw-rfe" RETURN (STATUS (MESSAGES))')
    assert lines == [
        '* LIST (\\HasChildren \\Subscribed) "/" "Entw&APw-rfe"',
        '* STATUS "Entw&APw-rfe" (MESSAGES 0)',
    ]
    legacy.ok("RENAME Entw&APw-rfe/&AOk-t&AOk- Entw&APw-rfe/Sommer")
    assert '"%s/Sommer"' % DRAFTS in listed(modern)


def test_names_must_be_nfc_without_controls(imap_server):
    modern = utf8_session(imap_server)
    # "e" + COMBINING ACUTE ACCENT is not NFC (RFC 9051 §5.1, RFC 5198).
    assert modern.cmd(b"CREATE " + quoted("e\u0301t\u00e9"))[1].startswith("NO [CANNOT]")
    legacy = login(imap_server, *ALICE)
    # A TAB, correctly encoded in modified UTF-7, is still a control character.
    assert legacy.cmd("CREATE a&AAk-b")[1].startswith("NO [CANNOT]")


def test_search_charset_is_refused_after_utf8_accept(imap_server):
    modern = utf8_session(imap_server)
    modern.ok("SELECT INBOX")
    lines, status = modern.cmd("SEARCH CHARSET UTF-8 ALL")
    assert status.startswith("BAD"), status
    lines, status = modern.cmd("SEARCH RETURN (COUNT) CHARSET UTF-8 ALL")
    assert status.startswith("BAD"), status
    assert modern.cmd("SORT (DATE) US-ASCII ALL")[1].startswith("BAD")
    assert modern.ok("SORT (DATE) UTF-8 ALL") == ["* SORT"]
    # Without UTF8=ACCEPT, CHARSET is fine.
    legacy = login(imap_server, *ALICE)
    legacy.ok("SELECT INBOX")
    assert legacy.ok("SEARCH CHARSET UTF-8 ALL") == ["* SEARCH"]


def test_append_utf8_data_extension(imap_server):
    message = ("From: J\u00fcrgen <j@example.org>\r\nTo: alice@example.org\r\n"
               "Subject: Gr\u00fc\u00dfe aus K\u00f6ln\r\n\r\nHallo!\r\n").encode()
    legacy = login(imap_server, *ALICE)
    lines, status = legacy.append("INBOX", message, utf8=True)
    assert status.startswith("NO [CLIENTBUG]") and "UTF8=ACCEPT" in status, status
    modern = utf8_session(imap_server)
    lines, status = modern.append(quoted("INBOX"), message, utf8=True)
    assert status.startswith("OK [APPENDUID "), status
    modern.ok("SELECT INBOX")
    fetched = modern.ok("FETCH 1 BODY.PEEK[]")
    assert fetched == ["* 1 FETCH (BODY[] {%d}\r\n%s)" % (len(message), message.decode())]
    # A UTF-8 search string, no CHARSET.
    assert modern.ok(b"SEARCH SUBJECT " + quoted("K\u00f6ln")) == ["* SEARCH 1"]
    assert modern.ok(b"SEARCH SUBJECT " + quoted("Paris")) == ["* SEARCH"]
    # Into a UTF-8 mailbox, with flags.
    modern.ok(b"CREATE " + quoted(ETE))
    tag = modern.next_tag()
    modern.send(tag.encode() + b" APPEND " + quoted(ETE) + b" (\\Seen) UTF8 (~{%d+}\r\n"
                % len(message) + message + b")\r\n")
    lines, status = modern.finish(tag)
    assert status.startswith("OK [APPENDUID "), status
    assert modern.ok(b"STATUS " + quoted(ETE) + b" (MESSAGES UNSEEN)") == [
        '* STATUS "%s" (MESSAGES 1 UNSEEN 0)' % ETE]
