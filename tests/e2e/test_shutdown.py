"""Graceful stop: SIGTERM while a client is mid-session ends with a 421 to the
client (or lets the session finish) and exit status 0; acknowledged mail
survives the restart."""

import signal

import pytest

from harness import ServerError
from smtpraw import ConnectionClosed

ALICE = "alice@example.org"


def wait_exit(srv, timeout=30):
    try:
        return srv.proc.wait(timeout)
    except Exception:
        srv.kill()
        raise ServerError("postie still running %ss after SIGTERM:\n%s" % (timeout, srv.log_tail()))


@pytest.mark.parametrize("phase", ["idle", "after_rcpt", "mid_data"])
def test_sigterm_during_session(server, phase):
    c = server.raw("smtp")
    c.ehlo()
    if phase != "idle":
        c.expect("MAIL FROM:<sender@example.net>", 250)
        c.expect("RCPT TO:<%s>" % ALICE, 250)
    if phase == "mid_data":
        c.expect("DATA", 354)
        c.send(b"Subject: shutdown\r\n\r\nfirst half\r\n")

    server.proc.send_signal(signal.SIGTERM)

    # Either the server tells us 421 right away, or it lets us finish.
    c.sock.settimeout(5)
    queued = False
    try:
        r = c.reply()
        assert r.code == 421, "unexpected reply after SIGTERM: %r" % r
        assert r.enhanced and r.enhanced.startswith("4."), r
        assert c.closed(10), "the server must close after 421"
        print("SIGTERM in phase %s: got %r" % (phase, r))
    except TimeoutError:
        # No 421 yet: finish the session; each step may still get a 421.
        c.sock.settimeout(15)
        print("SIGTERM in phase %s: no 421 within 5s, finishing the session" % phase)
        steps = {
            "idle": [("QUIT", 221)],
            "after_rcpt": [("DATA", 354), ("Subject: s\r\n\r\nsecond half\r\n.", 250), ("QUIT", 221)],
            "mid_data": [("second half\r\n.", 250), ("QUIT", 221)],
        }[phase]
        for line, code in steps:
            try:
                r = c.cmd(line)
            except ConnectionClosed:
                pytest.fail("connection closed without a 421:\n" + c.format_transcript())
            if r.code == 421:
                break
            assert r.code == code, r
            if code == 250:
                queued = True
    except ConnectionClosed:
        pytest.fail("connection closed without a 421:\n" + c.format_transcript())
    finally:
        c.close()

    rc = wait_exit(server)
    assert rc == 0, "exit status %s after SIGTERM:\n%s" % (rc, server.log_tail())

    server.start()
    if queued:
        server.wait_for_mail(ALICE, 1)
    else:
        assert server.mail_list(ALICE) == []


def test_sigterm_with_many_idle_clients(server):
    clients = [server.raw("smtp") for _ in range(20)]
    for c in clients:
        c.ehlo()
    server.proc.send_signal(signal.SIGTERM)
    rc = wait_exit(server)
    assert rc == 0, server.log_tail()
    for c in clients:
        # each got a 421 (or at least a clean close), none hangs
        assert c.closed(10)
        data = c.buf.decode("utf-8", "replace")
        assert data == "" or data.startswith("421"), data
        c.close()


def test_mail_survives_clean_restart(server):
    s = server.smtp("smtp")
    s.sendmail("sender@example.net", [ALICE], b"Subject: keep\r\n\r\nkeep me\r\n")
    s.quit()
    server.wait_for_mail(ALICE, 1)
    server.restart()
    rows = server.mail_list(ALICE)
    assert len(rows) == 1
    assert server.mail_read(ALICE, rows[0][0]).endswith(b"\r\n\r\nkeep me\r\n")
    # and it serves again on the new ports
    s = server.smtp("smtp")
    s.sendmail("sender@example.net", [ALICE], b"Subject: again\r\n\r\nagain\r\n")
    s.quit()
    server.wait_for_mail(ALICE, 2)
