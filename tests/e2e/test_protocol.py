"""SMTP protocol behaviour over raw sockets: policy refusals, sequence errors,
limits, malformed data (SMTP smuggling, NUL, long lines), STARTTLS injection,
error limits, the small commands and abrupt disconnects."""

import base64
import json
import socket

import pytest

from harness import HOSTNAME, only_marker, send_marker, wait_until
from smtpraw import ConnectionClosed, parse_ehlo

ALICE = "alice@example.org"


def b64(s):
    return base64.b64encode(s.encode() if isinstance(s, str) else s).decode()


def tls_session(server, kind="submission"):
    """A raw session on KIND, after STARTTLS (or implicit TLS) and EHLO."""
    c = server.raw(kind)
    assert c.greeting.code == 220
    if kind != "submissions":
        c.ehlo()
        c.expect("STARTTLS", 220)
        c.starttls()
    return c, c.ehlo()


def mail_rcpt(c, sender="sender@example.net", rcpt=ALICE):
    c.expect("MAIL FROM:<%s>" % sender, 250, "2.1.0")
    c.expect("RCPT TO:<%s>" % rcpt, 250, "2.1.5")


# ----- policy ---------------------------------------------------------------------

def test_greeting_names_the_host(server):
    c = server.raw("smtp")
    assert c.greeting.code == 220
    assert c.greeting.lines[0].startswith(HOSTNAME), c.greeting
    c.expect("QUIT", 221)


def test_relay_denied_without_auth(server):
    c = server.raw("smtp")
    c.ehlo()
    c.expect("MAIL FROM:<sender@example.net>", 250)
    c.expect("RCPT TO:<someone@remote.invalid>", 550, "5.7.1")
    # a local recipient in the same transaction is still fine
    c.expect("RCPT TO:<%s>" % ALICE, 250)
    c.expect("QUIT", 221)


@pytest.mark.parametrize("kind", ["submission", "smtp"])
def test_authenticated_relay_is_queued(server, kind):
    c, exts = tls_session(server, kind)
    assert "PLAIN" in exts.get("AUTH", "").upper().split()
    c.expect("AUTH PLAIN " + b64("\0alice@example.org\0alice-secret"), 235, "2.7.0")
    c.expect("MAIL FROM:<alice@example.org>", 250)
    # remote.example: the harness's DNS setting points at nothing, so the
    # relay can only defer it and it stays queued.
    c.expect("RCPT TO:<friend@remote.example>", 250, "2.1.5")
    c.expect("DATA", 354)
    c.send("From: <alice@example.org>\r\nTo: <friend@remote.example>\r\nSubject: out\r\n\r\nbye\r\n.\r\n")
    r = c.expect(None, 250, "2.0.0")
    qid = r.text.split()[-1]
    c.expect("QUIT", 221)
    listing = server.queue_list()
    assert qid.lower() in listing.lower(), "queue id %s not in `postie queue list`:\n%s" % (qid, listing)
    assert "friend@remote.example" in listing, listing
    assert server.mail_list(ALICE) == []


def test_unknown_local_user(server):
    c = server.raw("smtp")
    c.ehlo()
    c.expect("MAIL FROM:<sender@example.net>", 250)
    c.expect("RCPT TO:<nobody@example.org>", 550, "5.1.1")
    c.expect("QUIT", 221)


@pytest.mark.parametrize("kind", ["submission", "submissions"])
def test_submission_requires_auth(server, kind):
    c, _ = tls_session(server, kind)
    c.expect("MAIL FROM:<alice@example.org>", 530, "5.7.0")
    c.expect("RCPT TO:<bob@example.org>", 503)  # still no transaction
    c.expect("QUIT", 221)


def test_submission_mail_before_starttls_needs_auth(server):
    c = server.raw("submission")
    c.ehlo()
    c.expect("MAIL FROM:<alice@example.org>", 530, "5.7.0")


