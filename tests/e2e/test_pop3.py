"""POP3 (RFC 1939, 2449, 2595, 3206, 5034) against Python's poplib and a raw
socket client: greeting and CAPA, USER/PASS and SASL logins, the TRANSACTION
commands in their exact RFC forms, deletions only at QUIT, the maildrop lock,
UIDL stability, byte-identical retrieval, pipelining, STLS (and the pipelined
command-injection check), plaintext-login policy, the login throttle shared
with SMTP AUTH, error limits, the autologout timer and graceful shutdown.

Every server here has both POP3 listeners on (`pop3_server` fixture, or
`server_factory(listen=POP3_LISTEN, ...)`)."""

import base64
import poplib
import re
import signal
import smtplib
import socket
import struct
import time

import pytest

from harness import HOSTNAME, POP3_LISTEN, ServerError, wait_until
from smtpraw import client_tls_context

ALICE, ALICE_PW = "alice@example.org", "alice-secret"
BOB, BOB_PW = "bob@example.org", "bob-secret"

GREETING = "+OK %s POP3 Postie ready" % HOSTNAME


# ----- a raw POP3 client ------------------------------------------------------------

class Closed(Exception):
    pass


class RawPOP3:
    """A line-oriented POP3 client on a socket, for what poplib cannot do
    (pipelining, exact wire bytes, SASL, injection). Reads the greeting."""

    def __init__(self, sock, timeout=15):
        self.sock = sock
        self.sock.settimeout(timeout)
        self.buf = b""
        self.greeting = self.line()

    def send(self, data):
        self.sock.sendall(data if isinstance(data, bytes) else data.encode())

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise Closed("connection closed; unread: %r" % self.buf)
        self.buf += chunk

    def line(self):
        """One line, without its CRLF, as str (latin-1: byte-transparent)."""
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line.decode("latin-1")

    def cmd(self, command):
        self.send(command + "\r\n")
        return self.line()

    def multi_raw(self):
        """The body of a multi-line response as sent (still byte-stuffed),
        including the terminating '.' line."""
        end = b"\r\n.\r\n"
        while True:
            if self.buf.startswith(b".\r\n"):
                raw, self.buf = self.buf[:3], self.buf[3:]
                return raw
            pos = self.buf.find(end)
            if pos >= 0:
                raw, self.buf = self.buf[: pos + len(end)], self.buf[pos + len(end):]
                return raw
            self._fill()

    def multi(self):
        """The lines of a multi-line response, un-stuffed, without the '.'."""
        raw = self.multi_raw()
        lines = raw.split(b"\r\n")[:-2]
        return [(l[1:] if l.startswith(b".") else l).decode("latin-1") for l in lines]

    def login(self, user=ALICE, password=ALICE_PW):
        assert self.cmd("USER " + user) == "+OK Send PASS"
        reply = self.cmd("PASS " + password)
        assert reply.startswith("+OK "), reply
        return reply

    def closed(self, timeout=10):
        """True when the server closes the connection within TIMEOUT (any
        bytes still unread are left in self.buf)."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                return False
            except (ConnectionResetError, BrokenPipeError):
                return True
            if not chunk:
                return True
            self.buf += chunk

    def starttls(self):
        assert self.buf == b"", "bytes after the STLS reply: %r" % self.buf
        self.sock = client_tls_context().wrap_socket(self.sock, server_hostname=HOSTNAME)

    def close(self):
        self.sock.close()


def raw(server, kind="pop3", timeout=15, source=None):
    """A RawPOP3 on KIND; SOURCE binds the client to another loopback address."""
    with server.netns():
        sock = socket.create_connection(server.addr(kind), timeout=timeout,
                                        source_address=(source, 0) if source else None)
    if kind == "pop3s":
        sock = client_tls_context().wrap_socket(sock, server_hostname=HOSTNAME)
    return RawPOP3(sock, timeout)


def b64(data):
    return base64.b64encode(data if isinstance(data, bytes) else data.encode()).decode()


def plain(user=ALICE, password=ALICE_PW, authzid=""):
    return b64("%s\0%s\0%s" % (authzid, user, password))


# ----- mail ----------------------------------------------------------------------

def msg(subject, body=b"body\r\n"):
    return (b"From: <sender@example.net>\r\nTo: <alice@example.org>\r\nSubject: "
            + subject.encode() + b"\r\nMessage-ID: <" + subject.encode().replace(b" ", b"-")
            + b"@example.net>\r\n\r\n" + body)


DOTTY = msg("dots", (
    b"first line\r\n"
    b".starts with a dot\r\n"
    b"..starts with two dots\r\n"
    b".\r\n"
    b". dot space\r\n"
    b"\r\n"
    b"trailing spaces   \r\n"
    b"tab\there\r\n"
    b"last line\r\n"
))

EIGHT_BIT = msg("8bit", b"\xc3\xa9t\xc3\xa9 \xe2\x82\xac\r\nlatin-1 \xe9\xff\x80\r\n")


def deliver(server, messages, rcpt=ALICE):
    """Sends the messages over one SMTP connection and waits for them in the
    mailbox. Returns every stored message of RCPT in mailbox order, which is
    the order of POP3 message numbers."""
    have = len(server.mail_list(rcpt))
    s = server.smtp("smtp")
    try:
        s.ehlo()
        for m in messages:
            options = ["BODY=8BITMIME"] if any(b > 0x7F for b in m) else []
            assert s.sendmail("sender@example.net", [rcpt], m, mail_options=options) == {}
        s.quit()
    finally:
        s.close()
    server.wait_for_mail(rcpt, have + len(messages), timeout=60)
    return server.mailbox(rcpt)


def sent_as(stored, sent):
    """The client message (one of SENT) that STORED ends with."""
    found = [m for m in sent if stored.endswith(m)]
    assert len(found) == 1, "stored message matches %d sent ones:\n%r" % (len(found), stored[:500])
    return found[0]


def stuffed(message):
    """RFC 1939 §3 byte-stuffing of a CRLF message, with the terminator."""
    return re.sub(rb"(?m)^\.", b"..", message) + b".\r\n"


def pop_login(server, kind="pop3", user=ALICE, password=ALICE_PW):
    p = server.pop3(kind)
    p.user(user)
    p.pass_(password)
    return p


def login_when_free(server, user=ALICE, password=ALICE_PW, kind="pop3", timeout=10):
    """Logs in, retrying while a session that just ended still holds the
    maildrop lock (it is released when that connection is torn down)."""
    deadline = time.monotonic() + timeout
    while True:
        c = raw(server, kind)
        c.cmd("USER " + user)
        reply = c.cmd("PASS " + password)
        if reply.startswith("+OK"):
            return c, reply
        c.close()
        assert reply.startswith("-ERR [IN-USE]"), reply
        if time.monotonic() > deadline:
            raise AssertionError("maildrop still locked after %ss" % timeout)
        time.sleep(0.05)


def pop_login_retry(server, kind="pop3", user=ALICE, password=ALICE_PW, timeout=10):
    """pop_login, retrying while the previous session's lock is being released."""
    deadline = time.monotonic() + timeout
    while True:
        p = server.pop3(kind)
        p.user(user)
        try:
            p.pass_(password)
            return p
        except poplib.error_proto as e:
            p.close()
            assert b"[IN-USE]" in e.args[0], e
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def retr_bytes(p, n):
    """RETR N through poplib: (the message bytes with CRLFs, octets count)."""
    resp, lines, octets = p.retr(n)
    return b"".join(l + b"\r\n" for l in lines), resp, octets


