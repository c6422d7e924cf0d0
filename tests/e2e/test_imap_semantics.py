"""IMAP's exact semantics where a client can tell a careful server from a sloppy one
(issue 14, batch A), each checked byte for byte with raw dialogues:

- a partial BINARY answer names its origin, as BODY[] partials do (RFC 3516 §4.2,
  RFC 9051 §7.5.2);
- BAD is for syntax only (RFC 3501 §7.1.3): a mailbox name that is not valid
  modified UTF-7, or a flag the server does not allow, is a NO;
- LSUB with `%` lists an unsubscribed parent of a subscribed name as `\\Noselect`
  (RFC 3501 §6.3.9); LIST (SUBSCRIBED RECURSIVEMATCH) gives it a CHILDINFO even when
  it does not exist (RFC 5258 §3.5);
- a keyword new to the mailbox is announced with FLAGS and PERMANENTFLAGS before any
  FETCH that carries it, in every session that has the mailbox selected (RFC 3501
  §7.2.6, §7.1);
- LOGOUT sends the pending updates first, then `* BYE`, then only the tagged OK
  (RFC 3501 §6.1.3);
- a message another session expunged is `NO [EXPUNGEISSUED]` for FETCH (with what
  does exist) and silently skipped by STORE (RFC 2180 §4.1, RFC 5530);
- a NUL in an APPENDed message is stored as sent: BINARY returns it in a literal8,
  BODY[] (a plain literal, which cannot carry NUL) as 0x80 (RFC 3516 §4.2,
  RFC 3501 §4.3).
"""

import re

import pytest

from harness import IMAP_LISTEN
from imapraw import login

ALICE = ("alice@example.org", "alice-secret")

SYSTEM = "\\Answered \\Flagged \\Deleted \\Seen \\Draft"

PLAIN = (
    b"From: Zed <zed@example.net>\r\n"
    b"Subject: plain\r\n"
    b"\r\n"
    b"Hello world\r\n"
)


@pytest.fixture
def imap_server(server_factory):
    srv = server_factory(listen=IMAP_LISTEN)
    srv.add_user(*ALICE)
    return srv


def plain(lines):
    """`lines` without \\Recent, which another part of the server hands to whichever
    session sees a message first (RFC 3501 §2.3.2): not what these tests are about."""
    out = []
    for line in lines:
        if re.fullmatch(r"\* \d+ RECENT", line):
            continue
        line = line.replace(" \\Recent", "").replace("(\\Recent ", "(")
        out.append(line.replace("(\\Recent)", "()"))
    return out


def session(srv, select="INBOX"):
    c = login(srv, *ALICE)
    if select:
        c.ok("SELECT " + select)
    return c


def appended(c, message, mailbox="INBOX", flags=""):
    """APPENDs with LITERAL+; returns the new UID."""
    if flags:
        mailbox = "%s (%s)" % (mailbox, flags)
    lines, status = c.append(mailbox, message)
    assert status.startswith("OK [APPENDUID"), (lines, status)
    return int(re.search(r"APPENDUID \d+ (\d+)", status).group(1))


# ----- 1. partial BINARY carries its origin ---------------------------------------

def test_partial_binary_and_body_name_their_origin(imap_server):
    c = session(imap_server)
    appended(c, PLAIN)
    # RFC 3516 §4.2 / RFC 9051 §7.5.2: BINARY[part]<origin>, like BODY[]<origin>.
    assert c.ok("FETCH 1 BINARY.PEEK[1]<0.7>") == ["* 1 FETCH (BINARY[1]<0> ~{7}\r\nHello w)"]
    assert c.ok("FETCH 1 BINARY.PEEK[1]<6.50>") == [
        "* 1 FETCH (BINARY[1]<6> ~{7}\r\nworld\r\n)"]
    assert c.ok("FETCH 1 BINARY.PEEK[]<0.4>") == ["* 1 FETCH (BINARY[]<0> ~{4}\r\nFrom)"]
    # Past the end: empty, origin still named.
    assert c.ok("FETCH 1 BINARY.PEEK[1]<99.5>") == ["* 1 FETCH (BINARY[1]<99> ~{0}\r\n)"]
    # The whole part has no origin.
    assert c.ok("FETCH 1 BINARY.PEEK[1]") == ["* 1 FETCH (BINARY[1] ~{13}\r\nHello world\r\n)"]
    assert c.ok("FETCH 1 BODY.PEEK[TEXT]<0.5>") == ["* 1 FETCH (BODY[TEXT]<0> {5}\r\nHello)"]
    assert c.ok("FETCH 1 BODY.PEEK[]<6.3>") == ["* 1 FETCH (BODY[]<6> {3}\r\nZed)"]
    # With other items around it, and the non-PEEK form (which sets \Seen, so FLAGS
    # follows, RFC 3501 §6.4.5).
    assert plain(c.ok("FETCH 1 (UID BINARY[1]<0.5> RFC822.SIZE)")) == [
        "* 1 FETCH (UID 1 BINARY[1]<0> ~{5}\r\nHello RFC822.SIZE %d FLAGS (\\Seen))"
        % len(PLAIN)]
    # UID FETCH: the UID first, the origin kept.
    assert c.ok("UID FETCH 1 (BINARY.PEEK[1]<2.3>)") == [
        "* 1 FETCH (UID 1 BINARY[1]<2> ~{3}\r\nllo)"]


