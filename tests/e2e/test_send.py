"""`postie send`: composing (--dry-run), sending through Postie's own
submission ports (STARTTLS + AUTH, implicit TLS) and through a foreign server
(aiosmtpd, tests/e2e/peer.py), the --debug transcript against the real
dialogue, exit statuses, and local submission without --server."""

import email
import email.policy
import os
import subprocess

from harness import postie_bin, unique
from network import network  # noqa: F401  (the fixture)
from peer import Peer
from sendtools import data_sent, ip_cert, send_argv, transcript

PEER_IP = "127.0.0.4"
PEER_PORT = 2525


def run(argv, **kw):
    kw.setdefault("capture_output", True)
    kw.setdefault("timeout", 60)
    kw.setdefault("stdin", subprocess.DEVNULL)
    p = subprocess.run(argv, **kw)
    p.stdout_text = p.stdout.decode("utf-8", "replace")
    p.stderr_text = p.stderr.decode("utf-8", "replace")
    return p


def env_with(password):
    return dict(os.environ, POSTIE_PASSWORD=password)


def parse(data):
    return email.message_from_bytes(data, policy=email.policy.default)


def content(part):
    """A text part's content with LF line ends (the parser keeps the CRLFs)."""
    return part.get_content().replace("\r\n", "\n")


def test_dry_run_composes_a_correct_message(tmp_path):
    report = tmp_path / "年度报告.pdf"
    report.write_bytes(b"%PDF-1.4 " + bytes(range(256)))
    html = tmp_path / "body.html"
    html.write_text("<p>Привет, мир 🎉</p>\n", encoding="utf-8")
    p = run(send_argv(
        "--from", "张伟 <zhang@example.org>", "--to", "Иван Петров <ivan@example.net>",
        "--to", "zoe@example.net", "--cc", "Zoë <zoe2@example.net>", "--bcc", "hidden@example.com",
        "--reply-to", "help@example.org", "--subject", "Отчёт 🎉 季度",
        "--text", "Plain text, café.\n", "--html-file", html, "--attach", report,
        "--header", "X-Campaign: e2e", "--dry-run"))
    assert p.returncode == 0, p.stderr_text
    data = p.stdout
    assert b"hidden@example.com" not in data and b"Bcc" not in data
    assert "<hidden@example.com>" in p.stderr_text  # the envelope, on stderr
    for line in data.split(b"\r\n"):
        assert len(line) <= 998
    assert all(b < 128 for b in data), "7-bit output"
    m = parse(data)
    assert m["Subject"] == "Отчёт 🎉 季度"
    assert m["From"].addresses[0].display_name == "张伟"
    assert [a.display_name for a in m["To"].addresses] == ["Иван Петров", ""]
    assert m["Cc"].addresses[0].display_name == "Zoë"
    assert m["Reply-To"].addresses[0].addr_spec == "help@example.org"
    assert m["Date"] and m["Message-ID"] and m["X-Campaign"] == "e2e"
    assert m.get_content_type() == "multipart/mixed"
    alternative, attachment = m.get_payload()
    assert alternative.get_content_type() == "multipart/alternative"
    text, html_part = alternative.get_payload()
    assert content(text) == "Plain text, café.\n"
    assert content(html_part) == "<p>Привет, мир 🎉</p>\n"
    assert attachment.get_filename() == "年度报告.pdf"
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_payload(decode=True) == report.read_bytes()


def test_starttls_and_auth_to_postie_delivers_what_was_composed(server):
    cert = os.path.join(server.data_dir, "tls", "cert.pem")
    marker = unique("send")
    p = server.tool(send_argv(
        "--server", "localhost:%d" % server.port("submission"), "--ca", cert,
        "--user", "alice@example.org", "--from", "Alice <alice@example.org>",
        "--to", "bob@example.org", "--subject", "Über " + marker,
        "--text", "Hello Bob 👋\n", "--debug"), env=env_with("alice-secret"))
    stderr = p.stderr.decode()
    assert p.returncode == 0, stderr
    assert "accepted bob@example.org: 250" in p.stdout.decode()
    lines = transcript(stderr)
    sent = [t for d, t in lines if d == "C"]
    # The whole dialogue, in order, with the password masked.
    verbs = [t.split()[0].upper() for t in sent if t and t.split()[0].isalpha()
             and t.split()[0].upper() in ("EHLO", "STARTTLS", "AUTH", "MAIL", "RCPT", "BDAT", "QUIT")]
    # Postie offers CHUNKING and PIPELINING: the body goes with BDAT.
    assert verbs == ["EHLO", "STARTTLS", "EHLO", "AUTH", "MAIL", "RCPT", "BDAT", "QUIT"], verbs
    assert "AUTH PLAIN <credentials>" in sent
    assert "alice-secret" not in stderr
    assert any(d == "*" and t.startswith("TLS established") for d, t in lines)
    replies = [t for d, t in lines if d == "S"]
    assert replies[0].startswith("220 ")
    assert any(t.startswith("235") for t in replies)
    assert replies[-1].startswith("221")
    # The message read back is the message that was sent, after the trace fields.
    composed = data_sent(lines)
    stored = server.mailbox("bob@example.org") if server.wait_for_mail("bob@example.org", 1) else []
    assert len(stored) == 1
    assert stored[0].endswith(composed), (stored[0][-300:], composed[-300:])
    m = parse(stored[0])
    assert m["Subject"] == "Über " + marker
    assert content(m) == "Hello Bob 👋\n"
    queue_id = [t for t in replies if "queued as" in t][0].split()[-1]
    assert server.mail_list("bob@example.org")[0][2] == queue_id


