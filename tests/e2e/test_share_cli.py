"""`postie share add|remove|list`: sharing a mailbox with another account or
with `anyone` from the admin CLI (the IMAP ACL of RFC 4314 underneath; what the
grantee then sees over IMAP is in test_imap_acl.py). The table and its empty
line, `--json` with the fields docs/cli.md documents, the +/- rights modifiers,
and a one-line error with exit status 1 for each mistake, storing nothing."""

import json

import pytest

ALICE = "alice@example.org"
BOB = "bob@example.org"
CAROL = "carol@example.org"
FIELDS = {"owner", "mailbox", "grantee", "rights"}


@pytest.fixture
def srv(server_factory):
    """Alice, bob and carol, no server running: the CLI works on the data directory."""
    srv = server_factory(start=False)
    for who in (ALICE, BOB, CAROL):
        srv.add_user(who, "pw")
    return srv


def shares(srv, *owner):
    """[(owner, mailbox, grantee, rights)] from `share list --json`."""
    rows = json.loads(srv.cli("share", "list", *owner, "--json").stdout)
    for row in rows:
        assert set(row) == FIELDS, row
    return [(r["owner"], r["mailbox"], r["grantee"], r["rights"]) for r in rows]


def fails(srv, *argv):
    """Runs a command that must fail; returns its one-line error."""
    p = srv.cli(*argv, check=False)
    assert p.returncode == 1, (argv, p.returncode, p.stdout, p.stderr)
    assert p.stdout == "", p.stdout
    assert p.stderr.startswith("postie: ") and p.stderr.count("\n") == 1, p.stderr
    return p.stderr


def test_empty_list_says_so(srv):
    p = srv.cli("share", "list")
    assert p.stdout.startswith("no shared mailboxes"), p.stdout
    assert "postie share add" in p.stdout, p.stdout
    assert len(p.stdout.splitlines()) == 1, p.stdout
    assert srv.cli("share", "list", ALICE).stdout == "no mailboxes of %s are shared\n" % ALICE
    assert json.loads(srv.cli("share", "list", "--json").stdout) == []
    assert json.loads(srv.cli("share", "list", ALICE, "--json").stdout) == []


def test_add_list_remove(srv):
    out = srv.cli("share", "add", ALICE, "INBOX", "--with", BOB).stdout
    assert out == ('shared "INBOX" of %s with %s: lrswipte (%s sees it over IMAP as '
                   '"Other Users/%s/INBOX")\n' % (ALICE, BOB, BOB, ALICE)), out
    out = srv.cli("share", "add", ALICE, "Sent", "--with", "anyone", "--rights", "rl").stdout
    assert '"Shared/%s/Sent"' % ALICE in out, out
    srv.cli("share", "add", BOB, "Drafts", "--with", ALICE, "--rights", "lr")

    lines = srv.cli("share", "list").stdout.splitlines()
    assert lines[0].split() == ["OWNER", "MAILBOX", "GRANTEE", "RIGHTS"], lines
    assert [l.split() for l in lines[1:]] == [
        [ALICE, "INBOX", BOB, "lrswipte"],
        [ALICE, "Sent", "anyone", "lr"],  # normalised to RFC 4314 order
        [BOB, "Drafts", ALICE, "lr"],
    ], lines
    assert shares(srv) == [
        (ALICE, "INBOX", BOB, "lrswipte"),
        (ALICE, "Sent", "anyone", "lr"),
        (BOB, "Drafts", ALICE, "lr"),
    ]
    assert shares(srv, BOB) == [(BOB, "Drafts", ALICE, "lr")]

    # Adding again replaces the rights; the address is matched case-insensitively.
    srv.cli("share", "add", ALICE, "INBOX", "--with", "Bob@Example.org", "--rights", "lr")
    assert shares(srv, ALICE)[0] == (ALICE, "INBOX", BOB, "lr")

    out = srv.cli("share", "remove", ALICE, "INBOX", "--with", BOB).stdout
    assert out == 'stopped sharing "INBOX" of %s with %s\n' % (ALICE, BOB), out
    srv.cli("share", "remove", ALICE, "Sent", "--with", "anyone")
    assert shares(srv, ALICE) == []
    assert shares(srv) == [(BOB, "Drafts", ALICE, "lr")]


