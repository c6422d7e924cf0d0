"""REQUIRETLS (RFC 8689 §4.1, docs/tls.md), the receiving half, with Python's
smtplib: offered in EHLO only once the connection is encrypted (STARTTLS on
587 and 25, implicit TLS on 465); `MAIL FROM:<a> REQUIRETLS` accepted there and
kept with the queue entry (`postie queue show`), and mail for a local user
delivered; refused in clear (530 5.7.10); given twice or with a value, a 501.
And `postie send --require-tls`: REQUIRETLS on MAIL FROM over verified TLS, the
flag on a local queue entry, and no MAIL at all to a server that does not offer
it."""

import os
import re

from harness import queue_id_of, unique
from network import network  # noqa: F401  (the fixture)
from peer import Peer
from sendtools import ip_cert, send_argv, transcript
from smtpraw import client_tls_context

PEER_IP = "127.0.0.4"
PEER_PORT = 2525

ALICE = "alice@example.org"


def message(marker):
    return ("From: %s\r\nTo: x\r\nSubject: %s\r\n\r\nrequiretls\r\n" % (ALICE, marker)).encode()


def login(s):
    code, resp = s.login(ALICE, "alice-secret")
    assert code == 235, resp


def shown_flag(server, qid):
    out = server.cli("queue", "show", qid).stdout
    m = re.search(r"requiretls (true|false)", out)
    assert m, out
    return m.group(1) == "true"


def test_submission_over_starttls_and_implicit_tls_keeps_the_flag(server):
    ids = []
    for kind in ("submission", "submissions"):
        with server.smtp(kind) as s:
            if kind == "submission":
                s.ehlo("client.test.example")
                assert not s.has_extn("requiretls"), "REQUIRETLS offered in clear"
                s.starttls(context=client_tls_context())
            s.ehlo("client.test.example")
            assert s.has_extn("requiretls"), s.esmtp_features
            login(s)
            marker = unique("rt")
            code, resp = s.mail(ALICE, ["REQUIRETLS"])
            assert code == 250, (code, resp)
            # A remote recipient: the entry stays queued (no outside DNS here).
            assert s.rcpt("someone@elsewhere.test")[0] == 250
            code, resp = s.data(message(marker))
            assert code == 250, resp
            ids.append(queue_id_of(resp))
            # The same connection without the parameter: no flag.
            assert s.mail(ALICE)[0] == 250
            assert s.rcpt("someone@elsewhere.test")[0] == 250
            code, resp = s.data(message(marker))
            assert code == 250, resp
            plain = queue_id_of(resp)
        assert shown_flag(server, ids[-1]) is True
        assert shown_flag(server, plain) is False


def test_mx_over_starttls_accepts_it_and_delivers_locally(server):
    with server.smtp("smtp") as s:
        s.ehlo("client.test.example")
        assert not s.has_extn("requiretls")
        s.starttls(context=client_tls_context())
        s.ehlo("client.test.example")
        assert s.has_extn("requiretls")
        marker = unique("mx")
        code, resp = s.mail("sender@example.net", ["REQUIRETLS"])
        assert code == 250, (code, resp)
        assert s.rcpt("bob@example.org")[0] == 250
        code, resp = s.data(message(marker))
        assert code == 250, resp
    (uid, _, _), = server.wait_for_mail("bob@example.org", 1)
    assert marker.encode() in server.mail_read("bob@example.org", uid)


def test_refused_in_clear_and_malformed_over_tls(server):
    # In clear, on the MX listener and on submission after a (loopback) login.
    for kind in ("smtp", "submission"):
        with server.smtp(kind) as s:
            s.ehlo("client.test.example")
            if kind == "submission":
                login(s)
            code, resp = s.mail(ALICE, ["REQUIRETLS"])
            assert (code, resp[:6]) == (530, b"5.7.10"), (kind, code, resp)
            assert b"REQUIRETLS needs TLS" in resp
            # Nothing started: a plain MAIL still works.
            assert s.mail(ALICE)[0] == 250
    with server.smtp("submissions") as s:
        s.ehlo("client.test.example")
        login(s)
        code, resp = s.mail(ALICE, ["REQUIRETLS", "REQUIRETLS"])
        assert (code, resp[:5]) == (501, b"5.5.4"), (code, resp)
        code, resp = s.mail(ALICE, ["REQUIRETLS=YES"])
        assert (code, resp[:5]) == (501, b"5.5.4"), (code, resp)
        assert s.mail(ALICE, ["REQUIRETLS"])[0] == 250
    assert server.queue_entries() == []


# ----- postie send --require-tls -------------------------------------------------

def test_postie_send_require_tls_through_postie_and_locally(server):
    cert = os.path.join(server.data_dir, "tls", "cert.pem")
    marker = unique("send")
    p = server.tool(send_argv(
        "--server", "localhost:%d" % server.port("submission"), "--ca", cert,
        "--user", ALICE, "--password-stdin", "--from", ALICE,
        "--to", "someone@elsewhere.test", "--subject", marker, "--text", "x",
        "--require-tls", "--debug"), input=b"alice-secret\n")
    stderr = p.stderr.decode()
    assert p.returncode == 0, stderr
    [mail] = [t for d, t in transcript(stderr) if d == "C" and t.startswith("MAIL FROM:")]
    assert mail.startswith("MAIL FROM:<%s> " % ALICE) and mail.endswith(" REQUIRETLS"), mail
    qid = [t for d, t in transcript(stderr) if d == "S" and "queued as" in t][0].split()[-1]
    assert shown_flag(server, qid) is True

    # Into the local queue (no --server): the entry carries the flag too.
    p = server.tool(send_argv("--config", server.config_path, "--from", ALICE,
                              "--to", "other@elsewhere.test", "--text", "x",
                              "--require-tls"))
    assert p.returncode == 0, p.stderr.decode()
    assert shown_flag(server, p.stdout.decode().split()[-1]) is True

    # REQUIRETLS never goes without verified TLS: refused before connecting.
    for flags in (["--starttls", "no"], ["--insecure"]):
        p = server.tool(send_argv(
            "--server", "localhost:%d" % server.port("submission"), "--from", ALICE,
            "--to", "someone@elsewhere.test", "--text", "x", "--require-tls", *flags))
        assert p.returncode != 0, flags
        assert b"--require-tls" in p.stderr or b"REQUIRETLS" in p.stderr, p.stderr


def test_postie_send_require_tls_to_a_server_without_it(network, tmp_path):
    """A server with STARTTLS but without REQUIRETLS (aiosmtpd) gets no MAIL."""
    cert, key = ip_cert(str(tmp_path), PEER_IP)
    peer = Peer(network, PEER_IP, port=PEER_PORT, spool=str(tmp_path / "peer"),
                tls=(cert, key)).start()
    p = network.run(send_argv(
        "--server", "%s:%d" % (PEER_IP, PEER_PORT), "--ca", cert, "--from", ALICE,
        "--to", "r@example.net", "--text", "x", "--require-tls"))
    err = p.stderr.decode()
    assert p.returncode == 67, err
    assert "5.7.30" in err and "REQUIRETLS" in err, err
    assert peer.messages() == []
    assert [e for e in peer.journal() if e["cmd"] == "MAIL"] == []
