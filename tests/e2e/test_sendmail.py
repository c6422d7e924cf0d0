"""`postie sendmail`: the sendmail(8) interface for cron, PHP's mail() and
scripts. Messages go through the same door as SMTP: local recipients have them
in their mailboxes when sendmail returns (server running or not), the rest wait
in the queue for the server; the binary also acts as sendmail when started under
that name."""

import email
import email.policy
import os
import subprocess
import textwrap

from harness import postie_bin, unique, wait_until


def sendmail(server, args, message, name=None, env=None):
    argv = [postie_bin(), "sendmail", "--config", server.config_path] + list(args)
    if name:
        argv = [name] + list(args)
    return subprocess.run(argv, input=message.encode("utf-8"), capture_output=True,
                          timeout=60, env=env)


def parsed(raw):
    return email.message_from_bytes(raw, policy=email.policy.default)


def stored(server, addr, count=1):
    """ADDR's messages, which sendmail filed before it returned: no waiting."""
    msgs = [parsed(d) for d in server.mailbox(addr)]
    assert len(msgs) == count, (addr, len(msgs), server.queue_list())
    return msgs


def test_a_cron_style_script_with_t_delivers_locally(server, tmp_path):
    marker = unique("cron")
    # What cron does: pipe the job's output, with a header, into `sendmail -t -i`.
    script = tmp_path / "job.sh"
    script.write_text(textwrap.dedent("""\
        #!/bin/sh
        {{
          echo "To: Bob <bob@example.org>"
          echo "Bcc: alice@example.org"
          echo "Subject: Cron <root@host> backup {marker}"
          echo
          echo "backup finished"
          echo "."
          echo "line after a lone dot"
        }} | "$POSTIE" sendmail --config "$CONFIG" -t -i -F "Cron Daemon"
        """).format(marker=marker))
    script.chmod(0o755)
    p = subprocess.run([str(script)], capture_output=True, timeout=60,
                       env=dict(os.environ, POSTIE=postie_bin(), CONFIG=server.config_path))
    assert p.returncode == 0, p.stderr.decode()
    assert p.stdout == b"" and p.stderr == b""  # sendmail is silent on success
    [bob] = stored(server, "bob@example.org")
    [alice] = stored(server, "alice@example.org")
    for m in (bob, alice):
        assert m["Subject"] == "Cron <root@host> backup " + marker
        assert m["Bcc"] is None  # removed, yet alice got her copy
        assert m["Date"] and m["Message-ID"]
        assert m["Received"].startswith("by mx.test.example (Postie, from userid")
        assert m["From"].addresses[0].display_name == "Cron Daemon"
        body = m.get_content().replace("\r\n", "\n")
        assert body == "backup finished\n.\nline after a lone dot\n"
    # The default sender: the Unix user at the server's hostname.
    user = subprocess.run(["id", "-un"], capture_output=True, text=True).stdout.strip()
    assert bob["Return-Path"] == "<%s@mx.test.example>" % user
    assert bob["From"].addresses[0].addr_spec == "%s@mx.test.example" % user


def test_recipients_as_arguments_f_and_the_lone_dot(server):
    marker = unique("args")
    p = sendmail(server, ["-f", "bounces@example.org", "-oi", "bob@example.org"],
                 "From: App <app@example.org>\nSubject: %s\n\nfirst\n" % marker)
    assert p.returncode == 0, p.stderr
    # Without -i a lone dot ends the message.
    p = sendmail(server, ["-fbounces@example.org", "bob@example.org"],
                 "Subject: %s-2\n\nkept\n.\ndropped\n" % marker)
    assert p.returncode == 0, p.stderr
    msgs = stored(server, "bob@example.org", 2)
    by_subject = {m["Subject"]: m for m in msgs}
    first = by_subject[marker]
    assert first["Return-Path"] == "<bounces@example.org>"
    assert first["From"].addresses[0].addr_spec == "app@example.org"
    second = by_subject[marker + "-2"]
    assert second.get_content().replace("\r\n", "\n") == "kept\n"


