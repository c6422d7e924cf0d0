"""Limits against abuse, end to end (docs/security.md):

- a brute-force login loop is slowed (a growing wait before each check) and then
  refused (SMTP 454 4.7.0, POP3 -ERR [SYS/TEMP], IMAP NO [UNAVAILABLE]) even with the
  right password, while a user at another address logs in at once;
- guesses spread over many addresses lock the account for strangers, not for the
  address its owner logs in from;
- a user over the hourly message or recipient limit gets 451 4.7.1 and nothing is
  lost (the earlier messages are delivered, the refused one was never taken);
  unauthenticated clients have a per-address limit;
- the sender check: an authenticated user may use only their own addresses (or
  aliases of theirs) in MAIL FROM and From:, else 550 5.7.1 naming the address.

Other client addresses are 127.0.0.x: every one of them works on the loopback
interface of the server's network namespace.
"""

import imaplib
import poplib
import smtplib
import socket
import time

from harness import IMAP_LISTEN, POP3_LISTEN, wait_until
from smtpraw import RawSMTP

ALICE, BOB, CAROL = "alice@example.org", "bob@example.org", "carol@example.org"
PASSWORDS = {ALICE: "alice-secret", BOB: "bob-secret", CAROL: "carol-secret"}

# Small numbers, so the tests run in seconds: the first wait is 0.3 s, doubling.
DELAY = 0.3
THROTTLE = {
    "failure_delay_ms": int(DELAY * 1000),
    "max_failure_delay_ms": 2000,
    "failure_window_secs": 600,
    "lockout_secs": 600,
}


def start(server_factory, auth=None, smtp=None, listen=None):
    srv = server_factory(auth=dict(THROTTLE, **(auth or {})), smtp=smtp or {}, listen=listen or {})
    for user, password in PASSWORDS.items():
        srv.add_user(user, password)
    return srv


def connect_from(srv, kind, source, timeout=30):
    """A TCP connection to the KIND listener from the client address SOURCE."""
    with srv.netns():
        return socket.create_connection(srv.addr(kind), timeout=timeout, source_address=(source, 0))


def raw_from(srv, source, kind="submission"):
    """A RawSMTP session to KIND from the client address SOURCE."""
    return RawSMTP(connect_from(srv, kind, source), timeout=30)


def smtp_login(srv, source, user, password):
    """AUTH PLAIN from SOURCE on a fresh connection: (reply, seconds it took)."""
    c = raw_from(srv, source)
    try:
        c.ehlo()
        started = time.monotonic()
        reply = c.auth_plain(user, password)
        return reply, time.monotonic() - started
    finally:
        c.close()


def pop3_from(srv, source):
    """A poplib client whose connection comes from SOURCE."""

    class FromSource(poplib.POP3):
        def _create_socket(self, timeout):
            return connect_from(srv, "pop3", source, timeout)

    host, port = srv.addr("pop3")
    return FromSource(host, port, timeout=30)


def imap_from(srv, source):
    """An imaplib client whose connection comes from SOURCE."""

    class FromSource(imaplib.IMAP4):
        def _create_socket(self, timeout):
            return connect_from(srv, "imap", source, timeout)

    host, port = srv.addr("imap")
    return FromSource(host, port, timeout=30)