# ----- 2. NO, not BAD, for what is not a syntax error ------------------------------

def test_invalid_modified_utf7_names_are_no_not_bad(imap_server):
    c = session(imap_server, select=None)
    for command in ('SELECT "&Jjo!"', 'CREATE "a&-b&zz"', "EXAMINE &AGE-",
                    "STATUS &AGE- (MESSAGES)", 'SUBSCRIBE "&Jjo!"', "DELETE &AGE-",
                    'RENAME INBOX "&Jjo!"', 'LIST "" "&Jjo!*"', 'LSUB "&AGE-" "*"',
                    'LIST (SUBSCRIBED) "" "&Jjo!"'):
        lines, status = c.cmd(command)
        assert status.startswith("NO [CLIENTBUG]"), (command, lines, status)
        assert "modified UTF-7" in status, (command, status)
    lines, status = c.append('"&Jjo!"', PLAIN)
    assert status.startswith("NO [CLIENTBUG]"), (lines, status)
    # Nothing was created under any spelling.
    assert not [line for line in c.ok('LIST "" "*"') if "&" in line or '"a' in line]
    # After ENABLE UTF8=ACCEPT, a name that is not UTF-8 is a NO too.
    c.ok("ENABLE UTF8=ACCEPT")
    lines, status = c.cmd(b"CREATE {3+}\r\na\xffb")
    assert status.startswith("NO [CLIENTBUG]"), (lines, status)


def test_flags_the_server_does_not_allow_are_no_not_bad(imap_server):
    c = session(imap_server)
    appended(c, PLAIN)
    # `\Frob` is a well-formed flag-extension (RFC 3501 §9), just not one we keep.
    lines, status = c.cmd("STORE 1 +FLAGS (\\Frob)")
    assert status.startswith("NO [CANNOT]"), (lines, status)
    lines, status = c.append("INBOX (\\Frob)", PLAIN)
    assert status.startswith("NO [CANNOT]"), (lines, status)
    assert plain(c.ok("FETCH 1:* (FLAGS)")) == ["* 1 FETCH (FLAGS ())"]
    # Syntax errors stay BAD.
    assert c.cmd("STORE 1 +FLAGS (\\Seen")[1].startswith("BAD")


# ----- 3. LSUB and LIST with % and unsubscribed parents ----------------------------

def test_lsub_percent_lists_unsubscribed_parents_as_noselect(imap_server):
    c = session(imap_server, select=None)
    c.ok("CREATE a/b/c")
    c.ok("SUBSCRIBE a/b/c")
    # RFC 3501 §6.3.9: `%` returns the parent, flagged \Noselect, not a/b/c.
    assert c.ok('LSUB "" a/%') == ['* LSUB (\\Noselect) "/" "a/b"']
    top = c.ok('LSUB "" %')
    assert '* LSUB (\\Noselect) "/" "a"' in top and not [t for t in top if "a/" in t], top
    assert c.ok('LSUB "a/" %') == ['* LSUB (\\Noselect) "/" "a/b"']
    # `*` reaches a/b/c itself; the parents are not subscribed, so not listed.
    assert c.ok('LSUB "" a*') == ['* LSUB () "/" "a/b/c"']
    assert c.ok('LSUB "" a/b/%') == ['* LSUB () "/" "a/b/c"']
    # A subscribed parent is listed once, as itself.
    c.ok("SUBSCRIBE a/b")
    assert c.ok('LSUB "" a/%') == ['* LSUB () "/" "a/b"']
    # Plain LIST with % lists the parents as they are.
    assert c.ok('LIST "" a/%') == ['* LIST (\\HasChildren) "/" "a/b"']