def test_started_as_sendmail(server, tmp_path):
    link = tmp_path / "sendmail"
    link.symlink_to(postie_bin())
    marker = unique("link")
    env = dict(os.environ, POSTIE_CONFIG=server.config_path)
    p = subprocess.run([str(link), "-t"], capture_output=True, timeout=60, env=env,
                       input=("To: alice@example.org\nSubject: %s\n\nvia the link\n" % marker).encode())
    assert p.returncode == 0, p.stderr.decode()
    [m] = stored(server, "alice@example.org")
    assert m["Subject"] == marker


def test_what_cannot_be_queued_is_refused_with_sendmail_statuses(server):
    before = server.queue_list()
    # An unknown user of a local domain, as RCPT would be: 67, nothing queued.
    p = sendmail(server, ["nobody@example.org", "bob@example.org"], "Subject: x\n\nx\n")
    assert p.returncode == 67, p.stderr
    assert b"nobody@example.org" in p.stderr
    # No recipient at all: 64.
    p = sendmail(server, [], "Subject: x\n\nx\n")
    assert p.returncode == 64, p.stderr
    # An unsupported mode: 64.
    p = sendmail(server, ["-bp"], "")
    assert p.returncode == 64 and b"not supported" in p.stderr
    assert server.queue_list() == before
    assert server.mail_list("bob@example.org") == []


def test_local_submission_is_dkim_signed_like_smtp_submission(server):
    server.cli("dkim", "generate", "example.org")
    marker = unique("dkim")
    p = sendmail(server, ["-f", "alice@example.org", "bob@example.org"],
                 "From: Alice <alice@example.org>\nSubject: %s\n\nsigned\n" % marker)
    assert p.returncode == 0, p.stderr
    [m] = stored(server, "bob@example.org")
    signatures = m.get_all("DKIM-Signature") or []
    assert any("d=example.org" in s.replace(" ", "") for s in signatures), signatures
    # The signature is over the finished header: it comes before our trace field.
    raw = server.mailbox("bob@example.org")[0]
    assert raw.index(b"DKIM-Signature:") < raw.index(b"Received: by mx.test.example")


def test_local_mail_is_filed_at_once_while_the_server_is_down(server_factory):
    # Never started: only the config and data directory exist.
    srv = server_factory(start=False)
    srv.add_user("bob@example.org", "bob-secret")
    marker = unique("offline")
    p = sendmail(srv, ["-f", "root@mx.test.example", "bob@example.org", "far@example.net"],
                 "Subject: %s\n\nwhile the server is down\n" % marker)
    assert p.returncode == 0, p.stderr
    assert not srv.running()
    # In the mailbox now, no queue runner involved (no waiting either).
    [raw] = srv.mailbox("bob@example.org")
    m = parsed(raw)
    assert m["Subject"] == marker
    assert m["Return-Path"] == "<root@mx.test.example>"
    assert m["Received"].startswith("by mx.test.example (Postie, from userid")
    assert m["Date"] and m["Message-ID"]
    # The remote recipient waits in the queue for the server.
    [entry] = srv.queue_entries()
    status = {r["address"]: r["status"] for r in entry["recipients"]}
    assert status == {"bob@example.org": "delivered", "far@example.net": "pending"}
    # Once the server runs, its queue runner takes the remote recipient and leaves
    # bob's copy alone: he never gets it twice.
    srv.start()
    p = sendmail(srv, ["bob@example.org"], "Subject: %s-2\n\nx\n" % marker)
    assert p.returncode == 0, p.stderr
    assert len(srv.mail_list("bob@example.org")) == 2
    wait_until(lambda: any(r["attempts"] for e in srv.queue_entries()
                           for r in e["recipients"] if r["status"] == "pending"),
               message="the queue runner's first attempt at far@example.net")
    assert len(srv.mail_list("bob@example.org")) == 2
