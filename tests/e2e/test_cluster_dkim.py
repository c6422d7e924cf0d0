"""DKIM keys in the shared database: a key generated through one node signs on
every node (issue: DKIM keys with a shared store).

Nodes A and B (127.0.0.2, .3) run in one private `Network`, each with its own
config and data_dir and `[store] url` naming the same fresh database of the
session's cluster (fixture `postgres_url`, which skips or fails as pgcluster.py
says when PostgreSQL is unavailable). As in test_cluster.py, the nodes reach
the cluster through its Unix socket (the Network cannot reach the host's
127.0.0.1).

What it proves:
1. `postie dkim generate` with A's config stores the keys in the database (no
   file in A's data_dir/dkim), B's `postie dkim list` and `postie dns records`
   show them;
2. mail submitted on B, which was already running when the key was made, is
   signed with that key's selectors within its refresh time (half a minute);
3. `postie dkim remove` with B's config removes a key for every node.
"""

import os
import re
import time
import uuid

import pytest

from harness import unique
from network import network  # noqa: F401  (the fixture)

try:
    import psycopg
except ImportError:  # pragma: no cover - install-test-deps installs it
    psycopg = None

NODES = (("a", "127.0.0.2"), ("b", "127.0.0.3"))
ALICE, PASSWORD = "alice@example.org", "cluster-dkim-secret"
# The nodes re-read the keys every 30 s (server::dkim_keys::REFRESH).
REFRESH_DEADLINE = 60


def _pg_connect(url):
    if psycopg is None:
        msg = "psycopg is not installed (run scripts/install-test-deps)"
        if os.environ.get("POSTIE_REQUIRE_POSTGRES", "") == "1":
            pytest.fail(msg, pytrace=False)
        pytest.skip(msg)
    return psycopg.connect(url, connect_timeout=10, autocommit=True)


@pytest.fixture
def dkim_db(postgres_url):
    """A fresh database in the session's cluster; yields the URL the nodes use
    (through the cluster's Unix socket). Dropped at the end, after the nodes."""
    name = "dkim_" + uuid.uuid4().hex[:12]
    with _pg_connect(postgres_url) as conn:
        (sockdirs,) = conn.execute("SHOW unix_socket_directories").fetchone()
        (port,) = conn.execute("SHOW port").fetchone()
        conn.execute('CREATE DATABASE "%s"' % name)
    sockdir = sockdirs.split(",")[0].strip()
    assert sockdir.startswith("/"), "the test cluster has no Unix socket: %r" % sockdirs
    yield "postgres://postie@/%s?host=%s&port=%s&sslmode=disable" % (name, sockdir, port)
    with _pg_connect(postgres_url) as conn:
        conn.execute('DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % name)


def node(factory, network, url, name, addr):
    return factory(
        network=network, name=name,
        listen={"smtp": ["%s:25" % addr], "submission": ["%s:587" % addr],
                "submissions": []},
        smtp={"max_messages_per_hour_per_user": 0, "max_recipients_per_hour_per_user": 0},
        extra={"hostname": "node-%s.test" % name, "store": {"url": url}},
    )


def selectors(output):
    """The selectors in `postie dkim generate` output (its `; DKIM key S (alg)` lines)."""
    return re.findall(r"(?m)^; DKIM key (\S+) ", output)


def submit(network, server, marker):
    host, port = server.addr("submission")
    s = network.smtp(host, port)
    try:
        s.ehlo("client.test")
        s.login(ALICE, PASSWORD)
        s.sendmail(ALICE, [ALICE], ("From: Alice <%s>\r\nTo: <%s>\r\nSubject: %s\r\n\r\n"
                                    "marker %s\r\n" % (ALICE, ALICE, marker, marker)).encode())
        s.quit()
    finally:
        s.close()


def stored(server, marker):
    """The stored message of alice's INBOX that carries MARKER, or None."""
    for message in server.mailbox(ALICE):
        if marker.encode() in message:
            return message
    return None


def test_a_key_generated_on_one_node_signs_on_another(dkim_db, network, server_factory):
    a = node(server_factory, network, dkim_db, *NODES[0])
    b = node(server_factory, network, dkim_db, *NODES[1])
    a.add_user(ALICE, PASSWORD)

    # Before any key: B's mail goes out unsigned.
    first = unique("unsigned")
    submit(network, b, first)
    b.wait_for_mail(ALICE, 1, timeout=30)
    assert b"DKIM-Signature" not in stored(b, first)

    out = a.cli("dkim", "generate", "example.org").stdout
    made = selectors(out)
    assert len(made) == 2 and made[0].endswith("e") and made[1].endswith("r"), out
    # In the database, not in A's files.
    assert not os.path.exists(os.path.join(a.data_dir, "dkim", "example.org")), \
        os.listdir(os.path.join(a.data_dir, "dkim")) if os.path.isdir(
            os.path.join(a.data_dir, "dkim")) else None
    listed = b.cli("dkim", "list", "--json").stdout
    assert all(s in listed for s in made), listed
    records = b.cli("dns", "records", "example.org").stdout
    assert all("%s._domainkey.example.org." % s in records for s in made), records

    # B signs with them once it has re-read the keys (it runs since before they were made).
    deadline = time.monotonic() + REFRESH_DEADLINE
    count = 1
    while True:
        marker = unique("signed")
        submit(network, b, marker)
        count += 1
        b.wait_for_mail(ALICE, count, timeout=30)
        message = stored(b, marker)
        if b"DKIM-Signature" in message:
            break
        assert time.monotonic() < deadline, "B never signed with the new keys:\n%s" % (
            b.log_tail())
        time.sleep(2)
    header = message.split(b"\r\n\r\n", 1)[0].decode()
    for s in made:
        assert "s=%s;" % s in header.replace("\r\n", "").replace(" ", ""), header
    assert "d=example.org;" in header.replace(" ", ""), header

    # Removed through B: gone for A's CLI too.
    b.cli("dkim", "remove", "example.org", made[1])
    listed = a.cli("dkim", "list", "--json").stdout
    assert made[0] in listed and made[1] not in listed, listed
