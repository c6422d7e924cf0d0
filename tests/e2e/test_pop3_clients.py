"""Real POP3 clients against Postie: fetchmail (keep mode with UIDL tracking
over STLS, then delete mode over implicit TLS) and curl (pop3:// with and
without STLS, pop3s://, LIST / RETR / UIDL / TOP / DELE, SASL PLAIN and LOGIN).
Both run inside the server's network namespace (Server.tool)."""

import os
import re
import shutil

import pytest

from harness import POP3_LISTEN

ALICE, ALICE_PW = "alice@example.org", "alice-secret"

pytestmark = pytest.mark.skipif(
    not (shutil.which("fetchmail") and shutil.which("curl")),
    reason="fetchmail or curl missing: run scripts/install-test-deps")


def message(n):
    return (
        b"From: <sender@example.net>\r\nTo: <alice@example.org>\r\n"
        b"Subject: client test %d\r\nMessage-ID: <client-%d@example.net>\r\n\r\n"
        b"message %d\r\n"
        b".a line starting with a dot\r\n"
        b"..and two\r\n"
        b".\r\n"
        b"\xc3\xa9t\xc3\xa9\r\n"
        b"end\r\n" % (n, n, n)
    )


def deliver(server, messages, rcpt=ALICE):
    """Sends over SMTP, waits for the mailbox; returns it (stored bytes, in order)."""
    have = len(server.mail_list(rcpt))
    s = server.smtp("smtp")
    try:
        s.ehlo()
        for m in messages:
            assert s.sendmail("sender@example.net", [rcpt], m,
                              mail_options=["BODY=8BITMIME"]) == {}
        s.quit()
    finally:
        s.close()
    server.wait_for_mail(rcpt, have + len(messages), timeout=60)
    return server.mailbox(rcpt)


def pop3_uidl(server):
    p = server.pop3("pop3s")
    p.user(ALICE)
    p.pass_(ALICE_PW)
    uids = [line.split()[1].decode() for line in p.uidl()[1]]
    p.quit()
    return uids


# ----- fetchmail --------------------------------------------------------------------

class Fetchmail:
    """fetchmail with its own HOME (rc file, .fetchids) and an MDA that writes
    each message to its own file in OUT."""

    def __init__(self, server, home):
        self.server = server
        self.home = str(home)
        self.out = os.path.join(self.home, "out")
        os.makedirs(self.out, exist_ok=True)
        self.idfile = os.path.join(self.home, ".fetchids")

    def run(self, kind, *args):
        """One poll of the KIND listener: pop3 with STLS required, or pop3s."""
        port = self.server.port(kind)
        tls = "  ssl\n" if kind == "pop3s" else '  sslproto "tls1.2+"\n'  # STLS, or fail
        rc = os.path.join(self.home, ".fetchmailrc")
        with open(rc, "w") as f:
            f.write(
                "set no syslog\n"
                "set no bouncemail\n"
                "poll 127.0.0.1 service %d protocol pop3 uidl auth password\n"
                '  user "%s" there with password "%s" is "root" here\n'
                "%s"
                "  no sslcertck\n"
                "  no rewrite\n"
                '  mda "cat > $(mktemp %s/msg.XXXXXXXX)"\n'
                % (port, ALICE, ALICE_PW, tls, self.out))
        os.chmod(rc, 0o600)
        env = dict(os.environ, HOME=self.home)
        env.pop("FETCHMAILHOME", None)
        p = self.server.tool(["fetchmail", "-v", "--nodetach", "--idfile", self.idfile]
                             + list(args), env=env, timeout=120)
        out = p.stdout.decode("utf-8", "replace") + p.stderr.decode("utf-8", "replace")
        return p.returncode, out

    def files(self):
        return set(os.listdir(self.out))

    def read(self, name):
        with open(os.path.join(self.out, name), "rb") as f:
            return f.read()


def without_fetchmail_received(data):
    """The delivered message minus the Received field fetchmail adds."""
    head, sep, body = data.partition(b"\n\n")
    fields = []
    for line in head.split(b"\n"):
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1] += b"\n" + line
        else:
            fields.append(line)
    kept = [f for f in fields if not (f.startswith(b"Received:") and b"fetchmail" in f)]
    assert len(kept) == len(fields) - 1, "expected one Received field from fetchmail:\n%r" % head
    return b"\n".join(kept) + sep + body


def check_fetched(fm, names, stored):
    """The files NAMES hold exactly the messages STORED (LF line ends, as
    fetchmail hands them to the MDA), each once."""
    want = sorted(m.replace(b"\r\n", b"\n") for m in stored)
    got = sorted(without_fetchmail_received(fm.read(n)) for n in names)
    assert got == want


def pop3_commands(transcript):
    return re.findall(r"POP3> (\S+)", transcript)