def test_list_subscribed_recursivematch_names_missing_parents(imap_server):
    c = session(imap_server, select=None)
    # Subscribed, but none of x, x/y, x/y/z exists.
    c.ok("SUBSCRIBE x/y/z")
    # RFC 5258 §3.5: the parent matches, a descendant meets the selection.
    assert c.ok('LIST (SUBSCRIBED RECURSIVEMATCH) "" x/%') == [
        '* LIST (\\NonExistent) "/" "x/y" ("CHILDINFO" ("SUBSCRIBED"))']
    top = c.ok('LIST (SUBSCRIBED RECURSIVEMATCH) "" %')
    assert '* LIST (\\NonExistent) "/" "x" ("CHILDINFO" ("SUBSCRIBED"))' in top, top
    # Without RECURSIVEMATCH exactly the subscribed names that match (RFC 5258 §3.1).
    assert c.ok('LIST (SUBSCRIBED) "" x/%') == []
    assert c.ok('LIST (SUBSCRIBED) "" x*') == [
        '* LIST (\\NonExistent \\Subscribed) "/" "x/y/z"']
    assert c.ok('LIST (SUBSCRIBED RECURSIVEMATCH) "" x/y/%') == [
        '* LIST (\\NonExistent \\Subscribed) "/" "x/y/z"']


# ----- 4. new keywords are announced ------------------------------------------------

def flags_lines(keywords, read_only=False):
    names = " ".join([SYSTEM] + keywords)
    lines = ["* FLAGS (%s)" % names]
    if not read_only:
        lines.append("* OK [PERMANENTFLAGS (%s \\*)] Flags permitted" % names)
    return lines


def test_store_and_append_announce_new_keywords(imap_server):
    a = session(imap_server)
    appended(a, PLAIN)
    a.ok("NOOP")
    b = session(imap_server)
    ro = session(imap_server, select=None)
    ro.ok("EXAMINE INBOX")
    # RFC 3501 §7.2.6: FLAGS (and PERMANENTFLAGS) before the FETCH with the keyword.
    assert plain(a.ok("STORE 1 +FLAGS ($Label1)")) == flags_lines(["$Label1"]) + [
        "* 1 FETCH (UID 1 FLAGS ($Label1))"]
    # Once announced, never again.
    assert plain(a.ok("STORE 1 +FLAGS ($Label1 \\Seen)")) == [
        "* 1 FETCH (UID 1 FLAGS ($Label1 \\Seen))"]
    # Another session hears FLAGS before the FETCH it asked for, and before an
    # unsolicited one.
    lines = plain(b.ok("FETCH 1 (FLAGS)"))
    # The FETCH told it the new flags: no unsolicited FETCH repeats them.
    assert lines == flags_lines(["$Label1"]) + ["* 1 FETCH (FLAGS ($Label1 \\Seen))"], lines
    assert plain(b.ok("NOOP")) == []
    # A read-only session gets FLAGS only (its PERMANENTFLAGS stay empty).
    assert plain(ro.ok("NOOP")) == flags_lines(["$Label1"], read_only=True) + [
        "* 1 FETCH (UID 1 FLAGS ($Label1 \\Seen))"]
    # APPEND with a new keyword to the selected mailbox: FLAGS before EXISTS.
    lines, status = a.append("INBOX (Work)", PLAIN)
    assert status.startswith("OK [APPENDUID"), status
    assert plain(lines) == flags_lines(["$Label1", "Work"]) + ["* 2 EXISTS"]
    assert plain(b.ok("NOOP")) == flags_lines(["$Label1", "Work"]) + ["* 2 EXISTS"]
    # Removing a keyword from every message does not shrink FLAGS, and putting it
    # back announces nothing.
    assert a.ok("STORE 2 -FLAGS.SILENT (Work)") == []
    assert a.ok("STORE 2 +FLAGS.SILENT (Work)") == []
    # A new SELECT starts from the FLAGS it sends.
    lines = a.ok("SELECT INBOX")
    assert "* FLAGS (%s $Label1 Work)" % SYSTEM in lines
    # ... and names the mailbox's keywords as permanent, as later announcements do.
    assert "* OK [PERMANENTFLAGS (%s $Label1 Work \\*)] Flags permitted" % SYSTEM in lines, lines
    assert plain(a.ok("STORE 1 +FLAGS (Work)")) == [
        "* 1 FETCH (UID 1 FLAGS ($Label1 Work \\Seen))"]
    # IDLE hears it too, FLAGS first.
    b.ok("NOOP")
    tag = b.next_tag()
    b.send(tag.encode() + b" IDLE\r\n")
    assert b.readline().startswith(b"+ ")
    a.ok("STORE 2 +FLAGS.SILENT ($Junk)")
    heard = [b.response() for _ in range(3)]
    assert plain(heard) == flags_lines(["$Junk", "$Label1", "Work"]) + [
        "* 2 FETCH (UID 2 FLAGS ($Junk Work))"], heard
    b.send(b"DONE\r\n")
    assert b.finish(tag)[1].startswith("OK")


