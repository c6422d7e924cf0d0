"""The login-failure throttle and the hourly sending limits hold for a cluster as a
whole (issue 15): two Postie nodes on one PostgreSQL database share their counts
(the store's shared counters, docs/cluster.md), so spreading attempts over the
nodes gives an attacker no more tries than one node would.

Nodes A and B (127.0.0.2, .3) run in one private `Network`, each with its own
config and data_dir and `[store] url` naming one fresh database of the session's
cluster (fixture `postgres_url`, which skips or fails as pgcluster.py says when
PostgreSQL is unavailable), reached through the cluster's Unix socket as in
test_cluster.py (the cluster listens on the host's 127.0.0.1, which the Network
cannot reach). Clients connect from chosen loopback addresses inside the Network.

1. failed SMTP AUTH logins from one address, alternating between the nodes, lock
   the address out on both after `auth.max_failures_per_ip` in total (each node
   saw only half), even with the right password, while another address logs in;
2. an unauthenticated client's hourly message limit
   (`smtp.max_messages_per_hour_per_ip`) is counted once for both nodes.
"""

import os
import socket
import uuid

import pytest

from network import network  # noqa: F401  (the fixture)
from smtpraw import RawSMTP

try:
    import psycopg
except ImportError:  # pragma: no cover - install-test-deps installs it
    psycopg = None

NODES = (("a", "127.0.0.2"), ("b", "127.0.0.3"))
ALICE, ALICE_PW = "alice@example.org", "alice-limits-secret"
ATTACKER, OTHER = "127.0.0.9", "127.0.0.10"
MAX_PER_IP = 4


def _pg_connect(url):
    if psycopg is None:
        msg = "psycopg is not installed (run scripts/install-test-deps)"
        if os.environ.get("POSTIE_REQUIRE_POSTGRES", "") == "1":
            pytest.fail(msg, pytrace=False)
        pytest.skip(msg)
    return psycopg.connect(url, connect_timeout=10, autocommit=True)


@pytest.fixture
def limits_db(postgres_url):
    """A fresh database in the session's cluster; yields the URL the nodes use
    (through the cluster's Unix socket); dropped after the nodes stopped."""
    name = "limits_" + uuid.uuid4().hex[:12]
    with _pg_connect(postgres_url) as conn:
        (sockdirs,) = conn.execute("SHOW unix_socket_directories").fetchone()
        (port,) = conn.execute("SHOW port").fetchone()
        conn.execute('CREATE DATABASE "%s"' % name)
    sockdir = sockdirs.split(",")[0].strip()
    assert sockdir.startswith("/"), "the test cluster has no Unix socket (%r)" % sockdirs
    yield "postgres://postie@/%s?host=%s&port=%s&sslmode=disable" % (name, sockdir, port)
    with _pg_connect(postgres_url) as conn:
        conn.execute('DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % name)


def start_nodes(url, network, factory):
    """Nodes A and B on one database, A first (it creates the schema)."""
    nodes = []
    for name, addr in NODES:
        nodes.append(factory(
            network=network, name=name,
            listen={"smtp": ["%s:25" % addr], "submission": ["%s:587" % addr],
                    "submissions": []},
            auth={"max_failures_per_ip": MAX_PER_IP, "max_failures_per_account": 100,
                  "failure_window_secs": 600, "lockout_secs": 600,
                  "failure_delay_ms": 0, "max_failure_delay_ms": 0},
            smtp={"max_messages_per_hour_per_ip": 3, "max_recipients_per_hour_per_ip": 0,
                  "max_messages_per_hour_per_user": 0,
                  "max_recipients_per_hour_per_user": 0},
            extra={"hostname": "node-%s.test" % name, "store": {"url": url}},
        ))
    return nodes


def raw_from(node, source, kind="submission"):
    """A RawSMTP session to NODE's KIND listener from the client address SOURCE."""
    with node.netns():
        sock = socket.create_connection(node.addr(kind), timeout=30,
                                        source_address=(source, 0))
    return RawSMTP(sock, timeout=30)


def login(node, source, user, password):
    c = raw_from(node, source)
    try:
        c.ehlo()
        return c.auth_plain(user, password)
    finally:
        c.close()


def test_failed_logins_over_two_nodes_lock_the_address_after_the_total(
        limits_db, network, server_factory):
    a, b = start_nodes(limits_db, network, server_factory)
    a.add_user(ALICE, ALICE_PW)
    # MAX_PER_IP failures in total, alternating: each node sees only half of them,
    # below its own limit.
    for n in range(MAX_PER_IP):
        node = (a, b)[n % 2]
        reply = login(node, ATTACKER, ALICE, "guess-%d" % n)
        assert reply.code == 535 and reply.enhanced == "5.7.8", (n, reply)
    # Locked out on both nodes, even with the right password.
    for node in (a, b):
        reply = login(node, ATTACKER, ALICE, ALICE_PW)
        assert reply.code == 454 and reply.enhanced == "4.7.0", reply
    # Another address is not affected, on either node.
    for node in (a, b):
        reply = login(node, OTHER, ALICE, ALICE_PW)
        assert reply.code == 235, reply
    assert any("locked out after repeated failed logins" in n.log_text() for n in (a, b))


def test_the_hourly_message_limit_per_address_is_counted_once_for_both_nodes(
        limits_db, network, server_factory):
    a, b = start_nodes(limits_db, network, server_factory)
    a.add_user(ALICE, ALICE_PW)
    replies = []
    for n in range(5):
        node = (a, b)[n % 2]
        c = raw_from(node, ATTACKER, kind="smtp")
        try:
            c.ehlo()
            replies.append(c.cmd("MAIL FROM:<sender%d@remote.test>" % n))
        finally:
            c.close()
    codes = [r.code for r in replies]
    # Three messages an hour from this address, whichever node takes them.
    assert codes == [250, 250, 250, 451, 451], replies
    assert replies[3].enhanced == "4.7.1", replies
