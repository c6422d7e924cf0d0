"""curl as the SMTP client: plain upload and STARTTLS + AUTH."""

ALICE = "alice@example.org"

MESSAGE = (
    b"From: <sender@example.net>\r\n"
    b"To: <alice@example.org>\r\n"
    b"Subject: from curl\r\n"
    b"\r\n"
    b"curl body\r\n"
    b".dot line\r\n"
    b"end\r\n"
)


def curl(server, kind, *args):
    host, port = server.addr(kind)
    scheme = "smtps" if kind == "submissions" else "smtp"
    argv = ["curl", "-sS", "--max-time", "30",
            "%s://%s:%d/client.test.example" % (scheme, host, port)] + list(args)
    p = server.tool(argv)
    return p.returncode, p.stdout.decode("utf-8", "replace") + p.stderr.decode("utf-8", "replace")


def test_curl_plain_upload(server, tmp_path):
    path = tmp_path / "msg.eml"
    path.write_bytes(MESSAGE)
    rc, out = curl(server, "smtp", "--mail-from", "sender@example.net",
                   "--mail-rcpt", ALICE, "--upload-file", str(path))
    assert rc == 0, out
    rows = server.wait_for_mail(ALICE, 1)
    stored = server.mail_read(ALICE, rows[0][0])
    assert stored.endswith(MESSAGE), stored


def test_curl_starttls_auth_on_submission(server, tmp_path):
    path = tmp_path / "msg.eml"
    # Alice may send only as herself (the sender check), in the header too.
    msg = MESSAGE.replace(b"To: <alice@example.org>", b"To: <bob@example.org>").replace(
        b"From: <sender@example.net>", b"From: <alice@example.org>")
    path.write_bytes(msg)
    rc, out = curl(server, "submission", "--ssl-reqd", "-k",
                   "--user", "alice@example.org:alice-secret",
                   "--mail-from", ALICE, "--mail-rcpt", "bob@example.org",
                   "--upload-file", str(path))
    assert rc == 0, out
    rows = server.wait_for_mail("bob@example.org", 1)
    stored = server.mail_read("bob@example.org", rows[0][0])
    # curl sent Message-ID/Date-less mail on submission: the body is intact
    assert stored.endswith(b"\r\n\r\ncurl body\r\n.dot line\r\nend\r\n"), stored


def test_curl_implicit_tls_on_submissions(server, tmp_path):
    path = tmp_path / "msg.eml"
    path.write_bytes(MESSAGE.replace(b"alice@example.org>", b"bob@example.org>").replace(
        b"From: <sender@example.net>", b"From: <alice@example.org>"))
    rc, out = curl(server, "submissions", "-k", "--user", "alice@example.org:alice-secret",
                   "--mail-from", ALICE, "--mail-rcpt", "bob@example.org",
                   "--upload-file", str(path))
    assert rc == 0, out
    server.wait_for_mail("bob@example.org", 1)


def test_curl_bad_password(server, tmp_path):
    path = tmp_path / "msg.eml"
    path.write_bytes(MESSAGE)
    rc, out = curl(server, "submission", "--ssl-reqd", "-k",
                   "--user", "alice@example.org:wrong",
                   "--mail-from", ALICE, "--mail-rcpt", "bob@example.org",
                   "--upload-file", str(path))
    assert rc == 67, "curl should fail with 'login denied' (67): rc=%s %s" % (rc, out)