def test_no_plaintext_auth_when_never(server_factory):
    srv = server_factory(auth={"allow_plaintext": "never"})
    srv.add_user(ALICE, "alice-secret")
    c = srv.raw("submission")
    exts = c.ehlo()
    assert "AUTH" not in exts, "AUTH advertised before TLS: %r" % exts
    assert "STARTTLS" in exts
    r = c.cmd("AUTH PLAIN " + b64("\0alice@example.org\0alice-secret"))
    assert r.code // 100 == 5 and r.code in (530, 538, 503, 502, 504), r
    assert r.enhanced and r.enhanced.startswith("5."), r
    # after TLS the same credentials work
    c.expect("STARTTLS", 220)
    c.starttls()
    exts = c.ehlo()
    assert "PLAIN" in exts.get("AUTH", "").upper().split()
    c.expect("AUTH PLAIN " + b64("\0alice@example.org\0alice-secret"), 235)


def test_auth_advertised_on_loopback_plaintext(server):
    exts = server.raw("submission").ehlo()
    assert {"PLAIN", "LOGIN"} <= set(exts.get("AUTH", "").upper().split()), exts


# ----- AUTH -----------------------------------------------------------------------

def test_auth_wrong_password(server):
    c, _ = tls_session(server)
    c.expect("AUTH PLAIN " + b64("\0alice@example.org\0wrong"), 535, "5.7.8")
    c.expect("AUTH PLAIN " + b64("\0nobody@example.org\0alice-secret"), 535, "5.7.8")
    # still not authenticated
    c.expect("MAIL FROM:<alice@example.org>", 530, "5.7.0")
    # and a right password still works afterwards
    c.expect("AUTH PLAIN " + b64("\0alice@example.org\0alice-secret"), 235, "2.7.0")
    c.expect("AUTH PLAIN " + b64("\0alice@example.org\0alice-secret"), 503)  # already authenticated


def test_auth_plain_without_initial_response(server):
    c, _ = tls_session(server)
    r = c.expect("AUTH PLAIN", 334)
    assert r.lines[0].strip() == "", "PLAIN challenge must be empty: %r" % r
    c.expect(b64("\0alice@example.org\0alice-secret"), 235, "2.7.0")


def test_auth_login_prompts(server):
    c, _ = tls_session(server)
    r = c.expect("AUTH LOGIN", 334)
    # "Username:" / "Password:" with the colon: the form Cyrus SASL, Postfix and
    # Exchange send, which NeoMutt's built-in LOGIN matches literally.
    assert r.lines[0] == "VXNlcm5hbWU6", r
    r = c.expect(b64("alice@example.org"), 334)
    assert r.lines[0] == "UGFzc3dvcmQ6", r
    c.expect(b64("alice-secret"), 235, "2.7.0")


def test_auth_login_with_initial_response(server):
    c, _ = tls_session(server)
    r = c.expect("AUTH LOGIN " + b64("alice@example.org"), 334)
    assert r.lines[0] == "UGFzc3dvcmQ6", r
    c.expect(b64("alice-secret"), 235)


@pytest.mark.parametrize("mech", ["PLAIN", "LOGIN"])
def test_auth_cancel(server, mech):
    c, _ = tls_session(server)
    c.expect("AUTH " + mech, 334)
    c.expect("*", 501)
    # the session goes on, unauthenticated
    c.expect("NOOP", 250)
    c.expect("MAIL FROM:<alice@example.org>", 530)


def test_auth_login_cancel_at_password(server):
    c, _ = tls_session(server)
    c.expect("AUTH LOGIN", 334)
    c.expect(b64("alice@example.org"), 334)
    c.expect("*", 501)
    c.expect("MAIL FROM:<alice@example.org>", 530)


@pytest.mark.parametrize("line", ["AUTH PLAIN !!!not-base64!!!", "AUTH PLAIN AGFsaWNl=x="])
def test_auth_bad_base64(server, line):
    c, _ = tls_session(server)
    c.expect(line, 501)
    c.expect("NOOP", 250)


def test_auth_bad_base64_in_continuation(server):
    c, _ = tls_session(server)
    c.expect("AUTH LOGIN", 334)
    c.expect("%%%%", 501)