# ----- greeting and CAPA ------------------------------------------------------------

def test_greeting_and_capa_before_tls(pop3_server):
    c = raw(pop3_server, "pop3")
    assert c.greeting == GREETING
    assert c.cmd("CAPA") == "+OK Capability list follows"
    caps = c.multi()
    for cap in ["TOP", "UIDL", "USER", "SASL PLAIN LOGIN SCRAM-SHA-256", "RESP-CODES", "AUTH-RESP-CODE",
                "PIPELINING", "STLS", "EXPIRE NEVER"]:
        assert cap in caps, (cap, caps)
    assert [x for x in caps if x.startswith("IMPLEMENTATION ")], caps
    assert len(caps) == len(set(caps)), caps
    # CAPA is valid in TRANSACTION state too; STLS is no longer offered there
    c.login()
    assert c.cmd("capa") == "+OK Capability list follows"
    caps = c.multi()
    assert "STLS" not in caps and "UIDL" in caps and "TOP" in caps, caps
    assert c.cmd("QUIT").startswith("+OK")
    assert c.closed()


def test_capa_on_pop3s_and_after_stls(pop3_server):
    p = pop3_server.pop3("pop3s")
    assert p.getwelcome().decode() == GREETING
    caps = p.capa()
    assert "STLS" not in caps, caps
    assert caps["SASL"] == ["PLAIN", "LOGIN", "SCRAM-SHA-256", "SCRAM-SHA-256-PLUS"], caps
    assert "USER" in caps, caps
    p.quit()

    p = pop3_server.pop3("pop3")
    assert "STLS" in p.capa()
    assert p.stls(context=client_tls_context()).startswith(b"+OK")
    caps = p.capa()
    assert "STLS" not in caps and "USER" in caps and "PIPELINING" in caps, caps
    with pytest.raises(poplib.error_proto, match="-ERR"):
        p._shortcmd("STLS")  # not again inside TLS (RFC 2595 §4)
    p.user(ALICE)
    assert p.pass_(ALICE_PW).startswith(b"+OK maildrop has 0 messages")
    p.quit()


