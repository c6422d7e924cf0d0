"""What the admin CLI prints: every list command's header row and its empty
line, the `--json` of each (field names as docs/cli.md documents them), the
help texts, and the message when a password is asked for without a terminal."""

import json
import re
import subprocess

ALICE = "alice@example.org"
REMOTE = "friend@remote.example"

# The field names docs/cli.md promises, per command.
FIELDS = {
    ("domain", "list"): {"domain", "users", "aliases"},
    ("user", "list"): {"address", "storage_limit", "messages_limit", "admin", "display_name"},
    ("alias", "list"): {"alias", "target"},
    ("mail", "list"): {"uid", "size", "queue_id", "received", "from", "subject"},
    ("queue", "list"): {"id", "sender", "queued_at", "size", "held", "attempts",
                        "next_attempt", "last_error", "recipients"},
    ("user", "app-password", "list"): {"name", "created", "last_used"},
    ("dkim", "list"): {"domain", "selector", "algorithm", "record_name", "record"},
}
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def listing(srv, *argv):
    """(header words, data lines) of a list command's table output."""
    out = srv.cli(*argv).stdout
    lines = out.splitlines()
    assert lines, "%s printed nothing" % " ".join(argv)
    return lines[0].split(), lines[1:]


def as_json(srv, *argv):
    p = srv.cli(*argv, "--json")
    value = json.loads(p.stdout)
    return value


def test_empty_lists_say_so(server_factory):
    srv = server_factory()
    empty = {
        ("domain", "list"): "no domains",
        ("user", "list"): "no users",
        ("alias", "list"): "no aliases",
        ("queue", "list"): "queue is empty",
        ("dkim", "list"): "no DKIM keys",
    }
    for argv, words in empty.items():
        p = srv.cli(*argv)
        assert p.stdout.startswith(words), (argv, p.stdout)
        assert len(p.stdout.splitlines()) == 1, (argv, p.stdout)
        assert json.loads(srv.cli(*argv, "--json").stdout) == [], argv
    # A hint names the command that adds one.
    assert "postie domain add" in srv.cli("domain", "list").stdout
    assert "postie user add" in srv.cli("user", "list").stdout
    srv.add_user(ALICE, "pw")
    p = srv.cli("mail", "list", ALICE)
    assert p.stdout == 'no messages in "INBOX" of %s\n' % ALICE, p.stdout
    assert json.loads(srv.cli("mail", "list", ALICE, "--json").stdout) == []
    p = srv.cli("user", "app-password", "list", ALICE)
    assert p.stdout.startswith("no app passwords for %s" % ALICE), p.stdout
    assert json.loads(srv.cli("user", "app-password", "list", ALICE, "--json").stdout) == []


def deliver(srv, subject):
    c = srv.raw("smtp")
    c.ehlo()
    c.expect("MAIL FROM:<sender@example.net>", 250)
    c.expect("RCPT TO:<%s>" % ALICE, 250)
    c.expect("DATA", 354)
    c.send(("From: Sender <sender@example.net>\r\nSubject: %s\r\n\r\nbody\r\n.\r\n"
            % subject).encode())
    reply = c.expect(None, 250, "2.0.0")
    c.expect("QUIT", 221)
    return reply.text.split()[-1]


def queue_remote(srv):
    """Queues a message for a remote domain with `postie sendmail`; the harness's DNS
    points at nothing, so it is deferred and stays queued."""
    p = subprocess.run(
        [srv.bin, "sendmail", "--config", srv.config_path, "-f", ALICE, REMOTE],
        input=b"Subject: out\n\nbye\n", capture_output=True, timeout=60)
    assert p.returncode == 0, p.stderr