# ----- 5. LOGOUT ---------------------------------------------------------------------

def test_logout_sends_pending_updates_before_bye(imap_server):
    a = session(imap_server)
    for _ in range(3):
        appended(a, PLAIN)
    a.ok("NOOP")
    b = session(imap_server)
    a.ok("STORE 1 +FLAGS.SILENT (\\Deleted)")
    a.ok("EXPUNGE")
    appended(a, PLAIN)
    a.ok("STORE 2 +FLAGS.SILENT (\\Flagged)")
    tag = b.next_tag()
    b.send(tag.encode() + b" LOGOUT\r\n")
    lines, status = b.finish(tag)
    assert status == "OK LOGOUT completed", status
    # RFC 3501 §6.1.3: BYE is the last untagged response, the updates before it.
    assert lines[-1] == "* BYE Postie logging out", lines
    assert plain(lines[:-1]) == [
        "* 1 EXPUNGE", "* 3 EXISTS", "* 2 FETCH (UID 3 FLAGS (\\Flagged))"], lines
    # And then the server closes.
    assert b.sock.recv(100) == b""


# ----- 6. expunged by another session -----------------------------------------------

def test_fetch_and_store_of_a_message_expunged_elsewhere(imap_server):
    a = session(imap_server)
    for _ in range(3):
        appended(a, PLAIN)
    a.ok("NOOP")
    b = session(imap_server)
    a.ok("STORE 2 +FLAGS.SILENT (\\Deleted)")
    assert a.ok("EXPUNGE") == ["* 2 EXPUNGE"]
    # RFC 2180 §4.1.2 / RFC 5530: what exists, then NO [EXPUNGEISSUED].
    lines, status = b.cmd("FETCH 1:3 (UID)")
    assert lines == ["* 1 FETCH (UID 1)", "* 3 FETCH (UID 3)"], lines
    assert status == (
        "NO [EXPUNGEISSUED] Some of the requested messages no longer exist"), status
    lines, status = b.cmd("FETCH 2 (BODY.PEEK[])")
    assert lines == [] and status.startswith("NO [EXPUNGEISSUED]"), (lines, status)
    # STORE skips it and succeeds (RFC 2180 §4.2.1 leaves the choice; Dovecot's).
    lines, status = b.cmd("STORE 2 +FLAGS (\\Flagged)")
    assert (lines, status) == ([], "OK STORE completed"), (lines, status)
    assert plain(b.ok("STORE 1:3 +FLAGS (\\Flagged)")) == [
        "* 1 FETCH (UID 1 FLAGS (\\Flagged))", "* 3 FETCH (UID 3 FLAGS (\\Flagged))"]
    # A UID command may be told: the EXPUNGE comes before its OK, the UID is ignored
    # (RFC 3501 §6.4.8).
    lines, status = b.cmd("UID FETCH 2 (FLAGS)")
    assert (plain(lines), status) == (["* 2 EXPUNGE"], "OK FETCH completed"), (lines, status)


# ----- 7. NUL in an APPEND literal -------------------------------------------------

NUL_MESSAGE = (
    b"From: Zed <zed@example.net>\r\n"
    b"Subject: nul\r\n"
    b"\r\n"
    b"A\x00B\r\n"
)