def test_capa_expire_days(server_factory):
    srv = server_factory(listen=POP3_LISTEN, pop3={"expire_days": 30})
    caps = srv.pop3("pop3").capa()
    assert caps["EXPIRE"] == ["30"], caps


# ----- logins ------------------------------------------------------------------------

def test_user_pass_login_and_wrong_password(pop3_server):
    deliver(pop3_server, [msg("one")])
    c = raw(pop3_server)
    assert c.cmd("USER " + ALICE) == "+OK Send PASS"
    bad = c.cmd("PASS wrong-secret")
    assert bad.startswith("-ERR [AUTH] "), bad
    # an unknown user gets the same answer as a wrong password, at USER and PASS
    assert c.cmd("USER nobody@example.org") == "+OK Send PASS"
    assert c.cmd("PASS " + ALICE_PW) == bad
    # PASS without a USER before it (the USER name is used up by a failed PASS)
    assert c.cmd("PASS " + ALICE_PW).startswith("-ERR")
    assert c.cmd("STAT").startswith("-ERR"), "no STAT before login"
    reply = c.login()
    assert re.fullmatch(r"\+OK maildrop has 1 message \(\d+ octets\)", reply), reply
    assert c.cmd("USER " + ALICE).startswith("-ERR"), "no USER after login"
    assert c.cmd("QUIT").startswith("+OK")


def test_password_with_spaces(server_factory):
    srv = server_factory(listen=POP3_LISTEN)
    srv.add_user("carol@example.org", "  two words  ")
    c = raw(srv)
    c.cmd("USER carol@example.org")
    assert c.cmd("PASS   two words  ").startswith("+OK"), "PASS takes the rest of the line"


def test_auth_plain_initial_response(pop3_server):
    c = raw(pop3_server)
    assert c.cmd("AUTH PLAIN " + plain()).startswith("+OK maildrop has 0 messages")
    assert c.cmd("STAT") == "+OK 0 0"
    assert c.cmd("QUIT").startswith("+OK")


def test_auth_plain_with_continuation_and_failures(pop3_server):
    c = raw(pop3_server)
    assert c.cmd("AUTH") == "+OK Supported SASL mechanisms follow"
    assert c.multi() == ["PLAIN", "LOGIN", "SCRAM-SHA-256"]
    assert c.cmd("AUTH PLAIN") == "+ "  # RFC 5034 §4: "+" SP, empty challenge
    assert c.cmd(plain(password="wrong")).startswith("-ERR [AUTH] ")
    assert c.cmd("AUTH PLAIN") == "+ "
    assert c.cmd("*").startswith("-ERR"), "a '*' line cancels the exchange"
    assert c.cmd("AUTH CRAM-MD5").startswith("-ERR")
    assert c.cmd("AUTH PLAIN") == "+ "
    assert c.cmd("not base64!").startswith("-ERR")
    # acting as another user is refused
    assert c.cmd("AUTH PLAIN " + plain(authzid=BOB)).startswith("-ERR [AUTH] ")
    assert c.cmd("AUTH PLAIN") == "+ "
    assert c.cmd(plain(authzid=ALICE)).startswith("+OK maildrop has")
    assert c.cmd("QUIT").startswith("+OK")


def login_challenge(line, word):
    """A LOGIN challenge: "+ " and base64 of "Username:" or "Password:" (the
    de-facto prompts, with the colon, that NeoMutt matches literally)."""
    assert line.startswith("+ "), line
    prompt = base64.b64decode(line[2:], validate=True).decode()
    assert prompt == {"user": "Username:", "pass": "Password:"}[word], (line, prompt)


def test_auth_login(pop3_server):
    deliver(pop3_server, [msg("login")])
    c = raw(pop3_server)
    login_challenge(c.cmd("AUTH LOGIN"), "user")
    login_challenge(c.cmd(b64(ALICE)), "pass")
    assert c.cmd(b64(ALICE_PW)).startswith("+OK maildrop has 1 message")
    assert c.cmd("STAT").startswith("+OK 1 ")
    assert c.cmd("QUIT").startswith("+OK")

    # initial response form, wrong password
    c = raw(pop3_server)
    login_challenge(c.cmd("AUTH LOGIN " + b64(BOB)), "pass")
    assert c.cmd(b64("wrong")).startswith("-ERR [AUTH] ")