def test_every_list_has_a_header_and_json_that_matches(server_factory):
    srv = server_factory()
    srv.add_user(ALICE, "pw")
    srv.add_domain("example.net")
    srv.cli("alias", "add", "postmaster@example.org", ALICE)
    srv.cli("user", "quota", ALICE, "--storage", "1G")
    srv.cli("user", "app-password", "add", ALICE, "--name", "phone")
    srv.cli("dkim", "generate", "example.org")
    qid = deliver(srv, "hello there")
    srv.wait_for_mail(ALICE, 1)
    queue_remote(srv)

    # Tables: the header row, then the rows.
    header, rows = listing(srv, "domain", "list")
    assert header == ["DOMAIN", "USERS", "ALIASES"], header
    assert sorted(r.split() for r in rows) == [["example.net", "0", "0"],
                                               ["example.org", "1", "1"]], rows
    header, rows = listing(srv, "user", "list")
    assert header == ["ADDRESS", "STORAGE", "LIMIT", "MESSAGE", "LIMIT", "ADMIN", "DISPLAY",
                      "NAME"], header
    assert rows[0].split() == [ALICE, "1G", "unlimited", "no"], rows
    header, rows = listing(srv, "alias", "list")
    assert header == ["ALIAS", "TARGET"], header
    assert rows[0].split() == ["postmaster@example.org", "->", ALICE], rows
    header, rows = listing(srv, "mail", "list", ALICE)
    assert header[:4] == ["UID", "SIZE", "QUEUE", "ID"] and header[-2:] == ["FROM", "SUBJECT"]
    assert len(rows) == 1 and rows[0].split()[2] == qid.lower(), rows
    assert rows[0].endswith("sender@example.net  hello there"), rows
    header, rows = listing(srv, "user", "app-password", "list", ALICE)
    assert header == ["NAME", "CREATED", "LAST", "USED"], header
    assert rows[0].split()[0] == "phone" and rows[0].endswith("never"), rows
    header, rows = listing(srv, "dkim", "list")
    assert header == ["DOMAIN", "SELECTOR", "ALGORITHM", "RECORD"], header
    assert len(rows) == 2, rows
    header, rows = listing(srv, "user", "quota", ALICE)
    assert header == ["ACCOUNT", "RESOURCE", "USED", "LIMIT"], header
    assert rows[0].split()[:2] == [ALICE, "storage"], rows
    # (The local delivery's entry may linger a moment, its recipient `delivered`.)
    header, rows = listing(srv, "queue", "list")
    assert header == ["ID", "AGE", "SIZE", "SENDER", "RECIPIENT", "STATE"], header
    (row,) = [r for r in rows if REMOTE in r]
    assert row.split()[3:6] == ["<%s>" % ALICE, REMOTE, "pending,"], row

    # JSON: the documented fields, the values created above.
    for argv, fields in FIELDS.items():
        argv = list(argv) + ([ALICE] if argv[-1] == "list" and argv[0] in ("mail", "user")
                             and argv != ("user", "list") else [])
        items = as_json(srv, *argv)
        assert isinstance(items, list) and items, (argv, items)
        for item in items:
            assert set(item) == fields, (argv, item)
    domains = {d["domain"]: d for d in as_json(srv, "domain", "list")}
    assert domains["example.org"] == {"domain": "example.org", "users": 1, "aliases": 1}
    assert domains["example.net"]["users"] == 0
    assert as_json(srv, "user", "list") == [
        {"address": ALICE, "storage_limit": 1 << 30, "messages_limit": None, "admin": False,
         "display_name": None}]
    assert as_json(srv, "alias", "list") == [{"alias": "postmaster@example.org", "target": ALICE}]
    (mail,) = as_json(srv, "mail", "list", ALICE)
    assert mail["uid"] == 1 and mail["queue_id"] == qid.lower(), mail
    assert mail["from"] == "sender@example.net" and mail["subject"] == "hello there", mail
    assert RFC3339.match(mail["received"]), mail
    stored = srv.cli("mail", "read", ALICE, "1", binary=True).stdout
    assert mail["size"] == len(stored), (mail, len(stored))
    (app,) = as_json(srv, "user", "app-password", "list", ALICE)
    assert app["name"] == "phone" and app["last_used"] is None and RFC3339.match(app["created"])
    keys = as_json(srv, "dkim", "list")
    assert sorted(k["algorithm"] for k in keys) == ["ed25519", "rsa"], keys
    for k in keys:
        assert k["domain"] == "example.org", k
        assert k["record_name"] == "%s._domainkey.example.org" % k["selector"], k
        assert k["record"].startswith("v=DKIM1;"), k
    quota = as_json(srv, "user", "quota", ALICE)
    assert quota == {"address": ALICE, "storage_used": mail["size"], "storage_limit": 1 << 30,
                     "messages_used": 1, "messages_limit": None}, quota
    (entry,) = remote_entries(srv)
    assert entry["sender"] == ALICE and entry["held"] is False, entry
    assert RFC3339.match(entry["queued_at"]) and entry["size"] > 0, entry
    (rcpt,) = entry["recipients"]
    assert rcpt["address"] == REMOTE and rcpt["status"] == "pending", rcpt
    assert set(rcpt) == {"address", "status", "attempts", "next_attempt", "last_error"}, rcpt
    assert RFC3339.match(entry["next_attempt"]) and entry["next_attempt"] == rcpt["next_attempt"]
    srv.cli("queue", "hold", entry["id"])
    (entry,) = remote_entries(srv)
    assert entry["held"] is True, entry
    assert "HELD" in srv.cli("queue", "list").stdout


