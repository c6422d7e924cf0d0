"""IMAP4rev1 (RFC 3501) end to end, with Python's imaplib and curl.

Each test starts its own server with the imap (STARTTLS) and imaps listeners on;
mail arrives over SMTP like real mail, so the tests cover delivery -> store -> IMAP.
"""

import re
import select
import socket
import ssl
import time

import pytest

from harness import IMAP_LISTEN, POP3_LISTEN, unique
from smtpraw import client_tls_context

ALICE = ("alice@example.org", "alice-secret")
BOB = ("bob@example.org", "bob-secret")


@pytest.fixture
def imap_server(server_factory):
    srv = server_factory(listen=dict(IMAP_LISTEN, **POP3_LISTEN))
    srv.add_user(*ALICE)
    srv.add_user(*BOB)
    return srv


def login(srv, kind="imap", user=ALICE):
    c = srv.imap(kind)
    c.login(*user)
    return c


def send(srv, subject, body="Hello IMAP\r\n", rcpt="alice@example.org",
         sender="carol@example.net", extra_headers=""):
    msg = (
        "From: Carol <%s>\r\nTo: <%s>\r\nSubject: %s\r\n"
        "Date: Mon, 07 Apr 2025 10:00:00 +0000\r\nMessage-ID: <%s@example.net>\r\n%s\r\n%s"
        % (sender, rcpt, subject, unique("id"), extra_headers, body)
    ).encode()
    s = srv.smtp()
    try:
        s.ehlo()
        s.sendmail(sender, [rcpt], msg)
        s.quit()
    finally:
        s.close()
    return msg


def deliver(srv, count, **kw):
    """Sends COUNT messages to alice and waits until they are in her INBOX."""
    before = len(srv.mail_list("alice@example.org"))
    subjects = []
    for i in range(count):
        subj = unique("subject-%d" % i)
        send(srv, subj, **kw)
        subjects.append(subj)
    srv.wait_for_mail("alice@example.org", before + count)
    return subjects


def ok(result):
    typ, data = result
    assert typ == "OK", (typ, data)
    return data


def fetch_flags(c, uid):
    data = ok(c.uid("FETCH", str(uid), "(FLAGS)"))
    return re.search(rb"FLAGS \(([^)]*)\)", data[0]).group(1).split()


# ----- greeting, capabilities, login ------------------------------------------

def test_greeting_and_plain_login_on_loopback(imap_server):
    c = imap_server.imap()
    assert b"Postie ready" in c.welcome
    assert b"[CAPABILITY IMAP4rev1" in c.welcome
    caps = c.capabilities
    assert "STARTTLS" in caps and "AUTH=PLAIN" in caps and "IDLE" in caps
    typ, data = c.login(*ALICE)
    assert typ == "OK" and b"[CAPABILITY " in data[0], data
    ok(c.noop())
    assert c.logout()[0] == "BYE"


def test_starttls_then_login(imap_server):
    c = imap_server.imap()
    ok(c.starttls(ssl_context=client_tls_context()))
    assert "STARTTLS" not in c.capabilities
    assert isinstance(c.sock, ssl.SSLSocket)
    ok(c.login(*ALICE))
    ok(c.select("INBOX"))
    c.logout()


def test_imaps_implicit_tls(imap_server):
    c = imap_server.imap("imaps")
    assert "STARTTLS" not in c.capabilities
    ok(c.login(*ALICE))
    c.logout()


def test_logindisabled_without_tls_when_plaintext_not_allowed(server_factory):
    srv = server_factory(listen=IMAP_LISTEN, auth={"allow_plaintext": "never"})
    srv.add_user(*ALICE)
    c = srv.imap()
    assert "LOGINDISABLED" in c.capabilities
    assert not any(cap.startswith("AUTH=") for cap in c.capabilities)
    with pytest.raises(c.error):
        c.login(*ALICE)
    ok(c.starttls(ssl_context=client_tls_context()))
    assert "LOGINDISABLED" not in c.capabilities and "AUTH=PLAIN" in c.capabilities
    ok(c.login(*ALICE))
    c.logout()


def test_wrong_password_is_authenticationfailed(imap_server):
    c = imap_server.imap()
    with pytest.raises(c.error) as e:
        c.login("alice@example.org", "wrong")
    assert "[AUTHENTICATIONFAILED]" in str(e.value)
    with pytest.raises(c.error):
        c.login("nobody@example.org", "alice-secret")
    ok(c.login(*ALICE))
    c.logout()