def test_too_many_failed_logins_close_the_connection(server_factory):
    srv = server_factory(listen=POP3_LISTEN, pop3={"max_auth_failures": 3})
    srv.add_user(ALICE, ALICE_PW)
    c = raw(srv)
    for i in range(2):
        c.cmd("USER " + ALICE)
        assert c.cmd("PASS wrong").startswith("-ERR [AUTH] ")
    last = c.cmd("AUTH PLAIN " + plain(password="wrong"))
    assert last.startswith("-ERR [AUTH] "), last
    assert c.closed(), "the third failure must end the session"


def test_second_login_to_the_same_maildrop_is_in_use(pop3_server):
    deliver(pop3_server, [msg("locked")])
    first = pop_login(pop3_server)
    assert first.stat()[0] == 1
    for kind in ("pop3", "pop3s"):
        c = raw(pop3_server, kind)
        c.cmd("USER " + ALICE)
        reply = c.cmd("PASS " + ALICE_PW)
        assert reply.startswith("-ERR [IN-USE] "), reply
        # the wrong password is still [AUTH], not [IN-USE]
        c.cmd("USER " + ALICE)
        assert c.cmd("PASS wrong").startswith("-ERR [AUTH] ")
        c.close()
    c = raw(pop3_server)
    assert c.cmd("AUTH PLAIN " + plain()).startswith("-ERR [IN-USE] ")
    # another maildrop is not locked
    bob = pop_login(pop3_server, user=BOB, password=BOB_PW)
    assert bob.stat() == (0, 0)
    bob.quit()
    first.quit()
    c, _ = login_when_free(pop3_server)
    assert c.cmd("STAT").startswith("+OK 1 ")


def test_lock_released_when_the_client_drops(pop3_server):
    first = raw(pop3_server)
    first.login()
    first.close()  # no QUIT
    c, reply = login_when_free(pop3_server)
    assert reply.startswith("+OK maildrop has")


# ----- TRANSACTION commands --------------------------------------------------------

def test_stat_list_uidl_retr_forms(pop3_server):
    stored = deliver(pop3_server, [msg("one"), DOTTY, EIGHT_BIT])
    sizes = [len(m) for m in stored]
    c = raw(pop3_server)
    c.login()
    assert c.cmd("STAT") == "+OK 3 %d" % sum(sizes)  # RFC 1939 §5: exactly "nn mm"
    assert c.cmd("LIST").startswith("+OK")
    assert c.multi() == ["%d %d" % (i + 1, n) for i, n in enumerate(sizes)]
    assert c.cmd("LIST 2") == "+OK 2 %d" % sizes[1]
    assert c.cmd("UIDL").startswith("+OK")
    uidl = c.multi()
    assert [u.split(" ")[0] for u in uidl] == ["1", "2", "3"], uidl
    uids = [u.split(" ", 1)[1] for u in uidl]
    assert len(set(uids)) == 3, uids
    for u in uids:  # RFC 1939 §7: 1 to 70 characters in 0x21..0x7E
        assert re.fullmatch(r"[\x21-\x7e]{1,70}", u), u
    assert c.cmd("UIDL 3") == "+OK 3 " + uids[2]
    for n, message in enumerate(stored, 1):
        assert c.cmd("RETR %d" % n) == "+OK %d octets" % len(message)
        wire = c.multi_raw()
        assert wire == stuffed(message), "RETR %d on the wire:\n%r\nstored:\n%r" % (
            n, wire, message)
    assert c.cmd("NOOP") == "+OK"
    assert c.cmd("QUIT") == "+OK %s POP3 Postie signing off (3 messages left)" % HOSTNAME
    assert c.closed()