def test_auth_unknown_mechanism(server):
    c, _ = tls_session(server)
    c.expect("AUTH NOSUCHMECH", 504, "5.5.4")


# ----- sequence errors ---------------------------------------------------------------

def test_rcpt_before_mail(server):
    c = server.raw("smtp")
    c.ehlo()
    c.expect("RCPT TO:<%s>" % ALICE, 503, "5.5.1")


def test_data_before_rcpt(server):
    c = server.raw("smtp")
    c.ehlo()
    c.expect("DATA", 503)
    c.expect("MAIL FROM:<sender@example.net>", 250)
    c.expect("DATA", 503, "5.5.1")
    c.expect("MAIL FROM:<sender@example.net>", 503, "5.5.1")  # nested MAIL


def test_rset_clears_transaction(server):
    c = server.raw("smtp")
    c.ehlo()
    mail_rcpt(c)
    c.expect("RSET", 250, "2.0.0")
    c.expect("DATA", 503)
    c.expect("RCPT TO:<%s>" % ALICE, 503)


def test_helo_works(server):
    c = server.raw("smtp")
    r = c.expect("HELO client.test.example", 250)
    assert len(r.lines) == 1
    mail_rcpt(c)
    c.expect("DATA", 354)
    c.send("Subject: helo\r\n\r\nplain helo\r\n.\r\n")
    c.expect(None, 250)
    c.expect("QUIT", 221)
    server.wait_for_mail(ALICE, 1)


def test_unknown_command(server):
    c = server.raw("smtp")
    c.ehlo()
    r = c.expect("FROBNICATE now", 500)
    assert r.enhanced == "5.5.2" or r.enhanced == "5.5.1", r


def test_syntax_errors(server):
    c = server.raw("smtp")
    c.ehlo()
    c.expect("MAIL FROM:sender@example.net>", 501, "5.")
    r = c.cmd("MAIL FROM:<sender@example.net> NOSUCHPARAM=1")
    assert r.code in (555, 501, 504) and r.enhanced.startswith("5.5."), r
    c.expect("MAIL FROM:<sender@example.net>", 250)
    r = c.cmd("RCPT TO:<alice@>")
    assert r.code in (501, 553) and r.enhanced.startswith("5."), r
    c.expect("RCPT TO:<%s>" % ALICE, 250)


# ----- limits ---------------------------------------------------------------------------

def test_overlong_command_line(server):
    c = server.raw("smtp")
    c.ehlo()
    c.expect("NOOP " + "x" * 600, 500, "5.5.2")
    # a long line inside MAIL FROM too (local part of 600 octets)
    r = c.cmd("MAIL FROM:<%s@example.net>" % ("y" * 600))
    assert r.code == 500 and r.enhanced == "5.5.2", r


def test_overlong_data_line_rejected(server):
    c = server.raw("smtp")
    c.ehlo()
    mail_rcpt(c)
    c.expect("DATA", 354)
    c.send(b"Subject: long\r\n\r\nshort\r\n" + b"z" * 1500 + b"\r\nafter\r\n.\r\n")
    c.expect(None, 554, "5.6.0")
    c.expect("NOOP", 250)  # the session survives the rejection
    c.expect("QUIT", 221)
    marker = send_marker(server, ALICE)
    only_marker(server, ALICE, marker)


def test_line_of_exactly_1000_octets_is_fine(server):
    c = server.raw("smtp")
    c.ehlo()
    mail_rcpt(c)
    c.expect("DATA", 354)
    line = b"w" * 998  # + CRLF = 1000 octets, the RFC 5321 maximum
    msg = b"Subject: edge\r\n\r\n" + line + b"\r\n"
    c.send(msg + b".\r\n")
    c.expect(None, 250)
    rows = server.wait_for_mail(ALICE, 1)
    assert server.mail_read(ALICE, rows[0][0]).endswith(msg)