def test_too_many_failures_end_the_connection(server_factory):
    srv = server_factory(listen=IMAP_LISTEN, extra={"imap": {"max_auth_failures": 2}})
    srv.add_user(*ALICE)
    c = srv.imap()
    for _ in range(2):
        with pytest.raises(c.error):
            c.login("alice@example.org", "wrong")
    with pytest.raises((c.abort, OSError, c.error)):
        c.login(*ALICE)


def test_authenticate_plain_with_and_without_initial_response(imap_server):
    c = imap_server.imap()
    ok(c.authenticate("PLAIN", lambda _: b"\0alice@example.org\0alice-secret"))
    c.logout()
    # SASL-IR (RFC 4959) in one line, raw.
    import base64
    host, port = imap_server.addr("imap")
    with imap_server.netns():
        s = socket.create_connection((host, port), timeout=10)
    f = s.makefile("rb")
    f.readline()
    ir = base64.b64encode(b"\0alice@example.org\0alice-secret").decode()
    s.sendall(("a1 AUTHENTICATE PLAIN %s\r\n" % ir).encode())
    line = f.readline()
    assert line.startswith(b"a1 OK"), line
    s.sendall(b"a2 AUTHENTICATE PLAIN\r\n")
    s.close()
    # A wrong password over AUTHENTICATE, and a cancelled exchange.
    c = imap_server.imap()
    with pytest.raises(c.error) as e:
        c.authenticate("PLAIN", lambda _: b"\0alice@example.org\0nope")
    assert "AUTHENTICATIONFAILED" in str(e.value)
    c.logout()


# ----- mailboxes ---------------------------------------------------------------

def list_entries(c, ref='""', pattern="*"):
    data = ok(c.list(ref, pattern))
    out = {}
    for line in data:
        if line is None:
            continue
        m = re.match(rb'\(([^)]*)\) "(.)" (.*)', line)
        name = m.group(3).strip(b'"').decode()
        out[name] = set(m.group(1).decode().split())
    return out


def test_list_shows_inbox_and_special_use(imap_server):
    c = login(imap_server)
    boxes = list_entries(c)
    assert set(boxes) == {"INBOX", "Sent", "Drafts", "Trash", "Junk", "Archive"}
    for name in ("Sent", "Drafts", "Trash", "Junk", "Archive"):
        assert "\\" + name in boxes[name], boxes
        assert "\\HasNoChildren" in boxes[name]
    data = ok(c.list('""', '""'))
    assert data[0] == b'(\\Noselect) "/" ""'
    ns = ok(c.namespace())
    # RFC 2342: personal, then the other users' and the shared namespaces (ACL).
    assert ns[0] == b'(("" "/")) (("Other Users/" "/")) (("Shared/" "/"))'
    c.logout()


def test_create_rename_delete_with_hierarchy(imap_server):
    c = login(imap_server)
    ok(c.create("Projects/2025/Q1"))
    boxes = list_entries(c)
    assert {"Projects", "Projects/2025", "Projects/2025/Q1"} <= set(boxes)
    assert "\\HasChildren" in boxes["Projects"]
    assert "\\HasNoChildren" in boxes["Projects/2025/Q1"]
    assert set(list_entries(c, '""', "%")) == {
        "INBOX", "Sent", "Drafts", "Trash", "Junk", "Archive", "Projects"}
    assert set(list_entries(c, '""', "Projects/%")) == {"Projects/2025"}
    assert set(list_entries(c, "Projects/", "*")) == {"Projects/2025", "Projects/2025/Q1"}
    typ, data = c.create("Projects")
    assert typ == "NO" and b"ALREADYEXISTS" in data[0]

    ok(c.rename("Projects", "Work"))
    boxes = list_entries(c)
    assert {"Work", "Work/2025", "Work/2025/Q1"} <= set(boxes)
    assert not any(n.startswith("Projects") for n in boxes)

    ok(c.delete("Work/2025/Q1"))
    assert "Work/2025/Q1" not in list_entries(c)
    typ, data = c.delete("Nope")
    assert typ == "NO" and b"NONEXISTENT" in data[0]
    typ, _ = c.delete("INBOX")
    assert typ == "NO"

    ok(c.subscribe("Work"))
    lsub = ok(c.lsub('""', "W*"))
    assert lsub == [b'() "/" "Work"'], lsub
    ok(c.unsubscribe("Work"))
    assert ok(c.lsub('""', "W*")) == [None]
    c.logout()