def test_poplib_round_trip_is_byte_identical(pop3_server):
    big = msg("big", b"".join(b"%06d " % i + b"x" * 90 + b"\r\n" for i in range(6000)))
    empty_body = b"Subject: empty body\r\n\r\n"
    sent = [msg("one"), DOTTY, EIGHT_BIT, big, empty_body]
    stored = deliver(pop3_server, sent)
    p = pop_login(pop3_server, "pop3s")
    count, total = p.stat()
    assert (count, total) == (len(sent), sum(len(m) for m in stored))
    _, listing, _ = p.list()
    for n, message in enumerate(stored, 1):
        client_msg = sent_as(message, sent)
        data, resp, octets = retr_bytes(p, n)
        assert data == message, "RETR %d differs from `postie mail read`" % n
        assert resp == b"+OK %d octets" % len(message)
        assert octets == len(message)
        assert listing[n - 1] == b"%d %d" % (n, len(message))
        assert p.list(n) == b"+OK %d %d" % (n, len(message))
        # the server's trace headers, then the client's bytes unchanged
        assert data.endswith(client_msg), n
        prefix = data[: len(data) - len(client_msg)]
        assert prefix.startswith(b"Return-Path: <sender@example.net>\r\n"), prefix
        assert b"\r\nDelivered-To: %s\r\n" % ALICE.encode() in prefix, prefix
        assert b"\r\nReceived: from " in prefix, prefix
    assert p.quit().startswith(b"+OK")
    assert len(pop3_server.mail_list(ALICE)) == len(sent), "RETR must not delete"


def test_top(pop3_server):
    body = b"line 1\r\n.line 2\r\nline 3\r\n"
    [stored] = deliver(pop3_server, [msg("top", body)])
    header = stored[: stored.index(b"\r\n\r\n") + 4]
    c = raw(pop3_server)
    c.login()
    for lines, want in [(0, header), (1, header + b"line 1\r\n"),
                        (2, header + b"line 1\r\n.line 2\r\n"), (3, stored), (100, stored)]:
        assert c.cmd("TOP 1 %d" % lines) == "+OK"
        wire = c.multi_raw()
        assert wire == stuffed(want), (lines, wire)
    # poplib agrees
    c.cmd("QUIT")
    p = pop_login_retry(pop3_server)
    _, lines, _ = p.top(1, 1)
    assert b"".join(l + b"\r\n" for l in lines) == header + b"line 1\r\n"
    p.quit()


def test_dele_rset_and_deletion_only_at_quit(pop3_server):
    stored = deliver(pop3_server, [msg("one"), msg("two"), msg("three")])
    before = pop3_server.mail_list(ALICE)
    c = raw(pop3_server)
    c.login()
    c.cmd("UIDL")
    uids = [u.split(" ", 1)[1] for u in c.multi()]
    assert c.cmd("DELE 1").startswith("+OK")
    # RFC 1939 §5: a message marked deleted is gone from every command
    assert c.cmd("STAT") == "+OK 2 %d" % (len(stored[1]) + len(stored[2]))
    for command in ("LIST 1", "UIDL 1", "RETR 1", "TOP 1 0", "DELE 1"):
        assert c.cmd(command).startswith("-ERR"), command
    c.cmd("LIST")
    assert c.multi() == ["2 %d" % len(stored[1]), "3 %d" % len(stored[2])]
    c.cmd("UIDL")
    assert c.multi() == ["2 " + uids[1], "3 " + uids[2]]
    reply = c.cmd("RSET")
    assert reply.startswith("+OK"), reply
    assert c.cmd("STAT") == "+OK 3 %d" % sum(map(len, stored))
    assert c.cmd("RETR 1").startswith("+OK")
    assert c.multi_raw() == stuffed(stored[0])
    assert c.cmd("DELE 1").startswith("+OK")
    assert c.cmd("DELE 3").startswith("+OK")
    # nothing is removed before QUIT
    assert pop3_server.mail_list(ALICE) == before
    assert c.cmd("QUIT") == "+OK %s POP3 Postie signing off (1 message left)" % HOSTNAME
    assert c.closed()
    after = pop3_server.mail_list(ALICE)
    assert after == [before[1]], after
    # a new session renumbers; the survivor keeps its UIDL
    c, reply = login_when_free(pop3_server)
    assert reply == "+OK maildrop has 1 message (%d octets)" % len(stored[1])
    assert c.cmd("UIDL 1") == "+OK 1 " + uids[1]
    assert c.cmd("RETR 1") == "+OK %d octets" % len(stored[1])
    assert c.multi_raw() == stuffed(stored[1])
    assert c.cmd("LIST 2").startswith("-ERR")
    assert c.cmd("QUIT") == "+OK %s POP3 Postie signing off (1 message left)" % HOSTNAME


def test_quit_with_everything_deleted(pop3_server):
    deliver(pop3_server, [msg("a"), msg("b")])
    p = pop_login(pop3_server)
    p.dele(1)
    p.dele(2)
    assert p.quit() == b"+OK %s POP3 Postie signing off (maildrop empty)" % HOSTNAME.encode()
    assert pop3_server.mail_list(ALICE) == []
    p = pop_login_retry(pop3_server)
    assert p.stat() == (0, 0)
    assert p.list()[1] == []
    assert p.uidl()[1] == []
    p.quit()