def test_implicit_tls_to_postie(server):
    cert = os.path.join(server.data_dir, "tls", "cert.pem")
    p = server.tool(send_argv(
        "--server", "localhost:%d" % server.port("submissions"), "--tls", "--ca", cert,
        "--user", "bob@example.org", "--password-stdin", "--from", "bob@example.org",
        "--to", "alice@example.org", "--subject", "implicit", "--text", "over TLS",
        "--debug"), input=b"bob-secret\n")
    stderr = p.stderr.decode()
    assert p.returncode == 0, stderr
    lines = transcript(stderr)
    assert lines[0][0] == "*" and lines[1][0] == "*", lines[:3]  # connected, TLS, then 220
    assert lines[2] == ("S", lines[2][1]) and lines[2][1].startswith("220")
    assert "STARTTLS" not in [t for d, t in lines if d == "C"]
    server.wait_for_mail("alice@example.org", 1)
    assert parse(server.mailbox("alice@example.org")[0])["Subject"] == "implicit"


def test_failures_have_their_own_exit_status(server):
    cert = os.path.join(server.data_dir, "tls", "cert.pem")
    port = server.port("submission")
    base = ["--from", "alice@example.org", "--to", "bob@example.org", "--text", "x"]
    # Wrong password: 535, exit 77, one line.
    p = server.tool(send_argv("--server", "localhost:%d" % port, "--ca", cert,
                              "--user", "alice@example.org", *base), env=env_with("wrong"))
    err = p.stderr.decode()
    assert p.returncode == 77, err
    assert err.count("\n") == 1 and "authentication" in err and "535" in err, err
    # The server's self-signed certificate is not trusted without --ca: exit 78.
    p = server.tool(send_argv("--server", "localhost:%d" % port, "--user", "alice@example.org",
                              *base), env=env_with("alice-secret"))
    err = p.stderr.decode()
    assert p.returncode == 78, err
    assert "TLS" in err and "certificate" in err.lower(), err
    # --insecure accepts it.
    p = server.tool(send_argv("--server", "localhost:%d" % port, "--insecure",
                              "--user", "alice@example.org", *base), env=env_with("alice-secret"))
    assert p.returncode == 0, p.stderr.decode()
    # Nobody listening: exit 69.
    p = server.tool(send_argv("--server", "127.0.0.1:9", *base))
    err = p.stderr.decode()
    assert p.returncode == 69 and "connect" in err, err
    # A recipient the server refuses: exit 67, listed.
    p = server.tool(send_argv("--server", "localhost:%d" % port, "--ca", cert,
                              "--user", "alice@example.org", "--from", "alice@example.org",
                              "--to", "bob@example.org", "--to", "nobody@example.org",
                              "--text", "x"), env=env_with("alice-secret"))
    err = p.stderr.decode()
    assert p.returncode == 67, err
    assert "refused nobody@example.org: 550" in err, err
    assert "1 of 2" in err, err
    assert "accepted bob@example.org" in p.stdout.decode()
    # Bad input: exit 65 (message) and 66 (file).
    assert server.tool(send_argv("--from", "alice@example.org", "--to", "not an address",
                                 "--dry-run")).returncode == 65
    assert server.tool(send_argv("--from", "a@example.org", "--to", "b@example.org",
                                 "--attach", "/nonexistent", "--dry-run")).returncode == 66