def test_status(imap_server):
    deliver(imap_server, 2)
    c = login(imap_server)
    data = ok(c.status("INBOX", "(MESSAGES RECENT UIDNEXT UIDVALIDITY UNSEEN)"))
    m = re.search(rb"MESSAGES (\d+) RECENT (\d+) UIDNEXT (\d+) UIDVALIDITY (\d+) UNSEEN (\d+)", data[0])
    assert m, data
    # RECENT: no session has selected INBOX since they arrived (RFC 3501 §2.3.2).
    assert (int(m.group(1)), int(m.group(2)), int(m.group(3)), int(m.group(5))) == (2, 2, 3, 2)
    typ, data = c.status("Nope", "(MESSAGES)")
    assert typ == "NO"
    c.logout()


# ----- reading -----------------------------------------------------------------

def test_delivered_message_select_and_fetch(imap_server):
    subject = unique("hello")
    sent = send(imap_server, subject, body="Line one\r\nLine two\r\n")
    imap_server.wait_for_mail("alice@example.org", 1)
    c = login(imap_server)
    typ, data = c.select("INBOX")
    assert typ == "OK" and data == [b"1"]
    assert c.untagged_responses.get("RECENT") == [b"1"]  # the first to select
    assert c.untagged_responses.get("UNSEEN") == [b"1"]
    assert c.untagged_responses.get("UIDNEXT") == [b"2"]
    assert c.untagged_responses.get("READ-WRITE") is not None

    data = ok(c.fetch("1", "(ENVELOPE)"))
    env = data[0]
    assert subject.encode() in env
    assert b'"Carol" NIL "carol" "example.net"' in env
    data = ok(c.fetch("1", "(BODYSTRUCTURE)"))
    assert b'("TEXT" "PLAIN"' in data[0].upper()

    data = ok(c.fetch("1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])"))
    assert data[0][1] == ("Subject: %s\r\n\r\n" % subject).encode()
    assert b"\\Seen" not in fetch_flags(c, 1)

    data = ok(c.fetch("1", "(BODY[TEXT])"))
    assert data[0][1] == b"Line one\r\nLine two\r\n"
    assert b"\\Seen" in fetch_flags(c, 1)

    data = ok(c.fetch("1", "(RFC822.SIZE BODY.PEEK[])"))
    whole = data[0][1]
    assert whole.endswith(sent), "the stored message ends with what was sent"
    assert int(re.search(rb"RFC822.SIZE (\d+)", data[0][0]).group(1)) == len(whole)

    data = ok(c.fetch("1", "(BODY.PEEK[]<0.10>)"))
    assert data[0][1] == whole[:10]
    data = ok(c.fetch("1", "FAST"))
    assert b"INTERNALDATE" in data[0] and b"RFC822.SIZE" in data[0]
    with pytest.raises(c.error, match="BAD"):
        c.fetch("5", "(FLAGS)")
    c.logout()


def test_body_fetch_sets_seen_but_examine_does_not(imap_server):
    deliver(imap_server, 1)
    c = login(imap_server)
    ok(c.select("INBOX", readonly=True))
    data = ok(c.fetch("1", "(BODY[])"))
    assert b"\\Seen" not in fetch_flags(c, 1)
    typ, _ = c.store("1", "+FLAGS", "\\Flagged")
    assert typ == "NO"
    ok(c.select("INBOX"))
    data = ok(c.fetch("1", "(BODY[])"))
    assert b"FLAGS (\\Seen)" in data[0][0] or b"\\Seen" in data[-1], data
    assert b"\\Seen" in fetch_flags(c, 1)
    c.logout()


