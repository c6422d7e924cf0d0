"""When the message store cannot write (a full or broken disk), the client gets a
temporary failure (451 4.3.0) after DATA, never a 250, the session goes on, no
internal detail leaks into the reply, and the server takes mail again once the
storage is back."""

import os

ALICE = "alice@example.org"


def send_raw(server, subject):
    c = server.raw("smtp")
    c.ehlo()
    c.expect("MAIL FROM:<sender@example.net>", 250)
    c.expect("RCPT TO:<%s>" % ALICE, 250)
    c.expect("DATA", 354)
    c.send(("Subject: %s\r\n\r\nbody\r\n.\r\n" % subject).encode())
    reply = c.expect(None, 2 if subject == "after" else 4)
    c.expect("NOOP", 250)  # the session survives a failed message
    c.expect("QUIT", 221)
    return reply


def test_a_storage_failure_is_a_temporary_error_and_loses_nothing(server):
    blobs = os.path.join(server.data_dir, "blobs")
    away = blobs + ".away"
    # Body files can no longer be created: `blobs` is now a plain file.
    os.rename(blobs, away)
    with open(blobs, "wb") as f:
        f.write(b"not a directory")
    try:
        reply = send_raw(server, "during")
        assert reply.code == 451 and reply.enhanced == "4.3.0", reply
        text = " ".join(reply.lines).lower()
        assert "blobs" not in text and "directory" not in text, "internal detail leaked: %r" % reply
    finally:
        os.remove(blobs)
        os.rename(away, blobs)

    # The refused message was never queued: only the next one arrives.
    assert server.queue_entries() == []
    send_raw(server, "after")
    server.wait_for_mail(ALICE, 1)
    rows = server.mail_list(ALICE)
    assert len(rows) == 1, rows
    stored = server.mail_read(ALICE, rows[0][0])
    assert b"Subject: after" in stored
