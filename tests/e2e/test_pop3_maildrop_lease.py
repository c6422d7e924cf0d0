"""POP3's maildrop lock is a lease in the store (issue 15), not an in-process lock:
a lock another node holds on the same database refuses a login with
-ERR [IN-USE] (RFC 2449 §8.1.2) until it expires; a session's own lock is a row in
the store, renewed while it lives and gone at QUIT.

"Another node" is simulated by writing the lock row straight into the data
directory's database, as a second node on the same database would."""

import os
import poplib
import sqlite3
import time

import pytest

from harness import HOSTNAME

ALICE, ALICE_PW = "alice@example.org", "alice-secret"
BOB, BOB_PW = "bob@example.org", "bob-secret"
OTHER = "other-node.example:4242:deadbeef:7"


def db(srv):
    conn = sqlite3.connect(os.path.join(srv.data_dir, "postie.db"), timeout=10)
    conn.isolation_level = None
    return conn


def inbox_id(conn, address):
    row = conn.execute(
        "SELECT m.id FROM mailboxes m JOIN accounts a ON a.id = m.account_id "
        "WHERE a.address_key = ? AND m.name = 'INBOX'", (address,)).fetchone()
    assert row, address
    return row[0]


def lock_row(conn, mailbox):
    return conn.execute(
        "SELECT holder, lease_until FROM maildrop_locks WHERE mailbox_id = ?",
        (mailbox,)).fetchone()


def login(srv, user=ALICE, password=ALICE_PW):
    p = srv.pop3()
    p.user(user)
    p.pass_(password)
    return p


def test_a_lock_held_by_another_node_is_in_use_until_it_expires(pop3_server):
    conn = db(pop3_server)
    inbox = inbox_id(conn, ALICE)
    now = int(time.time())
    conn.execute(
        "INSERT INTO maildrop_locks(mailbox_id, holder, lease_until) VALUES (?, ?, ?)",
        (inbox, OTHER, now + 600))
    with pytest.raises(poplib.error_proto) as e:
        login(pop3_server)
    assert e.value.args[0].startswith(b"-ERR [IN-USE] "), e.value
    # Bob's maildrop is not Alice's.
    bob = login(pop3_server, BOB, BOB_PW)
    bob.quit()
    # The other node died: its lease runs out and the maildrop is free again.
    conn.execute("UPDATE maildrop_locks SET lease_until = ? WHERE mailbox_id = ?",
                 (now - 1, inbox))
    p = login(pop3_server)
    holder, until = lock_row(conn, inbox)
    assert holder != OTHER and holder.startswith(HOSTNAME + ":"), holder
    assert until >= now + 500, until
    # While this session lives, the other node (back again) is refused.
    assert conn.execute(
        "UPDATE maildrop_locks SET holder = ?, lease_until = ? "
        "WHERE mailbox_id = ? AND (holder = ? OR lease_until <= ?)",
        (OTHER, now + 600, inbox, OTHER, now)).rowcount == 0
    p.quit()
    assert lock_row(conn, inbox) is None, "QUIT unlocks the maildrop"
    login(pop3_server).quit()


def test_a_dropped_connection_unlocks_its_maildrop(pop3_server):
    conn = db(pop3_server)
    inbox = inbox_id(conn, ALICE)
    p = login(pop3_server)
    assert lock_row(conn, inbox) is not None
    p.close()  # no QUIT: the connection just ends
    deadline = time.monotonic() + 10
    while lock_row(conn, inbox) is not None:
        assert time.monotonic() < deadline, "the lock outlived its connection"
        time.sleep(0.05)
    login(pop3_server).quit()