def test_store_and_search(imap_server):
    subjects = deliver(imap_server, 3)
    send(imap_server, "from dave", sender="dave@example.com")
    imap_server.wait_for_mail("alice@example.org", 4)
    c = login(imap_server)
    ok(c.select("INBOX"))
    data = ok(c.store("1", "+FLAGS", "(\\Flagged $Important)"))
    assert b"\\Flagged" in data[0] and b"$Important" in data[0]
    data = ok(c.store("2", "+FLAGS.SILENT", "(\\Deleted)"))
    assert data == [None]
    ok(c.store("3", "FLAGS", "(\\Seen \\Answered)"))
    ok(c.store("3", "-FLAGS", "(\\Answered)"))
    assert fetch_flags(c, 3) == [b"\\Seen", b"\\Recent"]

    def search(*criteria):
        return ok(c.search(None, *criteria))[0].split()

    assert search("ALL") == [b"1", b"2", b"3", b"4"]
    assert search("FLAGGED") == [b"1"]
    assert search("KEYWORD", "$Important") == [b"1"]
    assert search("UNKEYWORD", "$Important") == [b"2", b"3", b"4"]
    assert search("DELETED") == [b"2"]
    assert search("UNDELETED") == [b"1", b"3", b"4"]
    assert search("SEEN") == [b"3"]
    assert search("UNSEEN") == [b"1", b"2", b"4"]
    assert search("ANSWERED") == []
    # This session selected first: all four are \Recent here; NEW is RECENT UNSEEN.
    assert search("NEW") == [b"1", b"2", b"4"] and search("OLD") == []
    assert search("RECENT") == [b"1", b"2", b"3", b"4"]
    assert search("SUBJECT", subjects[1]) == [b"2"]
    assert search("FROM", "dave@") == [b"4"]
    assert search("NOT", "FROM", "dave@") == [b"1", b"2", b"3"]
    assert search("OR", "FLAGGED", "SEEN") == [b"1", b"3"]
    assert search("(FLAGGED SUBJECT subject)") == [b"1"]
    assert search("HEADER", "Message-ID", "example.net") == [b"1", b"2", b"3", b"4"]
    assert search("BODY", "\"hello imap\"") == [b"1", b"2", b"3", b"4"]
    assert search("SINCE", "1-Jan-2020") == [b"1", b"2", b"3", b"4"]
    assert search("BEFORE", "1-Jan-2020") == []
    assert search("SENTON", "7-Apr-2025") == [b"1", b"2", b"3", b"4"]
    assert search("SENTBEFORE", "7-Apr-2025") == []
    assert search("LARGER", "10", "SMALLER", "100000") == [b"1", b"2", b"3", b"4"]
    assert search("2:3") == [b"2", b"3"]
    assert ok(c.uid("SEARCH", "UID", "2:*"))[0].split() == [b"2", b"3", b"4"]
    assert ok(c.search("UTF-8", "ALL"))[0].split() == [b"1", b"2", b"3", b"4"]
    typ, data = c.search("KOI8-R", "ALL")
    assert typ == "NO" and b"BADCHARSET" in data[0]
    c.logout()


def test_copy_and_move_with_copyuid(imap_server):
    deliver(imap_server, 3)
    c = login(imap_server)
    ok(c.select("INBOX"))
    typ, data = c.copy("1:2", "Archive")
    assert typ == "OK"
    validity = int(re.search(rb"UIDVALIDITY (\d+)", ok(c.status("Archive", "(UIDVALIDITY)"))[0]).group(1))
    assert re.search(rb"\[COPYUID %d 1:2 1:2\]" % validity, data[0]), data
    typ, data = c.copy("1", "Nope")
    assert typ == "NO" and b"TRYCREATE" in data[0]

    typ, data = c.uid("MOVE", "3", "Trash")
    assert typ == "OK", data
    copyuid = c.untagged_responses.get("COPYUID")
    assert copyuid and copyuid[-1].split()[1:] == [b"3", b"1"], copyuid
    assert c.untagged_responses.get("EXPUNGE") == [b"3"]
    assert ok(c.search(None, "ALL"))[0].split() == [b"1", b"2"]
    assert b"MESSAGES 1" in ok(c.status("Trash", "(MESSAGES)"))[0]
    assert b"MESSAGES 2" in ok(c.status("Archive", "(MESSAGES)"))[0]
    c.logout()