def test_too_many_recipients(server_factory):
    srv = server_factory(smtp={"max_recipients": 3})
    users = ["u%d@example.org" % i for i in range(4)]
    for u in users:
        srv.add_user(u, "pw-" + u)
    c = srv.raw("smtp")
    c.ehlo()
    c.expect("MAIL FROM:<sender@example.net>", 250)
    for u in users[:3]:
        c.expect("RCPT TO:<%s>" % u, 250)
    c.expect("RCPT TO:<%s>" % users[3], 452, "4.5.3")
    c.expect("DATA", 354)
    c.send("Subject: three\r\n\r\nto three\r\n.\r\n")
    c.expect(None, 250)
    c.expect("QUIT", 221)
    for u in users[:3]:
        srv.wait_for_mail(u, 1)
    marker = send_marker(srv, users[3])
    only_marker(srv, users[3], marker)


def test_size_parameter_too_big(server):
    c = server.raw("smtp")
    exts = c.ehlo()
    limit = int(exts["SIZE"])
    c.expect("MAIL FROM:<sender@example.net> SIZE=%d" % (limit + 1), 552, "5.3.4")
    c.expect("MAIL FROM:<sender@example.net> SIZE=%d" % limit, 250)


# ----- malformed DATA: SMTP smuggling, bare CR/LF, NUL --------------------------------

SMUGGLE_ENDINGS = {
    "bare-lf": b"\n.\n",
    "lf-crlf": b"\n.\r\n",
    "crlf-lf": b"\r\n.\n",
    "bare-cr": b"\r.\r",
    "cr-crlf": b"\r.\r\n",
}


@pytest.mark.parametrize("ending", list(SMUGGLE_ENDINGS), ids=list(SMUGGLE_ENDINGS))
def test_smtp_smuggling_rejected(server, ending):
    c = server.raw("smtp")
    c.ehlo()
    mail_rcpt(c)
    c.expect("DATA", 354)
    payload = (
        b"From: <sender@example.net>\r\nTo: <alice@example.org>\r\nSubject: innocent\r\n\r\n"
        b"hello" + SMUGGLE_ENDINGS[ending]
        + b"MAIL FROM:<evil@x.example>\r\n"
        b"RCPT TO:<alice@example.org>\r\n"
        b"DATA\r\n"
        b"From: <evil@x.example>\r\nSubject: smuggled\r\n\r\nsmuggled\r\n"
        b".\r\n"
    )
    c.send(payload)  # one write, like a relaying MTA would
    c.expect(None, 554, "5.6.0")
    # Exactly one reply: the next one must answer our HELP (214), not a
    # smuggled MAIL/RCPT/DATA. The server may also close instead.
    try:
        r = c.cmd("HELP")
    except ConnectionClosed:
        r = None
    if r is not None:
        assert r.code == 214, "extra reply after the rejection (smuggled command ran?): %r\n%s" % (
            r, c.format_transcript())
    c.close()
    marker = send_marker(server, ALICE)
    stored = only_marker(server, ALICE, marker)
    assert b"smuggled" not in stored
    assert "evil" not in server.queue_list()


def test_bare_lf_in_headers_rejected(server):
    c = server.raw("smtp")
    c.ehlo()
    mail_rcpt(c)
    c.expect("DATA", 354)
    c.send(b"Subject: lf\nX-Other: y\r\n\r\nbody\r\n.\r\n")
    c.expect(None, 554, "5.6.0")
    c.close()
    marker = send_marker(server, ALICE)
    only_marker(server, ALICE, marker)


def test_nul_byte_rejected(server):
    c = server.raw("smtp")
    c.ehlo()
    mail_rcpt(c)
    c.expect("DATA", 354)
    c.send(b"Subject: nul\r\n\r\nbefore\x00after\r\n.\r\n")
    c.expect(None, 554, "5.6.0")
    c.expect("NOOP", 250)
    c.close()
    marker = send_marker(server, ALICE)
    only_marker(server, ALICE, marker)


def test_dot_unstuffing_raw(server):
    c = server.raw("smtp")
    c.ehlo()
    mail_rcpt(c)
    c.expect("DATA", 354)
    c.send(b"Subject: dots\r\n\r\n..one\r\n...two\r\n..\r\nx.\r\n.\r\n")
    c.expect(None, 250)
    rows = server.wait_for_mail(ALICE, 1)
    stored = server.mail_read(ALICE, rows[0][0])
    assert stored.endswith(b"Subject: dots\r\n\r\n.one\r\n..two\r\n.\r\nx.\r\n"), stored


