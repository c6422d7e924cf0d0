"""The PostgreSQL test harness itself (scripts/pg-test-cluster, the session
fixture postgres_url of pgcluster.py): a real cluster, reached over TCP on
127.0.0.1 with psycopg, listening nowhere else, run by an unprivileged user."""

import os
import socket
import subprocess
import sys
import tempfile
import time

import pytest

from pgcluster import LAUNCHER

try:
    import psycopg
except ImportError:  # pragma: no cover - install-test-deps installs it
    psycopg = None


def connect(url):
    if psycopg is None:
        msg = "psycopg is not installed (run scripts/install-test-deps)"
        if os.environ.get("POSTIE_REQUIRE_POSTGRES", "") == "1":
            pytest.fail(msg, pytrace=False)
        pytest.skip(msg)
    return psycopg.connect(url, connect_timeout=10)


def url_port(url):
    # postgres://postie@127.0.0.1:PORT/postie
    return int(url.rsplit(":", 1)[1].split("/", 1)[0])


def listening_sockets(port):
    """(address, port) of every TCP socket in LISTEN state on `port`, IPv4
    and IPv6, from /proc/net/tcp{,6} (this network namespace)."""
    found = []
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(name) as f:
                lines = f.read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local, state = fields[1], fields[3]
            addr_hex, port_hex = local.split(":")
            if state != "0A" or int(port_hex, 16) != port:  # 0A = LISTEN
                continue
            if len(addr_hex) == 8:
                addr = socket.inet_ntop(socket.AF_INET, bytes.fromhex(addr_hex)[::-1])
            else:
                raw = bytes.fromhex(addr_hex)
                raw = b"".join(raw[i:i + 4][::-1] for i in range(0, 16, 4))
                addr = socket.inet_ntop(socket.AF_INET6, raw)
            found.append((addr, port))
    return found


def test_round_trip_over_tcp(postgres_url):
    assert postgres_url.startswith("postgres://postie@127.0.0.1:")
    assert postgres_url.endswith("/postie")
    with connect(postgres_url) as conn:
        with conn.cursor() as cur:
            # Really TCP to 127.0.0.1, not a Unix socket.
            cur.execute("SELECT host(inet_server_addr()), inet_server_port(), current_database()")
            assert cur.fetchone() == ("127.0.0.1", url_port(postgres_url), "postie")
            cur.execute("CREATE TABLE harness_check (id bigserial PRIMARY KEY, body text NOT NULL)")
            cur.execute("INSERT INTO harness_check (body) VALUES (%s) RETURNING id", ("héllo ✓",))
            (row_id,) = cur.fetchone()
        conn.commit()
    # A second connection sees the committed row.
    with connect(postgres_url) as conn:
        with conn.cursor() as cur:
            cur.execute("SELECT id, body FROM harness_check")
            assert cur.fetchall() == [(row_id, "héllo ✓")]
            cur.execute("DROP TABLE harness_check")
        conn.commit()


def test_listens_on_loopback_only_as_unprivileged_user(postgres_url):
    port = url_port(postgres_url)
    with connect(postgres_url) as conn:
        with conn.cursor() as cur:
            cur.execute("SHOW listen_addresses")
            assert cur.fetchone() == ("127.0.0.1",)
            cur.execute("SELECT pg_backend_pid()")
            (backend,) = cur.fetchone()
            # The server runs as an unprivileged user (PostgreSQL refuses
            # root anyway); read while the connection (its backend) lives.
            with open("/proc/%d/status" % backend) as f:
                uids = [line.split()[1:] for line in f if line.startswith("Uid:")][0]
            assert all(int(u) != 0 for u in uids), uids
    # Exactly one listening socket on that port, bound to 127.0.0.1 (no
    # 0.0.0.0, no ::, no other address).
    assert listening_sockets(port) == [("127.0.0.1", port)]


def run_launcher(*args, env=None, timeout=120):
    return subprocess.run([sys.executable, LAUNCHER, *args], stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=timeout,
                          env=dict(os.environ, **(env or {})))


def test_missing_binaries_are_reported_loudly():
    d = tempfile.mkdtemp(prefix="postie-pg-missing-")
    try:
        r = run_launcher("start", d, env={"POSTIE_PG_BINDIR": "/nonexistent/pg/bin"})
        assert r.returncode == 3, r
        assert r.stdout == ""
        assert "PostgreSQL server binaries not found" in r.stderr
        assert "initdb" in r.stderr
    finally:
        if os.path.isdir(d):
            os.rmdir(d)


def test_only_loopback_addresses_are_accepted():
    r = run_launcher("start", "/nonexistent/never-created", "--listen", "0.0.0.0")
    assert r.returncode == 1, r
    assert "only loopback addresses" in r.stderr
    assert not os.path.exists("/nonexistent/never-created")


def test_watchdog_stops_the_cluster_when_its_owner_dies():
    """--owner-pid: the cluster goes away with the process that asked for it
    (how a Rust test binary's static cluster is torn down)."""
    owner = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"],
                             stdin=subprocess.PIPE)
    d = tempfile.mkdtemp(prefix="postie-pg-watch-")
    try:
        r = run_launcher("start", d, "--owner-pid", str(owner.pid))
        if r.returncode == 3:
            msg = "PostgreSQL is not installed: " + r.stderr
            if os.environ.get("POSTIE_REQUIRE_POSTGRES", "") == "1":
                pytest.fail(msg, pytrace=False)
            pytest.skip(msg)
        assert r.returncode == 0, r.stderr
        url = r.stdout.strip()
        port = url_port(url)
        with open(os.path.join(d, "data", "postmaster.pid")) as f:
            postmaster = int(f.readline())
        assert listening_sockets(port) == [("127.0.0.1", port)]
        owner.stdin.close()
        owner.wait(timeout=10)
        deadline = time.monotonic() + 60
        while os.path.exists(d) or listening_sockets(port):
            assert time.monotonic() < deadline, "the watchdog did not stop the cluster in %s" % d
            time.sleep(0.05)
        # The postmaster is gone (or a zombie waiting for whoever inherited it).
        try:
            with open("/proc/%d/stat" % postmaster) as f:
                assert f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
        except FileNotFoundError:
            pass
    finally:
        if owner.poll() is None:
            owner.kill()
            owner.wait()
        if os.path.isdir(d):
            run_launcher("stop", d)
