"""A shared network namespace for tests that need several "hosts" (class Network).

One holder process (`unshare -n`, then a small Python loop) owns a private
network namespace whose only interface is `lo`, brought up: the whole of
127.0.0.0/8 is reachable inside it, so 127.0.0.2:25, 127.0.0.3:25, ... are
distinct SMTP "hosts", 127.0.0.53:53 a DNS server, and nothing can leave the
machine. Everything a test starts in it (postie via `Server(network=...)`,
TestDNS, Peer, Postfix, any `run`/`popen` command) shares that namespace;
Python sockets enter it with `with network.netns(): ...`.

Cleanup: `close()` stops the helpers registered with `track()` (newest first:
TestDNS, Peer and Postfix register themselves),
then the holder SIGKILLs every process still in the namespace and exits.
The holder also gets SIGTERM when the test process dies (PR_SET_PDEATHSIG),
so even a killed pytest leaves nothing running in the namespace: daemons
that detach from their parent (Postfix's master) are found by their
namespace, not by their parentage.

Needs root and a working `unshare -n`; otherwise (or with POSTIE_E2E_NETNS=0)
creating a Network skips the test with the reason.
"""

import contextlib
import os
import select
import signal
import smtplib
import socket
import subprocess
import sys
import time

import pytest

from harness import USE_NETNS, _die_with_parent, _libc, _setns

READY_TIMEOUT = 20.0

# The holder: brings lo up, says it is ready, then waits. On SIGTERM (from
# close() or, through PR_SET_PDEATHSIG, from the death of the test process) it
# SIGKILLs every other process in its namespace, polling until none is left,
# and exits.
_HOLDER = r"""
import os, signal, subprocess, sys, time
subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
me, parent = os.getpid(), int(sys.argv[1])
st = os.stat("/proc/self/ns/net")
ns = (st.st_dev, st.st_ino)

def members():
    pids = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        pid = int(name)
        if pid in (me, parent):
            continue
        try:
            s = os.stat("/proc/%d/ns/net" % pid)
        except OSError:
            continue
        if (s.st_dev, s.st_ino) == ns:
            pids.append(pid)
    return pids

def sweep(signum, frame):
    deadline = time.monotonic() + 10
    while True:
        pids = members()
        if not pids or time.monotonic() > deadline:
            break
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.02)
    os._exit(0)

signal.signal(signal.SIGTERM, sweep)
if os.getppid() != parent:  # the test process died before PR_SET_PDEATHSIG
    sweep(None, None)
print("network ready", flush=True)
while True:
    signal.pause()
"""


def require_netns():
    """Skips the test when no private network namespace can be had."""
    if not USE_NETNS:
        pytest.skip(
            "Network needs a private network namespace (root, a working `unshare -n`, "
            "nsenter and ip); not available here or POSTIE_E2E_NETNS=0"
        )


def _holder_preexec():
    """The holder gets SIGTERM (not SIGKILL) when the test process dies, so it
    can sweep the namespace first."""
    _libc.prctl(1, signal.SIGTERM, 0, 0, 0)  # PR_SET_PDEATHSIG


class NetworkError(AssertionError):
    pass