def test_brute_force_is_slowed_then_refused_while_another_address_logs_in(server_factory):
    srv = start(
        server_factory,
        auth={"max_failures_per_ip": 4, "max_failures_per_account": 100},
        listen=dict(POP3_LISTEN, **IMAP_LISTEN),
    )
    attacker = "127.0.0.2"
    waits = []
    for guess in range(4):
        reply, took = smtp_login(srv, attacker, ALICE, "guess-%d" % guess)
        assert reply.code == 535 and reply.enhanced == "5.7.8", reply
        waits.append(took)
    # Before the n-th check the attacker waits DELAY * 2^(n-2): 0, 0.3, 0.6, 1.2 s.
    for n, took in enumerate(waits[1:], start=1):
        assert took >= DELAY * 2 ** (n - 1) * 0.9, ("not slowed", waits)

    # Four failures: the address is locked, even with the right password.
    reply, took = smtp_login(srv, attacker, ALICE, PASSWORDS[ALICE])
    assert reply.code == 454 and reply.enhanced == "4.7.0", reply
    assert took < 1.0, "a refusal costs no wait and no password check"

    # The same lockout holds in POP3 and IMAP (one throttle for every protocol).
    p = pop3_from(srv, attacker)
    p.user(ALICE)
    try:
        p.pass_(PASSWORDS[ALICE])
        raise AssertionError("POP3 login from a locked-out address succeeded")
    except poplib.error_proto as e:
        assert e.args[0].startswith(b"-ERR [SYS/TEMP]"), e
    p.quit()
    m = imap_from(srv, attacker)
    try:
        m.login(ALICE, PASSWORDS[ALICE])
        raise AssertionError("IMAP login from a locked-out address succeeded")
    except imaplib.IMAP4.error as e:
        assert "[UNAVAILABLE]" in str(e), e
    m.logout()

    # Somebody else, elsewhere, logs in at once: SMTP, POP3 and IMAP.
    reply, took = smtp_login(srv, "127.0.0.3", BOB, PASSWORDS[BOB])
    assert reply.code == 235, reply
    assert took < DELAY, "no wait for an address without failures (%.2fs)" % took
    p = pop3_from(srv, "127.0.0.3")
    p.user(BOB)
    assert p.pass_(PASSWORDS[BOB]).startswith(b"+OK")
    p.quit()
    m = imap_from(srv, "127.0.0.3")
    assert m.login(BOB, PASSWORDS[BOB])[0] == "OK"
    m.logout()
    # And so does alice, from her own address: the attack was on the attacker's record.
    reply, _ = smtp_login(srv, "127.0.0.4", ALICE, PASSWORDS[ALICE])
    assert reply.code == 235, reply
    assert "locked out after repeated failed logins" in srv.log_text()


def test_guesses_from_many_addresses_lock_the_account_for_strangers_only(server_factory):
    srv = start(server_factory, auth={"max_failures_per_ip": 10, "max_failures_per_account": 3},
                listen=IMAP_LISTEN)
    home = "127.0.0.1"
    reply, _ = smtp_login(srv, home, ALICE, PASSWORDS[ALICE])
    assert reply.code == 235, reply

    # One guess each from three addresses: no address is locked, the account is.
    for n, source in enumerate(["127.0.0.11", "127.0.0.12", "127.0.0.13"]):
        reply, took = smtp_login(srv, source, ALICE, "guess")
        assert reply.code == 535, reply
        if n > 0:
            # Failures against the account slow strangers down too.
            assert took >= DELAY * 0.9, took
    reply, _ = smtp_login(srv, "127.0.0.14", ALICE, PASSWORDS[ALICE])
    assert reply.code == 454 and reply.enhanced == "4.7.0", reply
    m = imap_from(srv, "127.0.0.14")
    try:
        m.login(ALICE, PASSWORDS[ALICE])
        raise AssertionError("IMAP login to a locked account from a stranger succeeded")
    except imaplib.IMAP4.error as e:
        assert "[UNAVAILABLE]" in str(e), e
    m.logout()

    # The owner's usual address is not locked out by somebody else's guesses, and
    # has no wait either.
    reply, took = smtp_login(srv, home, ALICE, PASSWORDS[ALICE])
    assert reply.code == 235, reply
    assert took < DELAY, took
    m = imap_from(srv, home)
    assert m.login(ALICE, PASSWORDS[ALICE])[0] == "OK"
    m.logout()
    # Other accounts are untouched, from the very address alice is locked out at.
    reply, _ = smtp_login(srv, "127.0.0.14", BOB, PASSWORDS[BOB])
    assert reply.code == 235, reply


def submit(srv, user, rcpts, subject):
    """Logs in as USER and sends one message; returns the smtplib refusal, or None."""
    s = srv.smtp("submission")
    try:
        s.ehlo()
        s.login(user, PASSWORDS[user])
        body = "From: <%s>\r\nSubject: %s\r\n\r\n%s\r\n" % (user, subject, subject)
        try:
            s.sendmail(user, rcpts, body.encode())
        except (smtplib.SMTPSenderRefused, smtplib.SMTPRecipientsRefused) as e:
            return e
        s.quit()
        return None
    finally:
        s.close()


def subjects(srv, user):
    return [m.split(b"Subject: ", 1)[1].split(b"\r\n", 1)[0].decode() for m in srv.mailbox(user)]