@pytest.mark.parametrize("how", ["close", "reset"])
def test_dropped_connection_deletes_nothing(pop3_server, how):
    deliver(pop3_server, [msg("one"), msg("two")])
    before = pop3_server.mail_list(ALICE)
    c = raw(pop3_server)
    c.login()
    assert c.cmd("DELE 1").startswith("+OK")
    assert c.cmd("DELE 2").startswith("+OK")
    if how == "reset":  # RST instead of FIN
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    c.close()
    c, reply = login_when_free(pop3_server)
    assert reply.startswith("+OK maildrop has 2 messages"), reply
    assert c.cmd("QUIT").startswith("+OK")
    assert pop3_server.mail_list(ALICE) == before


def test_uidl_stable_across_sessions_and_restart(pop3_server):
    deliver(pop3_server, [msg("one"), msg("two"), msg("three")])
    p = pop_login(pop3_server)
    first = p.uidl()[1]
    p.quit()
    p = pop_login_retry(pop3_server, "pop3s")
    assert p.uidl()[1] == first
    p.quit()
    pop3_server.restart()
    p = pop_login(pop3_server)
    assert p.uidl()[1] == first, "UIDL changed across a restart"
    # delete the newest; a new message must not get its unique-id back
    p.dele(3)
    p.quit()
    deliver(pop3_server, [msg("four")])
    p = pop_login_retry(pop3_server)
    now = p.uidl()[1]
    p.quit()
    old_ids = [l.split()[1] for l in first]
    new_ids = [l.split()[1] for l in now]
    assert new_ids[:2] == old_ids[:2]
    assert new_ids[2] not in old_ids, "unique-id of a deleted message reused"


# ----- pipelining ---------------------------------------------------------------------

def test_pipelined_commands_answered_in_order(pop3_server):
    stored = deliver(pop3_server, [msg("one"), DOTTY])
    c = raw(pop3_server)
    c.send("CAPA\r\nUSER %s\r\nPASS %s\r\nSTAT\r\nLIST\r\nUIDL 2\r\nRETR 2\r\nTOP 1 0\r\n"
           "BOGUS\r\nDELE 1\r\nLIST 1\r\nRSET\r\nNOOP\r\nRETR 1\r\nQUIT\r\n" % (ALICE, ALICE_PW))
    assert c.line() == "+OK Capability list follows"
    assert "PIPELINING" in c.multi()
    assert c.line() == "+OK Send PASS"
    assert c.line().startswith("+OK maildrop has 2 messages")
    assert c.line() == "+OK 2 %d" % sum(map(len, stored))
    assert c.line().startswith("+OK")
    assert c.multi() == ["1 %d" % len(stored[0]), "2 %d" % len(stored[1])]
    assert re.fullmatch(r"\+OK 2 [\x21-\x7e]+", c.line())
    assert c.line() == "+OK %d octets" % len(stored[1])
    assert c.multi_raw() == stuffed(stored[1])
    assert c.line() == "+OK"
    assert c.multi_raw() == stuffed(stored[0][: stored[0].index(b"\r\n\r\n") + 4])
    assert c.line().startswith("-ERR")
    assert c.line().startswith("+OK")
    assert c.line().startswith("-ERR")
    assert c.line().startswith("+OK")
    assert c.line() == "+OK"
    assert c.line() == "+OK %d octets" % len(stored[0])
    assert c.multi_raw() == stuffed(stored[0])
    assert c.line().startswith("+OK %s POP3 Postie signing off" % HOSTNAME)
    assert c.closed() and c.buf == b""
    assert len(pop3_server.mail_list(ALICE)) == 2, "RSET undid the DELE"


def test_pipelined_retr_of_many_messages(pop3_server):
    sent = [msg("m%02d" % i, (b"line %d\r\n" % i) * (i * 50 + 1)) for i in range(30)]
    stored = deliver(pop3_server, sent)
    c = raw(pop3_server)
    c.login()
    c.send("".join("RETR %d\r\n" % n for n in range(1, 31)) + "STAT\r\n")
    for n, message in enumerate(stored, 1):
        assert c.line() == "+OK %d octets" % len(message), n
        assert c.multi_raw() == stuffed(message), n
    assert c.line().startswith("+OK 30 ")


# ----- bad input ---------------------------------------------------------------------

