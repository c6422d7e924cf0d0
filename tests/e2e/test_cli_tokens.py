"""Administrators and API tokens from the CLI, end to end, against a running
server's data dir: `user add --admin --display-name` and `user list` showing both
(table and --json), `user admin ADDR off`, `user display-name` setting and
clearing, and `token create|list|revoke`: the token is printed once, alone on
standard output, and never appears in `token list` (table or --json)."""

import json
import re

ALICE = "alice@example.org"
BOB = "bob@example.org"
TOKEN = re.compile(r"^postie_tok_[a-z2-7]{8}_[a-z2-7]{32}$")
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def users(srv):
    return {u["address"]: u for u in json.loads(srv.cli("user", "list", "--json").stdout)}


def test_admin_flag_and_display_name(server_factory):
    srv = server_factory()
    srv.add_domain("example.org")
    out = srv.cli("user", "add", ALICE, "--password-stdin", "--admin",
                  "--display-name", "Alice Liddell", input="pw\n").stdout
    assert out == "added user %s\n" % ALICE, out
    srv.add_user(BOB, "pw")

    listed = users(srv)
    assert listed[ALICE] == {"address": ALICE, "storage_limit": None, "messages_limit": None,
                             "admin": True, "display_name": "Alice Liddell"}, listed
    assert listed[BOB]["admin"] is False and listed[BOB]["display_name"] is None, listed

    lines = srv.cli("user", "list").stdout.splitlines()
    assert lines[0].split() == ["ADDRESS", "STORAGE", "LIMIT", "MESSAGE", "LIMIT",
                                "ADMIN", "DISPLAY", "NAME"], lines
    (alice,) = [l for l in lines if l.startswith(ALICE)]
    assert alice.split() == [ALICE, "unlimited", "unlimited", "yes", "Alice", "Liddell"], alice
    (bob,) = [l for l in lines if l.startswith(BOB)]
    assert bob.split() == [BOB, "unlimited", "unlimited", "no"], bob

    srv.cli("user", "admin", ALICE, "off")
    assert users(srv)[ALICE]["admin"] is False
    srv.cli("user", "admin", BOB, "on")
    assert users(srv)[BOB]["admin"] is True

    srv.cli("user", "display-name", BOB, "Robert")
    assert users(srv)[BOB]["display_name"] == "Robert"
    srv.cli("user", "display-name", ALICE)
    assert users(srv)[ALICE]["display_name"] is None

    # Unknown accounts, a bad state word, a non-local domain: refused, nothing made.
    for argv in [("user", "admin", "nobody@example.org", "on"),
                 ("user", "admin", ALICE, "maybe"),
                 ("user", "display-name", "nobody@example.org", "X")]:
        p = srv.cli(*argv, check=False)
        assert p.returncode != 0, argv
    p = srv.cli("user", "add", "carol@elsewhere.example", "--password-stdin", "--admin",
                input="pw\n", check=False)
    assert p.returncode == 1 and "not a local domain" in p.stderr, p.stderr
    assert set(users(srv)) == {ALICE, BOB}


def test_token_create_list_revoke(server_factory):
    srv = server_factory()
    assert srv.cli("token", "list").stdout.startswith("no API tokens"), "none yet"
    assert json.loads(srv.cli("token", "list", "--json").stdout) == []

    p = srv.cli("token", "create", "--name", "ci")
    token = p.stdout.strip()
    assert p.stdout == token + "\n", "the token alone on stdout: %r" % p.stdout
    assert TOKEN.match(token), token
    assert "only this once" in p.stderr, p.stderr

    again = srv.cli("token", "create", "--name", "ci", check=False)
    assert again.returncode == 1 and "already a token named" in again.stderr, again.stderr
    bad = srv.cli("token", "create", "--name", "no spaces", check=False)
    assert bad.returncode == 1 and "not a usable token name" in bad.stderr, bad.stderr
    srv.cli("token", "create", "--name", "backup")

    table = srv.cli("token", "list").stdout
    raw = srv.cli("token", "list", "--json").stdout
    secret = token.rsplit("_", 1)[1]
    for text in (table, raw):
        assert token not in text and secret not in text, text
    lines = table.splitlines()
    assert lines[0].split() == ["NAME", "CREATED", "LAST", "USED"], lines
    assert [l.split()[0] for l in lines[1:]] == ["backup", "ci"], lines
    assert all(l.endswith("never") for l in lines[1:]), lines
    items = json.loads(raw)
    assert [t["name"] for t in items] == ["backup", "ci"], items
    for t in items:
        assert set(t) == {"name", "created", "last_used"}, t
        assert RFC3339.match(t["created"]) and t["last_used"] is None, t

    assert srv.cli("token", "revoke", "ci").stdout == 'revoked API token "ci"\n'
    assert [t["name"] for t in json.loads(srv.cli("token", "list", "--json").stdout)] == ["backup"]
    gone = srv.cli("token", "revoke", "ci", check=False)
    assert gone.returncode == 1 and 'no token named "ci"' in gone.stderr, gone.stderr