def test_expunge_and_uid_expunge(imap_server):
    deliver(imap_server, 4)
    c = login(imap_server)
    ok(c.select("INBOX"))
    ok(c.store("1:4", "+FLAGS.SILENT", "\\Deleted"))
    typ, data = c.uid("EXPUNGE", "2:3")
    assert typ == "OK", data
    # Highest first, so each number is valid when sent (UIDs 3 and 2 are seqs 3, 2).
    assert c.untagged_responses.pop("EXPUNGE") == [b"3", b"2"]
    assert ok(c.uid("SEARCH", "ALL"))[0].split() == [b"1", b"4"]
    data = ok(c.expunge())
    assert data == [b"2", b"1"], data
    assert ok(c.search(None, "ALL")) == [b""]
    c.logout()


def test_close_expunges_silently(imap_server):
    deliver(imap_server, 2)
    c = login(imap_server)
    ok(c.select("INBOX"))
    ok(c.store("1", "+FLAGS.SILENT", "\\Deleted"))
    ok(c.close())
    assert b"MESSAGES 1" in ok(c.status("INBOX", "(MESSAGES)"))[0]
    c.logout()


def test_append_then_fetch_back_byte_exact(imap_server):
    c = login(imap_server)
    msg = b"From: a@example.org\r\nSubject: appended\r\n\r\nBody \xc3\xa9\r\n.line\r\n"
    typ, data = c.append("Drafts", "(\\Draft \\Seen)", '"05-Jan-2024 10:11:12 +0100"', msg)
    assert typ == "OK", data
    m = re.search(rb"\[APPENDUID (\d+) (\d+)\]", data[0])
    assert m, data
    uid = m.group(2).decode()
    ok(c.select("Drafts"))
    data = ok(c.uid("FETCH", uid, "(FLAGS INTERNALDATE BODY.PEEK[])"))
    assert data[0][1] == msg
    assert b"\\Draft" in data[0][0] and b"\\Seen" in data[0][0]
    assert b'INTERNALDATE "05-Jan-2024 09:11:12 +0000"' in data[0][0], data
    typ, data = c.append("Nope", None, None, msg)
    assert typ == "NO" and b"TRYCREATE" in data[0]
    c.logout()


def test_uids_match_pop3_uidl(imap_server):
    deliver(imap_server, 2)
    c = login(imap_server)
    ok(c.select("INBOX"))
    validity = int(c.untagged_responses["UIDVALIDITY"][0])
    uids = [int(u) for u in ok(c.uid("SEARCH", "ALL"))[0].split()]
    c.logout()
    p = imap_server.pop3()
    p.user(ALICE[0])
    p.pass_(ALICE[1])
    uidl = [line.split()[1].decode() for line in p.uidl()[1]]
    p.quit()
    assert uidl == ["%08X%08X" % (u, validity) for u in uids]


# ----- updates between sessions ------------------------------------------------

def read_until(sock, pattern, timeout=10.0):
    """Reads from SOCK until PATTERN (bytes regex) matches what was read."""
    deadline = time.monotonic() + timeout
    got = b""
    while not re.search(pattern, got):
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError("no %r within %.0fs; got %r" % (pattern, timeout, got))
        r, _, _ = select.select([sock], [], [], left)
        if r:
            chunk = sock.recv(65536)
            if not chunk:
                raise AssertionError("connection closed; got %r" % got)
            got += chunk
    return got


def raw_login(srv):
    host, port = srv.addr("imap")
    with srv.netns():
        s = socket.create_connection((host, port), timeout=10)
    read_until(s, rb"\* OK .*\r\n")
    s.sendall(b"a LOGIN alice@example.org alice-secret\r\n")
    read_until(s, rb"a OK .*\r\n")
    s.sendall(b"b SELECT INBOX\r\n")
    read_until(s, rb"b OK .*\r\n")
    return s


def test_idle_sees_delivery_and_other_sessions_flags(imap_server):
    deliver(imap_server, 1)
    s = raw_login(imap_server)
    s.sendall(b"c IDLE\r\n")
    read_until(s, rb"\+ .*\r\n")
    start = time.monotonic()
    send(imap_server, "during idle")
    read_until(s, rb"\* 2 EXISTS\r\n")
    assert time.monotonic() - start < 10

    other = login(imap_server)
    ok(other.select("INBOX"))
    ok(other.store("1", "+FLAGS", "\\Flagged"))
    read_until(s, rb"\* 1 FETCH \((UID 1 )?FLAGS \(\\Flagged( \\Recent)?\)")
    other.logout()

    s.sendall(b"DONE\r\n")
    read_until(s, rb"c OK .*\r\n")
    s.sendall(b"d LOGOUT\r\n")
    read_until(s, rb"d OK .*\r\n")
    s.close()