def test_bad_commands_get_err_and_the_session_goes_on(pop3_server):
    deliver(pop3_server, [msg("one")])
    c = raw(pop3_server)
    for command in ["STAT", "PASS x", "APOP alice@example.org 0123456789abcdef", "USER",
                    "", "X" * 300, "USER a b"]:
        assert c.cmd(command).startswith("-ERR"), command
    c.login()
    assert c.cmd("QUIT").startswith("+OK")
    # (a new connection: errors are counted per connection, max_errors = 10)
    c, _ = login_when_free(pop3_server)
    for command in ["BOGUS", "RETR", "RETR 0", "RETR 2", "RETR x", "TOP 1", "LIST 1 2",
                    "DELE -1"]:
        assert c.cmd(command).startswith("-ERR"), command
    assert c.cmd("stat").startswith("+OK 1 "), "keywords are case-insensitive"
    assert c.cmd("QUIT").startswith("+OK")


def test_too_many_errors_close_the_connection(server_factory):
    srv = server_factory(listen=POP3_LISTEN, pop3={"max_errors": 3})
    c = raw(srv)
    assert c.cmd("BOGUS").startswith("-ERR")
    assert c.cmd("STAT").startswith("-ERR")
    assert c.cmd("NOPE").startswith("-ERR")
    assert c.closed(), "the third error must end the session"


# ----- STLS and the plaintext-login policy ----------------------------------------------

def test_stls_discards_pipelined_commands(pop3_server):
    c = raw(pop3_server)
    c.send("STLS\r\nUSER %s\r\nCAPA\r\n" % ALICE)  # one write
    assert c.line() == "+OK Begin TLS negotiation"
    c.starttls()
    # the first reply inside TLS must answer our own command, not the injected ones
    assert c.cmd("PASS " + ALICE_PW).startswith("-ERR"), "injected USER was kept"
    assert c.cmd("CAPA") == "+OK Capability list follows"
    assert "STLS" not in c.multi()
    assert c.cmd("STLS").startswith("-ERR")
    c.login()
    assert c.cmd("QUIT").startswith("+OK")


def test_plaintext_never_needs_stls(server_factory):
    srv = server_factory(listen=POP3_LISTEN, auth={"allow_plaintext": "never"})
    srv.add_user(ALICE, ALICE_PW)
    c = raw(srv)
    assert c.cmd("CAPA").startswith("+OK")
    caps = c.multi()
    assert "STLS" in caps and "USER" not in caps, caps
    assert not [x for x in caps if x.startswith("SASL")], caps
    assert c.cmd("USER " + ALICE).startswith("-ERR")
    assert c.cmd("PASS " + ALICE_PW).startswith("-ERR")
    assert c.cmd("AUTH PLAIN " + plain()).startswith("-ERR")
    assert c.cmd("STAT").startswith("-ERR"), "not logged in"
    # after STLS the same commands work
    assert c.cmd("STLS") == "+OK Begin TLS negotiation"
    c.starttls()
    assert c.cmd("CAPA").startswith("+OK")
    caps = c.multi()
    # TLS 1.3: SCRAM-SHA-256-PLUS too (tls-exporter, RFC 9266).
    assert "USER" in caps and "SASL PLAIN LOGIN SCRAM-SHA-256 SCRAM-SHA-256-PLUS" in caps, caps
    assert c.cmd("AUTH PLAIN " + plain()).startswith("+OK maildrop has")
    assert c.cmd("QUIT").startswith("+OK")
    # poplib with stls() and POP3_SSL
    p = srv.pop3("pop3")
    with pytest.raises(poplib.error_proto):
        p.user(ALICE)
    p.close()
    p = srv.pop3("pop3")
    p.stls(context=client_tls_context())
    p.user(ALICE)
    assert p.pass_(ALICE_PW).startswith(b"+OK")
    p.quit()
    p = pop_login_retry(srv, "pop3s")
    assert p.stat() == (0, 0)
    p.quit()


# ----- the login throttle shared with SMTP AUTH ------------------------------------------

def smtp_auth(server, password):
    """One AUTH PLAIN attempt over STARTTLS on the submission port; the code."""
    s = server.smtp("submission")
    try:
        s.ehlo()
        s.starttls(context=client_tls_context())
        s.ehlo()
        s.user, s.password = ALICE, password
        try:
            code, _ = s.auth("PLAIN", s.auth_plain)
        except smtplib.SMTPAuthenticationError as e:
            code = e.smtp_code
        return code
    finally:
        s.close()


def smtp_auth_fails(server):
    assert smtp_auth(server, "wrong") == 535