def test_rights_modifiers(srv):
    srv.cli("share", "add", ALICE, "INBOX", "--with", BOB)
    srv.cli("share", "add", ALICE, "INBOX", "--with", BOB, "--rights", "-wt")
    assert shares(srv) == [(ALICE, "INBOX", BOB, "lrsipe")]
    srv.cli("share", "add", ALICE, "INBOX", "--with", BOB, "--rights=+ak")
    assert shares(srv) == [(ALICE, "INBOX", BOB, "lrsipkea")]
    # The obsolete c (kx) and d (te) of RFC 2086.
    srv.cli("share", "add", ALICE, "INBOX", "--with", BOB, "--rights", "lrcd")
    assert shares(srv) == [(ALICE, "INBOX", BOB, "lrkxte")]
    # + on a grantee without an entry starts from nothing.
    srv.cli("share", "add", ALICE, "INBOX", "--with", CAROL, "--rights", "+l")
    assert shares(srv)[1] == (ALICE, "INBOX", CAROL, "l")
    # Taking every right away takes the share away.
    out = srv.cli("share", "add", ALICE, "INBOX", "--with", CAROL, "--rights", "-l").stdout
    assert "stopped sharing" in out and "no rights left" in out, out
    assert shares(srv) == [(ALICE, "INBOX", BOB, "lrkxte")]


def test_errors_are_one_line_and_store_nothing(srv):
    srv.cli("share", "add", ALICE, "INBOX", "--with", BOB, "--rights", "lr")
    cases = [
        (("share", "add", "nobody@example.org", "INBOX", "--with", BOB),
         "no account nobody@example.org"),
        (("share", "add", ALICE, "Nowhere", "--with", BOB),
         'has no mailbox "Nowhere"'),
        (("share", "add", ALICE, "INBOX", "--with", "nobody@example.org"),
         "no account nobody@example.org"),
        (("share", "add", ALICE, "INBOX", "--with", ALICE),
         "the owner always has every right"),
        (("share", "add", ALICE, "INBOX", "--with", BOB, "--rights", "lrz"),
         "unknown right 'z'"),
        (("share", "add", ALICE, "INBOX", "--with", BOB, "--rights", "+q"),
         "unknown right 'q'"),
        (("share", "add", ALICE, "INBOX", "--with", BOB, "--rights", ""),
         "no rights given"),
        (("share", "add", ALICE, "INBOX", "--with", "not-an-address"),
         "is not a valid address"),
        (("share", "remove", ALICE, "INBOX", "--with", CAROL),
         "is not shared with %s" % CAROL),
        (("share", "remove", ALICE, "INBOX", "--with", "anyone"),
         "is not shared with anyone"),
        (("share", "remove", ALICE, "Nowhere", "--with", BOB),
         'has no mailbox "Nowhere"'),
        (("share", "list", "nobody@example.org"),
         "no account nobody@example.org"),
    ]
    for argv, words in cases:
        err = fails(srv, *argv)
        assert words in err, (argv, err)
    assert shares(srv) == [(ALICE, "INBOX", BOB, "lr")], "nothing changed"


def test_user_removal_takes_its_shares(srv):
    srv.cli("share", "add", ALICE, "INBOX", "--with", BOB)
    srv.cli("share", "add", ALICE, "INBOX", "--with", CAROL)
    srv.cli("share", "add", BOB, "INBOX", "--with", ALICE)
    srv.cli("user", "del", BOB)
    assert shares(srv) == [(ALICE, "INBOX", CAROL, "lrswipte")]


def test_help_names_the_imap_folders(srv):
    out = srv.cli("share", "add", "--help").stdout
    assert "Other Users/OWNER/MAILBOX" in out, out
    assert "Shared/OWNER/MAILBOX" in out, out
    assert "lrswipte" in out, "the default rights are shown"
