"""swaks as the client: pipelining, dot-stuffing round trip, STARTTLS and
implicit TLS with AUTH."""

import shutil

import pytest

pytestmark = pytest.mark.skipif(
    shutil.which("swaks") is None, reason="swaks not installed (scripts/install-test-deps)")

ALICE = "alice@example.org"


def swaks(server, kind, *args):
    host, port = server.addr(kind)
    argv = ["swaks", "--server", host, "--port", str(port), "--helo", "client.test.example",
            "--timeout", "30"] + list(args)
    p = server.tool(argv)
    out = p.stdout.decode("utf-8", "replace") + p.stderr.decode("utf-8", "replace")
    return p.returncode, out


def test_swaks_pipeline(server):
    rc, out = swaks(server, "smtp", "--pipeline", "--from", "sender@example.net",
                    "--to", "alice@example.org,bob@example.org",
                    "--header", "Subject: pipelined")
    assert rc == 0, out
    assert "PIPELINING" in out
    server.wait_for_mail(ALICE, 1)
    rows = server.wait_for_mail("bob@example.org", 1)
    stored = server.mail_read("bob@example.org", rows[0][0])
    assert b"Subject: pipelined\r\n" in stored


def test_swaks_leading_dots_round_trip(server, tmp_path):
    body = (
        "From: <sender@example.net>\r\n"
        "To: <alice@example.org>\r\n"
        "Subject: dots\r\n"
        "\r\n"
        ".one dot\r\n"
        "..two dots\r\n"
        ".\r\n"
        "middle\r\n"
        "...\r\n"
        "end\r\n"
    ).encode()
    path = tmp_path / "msg.eml"
    # swaks appends CRLF "." itself: a final CRLF in the file would become an
    # extra empty line, so the file leaves it out.
    path.write_bytes(body[:-2])
    rc, out = swaks(server, "smtp", "--from", "sender@example.net", "--to", ALICE,
                    "--data", "@" + str(path))
    assert rc == 0, out
    rows = server.wait_for_mail(ALICE, 1)
    stored = server.mail_read(ALICE, rows[0][0])
    assert stored.endswith(body), "swaks message did not round-trip:\n%r" % stored


@pytest.mark.parametrize("mech", ["PLAIN", "LOGIN"])
def test_swaks_starttls_auth_on_submission(server, mech):
    rc, out = swaks(server, "submission", "--tls", "--auth", mech,
                    "--auth-user", ALICE, "--auth-password", "alice-secret",
                    "--from", ALICE, "--to", "bob@example.org",
                    "--header", "Subject: swaks %s" % mech)
    assert rc == 0, out
    assert "STARTTLS" in out
    rows = server.wait_for_mail("bob@example.org", 1)
    assert b"Subject: swaks %s\r\n" % mech.encode() in server.mail_read("bob@example.org", rows[0][0])


def test_swaks_implicit_tls_auth_on_submissions(server):
    rc, out = swaks(server, "submissions", "--tlsc", "--auth", "PLAIN",
                    "--auth-user", ALICE, "--auth-password", "alice-secret",
                    "--from", ALICE, "--to", "bob@example.org")
    assert rc == 0, out
    server.wait_for_mail("bob@example.org", 1)


def test_swaks_wrong_password_fails(server):
    rc, out = swaks(server, "submission", "--tls", "--auth", "PLAIN",
                    "--auth-user", ALICE, "--auth-password", "not-the-password",
                    "--from", ALICE, "--to", "bob@example.org")
    assert rc != 0, out
    assert "535" in out
    assert server.mail_list("bob@example.org") == []


def test_swaks_without_auth_on_submission_refused(server):
    rc, out = swaks(server, "submission", "--tls", "--from", ALICE, "--to", "bob@example.org")
    assert rc != 0, out
    assert "530" in out