class Network:
    """One private network namespace shared by several test processes."""

    def __init__(self, name="net"):
        require_netns()
        self.name = name
        self.proc = None
        self._tracked = []
        self.proc = subprocess.Popen(
            ["unshare", "-n", "--", sys.executable, "-c", _HOLDER, str(os.getpid())],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            preexec_fn=_holder_preexec,
        )
        deadline = time.monotonic() + READY_TIMEOUT
        line = b""
        while not line.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0 or self.proc.poll() is not None:
                err = b""
                if self.proc.poll() is not None:
                    err = self.proc.stderr.read()
                self._kill_holder()
                raise NetworkError(
                    "network namespace holder not ready: %r %r" % (line, err.decode("utf-8", "replace"))
                )
            ready, _, _ = select.select([self.proc.stdout], [], [], left)
            if ready:
                chunk = os.read(self.proc.stdout.fileno(), 1)
                if not chunk:
                    continue
                line += chunk
        if line.strip() != b"network ready":
            self._kill_holder()
            raise NetworkError("network namespace holder said %r" % line)
        self.pid = self.proc.pid
        self.ns_path = "/proc/%d/ns/net" % self.pid
        # An fd on the namespace: netns() keeps working even while the
        # holder is being torn down.
        self._ns_fd = os.open(self.ns_path, os.O_RDONLY)

    # ----- processes in the namespace ----------------------------------------

    def nsenter(self):
        """The argv prefix that runs a program inside the namespace."""
        return ["nsenter", "--net=" + self.ns_path, "--"]

    def popen(self, argv, **kwargs):
        """subprocess.Popen of ARGV inside the namespace. The child gets
        SIGKILL if the test process dies."""
        self._check_open()
        kwargs.setdefault("stdin", subprocess.DEVNULL)
        kwargs.setdefault("preexec_fn", _die_with_parent)
        return subprocess.Popen(self.nsenter() + [str(a) for a in argv], **kwargs)

    def run(self, argv, **kwargs):
        """subprocess.run of ARGV inside the namespace (output captured, 60 s
        timeout unless told otherwise)."""
        self._check_open()
        kwargs.setdefault("capture_output", True)
        kwargs.setdefault("timeout", 60)
        if "input" not in kwargs:
            kwargs.setdefault("stdin", subprocess.DEVNULL)
        return subprocess.run(self.nsenter() + [str(a) for a in argv], **kwargs)

    def add_address(self, ip):
        """Puts IP (e.g. 127.0.0.6) on lo as an address of its own. Every
        127.x address already works without this; programs that insist the
        address be on an interface (Postfix's inet_interfaces) need it."""
        p = self.run(["ip", "addr", "add", "%s/32" % ip, "dev", "lo"], text=True)
        if p.returncode != 0 and "File exists" not in p.stderr:
            raise NetworkError("ip addr add %s failed: %s" % (ip, p.stderr))

    # ----- Python sockets in the namespace -------------------------------------

    @contextlib.contextmanager
    def netns(self):
        """Sockets created inside this block live in the namespace (the calling
        thread switches there and back; sockets keep their namespace after)."""
        self._check_open()
        own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        try:
            _setns(self._ns_fd)
            try:
                yield
            finally:
                _setns(own)
        finally:
            os.close(own)

    def connect(self, addr, timeout=15):
        """A TCP socket to ADDR ((host, port)) inside the namespace."""
        with self.netns():
            return socket.create_connection(addr, timeout=timeout)

    def smtp(self, host, port=25, timeout=30, local_hostname="client.test"):
        """A connected smtplib client to HOST:PORT inside the namespace."""
        with self.netns():
            return smtplib.SMTP(host, port, local_hostname=local_hostname, timeout=timeout)

    def wait_listening(self, host, port, timeout=20, proc=None, what=None):
        """Polls until a TCP connection to HOST:PORT is accepted. When PROC
        (a Popen) exits first, fails at once."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.connect((host, port), timeout=2).close()
                return
            except OSError as e:
                err = e
            if proc is not None and proc.poll() is not None:
                raise NetworkError("%s exited with %s before listening on %s:%d"
                                   % (what or "process", proc.returncode, host, port))
            if time.monotonic() > deadline:
                raise NetworkError("nothing listening on %s:%d after %.0fs (%s)"
                                   % (host, port, timeout, err))
            time.sleep(0.05)

    # ----- life cycle ------------------------------------------------------------

    def track(self, helper):
        """Registers HELPER to be cleaned up by close(): its cleanup() (stop
        and remove its temp dir) when it has one, else its stop()."""
        self._tracked.append(helper)
        return helper

    def members(self):
        """PIDs of the processes now in the namespace (the holder included)."""
        me = os.stat(self.ns_path)
        pids = []
        for name in os.listdir("/proc"):
            if not name.isdigit():
                continue
            try:
                st = os.stat("/proc/%s/ns/net" % name)
            except OSError:
                continue
            if (st.st_dev, st.st_ino) == (me.st_dev, me.st_ino):
                pids.append(int(name))
        return pids

    def close(self):
        """Stops the tracked helpers (newest first), then has the holder kill
        whatever is left in the namespace. Idempotent. Raises the first error
        a helper's stop() raised, after cleaning up everything."""
        if self.proc is None:
            return
        errors = []
        while self._tracked:
            helper = self._tracked.pop()
            try:
                getattr(helper, "cleanup", helper.stop)()
            except Exception as e:  # report after cleaning up everything
                errors.append(e)
        self._kill_holder()
        if getattr(self, "_ns_fd", None) is not None:
            os.close(self._ns_fd)
            self._ns_fd = None
        if errors:
            raise errors[0]

    def _kill_holder(self):
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(30)
        for f in (proc.stdout, proc.stderr):
            if f:
                f.close()

    def _check_open(self):
        if self.proc is None:
            raise NetworkError("the network is closed")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


@pytest.fixture
def network():
    """A Network, closed at the end of the test. Import it into a test module
    (`from network import network`) and request it BEFORE server_factory, so
    the servers are stopped (and their exit status checked) before the
    namespace is torn down."""
    net = Network()
    try:
        yield net
    finally:
        net.close()
