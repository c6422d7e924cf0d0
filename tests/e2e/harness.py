"""The end-to-end harness: a real `postie serve` process (class Server).

The binary is `$POSTIE_BIN` (scripts/test sets it); when unset, the debug build
under `$CARGO_TARGET_DIR` (default ~/.cache/postie-target) is used.

Each test gets its own server (function scope): a temp dir holding the config
and the data dir, listeners on 127.0.0.1 port 0, ports learnt from the
`listening kind=... addr=...` log lines. Nothing sleeps for a fixed time: every
wait is a poll with a deadline.

Network isolation: when possible (root, `unshare -n` works) the server runs in
its own network namespace holding only a loopback interface, so whatever it
does (DNS look-ups, relaying to a remote MX) can never leave this machine.
Clients reach it through `Server.netns()` (Python sockets) and
`Server.tool()` (external programs, via nsenter). Set POSTIE_E2E_NETNS=0 to
run the server in the host's network namespace instead.

`Server(network=net)` (a network.Network) runs the server in that shared
namespace instead of a private one, next to other "hosts" (more servers,
TestDNS, Peer, Postfix) on other loopback addresses, e.g.
`listen={"smtp": ["127.0.0.2:25"]}`.
"""

import contextlib
import imaplib
import json
import ctypes
import os
import poplib
import re
import shutil
import signal
import smtplib
import socket
import subprocess
import tempfile
import time
import uuid


from smtpraw import RawSMTP, client_tls_context

HOSTNAME = "mx.test.example"
DEFAULT_DOMAIN = "example.org"
READY_TIMEOUT = 30.0
# Both POP3 listeners on a free port, for `Server(listen=POP3_LISTEN)`.
POP3_LISTEN = {"pop3": ["127.0.0.1:0"], "pop3s": ["127.0.0.1:0"]}
# Both IMAP listeners on a free port, for `Server(listen=IMAP_LISTEN)`.
IMAP_LISTEN = {"imap": ["127.0.0.1:0"], "imaps": ["127.0.0.1:0"]}
STOP_TIMEOUT = 30.0

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_LISTENING = re.compile(r'listening\s+kind="?([a-z0-9_]+)"?\s+addr="?([^\s"]+)"?')


def postie_bin():
    path = os.environ.get("POSTIE_BIN")
    if not path:
        target = os.environ.get("CARGO_TARGET_DIR") or os.path.expanduser(
            "~/.cache/postie-target"
        )
        path = os.path.join(target, "debug", "postie")
    return path