# ----- STARTTLS --------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["smtp", "submission"])
def test_starttls_injection_is_discarded(server, kind):
    c = server.raw(kind)
    c.ehlo()
    # STARTTLS with a pipelined plaintext command behind it (CVE-2011-0411).
    c.send("STARTTLS\r\nRSET\r\n")
    c.expect(None, 220)
    c.starttls()
    r = c.cmd("EHLO client.test.example")
    assert r.code == 250 and len(r.lines) > 1 and r.lines[0].startswith(HOSTNAME), (
        "first reply after TLS must answer our EHLO, not the injected RSET: %r" % r)
    c.expect("NOOP", 250)  # and nothing else is queued up


def test_starttls_inside_tls_refused(server):
    c, exts = tls_session(server, "submission")
    assert "STARTTLS" not in exts
    c.expect("STARTTLS", 503)


def test_starttls_resets_ehlo_state(server):
    c = server.raw("smtp")
    c.ehlo()
    c.expect("MAIL FROM:<sender@example.net>", 250)
    c.expect("STARTTLS", 220)
    c.starttls()
    # RFC 3207 §4.2: the session starts over; no transaction, EHLO needed again
    r = c.cmd("RCPT TO:<%s>" % ALICE)
    assert r.code == 503, r


def test_ehlo_extensions(server):
    c = server.raw("smtp")
    exts = c.ehlo()
    for kw in ("PIPELINING", "SIZE", "8BITMIME", "SMTPUTF8", "CHUNKING",
               "ENHANCEDSTATUSCODES", "STARTTLS", "HELP"):
        assert kw in exts, "%s not advertised: %r" % (kw, exts)
    c.expect("STARTTLS", 220)
    c.starttls()
    exts = c.ehlo()
    assert "STARTTLS" not in exts
    assert {"PLAIN", "LOGIN"} <= set(exts.get("AUTH", "").upper().split())


# ----- errors and the small commands -----------------------------------------------------

def test_too_many_bad_commands_closes(server_factory):
    srv = server_factory(smtp={"max_errors": 5})
    c = srv.raw("smtp")
    c.ehlo()
    for i in range(1, 30):
        r = c.cmd("BOGUS%d" % i)
        if r.code == 421:
            assert r.enhanced and r.enhanced.startswith("4."), r
            break
        assert r.code // 100 == 5, r
    else:
        pytest.fail("no 421 after 30 bad commands")
    assert i in (5, 6), "421 after %d bad commands with max_errors = 5" % i
    assert c.closed(10), "server must close the connection after 421"
    # others are still served
    srv.raw("smtp").expect("NOOP", 250)


def test_too_many_auth_failures_closes(server):
    c, _ = tls_session(server)
    for i in range(1, 10):
        r = c.auth_plain("alice@example.org", "wrong-%d" % i)
        if r.code == 421:
            break
        assert r.code == 535, r
    else:
        pytest.fail("no 421 after 9 failed AUTH attempts")
    assert i in (3, 4), "421 after %d failures with max_auth_failures = 3" % i
    assert c.closed(10)


def test_idle_timeout(server_factory):
    srv = server_factory(smtp={"command_timeout_secs": 1})
    c = srv.raw("smtp")
    c.ehlo()
    c.sock.settimeout(15)
    r = c.reply()  # no command sent: the next thing is the timeout reply
    assert r.code == 421 and r.enhanced and r.enhanced.startswith("4."), r
    assert c.closed(10)


def test_data_timeout_delivers_nothing(server_factory):
    srv = server_factory(smtp={"data_timeout_secs": 1})
    srv.add_user(ALICE, "alice-secret")
    c = srv.raw("smtp")
    c.ehlo()
    mail_rcpt(c)
    c.expect("DATA", 354)
    c.send(b"Subject: slow\r\n\r\nnever finished\r\n")
    c.sock.settimeout(15)
    r = c.reply()
    assert r.code == 421, r
    assert c.closed(10)
    marker = send_marker(srv, ALICE)
    only_marker(srv, ALICE, marker)


