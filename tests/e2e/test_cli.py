"""The admin CLI against a running server's data dir: domains and users, and
their effect on the live SMTP service."""

import base64
import os
import pty
import select
import subprocess
import termios
import time


def auth_code(server, user, password):
    c = server.raw("submission")
    c.ehlo()
    c.expect("STARTTLS", 220)
    c.starttls()
    c.ehlo()
    token = base64.b64encode(("\0%s\0%s" % (user, password)).encode()).decode()
    r = c.cmd("AUTH PLAIN " + token)
    c.close()
    return r.code


def rcpt_code(server, rcpt):
    c = server.raw("smtp")
    c.ehlo()
    c.expect("MAIL FROM:<sender@example.net>", 250)
    r = c.cmd("RCPT TO:<%s>" % rcpt)
    c.close()
    return r


def test_domain_add_list_del(server_factory):
    srv = server_factory()
    assert "example.com" not in srv.domain_list()
    srv.cli("domain", "add", "example.com")
    srv.cli("domain", "add", "example.net")
    domains = srv.domain_list()
    assert "example.com" in domains and "example.net" in domains, domains
    # adding it twice is an error that says so (or a no-op), never a second entry
    again = srv.cli("domain", "add", "example.com", check=False)
    assert srv.domain_list().count("example.com") == 1
    if again.returncode != 0:
        assert "example.com" in again.stderr, again.stderr
    srv.cli("domain", "del", "example.com")
    domains = srv.domain_list()
    assert "example.com" not in domains and "example.net" in domains, domains
    # a removed domain is no longer local: relay denied
    r = rcpt_code(srv, "anyone@example.com")
    assert r.code == 550 and r.enhanced == "5.7.1", r


def test_domain_becomes_local_while_running(server_factory):
    srv = server_factory()
    r = rcpt_code(srv, "carol@example.com")
    assert r.code == 550 and r.enhanced == "5.7.1", r
    srv.add_user("carol@example.com", "carol-pw")
    r = rcpt_code(srv, "carol@example.com")
    assert r.code == 250, r
    r = rcpt_code(srv, "dave@example.com")
    assert r.code == 550 and r.enhanced == "5.1.1", r


def test_user_lifecycle_while_running(server_factory):
    srv = server_factory()
    srv.add_user("alice@example.org", "first-password")
    assert "alice@example.org" in srv.user_list()
    assert auth_code(srv, "alice@example.org", "first-password") == 235

    srv.cli("user", "passwd", "alice@example.org", "--password-stdin", input="second-password\n")
    assert auth_code(srv, "alice@example.org", "second-password") == 235
    assert auth_code(srv, "alice@example.org", "first-password") == 535

    srv.cli("user", "del", "alice@example.org")
    assert "alice@example.org" not in srv.user_list()
    assert auth_code(srv, "alice@example.org", "second-password") == 535
    r = rcpt_code(srv, "alice@example.org")
    assert r.code == 550 and r.enhanced == "5.1.1", r


def test_user_add_twice_and_unknown_user(server_factory):
    srv = server_factory()
    srv.add_user("alice@example.org", "pw-one")
    p = srv.cli("user", "add", "alice@example.org", "--password-stdin", input="pw-two\n", check=False)
    assert p.returncode != 0, "adding an existing user must fail"
    assert auth_code(srv, "alice@example.org", "pw-one") == 235, "the failed add must not change the password"
    p = srv.cli("user", "del", "nobody@example.org", check=False)
    assert p.returncode != 0
    p = srv.cli("user", "passwd", "nobody@example.org", "--password-stdin", input="x\n", check=False)
    assert p.returncode != 0


def test_cli_with_data_dir_flag(server_factory):
    srv = server_factory()
    srv.add_user("alice@example.org", "pw")
    # --data DIR instead of --config FILE
    p = subprocess.run([srv.bin, "user", "list", "--data", srv.data_dir],
                       capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
    assert p.returncode == 0, p.stderr
    assert b"alice@example.org" in p.stdout


def test_mail_list_and_read_empty(server_factory):
    srv = server_factory()
    srv.add_user("alice@example.org", "pw")
    assert srv.mail_list("alice@example.org") == []
    p = srv.cli("mail", "read", "alice@example.org", "1", check=False)
    assert p.returncode != 0, "reading a missing UID must fail"


def _wait_for_no_echo(fd, deadline):
    """Polls the terminal behind the pty master FD until ECHO is off (the
    master and the slave share one termios on Linux)."""
    while termios.tcgetattr(fd)[3] & termios.ECHO:
        assert time.monotonic() < deadline, "the program never turned echo off"
        time.sleep(0.01)


def _run_on_a_terminal(argv, answers, timeout=30):
    """Runs ARGV with a pseudo-terminal as its controlling terminal; each time the
    output ends with a prompt from ANSWERS (a list of (prompt, reply)), types the
    reply. Returns (exit status, everything the program wrote)."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: the pty is its stdin/stdout/stderr and its tty
        os.execv(argv[0], argv)
    seen = b""
    pending = list(answers)
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        assert left > 0, "no exit within %ss; output so far: %r" % (timeout, seen)
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # EIO: the child closed the terminal
            chunk = b""
        if not chunk:
            break
        seen += chunk
        if pending and seen.rstrip().endswith(pending[0][0].encode().rstrip()):
            # The prompt is written before echo is turned off: type only once it
            # is, as a person would be too slow to notice the difference.
            _wait_for_no_echo(fd, deadline)
            os.write(fd, (pending.pop(0)[1] + "\n").encode())
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    return os.waitstatus_to_exitcode(status), seen.decode("utf-8", "replace")


def test_user_add_asks_for_the_password_on_a_terminal(server):
    """`postie user add ADDR` without --password-stdin asks twice, without echo."""
    argv = [server.bin, "user", "add", "carol@example.org", "--config", server.config_path]
    code, out = _run_on_a_terminal(argv, [("Password:", "typed secret"), ("Again:", "typed secret")])
    assert code == 0, out
    assert "typed secret" not in out, "the password was echoed: %r" % out
    assert auth_code(server, "carol@example.org", "typed secret") == 235

    # Two different answers: refused, and no account is made.
    argv[3] = "dave@example.org"
    code, out = _run_on_a_terminal(argv, [("Password:", "one"), ("Again:", "two")])
    assert code != 0 and "do not match" in out, out
    assert auth_code(server, "dave@example.org", "one") == 535