def test_local_submission_without_server(server):
    p = run(send_argv("--config", server.config_path, "--from", "alice@example.org",
                      "--to", "bob@example.org", "--bcc", "alice@example.org",
                      "--subject", "local", "--text", "queued directly"))
    assert p.returncode == 0, p.stderr_text
    queue_id = p.stdout_text.split()[-1]
    # Filed before `postie send` returned, as over SMTP: no waiting for the queue runner.
    [row] = server.mail_list("bob@example.org")
    assert row[2] == queue_id
    assert len(server.mail_list("alice@example.org")) == 1
    data = server.mailbox("bob@example.org")[0]
    assert b"Received: by mx.test.example (Postie, from userid" in data
    assert b"Bcc" not in data and b"alice@example.org" in data  # From, not Bcc
    assert parse(data)["Subject"] == "local"


def start_peer(network, tmp_path, **kw):
    return Peer(network, PEER_IP, port=PEER_PORT, spool=str(tmp_path / "peer"), **kw).start()


def test_foreign_server_starttls_auth(network, tmp_path):
    cert, key = ip_cert(str(tmp_path), PEER_IP)
    peer = start_peer(network, tmp_path, tls=(cert, key), require_tls=True, auth="user:pass")
    attachment = tmp_path / "data.bin"
    attachment.write_bytes(os.urandom(3000))
    p = network.run(send_argv(
        "--server", "%s:%d" % (PEER_IP, PEER_PORT), "--ca", cert, "--user", "user",
        "--from", "Sender <sender@example.org>", "--to", "Ærlig <rcpt@example.net>",
        "--subject", "foreign", "--text", "line\n.leading dot\n", "--attach", attachment,
        "--debug"), env=env_with("pass"))
    stderr = p.stderr.decode()
    assert p.returncode == 0, stderr
    lines = transcript(stderr)
    [stored] = peer.wait_for(1)
    assert stored["tls"] and stored["auth"] == "user"
    assert stored["mail_from"] == "sender@example.org" and stored["rcpt_tos"] == ["rcpt@example.net"]
    # What the peer stored is exactly what the transcript says was sent.
    assert stored["data"] == data_sent(lines)
    m = parse(stored["data"])
    assert m["Subject"] == "foreign"
    body, att = m.get_payload()
    assert content(body) == "line\n.leading dot\n"
    assert att.get_payload(decode=True) == attachment.read_bytes()
    # The transcript's replies are the peer's, command by command.
    journal = peer.journal()
    rcpt_reply = next(t for i, (d, t) in enumerate(lines)
                      if d == "S" and i > 0 and lines[i - 1][1].startswith("RCPT TO:"))
    assert rcpt_reply == [e["reply"] for e in journal if e["cmd"] == "RCPT"][0]
    data_reply = [e["reply"] for e in journal if e["cmd"] == "DATA"][0]
    assert ("S", data_reply) in lines


def test_foreign_server_partial_refusal_and_smtputf8(network, tmp_path):
    peer = start_peer(network, tmp_path, reject_rcpts=["bad@example.net"])
    p = network.run(send_argv(
        "--server", "%s:%d" % (PEER_IP, PEER_PORT), "--from", "sender@example.org",
        "--to", "good@example.net", "--to", "bad@example.net", "--cc", "用户@example.net",
        "--subject", "partial", "--text", "x"))
    err = p.stderr.decode()
    assert p.returncode == 67, err
    assert "refused bad@example.net: 550 5.1.1" in err, err
    [stored] = peer.wait_for(1)
    assert sorted(stored["rcpt_tos"]) == sorted(["good@example.net", "用户@example.net"])
    assert "SMTPUTF8" in stored["mail_options"]


def test_starttls_require_fails_closed(network, tmp_path):
    peer = start_peer(network, tmp_path)  # no STARTTLS offered
    base = ["--server", "%s:%d" % (PEER_IP, PEER_PORT), "--from", "s@example.org",
            "--to", "r@example.net", "--text", "x"]
    p = network.run(send_argv("--starttls=require", *base))
    err = p.stderr.decode()
    assert p.returncode == 78, err
    assert "TLS" in err and "not offered" in err, err
    assert peer.messages() == [] and [e for e in peer.journal() if e["cmd"] == "MAIL"] == []
    # The default (STARTTLS when offered) goes on in clear text here.
    p = network.run(send_argv(*base))
    assert p.returncode == 0, p.stderr.decode()
    assert peer.wait_for(1)[0]["tls"] is False
    # A password is never sent in clear text, unless asked with --insecure.
    p = network.run(send_argv("--user", "u", *base), env=env_with("p"))
    assert p.returncode != 0 and len(peer.messages()) == 1
