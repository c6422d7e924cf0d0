"""App passwords (`postie user app-password add|list|revoke`), end to end: the CLI
prints a new password once, alone on its last line; it logs in over SMTP (smtplib),
POP3 (poplib) and IMAP (imaplib); `list` shows its last use; revoking it makes every
login with it fail; with `auth.account_password = "web-only"` the account password
no longer works for mail clients, but app passwords do (docs/security.md).
"""

import imaplib
import json
import poplib
import re
import smtplib

import pytest

from harness import IMAP_LISTEN, POP3_LISTEN

ALICE = "alice@example.org"
ACCOUNT_PASSWORD = "alice-secret"
FORM = re.compile(r"^postie-[a-z2-7]{8}-[a-z2-7]{24}$")
LISTEN = dict(POP3_LISTEN, **IMAP_LISTEN)


def start(server_factory, **auth):
    # Short waits after failed logins: these tests fail on purpose now and then.
    auth = dict({"failure_delay_ms": 50, "max_failure_delay_ms": 200}, **auth)
    srv = server_factory(listen=LISTEN, auth=auth)
    srv.add_user(ALICE, ACCOUNT_PASSWORD)
    return srv


def add(srv, name):
    out = srv.cli("user", "app-password", "add", ALICE, "--name", name).stdout
    lines = out.splitlines()
    assert FORM.match(lines[-1]), "the password alone on the last line: %r" % out
    assert name in out
    return lines[-1]


def listing(srv):
    """{name: (created, last used or "never")} from `app-password list --json`."""
    items = json.loads(srv.cli("user", "app-password", "list", ALICE, "--json").stdout)
    return {p["name"]: (p["created"], p["last_used"] or "never") for p in items}


def smtp_ok(srv, password):
    s = srv.smtp("submission")
    try:
        s.ehlo()
        s.login(ALICE, password)
        return True
    except smtplib.SMTPAuthenticationError as e:
        assert e.smtp_code == 535, e
        return False
    finally:
        s.close()


def pop3_ok(srv, password):
    p = srv.pop3()
    try:
        p.user(ALICE)
        p.pass_(password)
        p.quit()
        return True
    except poplib.error_proto as e:
        assert e.args[0].startswith(b"-ERR [AUTH]"), e
        return False


def imap_ok(srv, password):
    m = srv.imap()
    try:
        m.login(ALICE, password)
        m.logout()
        return True
    except imaplib.IMAP4.error as e:
        assert "[AUTHENTICATIONFAILED]" in str(e), e
        m.logout()
        return False


def test_add_use_list_revoke(server_factory):
    srv = start(server_factory)
    phone = add(srv, "phone")
    laptop = add(srv, "laptop")
    assert phone != laptop
    rows = listing(srv)
    assert sorted(rows) == ["laptop", "phone"]
    assert rows["phone"][1] == "never"
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", rows["phone"][0]), rows

    # The app password works in every protocol, and so does the account password.
    assert smtp_ok(srv, phone)
    assert pop3_ok(srv, phone)
    assert imap_ok(srv, phone)
    assert imap_ok(srv, ACCOUNT_PASSWORD)
    rows = listing(srv)
    assert rows["phone"][1] != "never", "last use recorded: %r" % rows
    assert rows["laptop"][1] == "never"

    # A near miss (right id, wrong secret) is a wrong password.
    forged = phone[:-1] + ("a" if phone[-1] != "a" else "b")
    assert not smtp_ok(srv, forged)

    p = srv.cli("user", "app-password", "revoke", ALICE, "--name", "phone")
    assert "revoked" in p.stdout
    assert not smtp_ok(srv, phone)
    assert not pop3_ok(srv, phone)
    assert not imap_ok(srv, phone)
    assert smtp_ok(srv, laptop), "the other one still works"
    assert sorted(listing(srv)) == ["laptop"]


def test_web_only_account_password(server_factory):
    srv = start(server_factory, account_password="web-only")
    phone = add(srv, "phone")
    # The account password is for the web page only: mail clients are refused it.
    assert not imap_ok(srv, ACCOUNT_PASSWORD)
    assert not smtp_ok(srv, ACCOUNT_PASSWORD)
    assert not pop3_ok(srv, ACCOUNT_PASSWORD)
    assert imap_ok(srv, phone)
    assert smtp_ok(srv, phone)
    assert pop3_ok(srv, phone)
    assert "the account password is for the web page only" in srv.log_text()


@pytest.mark.parametrize(
    "args, error",
    [
        (["add", ALICE, "--name", "phone"], "already has an app password named"),
        (["add", "nobody@example.org", "--name", "x"], "no account"),
        (["add", ALICE, "--name", ""], "not a usable name"),
        (["revoke", ALICE, "--name", "tablet"], "has no app password named"),
        (["list", "not-an-address"], "not a valid address"),
    ],
)
def test_cli_errors(server_factory, args, error):
    srv = start(server_factory)
    add(srv, "phone")
    p = srv.cli("user", "app-password", *args, check=False)
    assert p.returncode != 0 and error in p.stderr, (p.stdout, p.stderr)