def test_nul_in_append_is_stored_and_fetched(imap_server):
    c = session(imap_server)
    # LITERAL+ (non-synchronising).
    appended(c, NUL_MESSAGE)
    # A synchronising literal: the server asks for it, then takes it.
    tag = c.next_tag()
    c.send(tag.encode() + b" APPEND INBOX {%d}\r\n" % len(NUL_MESSAGE))
    assert c.readline().startswith(b"+ ")
    c.send(NUL_MESSAGE + b"\r\n")
    lines, status = c.finish(tag)
    assert status.startswith("OK [APPENDUID"), (lines, status)
    size = len(NUL_MESSAGE)
    for n in (1, 2):
        # BINARY: a literal8 carries the NUL (RFC 3516 §4.2).
        assert c.ok("FETCH %d BINARY.PEEK[]" % n) == [
            "* %d FETCH (BINARY[] ~{%d}\r\n%s)" % (n, size, NUL_MESSAGE.decode())]
        assert c.ok("FETCH %d BINARY.PEEK[1]" % n) == [
            "* %d FETCH (BINARY[1] ~{5}\r\nA\x00B\r\n)" % n]
        # BODY[]: a literal cannot carry NUL (RFC 3501 §4.3); 0x80 stands in, as in
        # Dovecot, so sizes and offsets stay true.
        body = c.ok("FETCH %d (RFC822.SIZE BODY.PEEK[])" % n)
        expected = NUL_MESSAGE.replace(b"\x00", b"\x80").decode("utf-8", "surrogateescape")
        assert body == ["* %d FETCH (RFC822.SIZE %d BODY[] {%d}\r\n%s)"
                        % (n, size, size, expected)], body


def test_nul_in_append_with_imaplib(imap_server):
    c = imap_server.imap()
    c.login(*ALICE)
    typ, data = c.append("INBOX", None, None, NUL_MESSAGE)
    assert typ == "OK", (typ, data)
    c.select("INBOX")
    typ, data = c.fetch("1", "(BINARY.PEEK[1])")
    assert typ == "OK" and data[0][1] == b"A\x00B\r\n", data
    c.logout()


# ----- a FETCH that shows new flags is not followed by the same flags ----------------

def test_fetch_of_changed_flags_is_not_repeated_but_other_changes_are(imap_server):
    a = session(imap_server)
    appended(a, PLAIN)
    appended(a, PLAIN)
    a.ok("NOOP")
    b = session(imap_server)
    a.ok("STORE 1 +FLAGS.SILENT (\\Flagged)")
    a.ok("STORE 2 +FLAGS.SILENT (\\Answered)")
    # b asks for message 1's flags: that answer is the news; message 2's change,
    # which it did not ask about, still comes unsolicited (RFC 3501 §7.4.2).
    assert plain(b.ok("FETCH 1 (FLAGS)")) == [
        "* 1 FETCH (FLAGS (\\Flagged))",
        "* 2 FETCH (UID 2 FLAGS (\\Answered))"]
    assert plain(b.ok("NOOP")) == []
    # A change after the FETCH is reported as usual.
    a.ok("STORE 1 +FLAGS.SILENT (\\Draft)")
    assert plain(b.ok("NOOP")) == ["* 1 FETCH (UID 1 FLAGS (\\Draft \\Flagged))"]
    # A FETCH that sets \Seen reports the new flags once, in its own response.
    lines = plain(b.ok("FETCH 2 (BODY[HEADER.FIELDS (SUBJECT)])"))
    assert len(lines) == 1 and "FLAGS (\\Answered \\Seen)" in lines[0], lines
    assert plain(b.ok("NOOP")) == []
    # With CONDSTORE, too (RFC 7162 §3.1.2: that response carries MODSEQ).
    b.ok("ENABLE CONDSTORE")
    a.ok("STORE 1 +FLAGS.SILENT (\\Deleted)")
    lines = plain(b.ok("FETCH 1 (FLAGS MODSEQ)"))
    assert len(lines) == 1 and re.fullmatch(
        r"\* 1 FETCH \(FLAGS \([^)]*\) MODSEQ \(\d+\)\)", lines[0]), lines
    lines = plain(b.ok("FETCH 1 (BODY[TEXT])"))
    assert len(lines) == 1 and "MODSEQ" in lines[0] and "\\Seen" in lines[0], lines
    assert plain(b.ok("NOOP")) == []
