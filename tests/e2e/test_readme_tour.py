"""The README's five-minute tour, run as written.

Every ```sh block of the "A five-minute tour" section is split into commands
(a backslash continuation or a here-document stays one command) and fed, one by
one, to a single bash with an empty HOME, the way a newcomer would paste them:
from a folder outside the checkout, with no config file, on the default ports.
Each command must exit 0. Only commands marked "(needs a terminal)" are skipped.

Two stand-ins, both said here so nothing is hidden:
- `cargo build --release -p postie` runs through a `cargo` shim that puts the
  binary this test run already built (`$POSTIE_BIN`) at `target/release/postie`
  of a scratch "checkout": a second, release build would double CI's time. The
  real build is what `scripts/test` does before the e2e tests.
- After a command that starts something in the background (`postie serve &`) the
  test waits, polling with a deadline, until the server says it is ready; after one
  that puts mail into the local queue (`postie send` without `--server`, `postie
  sendmail`), until the running server has delivered it (`postie queue list
  --json` is `[]`; the queue runner looks every second). That is the pause a
  person takes before the next line.

The bash runs in a private network namespace when the harness can make one
(so the default ports never meet another server); its clients (python, curl,
swaks) run inside it too."""

import json
import os
import re
import shutil
import subprocess
import time

import pytest

from harness import USE_NETNS, postie_bin

README = os.path.join(os.path.dirname(__file__), "..", "..", "README.md")
SECTION = "## A five-minute tour"
TERMINAL_MARK = "(needs a terminal)"
SENTINEL = "__tour_command_done__"

pytestmark = pytest.mark.skipif(
    not (shutil.which("swaks") and shutil.which("curl")),
    reason="swaks or curl missing: run scripts/install-test-deps")


def tour_blocks(text):
    """The ```sh blocks between the tour heading and the next `## ` heading."""
    start = text.index(SECTION)
    rest = text[start + len(SECTION):]
    end = re.search(r"^## ", rest, re.M)
    section = rest[: end.start()] if end else rest
    return re.findall(r"^```sh\n(.*?)^```", section, re.M | re.S)


def commands(block):
    """Splits a block into commands: continuation lines and here-documents are
    joined; blank and comment-only lines dropped."""
    out = []
    lines = block.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        cmd = [line]
        while cmd[-1].endswith("\\") and i < len(lines):
            cmd.append(lines[i])
            i += 1
        heredoc = re.search(r"<<-?\s*'?\"?(\w+)'?\"?", "\n".join(cmd))
        if heredoc:
            word = heredoc.group(1)
            while i < len(lines):
                cmd.append(lines[i])
                i += 1
                if lines[i - 1].strip() == word:
                    break
        out.append("\n".join(cmd))
    return out


def test_commands_split_as_a_shell_would():
    block = (
        "a   # comment\n\n# only a comment\nb \\\n  --flag\n"
        "python3 - <<'PY'\nprint(1)\nPY\nc &\n"
    )
    assert commands(block) == ["a   # comment", "b \\\n  --flag",
                               "python3 - <<'PY'\nprint(1)\nPY", "c &"]