def test_expunge_reaches_other_session_at_noop(imap_server):
    deliver(imap_server, 2)
    a = login(imap_server)
    b = login(imap_server)
    ok(a.select("INBOX"))
    ok(b.select("INBOX"))
    ok(a.store("1", "+FLAGS.SILENT", "\\Deleted"))
    assert ok(a.expunge()) == [b"1"]
    # A sequence-number FETCH must not announce the expunge (RFC 3501 §7.4.1).
    b.untagged_responses.clear()
    ok(b.fetch("2", "(UID)"))
    assert "EXPUNGE" not in b.untagged_responses
    ok(b.noop())
    assert b.untagged_responses.get("EXPUNGE") == [b"1"]
    assert ok(b.search(None, "ALL"))[0].split() == [b"1"]
    a.logout()
    b.logout()


def test_unselect_and_idle_timeout_logout(server_factory):
    srv = server_factory(listen=IMAP_LISTEN, extra={"imap": {"idle_timeout_secs": 1}})
    srv.add_user(*ALICE)
    s = raw_login(srv)
    s.sendall(b"u UNSELECT\r\n")
    read_until(s, rb"u OK .*\r\n")
    read_until(s, rb"\* BYE .*\r\n", timeout=10)
    s.close()


# ----- curl --------------------------------------------------------------------

def test_curl_imap_and_imaps(imap_server):
    subject = unique("curl")
    send(imap_server, subject)
    imap_server.wait_for_mail("alice@example.org", 1)
    user = "%s:%s" % ALICE
    port = imap_server.port("imap")
    r = imap_server.tool(["curl", "-sS", "--user", user, "imap://127.0.0.1:%d/" % port])
    assert r.returncode == 0, r.stderr
    assert b"INBOX" in r.stdout and b"Archive" in r.stdout
    sport = imap_server.port("imaps")
    r = imap_server.tool(["curl", "-sS", "-k", "--user", user,
                          "imaps://127.0.0.1:%d/INBOX;UID=1" % sport])
    assert r.returncode == 0, r.stderr
    assert subject.encode() in r.stdout
    r = imap_server.tool(["curl", "-sS", "--ssl-reqd", "-k", "--user", user,
                          "imap://127.0.0.1:%d/INBOX;UID=1;SECTION=HEADER.FIELDS%%20(SUBJECT)" % port])
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == ("Subject: %s" % subject).encode()


def test_binary_fetch_decodes_base64(imap_server):
    c = login(imap_server)
    payload = b"\x00\x01binary\xff data\r\n"
    import base64
    msg = (
        b"From: a@example.org\r\nSubject: bin\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: multipart/mixed; boundary=XX\r\n\r\n"
        b"--XX\r\nContent-Type: text/plain\r\n\r\nhello\r\n"
        b"--XX\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + base64.b64encode(payload) + b"\r\n--XX--\r\n"
    )
    ok(c.append("INBOX", None, None, msg))
    ok(c.select("INBOX"))
    data = ok(c.fetch("1", "(BINARY.PEEK[2] BINARY.SIZE[2])"))
    assert data[0][1] == payload, data
    assert b"BINARY.SIZE[2] %d" % len(payload) in data[1]
    assert b"\\Seen" not in fetch_flags(c, 1)
    data = ok(c.fetch("1", "(BODY.PEEK[1])"))
    assert data[0][1] == b"hello"
    c.logout()


def test_literal_over_the_limit_is_refused(server_factory):
    srv = server_factory(listen=IMAP_LISTEN, extra={"imap": {"max_literal_size": 2048}})
    srv.add_user(*ALICE)
    c = srv.imap()
    assert "APPENDLIMIT=2048" in c.capabilities
    ok(c.login(*ALICE))
    with pytest.raises(c.error):
        c.append("INBOX", None, None, b"Subject: big\r\n\r\n" + b"x" * 4096)
    ok(c.append("INBOX", None, None, b"Subject: small\r\n\r\nsmall\r\n"))
    assert b"MESSAGES 1" in ok(c.status("INBOX", "(MESSAGES)"))[0]
    c.logout()