def test_fetchmail_keep_uidl_then_delete(server_factory, tmp_path):
    # Clear-text logins are refused, so the pop3 runs only work through STLS.
    srv = server_factory(listen=POP3_LISTEN, auth={"allow_plaintext": "never"})
    srv.add_user(ALICE, ALICE_PW)
    stored = deliver(srv, [message(n) for n in range(5)])
    fm = Fetchmail(srv, tmp_path)

    # 1. keep mode over pop3 + STLS: all five, byte for byte (modulo CRLF)
    rc, out = fm.run("pop3", "--keep")
    assert rc == 0, out
    assert "STLS" in pop3_commands(out), out
    first = fm.files()
    assert len(first) == 5, out
    check_fetched(fm, first, stored)
    assert srv.mailbox(ALICE) == stored, "keep mode must leave the mailbox alone"
    uids = pop3_uidl(srv)
    with open(fm.idfile) as f:
        seen = f.read()
    for uid in uids:
        assert uid in seen, (uid, seen)

    # 2. nothing new: fetchmail's "no mail" status, no message read
    rc, out = fm.run("pop3", "--keep")
    assert rc == 1, "fetchmail should find no new mail (status 1):\n" + out
    commands = pop3_commands(out)
    assert "RETR" not in commands and "TOP" not in commands, out
    assert fm.files() == first

    # 3. one new message: only it is fetched
    [new] = deliver(srv, [message(99)])[5:]
    rc, out = fm.run("pop3", "--keep")
    assert rc == 0, out
    added = fm.files() - first
    assert len(added) == 1, out
    check_fetched(fm, added, [new])
    assert len(srv.mail_list(ALICE)) == 6

    # 4. delete mode over pop3s: everything fetched again, then the mailbox is empty
    before = fm.files()
    rc, out = fm.run("pop3s", "--nokeep", "--fetchall")
    assert rc == 0, out
    assert pop3_commands(out).count("DELE") == 6, out
    added = fm.files() - before
    check_fetched(fm, added, stored + [new])
    assert srv.mail_list(ALICE) == []


# ----- curl -----------------------------------------------------------------------------

def curl(server, kind, path="", *args, user=ALICE, password=ALICE_PW):
    host, port = server.addr(kind)
    scheme = "pop3s" if kind == "pop3s" else "pop3"
    argv = ["curl", "-sS", "--max-time", "30", "--user", "%s:%s" % (user, password),
            "%s://%s:%d/%s" % (scheme, host, port, path)] + list(args)
    p = server.tool(argv)
    return p.returncode, p.stdout, p.stderr.decode("utf-8", "replace")


def ok(result):
    rc, stdout, stderr = result
    assert rc == 0, "curl exited %d: %s" % (rc, stderr)
    return stdout


def test_curl_list_retr_uidl_top(pop3_server):
    stored = deliver(pop3_server, [message(n) for n in range(3)])
    listing = b"".join(b"%d %d\r\n" % (n, len(m)) for n, m in enumerate(stored, 1))
    # clear text (allowed from loopback by default), STLS, implicit TLS
    assert ok(curl(pop3_server, "pop3")) == listing
    assert ok(curl(pop3_server, "pop3", "", "--ssl-reqd", "-k")) == listing
    assert ok(curl(pop3_server, "pop3s", "", "-k")) == listing
    for n, m in enumerate(stored, 1):
        assert ok(curl(pop3_server, "pop3", str(n), "--ssl-reqd", "-k")) == m, n
    assert ok(curl(pop3_server, "pop3s", "2", "-k")) == stored[1]
    uidl = ok(curl(pop3_server, "pop3s", "", "-k", "-X", "UIDL"))
    assert uidl == b"".join(b"%d %s\r\n" % (n, u.encode())
                            for n, u in enumerate(pop3_uidl(pop3_server), 1))
    top = ok(curl(pop3_server, "pop3s", "", "-k", "-X", "TOP 3 0"))
    assert top == stored[2][: stored[2].index(b"\r\n\r\n") + 4]
    rc, _, err = curl(pop3_server, "pop3", "4", "--ssl-reqd", "-k")
    assert rc != 0, "RETR of a message that does not exist must fail"


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN", "PLAIN-IR", "LOGIN-IR"])
def test_curl_sasl_mechanisms(pop3_server, mechanism):
    stored = deliver(pop3_server, [message(1)])
    args = ["-k", "--login-options", "AUTH=" + mechanism.split("-")[0]]
    if mechanism.endswith("-IR"):
        args.append("--sasl-ir")  # initial response on the AUTH line
    assert ok(curl(pop3_server, "pop3s", "1", *args)) == stored[0]


def test_curl_dele(pop3_server):
    deliver(pop3_server, [message(n) for n in range(3)])
    rows = pop3_server.mail_list(ALICE)
    ok(curl(pop3_server, "pop3s", "", "-k", "-X", "DELE 2", "-I"))
    assert pop3_server.mail_list(ALICE) == [rows[0], rows[2]]


def test_curl_bad_password(pop3_server):
    rc, _, err = curl(pop3_server, "pop3s", "", "-k", password="wrong")
    assert rc == 67, "curl should fail with 'login denied' (67): rc=%s %s" % (rc, err)


def test_curl_plaintext_never(server_factory):
    srv = server_factory(listen=POP3_LISTEN, auth={"allow_plaintext": "never"})
    srv.add_user(ALICE, ALICE_PW)
    stored = deliver(srv, [message(1)])
    rc, out, err = curl(srv, "pop3", "1")
    assert rc != 0 and out == b"", "clear-text login must be refused: %r %s" % (out, err)
    assert ok(curl(srv, "pop3", "1", "--ssl-reqd", "-k")) == stored[0]
