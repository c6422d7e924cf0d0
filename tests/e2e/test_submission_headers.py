"""RFC 6409 §8: the submission service adds Message-ID and Date when missing
and leaves them alone when present."""

import email.utils
import re

from smtpraw import client_tls_context

BOB = "bob@example.org"


def submit(server, msg):
    s = server.smtp("submission")
    s.ehlo()
    s.starttls(context=client_tls_context())
    s.ehlo()
    s.login("alice@example.org", "alice-secret")
    assert s.sendmail("alice@example.org", [BOB], msg) == {}
    s.quit()


def header_values(stored, name):
    head = stored.split(b"\r\n\r\n", 1)[0]
    unfolded = re.sub(rb"\r\n[ \t]", b" ", head)
    out = []
    for line in unfolded.split(b"\r\n"):
        key, sep, value = line.partition(b":")
        if sep and key.strip().lower() == name.lower().encode():
            out.append(value.strip().decode("utf-8", "replace"))
    return out


def test_missing_message_id_and_date_are_added(server):
    msg = b"From: <alice@example.org>\r\nTo: <bob@example.org>\r\nSubject: bare\r\n\r\nno id, no date\r\n"
    submit(server, msg)
    rows = server.wait_for_mail(BOB, 1)
    stored = server.mail_read(BOB, rows[0][0])
    ids = header_values(stored, "Message-ID")
    dates = header_values(stored, "Date")
    assert len(ids) == 1, "want exactly one Message-ID, got %r\n%r" % (ids, stored)
    assert re.fullmatch(r"<[^<>@\s]+@[^<>@\s]+>", ids[0]), ids
    assert len(dates) == 1, "want exactly one Date, got %r" % dates
    assert email.utils.parsedate_to_datetime(dates[0]) is not None
    assert stored.endswith(b"\r\n\r\nno id, no date\r\n")
    assert b"Subject: bare\r\n" in stored


def test_present_message_id_and_date_are_kept(server):
    msg = (b"From: <alice@example.org>\r\nTo: <bob@example.org>\r\nSubject: full\r\n"
           b"Message-ID: <keep-me.1234@example.org>\r\n"
           b"Date: Tue, 03 Jan 2006 10:00:00 +0100\r\n\r\nkeep\r\n")
    submit(server, msg)
    rows = server.wait_for_mail(BOB, 1)
    stored = server.mail_read(BOB, rows[0][0])
    assert header_values(stored, "Message-ID") == ["<keep-me.1234@example.org>"]
    assert header_values(stored, "Date") == ["Tue, 03 Jan 2006 10:00:00 +0100"]
    assert stored.endswith(msg), "a complete message must pass through unchanged"


def test_date_only_missing(server):
    msg = (b"From: <alice@example.org>\r\nTo: <bob@example.org>\r\nSubject: half\r\n"
           b"Message-ID: <has-id@example.org>\r\n\r\nhalf\r\n")
    submit(server, msg)
    rows = server.wait_for_mail(BOB, 1)
    stored = server.mail_read(BOB, rows[0][0])
    assert header_values(stored, "Message-ID") == ["<has-id@example.org>"]
    assert len(header_values(stored, "Date")) == 1
