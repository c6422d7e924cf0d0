"""NeoMutt against Postie: batch sending through submission with its built-in
AUTH LOGIN (POP3's LOGIN prompts are checked byte for byte in test_pop3.py:
NeoMutt's reader needs a terminal).

NeoMutt's LOGIN (smtp.c, pop_auth.c) matches the de-facto challenges literally:
`334 VXNlcm5hbWU6` / `334 UGFzc3dvcmQ6` ("Username:" / "Password:", what Cyrus
SASL, Postfix and Exchange send). A server that prompts without the colon gets
the client out of step, and the login fails. The certificate is trusted through
`certificate_file` (the server's own self-signed one), never by skipping checks.
Runs inside the server's network namespace (Server.tool)."""

import os
import shutil

import pytest


ALICE, ALICE_PW = "alice@example.org", "alice-secret"
BOB = "bob@example.org"

pytestmark = pytest.mark.skipif(
    shutil.which("neomutt") is None, reason="neomutt missing: run scripts/install-test-deps")


def muttrc(srv, home, lines):
    """A private HOME with a muttrc that trusts only the server's certificate."""
    os.makedirs(home, exist_ok=True)
    path = os.path.join(home, "muttrc")
    cert = os.path.join(srv.data_dir, "tls", "cert.pem")
    base = [
        'set from = "%s"' % ALICE,
        'set realname = "Alice"',
        "set certificate_file = \"%s\"" % cert,
        # The generated certificate names the configured hostname; here the
        # server is reached as 127.0.0.1. Trust comes from certificate_file.
        "set ssl_verify_host = no",
        "set ssl_force_tls = yes",
        "set record = \"\"",
        "set copy = no",
        "set header_cache = \"\"",
        "set message_cachedir = \"\"",
        "set mbox_type = mbox",
        'set folder = "%s"' % os.path.join(home, "Mail"),
        'set spoolfile = "%s"' % os.path.join(home, "Mail", "inbox"),
        "set timeout = 30",
        "set connect_timeout = 30",
    ]
    with open(path, "w") as f:
        f.write("\n".join(base + lines) + "\n")
    return path


def neomutt(srv, home, rc, args, stdin=b""):
    env = dict(os.environ, HOME=home, TERM="dumb", LANG="C.UTF-8")
    env.pop("MAIL", None)
    return srv.tool(["neomutt", "-n", "-F", rc] + args, input=stdin, env=env, timeout=90)


@pytest.mark.parametrize("kind,url", [
    ("submission", "smtp"),     # STARTTLS
    ("submissions", "smtps"),   # implicit TLS
])
def test_neomutt_sends_with_auth_login(server_factory, tmp_path, kind, url):
    srv = server_factory(auth={"allow_plaintext": "never"})
    srv.add_user(ALICE, ALICE_PW)
    srv.add_user(BOB, "bob-secret")
    home = str(tmp_path / "home")
    rc = muttrc(srv, home, [
        'set smtp_url = "%s://%s@127.0.0.1:%d/"'
        % (url, ALICE.replace("@", "%40"), srv.port(kind)),
        'set smtp_pass = "%s"' % ALICE_PW,
        # Only the built-in LOGIN: the mechanism whose prompts NeoMutt matches.
        'set smtp_authenticators = "login"',
    ])
    p = neomutt(srv, home, rc, ["-s", "from neomutt via %s" % kind, "--", BOB],
                stdin=b"Sent by NeoMutt with AUTH LOGIN.\n")
    out = (p.stdout + p.stderr).decode("utf-8", "replace")
    assert p.returncode == 0, out
    rows = srv.wait_for_mail(BOB, 1, timeout=30)
    stored = srv.mail_read(BOB, rows[0][0])
    assert b"Subject: from neomutt via " + kind.encode() in stored, stored
    assert b"Sent by NeoMutt with AUTH LOGIN." in stored
    # smtp_authenticators = "login" leaves NeoMutt no other mechanism: had the
    # LOGIN exchange failed, it would not have sent.
    assert "authenticated" in srv.log_text()


def test_neomutt_wrong_password_is_refused(server_factory, tmp_path):
    srv = server_factory(auth={"allow_plaintext": "never"})
    srv.add_user(ALICE, ALICE_PW)
    srv.add_user(BOB, "bob-secret")
    home = str(tmp_path / "home")
    rc = muttrc(srv, home, [
        'set smtp_url = "smtp://%s@127.0.0.1:%d/"'
        % (ALICE.replace("@", "%40"), srv.port("submission")),
        'set smtp_pass = "not-the-password"',
        'set smtp_authenticators = "login"',
    ])
    p = neomutt(srv, home, rc, ["-s", "nope", "--", BOB], stdin=b"x\n")
    assert p.returncode != 0
    assert srv.mail_list(BOB) == []