def test_small_commands(server):
    c = server.raw("smtp")
    c.ehlo()
    for line, code in [("NOOP", 250), ("NOOP with args", 250), ("RSET", 250),
                       ("VRFY alice@example.org", 252), ("EXPN staff", 502), ("HELP", 214)]:
        r = c.expect(line, code)
        assert r.enhanced and r.enhanced.startswith(str(code // 100) + "."), (
            "no enhanced status code: %r" % r)
    r = c.expect("QUIT", 221)
    assert r.enhanced == "2.0.0", r
    assert c.closed(10)


def test_lowercase_commands(server):
    c = server.raw("smtp")
    r = c.expect("ehlo client.test.example", 250)
    assert "PIPELINING" in parse_ehlo(r)
    c.expect("mail from:<sender@example.net>", 250)
    c.expect("rcpt to:<%s>" % ALICE, 250)
    c.expect("data", 354)
    c.send("Subject: lower\r\n\r\nlower\r\n.\r\n")
    c.expect(None, 250)
    server.wait_for_mail(ALICE, 1)


def test_pipelined_transaction(server):
    c = server.raw("smtp")
    c.ehlo()
    c.send("MAIL FROM:<sender@example.net>\r\nRCPT TO:<alice@example.org>\r\n"
           "RCPT TO:<nobody@example.org>\r\nRCPT TO:<bob@example.org>\r\nDATA\r\n")
    c.expect(None, 250)
    c.expect(None, 250)
    c.expect(None, 550, "5.1.1")
    c.expect(None, 250)
    c.expect(None, 354)
    c.send("Subject: piped\r\n\r\npiped\r\n.\r\nQUIT\r\n")
    c.expect(None, 250)
    c.expect(None, 221)
    server.wait_for_mail(ALICE, 1)
    server.wait_for_mail("bob@example.org", 1)


def test_abrupt_disconnect_mid_data(server):
    for how in ("close", "reset"):
        c = server.raw("smtp")
        c.ehlo()
        mail_rcpt(c)
        c.expect("DATA", 354)
        c.send(b"Subject: cut\r\n\r\nhalf a mess")
        c.close() if how == "close" else c.abort()
    # the server keeps serving, and delivered nothing of the cut messages
    marker = send_marker(server, ALICE)
    stored = only_marker(server, ALICE, marker)
    assert b"half a mess" not in stored


# ----- boundaries and small RFC 5321 rules --------------------------------------------------

def test_command_line_limit_boundary(server):
    """RFC 5321 §4.5.3.1.4: 512 octets including CRLF is fine, 513 is not."""
    c = server.raw("smtp")
    c.ehlo()
    c.expect("NOOP " + "x" * 505, 250)  # 5 + 505 + 2 = 512
    c.expect("NOOP " + "x" * 506, 500, "5.5.2")  # 513
    c.expect("NOOP", 250)


def test_data_line_limit_boundary(server):
    """RFC 5321 §4.5.3.1.6: 1000 octets including CRLF; 1001 is rejected."""
    c = server.raw("smtp")
    c.ehlo()
    mail_rcpt(c)
    c.expect("DATA", 354)
    c.send(b"Subject: 1001\r\n\r\n" + b"b" * 999 + b"\r\n.\r\n")
    c.expect(None, 554, "5.6.0")
    c.close()
    marker = send_marker(server, ALICE)
    only_marker(server, ALICE, marker)


def test_null_reverse_path(server):
    c = server.raw("smtp")
    c.ehlo()
    c.expect("MAIL FROM:<>", 250)
    c.expect("RCPT TO:<%s>" % ALICE, 250)
    c.expect("DATA", 354)
    c.send("Subject: bounce\r\n\r\nnull sender\r\n.\r\n")
    c.expect(None, 250)
    rows = server.wait_for_mail(ALICE, 1)
    assert server.mail_read(ALICE, rows[0][0]).startswith(b"Return-Path: <>\r\n")


def test_domain_is_case_insensitive(server):
    c = server.raw("smtp")
    c.ehlo()
    c.expect("MAIL FROM:<sender@example.net>", 250)
    c.expect("RCPT TO:<alice@EXAMPLE.Org>", 250)
    c.expect("DATA", 354)
    c.send("Subject: case\r\n\r\ncase\r\n.\r\n")
    c.expect(None, 250)
    rows = server.wait_for_mail(ALICE, 1)
    assert server.mail_read(ALICE, rows[0][0]).endswith(b"Subject: case\r\n\r\ncase\r\n")


def test_ehlo_resets_transaction(server):
    """RFC 5321 §4.1.4: EHLO in the middle of a transaction acts like RSET."""
    c = server.raw("smtp")
    c.ehlo()
    mail_rcpt(c)
    c.ehlo("again.test.example")
    c.expect("DATA", 503)
    c.expect("MAIL FROM:<sender@example.net>", 250)


def test_starttls_on_implicit_tls_listener_refused(server):
    c = server.raw("submissions")
    exts = c.ehlo()
    assert "STARTTLS" not in exts
    r = c.cmd("STARTTLS")
    assert r.code in (502, 503), r
    c.expect("NOOP", 250)


def test_empty_message_does_not_break_the_session(server):
    c = server.raw("smtp")
    c.ehlo()
    mail_rcpt(c)
    c.expect("DATA", 354)
    c.send(".\r\n")
    r = c.reply()
    assert r.code == 250 or r.code // 100 == 5, r
    c.expect("NOOP", 250)


def test_every_reply_has_an_enhanced_code(server):
    """RFC 2034: after EHLO, every 2xx/4xx/5xx reply carries an enhanced code."""
    sessions = [  # few errors per session, below the bad-command limit
        ["NOOP", "RSET", "VRFY alice@example.org", "EXPN list", "HELP", "HELP MAIL",
         "RCPT TO:<alice@example.org>", "DATA", "BDAT 0 LAST"],
        ["FOO", "MAIL FROM:<bad", "MAIL FROM:<sender@example.net> SIZE=99999999999",
         "MAIL FROM:<sender@example.net>", "MAIL FROM:<sender@example.net>"],
        ["MAIL FROM:<sender@example.net>", "RCPT TO:<nobody@example.org>",
         "RCPT TO:<x@remote.invalid>", "RCPT TO:<bad", "RCPT TO:<alice@example.org>"],
        ["AUTH PLAIN", "*", "AUTH FOO", "RSET"],
    ]
    for lines in sessions:
        c = server.raw("smtp")
        c.ehlo()
        for line in lines:
            r = c.cmd(line)
            if r.code // 100 == 3:
                continue
            assert r.enhanced is not None, "%r -> %r has no enhanced status code" % (line, r)
            assert r.enhanced[0] == str(r.code)[0], "%r -> %r: classes differ" % (line, r)
        r = c.cmd("QUIT")
        assert r.code == 221 and r.enhanced is not None, r


def test_connection_limit_per_ip(server_factory):
    srv = server_factory(smtp={"max_connections_per_ip": 3})
    held = [srv.raw("smtp") for _ in range(3)]
    for c in held:
        assert c.greeting.code == 220
    extra = srv.raw("smtp")
    assert extra.greeting.code == 421 and extra.greeting.enhanced.startswith("4."), extra.greeting
    assert extra.closed(10)
    held.pop().cmd("QUIT")

    def admitted():
        c = srv.raw("smtp")
        ok = c.greeting.code == 220
        c.close()
        return ok

    wait_until(admitted, timeout=10, message="a free connection slot after QUIT")


def test_data_one_byte_per_write(server):
    """The stream parser must not depend on how TCP cuts the data: a message
    whose every byte arrives in its own segment (TCP_NODELAY), including one
    with a smuggling attempt."""
    c = server.raw("smtp")
    c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    c.ehlo()
    wire = b"Subject: bytes\r\n\r\n..dot\r\nline\r\n..\r\n.\r\n"
    stored = b"Subject: bytes\r\n\r\n.dot\r\nline\r\n.\r\n"
    for payload, code in [(b"Subject: evil\r\n\r\nx\n.\r\nMAIL FROM:<e@x.example>\r\n.\r\n", 554),
                          (wire, 250)]:
        mail_rcpt(c)
        c.expect("DATA", 354)
        for i in range(len(payload)):
            c.send(payload[i:i + 1])
        c.expect(None, code)
    rows = server.wait_for_mail(ALICE, 1)
    assert len(rows) == 1
    assert server.mail_read(ALICE, rows[0][0]).endswith(stored)


def test_connection_slots_are_freed(server_factory):
    """Aborted sessions, failed TLS handshakes and errors must not leak the
    per-IP connection slots."""
    srv = server_factory(smtp={"max_connections_per_ip": 3})
    srv.add_user(ALICE, "alice-secret")

    def admitted(kind="smtp"):
        c = srv.raw(kind)
        ok = c.greeting.code == 220
        c.close()
        return ok

    for i in range(5):
        wait_until(admitted, timeout=10, message="a free slot (round %d)" % i)
        c = srv.raw("smtp")  # reset mid-DATA
        c.ehlo()
        mail_rcpt(c)
        c.expect("DATA", 354)
        c.send("Subject: cut\r\n\r\npartial")
        c.abort()
        with srv.netns():  # plain text to the implicit-TLS port
            s = socket.create_connection(srv.addr("submissions"), timeout=10)
        s.sendall(b"EHLO plain.example\r\n\r\n\r\n")
        s.settimeout(10)
        try:
            while s.recv(4096):
                pass
        except OSError:
            pass
        s.close()
    held = []

    def take_slot():
        c = srv.raw("smtp")
        if c.greeting.code == 220:
            held.append(c)
            return True
        c.close()
        return False

    for i in range(3):  # all three slots are free again
        wait_until(take_slot, timeout=10, message="slot %d of 3" % (i + 1))
    assert srv.mail_list(ALICE) == []


def _send_to(srv, rcpt, subject):
    c = srv.raw("smtp")
    c.ehlo()
    c.expect("MAIL FROM:<sender@example.net>", 250)
    c.expect("RCPT TO:<%s>" % rcpt, 250)
    c.expect("DATA", 354)
    c.send(b"Subject: " + subject.encode() + b"\r\n\r\nhello postmaster\r\n.\r\n")
    c.expect(None, 250)
    c.close()


def test_postmaster_alias_in_a_local_domain(server):
    """RFC 5321 §4.5.1: postmaster@<local domain>, here through an alias."""
    c = server.raw("smtp")
    c.ehlo()
    c.expect("MAIL FROM:<sender@example.net>", 250)
    # Without an alias it goes to the first account, alice (test_hostile.py); the
    # domain's own alias comes first.
    c.expect("RCPT TO:<postmaster@example.org>", 250)
    c.close()
    server.cli("alias", "add", "postmaster@example.org", "bob@example.org")
    assert {"alias": "postmaster@example.org", "target": "bob@example.org"} in json.loads(
        server.cli("alias", "list", "--json").stdout)
    _send_to(server, "PostMaster@example.org", "via alias")
    server.wait_for_mail("bob@example.org", 1)
    msg = server.mail_read("bob@example.org", server.mail_list("bob@example.org")[0][0])
    assert b"Subject: via alias" in msg
    assert b"Delivered-To: bob@example.org" in msg


def test_bare_postmaster_goes_to_the_configured_account(server_factory):
    """RFC 5321 §4.1.1.3: RCPT TO:<Postmaster> without a domain is accepted."""
    srv = server_factory(smtp={"postmaster": "alice@example.org"})
    srv.add_user("alice@example.org", "alice-secret")
    _send_to(srv, "Postmaster", "bare")
    srv.wait_for_mail("alice@example.org", 1)
    msg = srv.mail_read("alice@example.org", srv.mail_list("alice@example.org")[0][0])
    assert b"Subject: bare" in msg