class Shell:
    """One bash process fed commands on stdin; each command's exit status and
    stdout come back after a sentinel line. stderr (the server's log too) goes
    to a file."""

    def __init__(self, cwd, env, log_path):
        argv = ["bash", "--noprofile", "--norc"]
        if USE_NETNS:
            argv = ["unshare", "-n", "--", "sh", "-c",
                    'ip link set lo up && exec "$0" "$@"'] + argv
        self.log_path = log_path
        self.log = open(log_path, "wb")
        self.proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self.log,
                                     start_new_session=True)

    def run(self, command, timeout=120):
        self.proc.stdin.write(("%s\necho \"%s $?\"\n" % (command, SENTINEL)).encode())
        self.proc.stdin.flush()
        out = []
        deadline = time.monotonic() + timeout
        while True:
            if time.monotonic() > deadline:
                raise AssertionError("timed out: %s\nlog:\n%s" % (command, self.log_text()))
            line = self.proc.stdout.readline()
            if not line:
                raise AssertionError("bash exited during: %s\nlog:\n%s"
                                     % (command, self.log_text()))
            text = line.decode("utf-8", "replace")
            if text.startswith(SENTINEL):
                return int(text.split()[-1]), "".join(out)
            out.append(text)

    def log_text(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def close(self):
        try:
            os.killpg(self.proc.pid, 9)
        except ProcessLookupError:
            pass
        self.proc.wait(30)
        self.log.close()


def wait_for(predicate, timeout, what, shell):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("%s not seen within %ss; log:\n%s"
                                 % (what, timeout, shell.log_text()))
        time.sleep(0.05)


def queues_locally(cmd):
    """Whether CMD hands mail to the local queue rather than to a server."""
    return "postie sendmail" in cmd or ("postie send " in cmd and "--server" not in cmd)


def queue_is_empty(shell):
    status, out = shell.run("postie queue list --json")
    assert status == 0, out
    return json.loads(out) == []


def cargo_shim(bin_dir):
    """A `cargo` that answers `build --release -p postie` with the built binary."""
    os.makedirs(bin_dir)
    shim = os.path.join(bin_dir, "cargo")
    with open(shim, "w") as f:
        f.write(
            "#!/bin/sh\n"
            "# Stand-in for the README's release build (see test_readme_tour.py).\n"
            '[ "$*" = "build --release -p postie" ] || { echo "shim: $*" >&2; exit 2; }\n'
            'mkdir -p target/release && cp "%s" target/release/postie\n' % postie_bin())
    os.chmod(shim, 0o755)


def test_the_readme_tour_works_as_written(tmp_path):
    with open(README, encoding="utf-8") as f:
        blocks = tour_blocks(f.read())
    cmds = [c for b in blocks for c in commands(b)]
    assert len(cmds) >= 15, cmds  # the tour is really there
    home = tmp_path / "home"
    checkout = tmp_path / "checkout"
    home.mkdir()
    checkout.mkdir()
    cargo_shim(str(tmp_path / "shim"))
    env = {
        "HOME": str(home),
        "PATH": "%s:%s" % (tmp_path / "shim", os.environ.get("PATH", "/usr/bin:/bin")),
        "LANG": "C.UTF-8",
        "NO_COLOR": "1",
        "TERM": "dumb",
    }
    shell = Shell(str(checkout), env, str(tmp_path / "tour.log"))
    outputs = {}
    skipped = []
    try:
        for cmd in cmds:
            if TERMINAL_MARK in cmd:
                skipped.append(cmd)
                continue
            status, out = shell.run(cmd)
            assert status == 0, "README command failed (%d): %s\nstdout:\n%s\nlog:\n%s" % (
                status, cmd, out, shell.log_text())
            outputs[cmd] = out
            if cmd.split("#")[0].rstrip().endswith("&"):
                wait_for(lambda: "postie ready" in shell.log_text(), 60, "postie ready", shell)
            if queues_locally(cmd):
                wait_for(lambda: queue_is_empty(shell), 30, "the local queue emptying", shell)
            if cmd.startswith("kill -HUP"):
                wait_for(lambda: "reloaded" in shell.log_text(), 60, "the reload", shell)
                assert "stopped" not in shell.log_text()
        wait_for(lambda: "stopped" in shell.log_text(), 60, "the server stopping", shell)
    finally:
        shell.close()

    # Only the marked line was skipped.
    assert skipped and all("postie user add" in c for c in skipped), skipped
    log = shell.log_text()
    # The server ran from the tour folder, on the defaults, and told where things are.
    tour = home / "postie-tour"
    assert (tour / "postie-data" / "tls" / "cert.pem").exists()
    assert "data:        %s" % (tour / "postie-data") in log, log
    assert "listening kind=imaps addr=127.0.0.1:1993" in log
    # The HUP reloaded and did not stop it (checked above); the TERM stopped it.
    assert "stopped" in log

    def output_of(prefix):
        found = [out for cmd, out in outputs.items() if cmd.startswith(prefix)]
        assert found, "no command starting with %r ran" % prefix
        return found

    # Every message the tour sent arrived: python, swaks, postie send twice, sendmail.
    listed = json.loads(output_of("postie mail list alice@example.org --json")[0])
    assert len(listed) == 5, listed
    # The first one, read back by postie, POP3 and IMAP, verified by certificate.
    assert "It works." in output_of("postie mail read alice@example.org 1")[0]
    for fetched in output_of("curl --cacert"):
        assert "Subject: hello" in fetched, fetched