def pop3_fails(server, kind="pop3"):
    c = raw(server, kind)
    c.cmd("USER " + ALICE)
    assert c.cmd("PASS wrong").startswith("-ERR [AUTH] ")
    c.close()


def test_failed_logins_lock_out_the_address_across_protocols(server_factory):
    srv = server_factory(listen=POP3_LISTEN, auth={"max_failures_per_ip": 4})
    srv.add_user(ALICE, ALICE_PW)
    # below the limit the right password works (and a success resets the count)
    pop3_fails(srv)
    smtp_auth_fails(srv)
    pop3_fails(srv, "pop3s")
    p = pop_login(srv)
    p.quit()
    # 2 failures over SMTP AUTH and 2 over POP3: the fourth locks 127.0.0.1 out
    smtp_auth_fails(srv)
    smtp_auth_fails(srv)
    pop3_fails(srv)
    pop3_fails(srv, "pop3s")
    for kind in ("pop3", "pop3s"):
        c = raw(srv, kind)
        c.cmd("USER " + ALICE)
        reply = c.cmd("PASS " + ALICE_PW)
        assert reply.startswith("-ERR"), "locked-out address logged in: %r" % reply
        assert c.cmd("AUTH PLAIN " + plain()).startswith("-ERR")
        assert c.cmd("STAT").startswith("-ERR")
        c.close()
    # SMTP AUTH is refused too
    assert smtp_auth(srv, ALICE_PW) in (454, 535)
    # per address: 127.0.0.2 is not locked out
    c = raw(srv, source="127.0.0.2")
    assert c.login().startswith("+OK maildrop has")
    c.cmd("QUIT")


# ----- timers, limits, shutdown ----------------------------------------------------------

def test_idle_timeout_closes_and_deletes_nothing(server_factory):
    srv = server_factory(listen=POP3_LISTEN, pop3={"idle_timeout_secs": 1})
    srv.add_user(ALICE, ALICE_PW)
    deliver(srv, [msg("idle")])
    idle_before_login = raw(srv)
    c = raw(srv)
    c.login()
    assert c.cmd("DELE 1").startswith("+OK")
    t0 = time.monotonic()
    assert c.closed(timeout=15), "no autologout after idle_timeout_secs=1"
    elapsed = time.monotonic() - t0
    assert elapsed >= 0.8, "closed after %.2fs, before the idle timeout" % elapsed
    assert c.buf == b"", "RFC 1939 §3: autologout sends no response: %r" % c.buf
    assert idle_before_login.closed(timeout=15)
    assert len(srv.mail_list(ALICE)) == 1, "autologout must not enter UPDATE"
    # the lock was released
    c, reply = login_when_free(srv)
    assert reply.startswith("+OK maildrop has 1 message")


def test_connection_limit_per_ip(server_factory):
    # Each listener has a pool of its own: two pop3 connections fill pop3's per-address
    # limit, while pop3s still serves this address.
    srv = server_factory(listen=POP3_LISTEN, pop3={"max_connections_per_ip": 2})
    a, a2 = raw(srv), raw(srv)
    with srv.netns():
        sock = socket.create_connection(srv.addr("pop3"), timeout=15)
    refused = RawPOP3(sock)
    assert refused.greeting.startswith("-ERR [SYS/TEMP] "), refused.greeting
    assert refused.closed()
    b = raw(srv, "pop3s")
    assert b.greeting == GREETING, b.greeting
    # SMTP has its own limits
    s = srv.smtp("smtp")
    assert s.noop()[0] == 250
    s.quit()
    a.cmd("QUIT")
    a.close()

    def greeted():
        c = raw(srv)
        if c.greeting == GREETING:
            return c
        c.close()
        return None

    wait_until(greeted, timeout=10, message="a free POP3 connection slot")
    b.close()
    a2.close()


def test_sigterm_ends_sessions_without_update(pop3_server):
    deliver(pop3_server, [msg("one"), msg("two")])
    before = pop3_server.mail_list(ALICE)
    c = raw(pop3_server)
    c.login()
    assert c.cmd("DELE 1").startswith("+OK")
    pop3_server.proc.send_signal(signal.SIGTERM)
    assert c.closed(timeout=20), "the session did not end on SIGTERM"
    assert c.buf.startswith(b"-ERR [SYS/TEMP] "), c.buf
    try:
        rc = pop3_server.proc.wait(30)
    except Exception:
        raise ServerError("postie still running after SIGTERM:\n" + pop3_server.log_tail())
    assert rc == 0
    pop3_server.start()
    assert pop3_server.mail_list(ALICE) == before
    p = pop_login(pop3_server)
    assert p.stat()[0] == 2
    p.quit()
