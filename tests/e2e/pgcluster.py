"""One throw-away PostgreSQL cluster per test session (the fixture postgres_url).

    def test_something(postgres_url):      # "postgres://postie@127.0.0.1:PORT/postie"
        ...

The cluster is started by scripts/pg-test-cluster the first time a test asks
for `postgres_url` (sessions without such a test start nothing) and stopped,
its temp dir removed, at the end of the session. The launcher also gets
`--owner-pid` (this pytest process): a killed pytest still leaves nothing
running.

It listens on 127.0.0.1 only, in the host's network namespace: a postie
started in a private namespace (the harness's default as root) cannot reach
it there; run the cluster inside a Network (`network.run` with
`--listen 127.0.0.x`) or the server with `network=None, ...` outside one.

When PostgreSQL cannot start (not installed, initdb or postgres failing) the
tests using it are skipped with a loud reason (also written to the terminal
and as a warning in the summary), unless POSTIE_REQUIRE_POSTGRES=1, when they
fail instead: scripts/test sets it once scripts/install-test-deps succeeded,
so CI cannot skip them silently.
"""

import os
import subprocess
import sys
import tempfile
import time
import warnings

import pytest

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
LAUNCHER = os.path.join(REPO, "scripts", "pg-test-cluster")
# initdb + start + createdb take about a second; the launcher has its own deadlines.
TIMEOUT = 150


def required():
    return os.environ.get("POSTIE_REQUIRE_POSTGRES", "") == "1"


class PostgresUnavailable(Exception):
    pass


def start_cluster(owner_pid=None):
    """Starts a cluster in a fresh temp dir; returns (url, dir, seconds)."""
    d = tempfile.mkdtemp(prefix="postie-pg-")
    argv = [sys.executable, LAUNCHER, "start", d]
    if owner_pid:
        argv += ["--owner-pid", str(owner_pid)]
    t0 = time.monotonic()
    try:
        r = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        stop_cluster(d)
        raise PostgresUnavailable("scripts/pg-test-cluster start did not finish in %ds" % TIMEOUT)
    elapsed = time.monotonic() - t0
    if r.returncode != 0:
        if os.path.isdir(d):
            subprocess.run([sys.executable, LAUNCHER, "stop", d], capture_output=True)
        raise PostgresUnavailable("scripts/pg-test-cluster start failed (exit %d):\n%s"
                                  % (r.returncode, r.stderr.strip()))
    url = r.stdout.strip()
    if not url.startswith("postgres://"):
        stop_cluster(d)
        raise PostgresUnavailable("scripts/pg-test-cluster printed no URL: %r\n%s"
                                  % (r.stdout, r.stderr))
    return url, d, elapsed


def stop_cluster(d):
    r = subprocess.run([sys.executable, LAUNCHER, "stop", d], stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=TIMEOUT)
    if r.returncode != 0:
        raise RuntimeError("scripts/pg-test-cluster stop %s failed (exit %d):\n%s"
                           % (d, r.returncode, r.stderr))


def _loud(request, msg):
    tr = request.config.pluginmanager.get_plugin("terminalreporter")
    if tr is not None:
        tr.write_line("")
        tr.write_line("!!! " + msg.replace("\n", "\n!!! "), red=True, bold=True)
    warnings.warn(msg)


@pytest.fixture(scope="session")
def postgres_url(request):
    """The URL of a PostgreSQL database `postie` (superuser `postie`, trust
    auth) on 127.0.0.1, one cluster for the whole test session."""
    try:
        url, d, _ = start_cluster(owner_pid=os.getpid())
        problem = None
    except PostgresUnavailable as e:
        problem = e
    if problem is not None:
        msg = "PostgreSQL test cluster could not start: %s" % problem
        if required():
            pytest.fail(msg + "\n(POSTIE_REQUIRE_POSTGRES=1: failing instead of skipping)",
                        pytrace=False)
        msg += ("\nSKIPPING the PostgreSQL tests (run scripts/install-test-deps; "
                "POSTIE_REQUIRE_POSTGRES=1 makes this a failure)")
        _loud(request, msg)
        pytest.skip(msg)
    yield url
    stop_cluster(d)


def pg_connect(url):
    """A psycopg connection (autocommit) to `url`; skips, or fails under
    POSTIE_REQUIRE_POSTGRES=1, when psycopg is missing."""
    try:
        import psycopg
    except ImportError:  # pragma: no cover - install-test-deps installs it
        msg = "psycopg is not installed (run scripts/install-test-deps)"
        if required():
            pytest.fail(msg, pytrace=False)
        pytest.skip(msg)
    return psycopg.connect(url, connect_timeout=10, autocommit=True)


@pytest.fixture
def cluster_db(postgres_url):
    """A fresh database in the session's cluster; yields the URL Postie nodes use,
    through the cluster's Unix socket (a file-system path every network namespace
    sees, so nodes in a private namespace or a `Network` reach it, and nothing
    listens beyond loopback). Dropped at the end, after the nodes (request it
    before `network` and `server_factory`)."""
    import uuid
    name = "cluster_" + uuid.uuid4().hex[:12]
    with pg_connect(postgres_url) as conn:
        (sockdirs,) = conn.execute("SHOW unix_socket_directories").fetchone()
        (port,) = conn.execute("SHOW port").fetchone()
        conn.execute('CREATE DATABASE "%s"' % name)
    sockdir = sockdirs.split(",")[0].strip()
    assert sockdir.startswith("/"), (
        "the test cluster has no Unix socket (%r: its temp dir path is too long for one); "
        "nodes in a network namespace need it" % sockdirs)
    yield "postgres://postie@/%s?host=%s&port=%s&sslmode=disable" % (name, sockdir, port)
    with pg_connect(postgres_url) as conn:
        conn.execute('DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % name)