def test_hourly_message_limit_is_a_temporary_refusal_and_nothing_is_lost(server_factory):
    srv = start(server_factory, smtp={
        "max_messages_per_hour_per_user": 2,
        "max_messages_per_hour_per_ip": 1,
    })
    assert submit(srv, ALICE, [BOB], "one") is None
    assert submit(srv, ALICE, [BOB], "two") is None
    refused = submit(srv, ALICE, [BOB], "three")
    assert isinstance(refused, smtplib.SMTPSenderRefused), refused
    assert refused.smtp_code == 451 and refused.smtp_error.startswith(b"4.7.1"), refused
    # Another user has a count of their own.
    assert submit(srv, CAROL, [BOB], "carol") is None
    wait_until(lambda: len(srv.mail_list(BOB)) >= 3, message="three messages for bob")
    assert sorted(subjects(srv, BOB)) == ["carol", "one", "two"], "exactly the accepted ones"
    assert "hourly message limit" in srv.log_text()

    # Unauthenticated mail from other servers is limited per address (counted at MAIL,
    # so no message need be finished here), separately from the users on that address.
    c = raw_from(srv, "127.0.0.1", kind="smtp")
    c.ehlo()
    c.expect("MAIL FROM:<x@remote.example>", 250)
    c.expect("RCPT TO:<%s>" % BOB, 250)
    c.expect("RSET", 250)
    c.expect("MAIL FROM:<x@remote.example>", 451, "4.7.1")
    c.expect("QUIT", 221)
    c.close()


def test_hourly_recipient_limit_refuses_the_rcpt_over_it(server_factory):
    srv = start(server_factory, smtp={"max_recipients_per_hour_per_user": 2})
    c = authed(srv)
    c.expect("MAIL FROM:<%s>" % ALICE, 250)
    c.expect("RCPT TO:<%s>" % BOB, 250)
    c.expect("RCPT TO:<%s>" % CAROL, 250)
    c.expect("RCPT TO:<%s>" % ALICE, 451, "4.7.1")
    c.expect("DATA", 354)
    c.send("From: <%s>\r\nSubject: two of three\r\n\r\nhi\r\n.\r\n" % ALICE)
    c.expect(None, 250)
    c.expect("QUIT", 221)
    c.close()
    srv.wait_for_mail(BOB, 1)
    srv.wait_for_mail(CAROL, 1)
    assert srv.mail_list(ALICE) == [], "the refused recipient got nothing"


def authed(srv, user=ALICE):
    """A RawSMTP submission session authenticated as USER."""
    c = raw_from(srv, "127.0.0.1")
    c.ehlo()
    reply = c.auth_plain(user, PASSWORDS[user])
    assert reply.code == 235, reply
    return c


def test_sender_check_at_mail_from_and_from_header(server_factory):
    srv = start(server_factory)
    srv.cli("alias", "add", "sales@example.org", ALICE)
    c = authed(srv)
    r = c.expect("MAIL FROM:<%s>" % BOB, 550, "5.7.1")
    assert "<bob@example.org>" in r.text, r
    c.expect("MAIL FROM:<someone@remote.example>", 550, "5.7.1")
    # Own addresses: the account (any case) and aliases pointing to it.
    for own in ["ALICE@Example.ORG", "sales@example.org"]:
        c.expect("MAIL FROM:<%s>" % own, 250)
        c.expect("RSET", 250)
    # A From: that is somebody else's is refused at the end of DATA; nothing is queued.
    c.expect("MAIL FROM:<%s>" % ALICE, 250)
    c.expect("RCPT TO:<%s>" % CAROL, 250)
    c.expect("DATA", 354)
    c.send("From: Alice <alice@example.org>, Bob <bob@example.org>\r\nSubject: forged\r\n\r\nx\r\n.\r\n")
    r = c.expect(None, 550, "5.7.1")
    assert "<bob@example.org>" in r.text, r
    # The null sender is allowed; the From: is still checked, and an alias passes.
    c.expect("MAIL FROM:<>", 250)
    c.expect("RCPT TO:<%s>" % CAROL, 250)
    c.expect("DATA", 354)
    c.send("From: Sales <sales@example.org>\r\nSubject: from the alias\r\n\r\nx\r\n.\r\n")
    c.expect(None, 250)
    c.expect("QUIT", 221)
    c.close()
    srv.wait_for_mail(CAROL, 1)
    assert subjects(srv, CAROL) == ["from the alias"], "the forged message was not delivered"
    assert "From is not the user's address" in srv.log_text()


def test_sender_check_can_be_turned_off(server_factory):
    srv = start(server_factory, smtp={"sender_check": False})
    c = authed(srv)
    c.expect("MAIL FROM:<%s>" % BOB, 250)
    c.expect("RCPT TO:<%s>" % CAROL, 250)
    c.expect("DATA", 354)
    c.send("From: <bob@example.org>\r\nSubject: as bob\r\n\r\nx\r\n.\r\n")
    c.expect(None, 250)
    c.close()
    srv.wait_for_mail(CAROL, 1)
