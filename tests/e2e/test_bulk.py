"""`postie send --bulk`: one personalised message per CSV row, into Postfix's
smtp-sink (10,000 rows), a scripted aiosmtpd peer that refuses chosen
recipients, and the local queue; the results file accounts for every row,
and a run that is stopped (SIGTERM) or killed (SIGKILL) and resumed sends no
one a message twice."""

import csv
import email
import email.policy
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

from harness import postie_bin, wait_until
from network import network  # noqa: F401  (the fixture)
from peer import Peer

SMTP_SINK = "/usr/sbin/smtp-sink"
SINK_IP = "127.0.0.5"
SINK_PORT = 2525
END = "end-of-row"


def write_rows(path, n, extra=()):
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["email", "name"])
        for i in range(1, n + 1):
            w.writerow(["user%d@example.net" % i, "User %d" % i])
        for row in extra:
            w.writerow(row)


def read_results(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


class Sink:
    """smtp-sink in the test's network, appending every transaction to one
    dump file."""

    def __init__(self, network):
        if not os.path.exists(SMTP_SINK):
            pytest.skip("smtp-sink (Debian's postfix) is not installed: scripts/install-test-deps")
        # smtp-sink runs as nobody: its directory must be reachable for it (pytest's
        # tmp_path is not).
        self.root = tempfile.mkdtemp(prefix="postie-sink-")
        os.chmod(self.root, 0o777)
        self.dump = os.path.join(self.root, "dump")
        self.proc = network.popen([SMTP_SINK, "-u", "nobody", "-D", self.dump,
                                   "%s:%d" % (SINK_IP, SINK_PORT), "256"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        network.wait_listening(SINK_IP, SINK_PORT, proc=self.proc, what="smtp-sink")

    def received(self):
        """{address: [subject, ...]} of the complete messages so far (those
        whose last body line arrived)."""
        if not os.path.exists(self.dump):
            return {}
        with open(self.dump, "rb") as f:
            text = f.read().decode("utf-8", "replace")
        out = {}
        for entry in text.split("X-Client-Addr: ")[1:]:
            if END not in entry:
                continue
            for rcpt in re.findall(r"^X-Rcpt-Args: <([^>]*)>", entry, re.M):
                subject = re.search(r"^Subject: (.*)$", entry, re.M)
                out.setdefault(rcpt, []).append(subject.group(1) if subject else None)
        return out

    def cleanup(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture
def sink(network):
    s = Sink(network)
    yield s
    s.cleanup()


def bulk_argv(csv_path, results, *extra):
    return [postie_bin(), "send", "--server", "%s:%d" % (SINK_IP, SINK_PORT), "--starttls=no",
            "--bulk", csv_path, "--from", "News <news@example.org>",
            "--subject", "Hello {{name}}", "--text", "Dear {{ name }},\n" + END + "\n",
            "--results", results] + [str(a) for a in extra]


def test_ten_thousand_rows_into_smtp_sink(network, sink, tmp_path):
    rows = tmp_path / "people.csv"
    write_rows(rows, 10000)
    results = tmp_path / "results.csv"
    started = time.monotonic()
    p = network.run(bulk_argv(rows, results, "--concurrency", "8"), timeout=120)
    elapsed = time.monotonic() - started
    assert p.returncode == 0, p.stderr.decode()[-2000:]
    assert "bulk: 10000 rows: 10000 sent, 0 refused" in p.stderr.decode()
    got = read_results(results)
    assert [int(r["row"]) for r in got] == list(range(1, 10001))
    assert all(r["status"] == "sent" and r["reply"].startswith("250") for r in got)
    assert all(r["address"] == "user%s@example.net" % r["row"] for r in got)
    received = sink.received()
    assert len(received) == 10000
    for i in (1, 5000, 10000):
        assert received["user%d@example.net" % i] == ["Hello User %d" % i]
    assert all(len(v) == 1 for v in received.values())
    print("10,000 messages in %.1f s" % elapsed)


def count_sent(path):
    try:
        with open(path, encoding="utf-8") as f:
            return sum(1 for line in f if ",sent," in line)
    except FileNotFoundError:
        return 0


def run_until(network, argv, results, sent_at_least, sig):
    """Starts a bulk run, waits until the results file has SENT_AT_LEAST sent
    rows, sends SIG; returns the exit status."""
    proc = network.popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_until(lambda: count_sent(results) >= sent_at_least or proc.poll() is not None,
                   timeout=60, interval=0.01, message="%d rows sent" % sent_at_least)
        assert proc.poll() is None, "the run ended before it could be interrupted"
        proc.send_signal(sig)
        proc.wait(30)
        return proc.returncode, proc.stderr.read().decode()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_stop_kill_and_resume_send_no_one_twice(network, sink, tmp_path):
    n = 3000
    rows = tmp_path / "people.csv"
    write_rows(rows, n)
    results = tmp_path / "results.csv"
    argv = bulk_argv(rows, results, "--concurrency", "4", "--rate", "300/s")

    # 1. SIGTERM: the messages in flight finish, the file is compacted, exit 75.
    status, err = run_until(network, argv, results, n // 5, signal.SIGTERM)
    assert status == 75, err
    assert "--resume" in err
    first = read_results(results)
    assert 0 < len(first) < n
    assert {r["status"] for r in first} == {"sent"}, "a clean stop leaves nothing in doubt"
    received = sink.received()
    assert sorted(received) == sorted(r["address"] for r in first)

    # Without --resume the existing results are not overwritten.
    p = network.run(argv)
    assert p.returncode == 64 and b"--resume" in p.stderr

    # 2. SIGKILL half-way through the resumed run.
    status, err = run_until(network, argv + ["--resume"], results, n // 2, signal.SIGKILL)
    assert status == -signal.SIGKILL

    # 3. Resume to the end.
    p = network.run(argv + ["--resume"], timeout=120)
    err = p.stderr.decode()
    final = read_results(results)
    assert [int(r["row"]) for r in final] == list(range(1, n + 1)), "every row accounted for"
    unknown = [r["address"] for r in final if r["status"] == "unknown"]
    sent = [r["address"] for r in final if r["status"] == "sent"]
    assert len(sent) + len(unknown) == n, err
    # Rows in flight when the run was killed are in doubt, at most one per connection,
    # and are never sent again.
    assert len(unknown) <= 4, unknown
    assert p.returncode == (75 if unknown else 0), err
    received = sink.received()
    twice = {a: s for a, s in received.items() if len(s) > 1}
    assert twice == {}, "sent twice: %s" % list(twice)[:5]
    for address in sent:
        assert address in received, address
    assert set(received) - set(sent) <= set(unknown)
    print("in doubt after the kill: %d, of which delivered: %d"
          % (len(unknown), len(set(unknown) & set(received))))


TEMPLATE = """\
From: Shop <shop@example.org>
To: {{name}} <{{email}}>
Subject: =?utf-8?B?8J+OiQ==?= Offer for {{name}}
X-Customer: {{name}}

Hello {{name}},
%s
""" % END


def test_refused_rows_are_reported_and_the_run_goes_on(network, tmp_path):
    peer = Peer(network, "127.0.0.4", port=2525, spool=str(tmp_path / "peer"),
                reject_rcpts=["user3@example.net", "user7@example.net"]).start()
    (tmp_path / "invoices").mkdir()
    (tmp_path / "invoices" / "2.pdf").write_bytes(b"%PDF invoice 2")
    rows = tmp_path / "people.csv"
    with open(rows, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["Email", "Name", "Invoice"])
        for i in range(1, 11):
            w.writerow(["user%d@example.net" % i, "Zoë %d" % i, "invoices/2.pdf" if i == 2 else ""])
        w.writerow(["not an address", "Broken", ""])
    template = tmp_path / "offer.eml"
    template.write_text(TEMPLATE, encoding="utf-8")
    results = tmp_path / "results.csv"
    p = network.run([postie_bin(), "send", "--server", "127.0.0.4:2525", "--bulk", rows,
                     "--template", template, "--attach-column", "invoice",
                     "--unsubscribe", "https://example.org/unsub?u={{email}}",
                     "--results", results, "--concurrency", "2"])
    err = p.stderr.decode()
    assert p.returncode == 67, err
    assert "11 rows: 8 sent, 2 refused, 0 deferred, 1 invalid" in err, err
    got = {int(r["row"]): r for r in read_results(results)}
    assert len(got) == 11
    assert got[3]["status"] == "refused" and got[3]["reply"].startswith("550 5.1.1")
    assert got[7]["status"] == "refused"
    assert got[11]["status"] == "invalid" and "not an address" == got[11]["address"]
    msgs = peer.wait_for(8)
    assert sorted(m["rcpt_tos"][0] for m in msgs) == sorted(
        "user%d@example.net" % i for i in range(1, 11) if i not in (3, 7))
    by_rcpt = {m["rcpt_tos"][0]: email.message_from_bytes(m["data"], policy=email.policy.default)
               for m in msgs}
    m = by_rcpt["user2@example.net"]
    assert m["Subject"] == "🎉 Offer for Zoë 2"
    assert m["To"].addresses[0].display_name == "Zoë 2"
    assert m["X-Customer"] == "Zoë 2"
    assert m["List-Unsubscribe"] == "<https://example.org/unsub?u=user2%40example.net>"
    assert m["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    body, invoice = m.get_payload()
    assert "Hello Zoë 2," in body.get_content()
    assert invoice.get_filename() == "2.pdf"
    assert invoice.get_payload(decode=True) == b"%PDF invoice 2"
    assert not by_rcpt["user1@example.net"].is_multipart()
    assert len({m["Message-ID"] for m in by_rcpt.values()}) == 8


def test_a_missing_column_stops_before_anything_is_sent(network, tmp_path):
    peer = Peer(network, "127.0.0.4", port=2525, spool=str(tmp_path / "peer")).start()
    rows = tmp_path / "people.csv"
    write_rows(rows, 3)
    p = network.run([postie_bin(), "send", "--server", "127.0.0.4:2525", "--bulk", rows,
                     "--from", "a@example.org", "--subject", "Hi {{first_name}}",
                     "--text", "x", "--results", tmp_path / "r.csv"])
    err = p.stderr.decode()
    assert p.returncode == 64, err
    assert "{{first_name}}" in err and "columns: email, name" in err, err
    assert peer.journal() == [] and not (tmp_path / "r.csv").exists()


def test_bulk_into_the_local_queue(server, tmp_path):
    rows = tmp_path / "people.csv"
    with open(rows, "w", newline="", encoding="utf-8") as f:
        f.write("email,name\nalice@example.org,Alice\nbob@example.org,Bob\n")
    p = subprocess.run([postie_bin(), "send", "--config", server.config_path, "--bulk", rows,
                        "--from", "news@example.org", "--subject", "Hi {{name}}",
                        "--text", "x", "--dry-run"], capture_output=True, timeout=60)
    assert p.returncode == 0 and b"Subject: Hi Alice" in p.stdout, p.stderr
    p = subprocess.run([postie_bin(), "send", "--config", server.config_path, "--bulk", rows,
                        "--from", "news@example.org", "--subject", "Hi {{name}}",
                        "--text", "x"], capture_output=True, timeout=60)
    assert p.returncode == 0, p.stderr
    for addr, name in (("alice@example.org", "Alice"), ("bob@example.org", "Bob")):
        server.wait_for_mail(addr, 1)
        m = email.message_from_bytes(server.mailbox(addr)[0], policy=email.policy.default)
        assert m["Subject"] == "Hi " + name
