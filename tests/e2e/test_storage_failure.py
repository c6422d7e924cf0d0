"""When the message store cannot write (a full or broken disk), the client gets a
temporary failure (451 4.3.0) after DATA, never a 250, the session goes on, no
internal detail leaks into the reply, and the server takes mail again once the
storage is back.

Bodies of up to 256 KiB go into the database with their queue entry (one fsync per
group commit); larger ones are files under `blobs/`. Both paths are broken here: the
body folder made unusable (a large message), and the whole disk full (a small one)."""

import os
import subprocess

import pytest

ALICE = "alice@example.org"

# Past the store's inline limit (256 KiB): this body is a file under blobs/.
LARGE_BODY = ("x" * 76 + "\r\n") * 4000


def send_raw(server, subject, body="body\r\n"):
    c = server.raw("smtp")
    c.ehlo()
    c.expect("MAIL FROM:<sender@example.net>", 250)
    c.expect("RCPT TO:<%s>" % ALICE, 250)
    c.expect("DATA", 354)
    c.send(("Subject: %s\r\n\r\n%s.\r\n" % (subject, body)).encode())
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
        reply = send_raw(server, "during", LARGE_BODY)
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


def test_a_full_disk_is_a_temporary_error_and_loses_nothing(server_factory):
    """The data directory on a small tmpfs, filled to the last block: a message whose
    body goes into the database gets 451 4.3.0; once space is back the next one is
    taken, and the refused one never appears."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    srv = server_factory(start=False)
    os.makedirs(srv.data_dir)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", srv.data_dir], check=True)
    try:
        srv.start()
        srv.add_user(ALICE, "alice-secret")
        filler = os.path.join(srv.data_dir, "filler")
        fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            for size in (65536, 512):  # then the last partial blocks
                try:
                    while os.write(fd, b"\0" * size):
                        pass
                except OSError:
                    pass
        finally:
            os.close(fd)
        reply = send_raw(srv, "during", ("y" * 76 + "\r\n") * 2600)
        assert reply.code == 451 and reply.enhanced == "4.3.0", reply
        os.remove(filler)
        send_raw(srv, "after")
        srv.wait_for_mail(ALICE, 1)
        rows = srv.mail_list(ALICE)
        assert len(rows) == 1, rows
        assert b"Subject: after" in srv.mail_read(ALICE, rows[0][0])
        # The refused message (~200 KiB) was never queued either.
        assert all(e["size"] < 10000 for e in srv.queue_entries()), srv.queue_entries()
    finally:
        if srv.running():
            srv.stop()
        subprocess.run(["umount", "-l", srv.data_dir], check=False)