def _netns_wanted():
    setting = os.environ.get("POSTIE_E2E_NETNS", "auto").lower()
    if setting in ("0", "no", "off", "false"):
        return False
    usable = (
        os.geteuid() == 0
        and shutil.which("unshare") is not None
        and shutil.which("nsenter") is not None
        and shutil.which("ip") is not None
        and subprocess.run(
            ["unshare", "-n", "ip", "link", "set", "lo", "up"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        ).returncode
        == 0
    )
    if setting in ("1", "yes", "on", "true") and not usable:
        raise RuntimeError("POSTIE_E2E_NETNS=1 but unshare -n does not work here")
    return usable


USE_NETNS = _netns_wanted()

_libc = ctypes.CDLL(None, use_errno=True)
_CLONE_NEWNET = 0x40000000


def _setns(fd):
    if _libc.setns(fd, _CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, "setns: " + os.strerror(err))


def _die_with_parent():
    """preexec_fn: the server gets SIGKILL if the test process dies, so an
    interrupted run leaves no server behind."""
    _libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG


def _toml_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        out = '"'
        for ch in v:
            if ch in '"\\':
                out += "\\" + ch
            elif ord(ch) < 0x20 or ord(ch) == 0x7F:
                out += "\\u%04x" % ord(ch)
            else:
                out += ch
        return out + '"'
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    raise TypeError("no TOML form for %r" % (v,))


def to_toml(config):
    """A small TOML writer: top-level scalars, then one level of tables."""
    lines = []
    for key, value in config.items():
        if not isinstance(value, dict):
            lines.append("%s = %s" % (key, _toml_value(value)))
    for key, value in config.items():
        if isinstance(value, dict):
            lines.append("")
            lines.append("[%s]" % key)
            for k, v in value.items():
                lines.append("%s = %s" % (k, _toml_value(v)))
    return "\n".join(lines) + "\n"


class ServerError(AssertionError):
    pass


class Server:
    """One `postie serve` process with its own temp dir, config and data dir."""

    def __init__(self, root=None, smtp=None, listen=None, auth=None, pop3=None, extra=None,
                 name="postie", network=None):
        self.name = name
        self.network = network
        self.bin = postie_bin()
        if not os.path.exists(self.bin):
            raise ServerError(
                "postie binary not found at %s: build it with `cargo build -p postie` "
                "or set POSTIE_BIN" % self.bin
            )
        self._own_root = root is None
        self.root = root or tempfile.mkdtemp(prefix="postie-e2e-")
        self.data_dir = os.path.join(self.root, "data")
        self.config_path = os.path.join(self.root, "postie.toml")
        self.config = {
            "hostname": HOSTNAME,
            "data_dir": self.data_dir,
            "listen": {
                "smtp": ["127.0.0.1:0"],
                "submission": ["127.0.0.1:0"],
                "submissions": ["127.0.0.1:0"],
                "pop3": [],
                "pop3s": [],
                "imap": [],
                "imaps": [],
                # The web face (docs/web.md) on free ports too, never 8080/8443.
                "http": ["127.0.0.1:0"],
                "https": ["127.0.0.1:0"],
            },
            "smtp": {
                "max_message_size": 1048576,
                "max_recipients": 100,
                "max_connections_per_ip": 50,
                # SPF / DKIM / DMARC need DNS: against the dead name server below each
                # message would wait out the look-up time-outs. Tests with a TestDNS
                # turn them on (test_dkim.py, test_dmarc.py: CHECKS_ON).
                "spf": False,
                "dkim_verify": False,
                "dmarc": "off",
                # No tarpit: tests that probe many refusals in a row (test_open_relay.py)
                # would wait seconds for each. test_hostile.py turns it on.
                "error_delay_ms": 0,
            },
            "auth": {
                "allow_plaintext": "loopback",
            },
            # No outside DNS, ever: a port where nothing answers, so the relay
            # defers mail for other domains. Tests with a TestDNS override it.
            "dns": {
                "nameservers": ["127.0.0.1:9"],
            },
        }
        self.config["listen"].update(listen or {})
        self.config["smtp"].update(smtp or {})
        self.config["auth"].update(auth or {})
        if pop3:
            self.config.setdefault("pop3", {}).update(pop3)
        for key, value in (extra or {}).items():
            if isinstance(value, dict):
                self.config.setdefault(key, {}).update(value)
            else:
                self.config[key] = value
        self.proc = None
        self.log_path = None
        self.starts = 0
        self.listeners = {}
        self.domains = set()
        self.netns_enabled = USE_NETNS or network is not None
        self.write_config()

    # ----- life cycle -------------------------------------------------------

    def write_config(self, text=None):
        with open(self.config_path, "w", encoding="utf-8") as f:
            f.write(text if text is not None else to_toml(self.config))

    def command(self):
        argv = [self.bin, "serve", "--config", self.config_path]
        if self.network is not None:
            # The shared namespace of the test's Network (lo is already up).
            return self.network.nsenter() + argv
        if self.netns_enabled:
            # A private network namespace: only a loopback interface.
            return [
                "unshare", "-n", "--", "sh", "-c",
                'ip link set lo up && exec "$0" "$@"',
            ] + argv
        return argv

    def start(self, timeout=READY_TIMEOUT):
        assert self.proc is None or self.proc.poll() is not None, "already running"
        self.starts += 1
        self.log_path = os.path.join(self.root, "server-%d.log" % self.starts)
        env = dict(os.environ)
        env.setdefault("RUST_BACKTRACE", "1")
        env["NO_COLOR"] = "1"
        log = open(self.log_path, "wb")
        try:
            self.proc = subprocess.Popen(
                self.command(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                env=env,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        finally:
            log.close()
        self.listeners = {}
        deadline = time.monotonic() + timeout
        while True:
            text = self.log_text()
            if "postie ready" in text:
                break
            if self.proc.poll() is not None:
                raise ServerError(
                    "postie serve exited with %s before it was ready; log:\n%s"
                    % (self.proc.returncode, self.log_tail())
                )
            if time.monotonic() > deadline:
                self.kill()
                raise ServerError(
                    "postie serve not ready within %.0fs; log:\n%s" % (timeout, self.log_tail())
                )
            time.sleep(0.05)
        for kind, addr in _LISTENING.findall(text):
            host, _, port = addr.rpartition(":")
            self.listeners.setdefault(kind, []).append((host.strip("[]"), int(port)))
        for kind, addrs in self.config["listen"].items():
            if addrs and kind not in self.listeners:
                raise ServerError(
                    "no `listening kind=%s addr=...` line in the log:\n%s" % (kind, self.log_tail())
                )
        return self

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=STOP_TIMEOUT, check=True):
        """SIGTERM; the server must exit with status 0 within the deadline."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                raise ServerError(
                    "postie did not exit within %.0fs of SIGTERM; log:\n%s"
                    % (timeout, self.log_tail())
                )
        rc = self.proc.returncode
        if check and rc != 0:
            raise ServerError(
                "postie exited with status %s after SIGTERM (expected 0); log:\n%s"
                % (rc, self.log_tail())
            )
        return rc

    def kill(self):
        """SIGKILL: a crash."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(STOP_TIMEOUT)

    def restart(self):
        if self.running():
            self.stop()
        return self.start()

    def cleanup(self):
        try:
            self.kill()
        finally:
            if self._own_root:
                shutil.rmtree(self.root, ignore_errors=True)

    # ----- logs ---------------------------------------------------------------

    def log_text(self):
        if not self.log_path or not os.path.exists(self.log_path):
            return ""
        with open(self.log_path, "rb") as f:
            return _ANSI.sub("", f.read().decode("utf-8", "replace"))

    def log_tail(self, lines=80):
        return "\n".join(self.log_text().splitlines()[-lines:])

    # ----- reaching the listeners --------------------------------------------

    def addr(self, kind="smtp"):
        try:
            return self.listeners[kind][0]
        except (KeyError, IndexError):
            raise ServerError("no %s listener; have %s" % (kind, sorted(self.listeners)))

    def port(self, kind="smtp"):
        return self.addr(kind)[1]

    @contextlib.contextmanager
    def netns(self):
        """Sockets created inside this block live in the server's network
        namespace (the calling thread switches there and back)."""
        if self.network is not None:
            with self.network.netns():
                yield
            return
        if not self.netns_enabled:
            yield
            return
        own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        try:
            target = os.open("/proc/%d/ns/net" % self.proc.pid, os.O_RDONLY)
            try:
                _setns(target)
            finally:
                os.close(target)
            try:
                yield
            finally:
                _setns(own)
        finally:
            os.close(own)

    def connect(self, kind="smtp", timeout=15):
        """A TCP socket to the listener (implicit TLS already done for
        `submissions`)."""
        with self.netns():
            sock = socket.create_connection(self.addr(kind), timeout=timeout)
        if kind in ("submissions", "pop3s", "imaps"):
            sock = client_tls_context().wrap_socket(sock, server_hostname=HOSTNAME)
        return sock

    def raw(self, kind="smtp", timeout=15):
        """A RawSMTP session; the greeting has been read (`.greeting`)."""
        return RawSMTP(self.connect(kind, timeout), timeout=timeout)

    def smtp(self, kind="smtp", timeout=30):
        """A connected smtplib client (SMTP_SSL for `submissions`)."""
        host, port = self.addr(kind)
        with self.netns():
            if kind == "submissions":
                return smtplib.SMTP_SSL(
                    host, port, local_hostname="client.test.example",
                    timeout=timeout, context=client_tls_context(),
                )
            return smtplib.SMTP(host, port, local_hostname="client.test.example", timeout=timeout)

    def pop3(self, kind="pop3", timeout=30):
        """A connected poplib client (POP3_SSL for `pop3s`); the greeting has
        been read (`.getwelcome()`)."""
        host, port = self.addr(kind)
        with self.netns():
            if kind == "pop3s":
                return poplib.POP3_SSL(host, port, timeout=timeout, context=client_tls_context())
            return poplib.POP3(host, port, timeout=timeout)

    def imap(self, kind="imap", timeout=30):
        """A connected imaplib client (IMAP4_SSL for `imaps`); the greeting has
        been read (`.welcome`, `.capabilities`)."""
        host, port = self.addr(kind)
        with self.netns():
            if kind == "imaps":
                return imaplib.IMAP4_SSL(host, port, timeout=timeout, ssl_context=client_tls_context())
            return imaplib.IMAP4(host, port, timeout=timeout)

    def tool(self, argv, **kwargs):
        """Runs an external client (swaks, curl) where it can reach the server."""
        prefix = []
        if self.network is not None:
            prefix = self.network.nsenter()
        elif self.netns_enabled:
            prefix = ["nsenter", "--net=/proc/%d/ns/net" % self.proc.pid, "--"]
        kwargs.setdefault("capture_output", True)
        kwargs.setdefault("timeout", 60)
        return subprocess.run(prefix + list(argv), **kwargs)

    # ----- admin CLI -----------------------------------------------------------

    def cli(self, *args, input=None, check=True, binary=False, timeout=60):
        """Runs `postie ARGS --config CFG`; returns the CompletedProcess."""
        argv = [self.bin] + [str(a) for a in args] + ["--config", self.config_path]
        if isinstance(input, str):
            input = input.encode("utf-8")
        p = subprocess.run(
            argv, input=input, capture_output=True, timeout=timeout,
            stdin=None if input is not None else subprocess.DEVNULL,
        )
        if not binary:
            p.stdout = p.stdout.decode("utf-8", "replace")
        p.stderr = p.stderr.decode("utf-8", "replace")
        if check and p.returncode != 0:
            raise ServerError(
                "%s exited %s\nstdout: %s\nstderr: %s"
                % (" ".join(argv), p.returncode, p.stdout, p.stderr)
            )
        return p

    def domain_list(self):
        return [d["domain"] for d in json.loads(self.cli("domain", "list", "--json").stdout)]

    def add_domain(self, domain):
        if domain in self.domains:
            return
        if domain not in self.domain_list():
            self.cli("domain", "add", domain)
        self.domains.add(domain)

    def add_user(self, addr, password):
        self.add_domain(addr.rsplit("@", 1)[1])
        self.cli("user", "add", addr, "--password-stdin", input=password + "\n")

    def user_list(self):
        return [u["address"] for u in json.loads(self.cli("user", "list", "--json").stdout)]

    def mail_list(self, addr):
        """[(uid, size, queue_id)] of the INBOX of ADDR."""
        out = self.cli("mail", "list", addr).stdout
        rows = []
        for line in out.splitlines():
            parts = line.split()
            if len(parts) >= 3 and parts[0].isdigit() and parts[1].isdigit():
                rows.append((int(parts[0]), int(parts[1]), parts[2]))
        return rows

    def mail_read(self, addr, uid):
        return self.cli("mail", "read", addr, uid, binary=True).stdout

    def mailbox(self, addr):
        """Every stored message of ADDR's INBOX, as bytes, in list order."""
        return [self.mail_read(addr, uid) for uid, _, _ in self.mail_list(addr)]

    def queue_list(self):
        """`postie queue list`: the table, or "queue is empty"."""
        return self.cli("queue", "list").stdout

    def queue_entries(self):
        """`postie queue list --json`: one dict per queued message (docs/cli.md)."""
        return json.loads(self.cli("queue", "list", "--json").stdout)

    def wait_for_mail(self, addr, count, timeout=20):
        """Polls `mail list` until ADDR has at least COUNT messages."""
        deadline = time.monotonic() + timeout
        while True:
            rows = self.mail_list(addr)
            if len(rows) >= count:
                return rows
            if time.monotonic() > deadline:
                raise ServerError(
                    "%s has %d message(s) after %.0fs, expected %d\nqueue:\n%s\nlog:\n%s"
                    % (addr, len(rows), timeout, count, self.queue_list(), self.log_tail())
                )
            time.sleep(0.1)


def wait_until(predicate, timeout=20, interval=0.05, message="condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.0fs waiting for %s" % (timeout, message))
        time.sleep(interval)


QUEUED = re.compile(r"^2\.0\.0 Ok: queued as ([0-9A-Fa-f]{16})$")


def queue_id_of(reply_text):
    """The queue id from a DATA reply text ("2.0.0 Ok: queued as ID")."""
    text = reply_text.decode() if isinstance(reply_text, bytes) else reply_text
    m = QUEUED.match(text.strip())
    assert m, "DATA reply is not '250 2.0.0 Ok: queued as <16 hex>': %r" % text
    return m.group(1)


def unique(prefix="m"):
    return "%s-%s" % (prefix, uuid.uuid4().hex[:12])


def send_marker(server, rcpt, kind="smtp", sender="marker@example.net"):
    """Sends a small clean message to RCPT and returns its unique marker; used
    to prove that an earlier, rejected message was not delivered: once the
    marker arrives, the mailbox must hold only the marker."""
    marker = unique("marker")
    msg = ("From: <%s>\r\nTo: <%s>\r\nSubject: %s\r\n\r\n%s\r\n" % (sender, rcpt, marker, marker)).encode()
    s = server.smtp(kind)
    try:
        s.ehlo()
        s.sendmail(sender, [rcpt], msg)
        s.quit()
    finally:
        s.close()
    return marker


def only_marker(server, rcpt, marker, timeout=20):
    """Waits for the marker and asserts it is the only message of RCPT."""
    server.wait_for_mail(rcpt, 1, timeout)
    msgs = server.mailbox(rcpt)
    assert len(msgs) == 1, "expected only the marker message, got %d:\n%r" % (
        len(msgs), [m[:300] for m in msgs])
    assert marker.encode() in msgs[0]
    return msgs[0]


# ----- capture mode (`postie capture`, docs/capture.md) ---------------------------

CAPTURE_LISTENERS = ("smtp", "http", "imap", "pop3")


class CaptureServer(Server):
    """One `postie capture` process: the harness's config file (host name, dead
    DNS, limits) through `--config`, the data dir through `--data`, and its
    smtp/http/imap/pop3 listeners on free ports through the flags (every other
    listener off), read back from the log as for `Server`. `capture_args` are
    more flags (`--max-messages 3`)."""

    capture_args = ()

    def capture_setup(self, capture_args=()):
        self.capture_args = [str(a) for a in capture_args]
        listen = self.config["listen"]
        for kind in list(listen):
            if kind not in CAPTURE_LISTENERS:
                listen[kind] = []
            elif not listen[kind]:
                listen[kind] = ["127.0.0.1:0"]
        self.write_config()
        return self

    def command(self):
        argv = super().command()
        at = argv.index("serve")
        listen = self.config["listen"]
        capture = ["capture", "--data", self.data_dir,
                   "--smtp", listen["smtp"][0], "--listen", listen["http"][0],
                   "--imap", listen["imap"][0], "--pop3", listen["pop3"][0]]
        return argv[:at] + capture + list(self.capture_args) + argv[at + 1:]

    def http_get(self, path, timeout=15):
        """GET PATH on the web listener: (status, body bytes)."""
        import http.client
        host, port = self.addr("http")
        with self.netns():
            conn = http.client.HTTPConnection(host, port, timeout=timeout)
            conn.connect()
        try:
            conn.request("GET", path)
            resp = conn.getresponse()
            return resp.status, resp.read()
        finally:
            conn.close()


def capture_server(server_factory, capture_args=(), start=True, **kwargs):
    """A `postie capture` made by the `server_factory` fixture (so it is stopped
    and cleaned up with the others); kwargs as for `Server`."""
    srv = server_factory(start=False, **kwargs)
    srv.__class__ = CaptureServer
    srv.capture_setup(capture_args)
    if start:
        srv.start()
    return srv