def remote_entries(srv):
    """The queue entries (`queue list --json`) with a recipient at REMOTE."""
    return [e for e in srv.queue_entries()
            if any(r["address"] == REMOTE for r in e["recipients"])]


def test_mail_errors_name_the_mailbox(server_factory):
    srv = server_factory()
    srv.add_user(ALICE, "pw")
    p = srv.cli("mail", "read", ALICE, "7", check=False)
    assert p.returncode != 0
    assert 'no message 7 in "INBOX" of %s' % ALICE in p.stderr, p.stderr
    p = srv.cli("mail", "list", ALICE, "--mailbox", "Nope", check=False)
    assert p.returncode != 0 and '"Nope"' in p.stderr, p.stderr


def without_a_terminal(srv, *argv):
    """Runs `postie ARGV` with stdin not a terminal and no controlling terminal."""
    return subprocess.run(
        [srv.bin, *argv, "--config", srv.config_path], stdin=subprocess.DEVNULL,
        capture_output=True, timeout=60, start_new_session=True)


def test_password_prompt_without_a_terminal_points_at_password_stdin(server_factory):
    srv = server_factory(start=False)
    srv.cli("domain", "add", "example.org")
    p = without_a_terminal(srv, "user", "add", ALICE)
    assert p.returncode != 0
    err = p.stderr.decode()
    assert err.count("\n") == 1, err
    assert "no terminal to ask for the password" in err, err
    assert "echo 'secret' | postie user add %s --password-stdin" % ALICE in err, err
    assert "os error" not in err, err
    assert json.loads(srv.cli("user", "list", "--json").stdout) == [], "no account was made"
    srv.cli("user", "add", ALICE, "--password-stdin", input="pw\n")
    p = without_a_terminal(srv, "user", "passwd", ALICE)
    assert p.returncode != 0
    assert "postie user passwd %s --password-stdin" % ALICE in p.stderr.decode(), p.stderr


def test_serve_help_lists_every_default_port_and_the_data_dir(server_factory):
    srv = server_factory(start=False)
    out = subprocess.run([srv.bin, "serve", "--help"], capture_output=True,
                         timeout=60).stdout.decode()
    for name, port in [("smtp", 1025), ("submission", 1587), ("submissions", 1465),
                       ("pop3", 1110), ("pop3s", 1995), ("imap", 1143), ("imaps", 1993)]:
        assert re.search(r"^\s+%s\s+%d\s" % (name, port), out, re.M), (name, out)
    assert "./postie-data" in out, out


def test_every_help_line_is_filled(server_factory):
    """`postie CMD --help` for every command: no command, argument or option
    without its description (the unit test in cli.rs checks the same from inside)."""
    srv = server_factory(start=False)
    seen = []

    def walk(argv):
        seen.append(argv)
        lines = subprocess.run([srv.bin, *argv, "--help"], capture_output=True,
                               timeout=60).stdout.decode().splitlines()
        section = None
        for i, line in enumerate(lines):
            if line and not line.startswith(" "):
                section = line.rstrip(":")
            elif section in ("Commands", "Arguments", "Options") and re.match(r"^ {2,6}\S", line):
                # An entry: its description follows on the line, or on the next one.
                after = lines[i + 1] if i + 1 < len(lines) else ""
                described = re.match(r"^ +\S.*?\S {2,}\S", line) or \
                    re.match(r"^ {10}\S", after)
                assert described, "%s --help: no description for %r" % (" ".join(argv), line)
                if section == "Commands" and line.split()[0] != "help":
                    walk(argv + [line.split()[0]])

    walk([])
    assert ["mail", "list"] in seen and ["user", "app-password", "add"] in seen, seen
