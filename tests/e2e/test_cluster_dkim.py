"""DKIM keys in the shared database: a key generated through one node signs on
every node (issue: DKIM keys with a shared store).

Nodes A and B (127.0.0.2, .3) run in one private `Network`, each with its own
config and data_dir and `[store] url` naming the same fresh database (fixture
`cluster_db` of pgcluster.py, which skips or fails as it says when PostgreSQL is
unavailable; the nodes reach the cluster through its Unix socket).

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

from harness import unique
from network import network  # noqa: F401  (the fixture)

NODES = (("a", "127.0.0.2"), ("b", "127.0.0.3"))
ALICE, PASSWORD = "alice@example.org", "cluster-dkim-secret"
# The nodes re-read the keys every 30 s (server::dkim_keys::REFRESH).
REFRESH_DEADLINE = 60


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


def test_a_key_generated_on_one_node_signs_on_another(cluster_db, network, server_factory):
    a = node(server_factory, network, cluster_db, *NODES[0])
    b = node(server_factory, network, cluster_db, *NODES[1])
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
    assert not os.path.exists(os.path.join(a.data_dir, "dkim", "example.org"))
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
