"""Three Postie nodes on one PostgreSQL database behave as one mail server (issue 15).

Nodes A, B and C (127.0.0.2, .3, .4) run in one private `Network` next to the
DNS server and the fake remote MXs; each has its own config, data_dir and
listeners, and `[store] url` naming the same database. Each test makes a fresh
database (psycopg `CREATE DATABASE`) in the session's cluster (fixture
`postgres_url`, which skips or fails as pgcluster.py says when PostgreSQL is
unavailable). The cluster listens on the host's 127.0.0.1, which the Network
cannot reach: the nodes (and the CLI, run in the host's namespace) use the
cluster's Unix socket instead (`?host=SOCKDIR&port=PORT`), a file-system path
that every network namespace sees; nothing listens beyond loopback.

What it proves, one test each, with real clients (smtplib, imaplib, poplib;
IDLE with a raw socket, imaplib has none before 3.14) and polls with deadlines:

1. accounts, domains and aliases are shared: a user added with A's CLI logs in
   over IMAP on B and POP3 on C; a domain and an alias added with B's CLI are
   listed by C's CLI;
2. mail submitted at A is fetched byte for byte on B, a flag stored on B is
   seen on C, and IDLE on C wakes within a second of A's 250 (LISTEN/NOTIFY);
3. 3 x 20 concurrent APPENDs to one mailbox through the three nodes get
   distinct UIDs, increasing per session, 60 messages in the end;
4. a message for a remote domain queued (and deferred) on A is listed by
   `postie queue list` with B's and C's configs, with its attempts;
5. kill -9 of B while 8 clients submit local and remote mail to A, B, C in
   turn: everything acknowledged is delivered exactly once (see the test for
   the one documented exception), the survivors keep accepting, and the
   queue entries B had claimed are delivered by A or C once its leases
   (queue.lease_secs = 3) run out.
"""

import collections
import imaplib
import os
import re
import smtplib
import socket
import statistics
import threading
import time
import uuid

import pytest

from dnsserver import TestDNS
from harness import queue_id_of, unique, wait_until
from imapraw import RawIMAP
from network import network  # noqa: F401  (the fixture)
from peer import Peer
from pgcluster import pg_connect


NODES = (("a", "127.0.0.2"), ("b", "127.0.0.3"), ("c", "127.0.0.4"))
DOMAIN = "example.org"
ALICE, ALICE_PW = "alice@example.org", "alice-cluster-secret"
SINK_ADDR = "127.0.0.6"     # sink.test: a peer that accepts everything
SLOW_ADDR = "127.0.0.7"     # slow.test: a gate that stalls at DATA until opened
DEFER_ADDR = "127.0.0.8"    # defer.test: a peer that always answers 451
RECORDS = [
    {"name": "sink.test", "type": "MX", "value": "10 mx.sink.test"},
    {"name": "mx.sink.test", "type": "A", "value": SINK_ADDR},
    {"name": "slow.test", "type": "MX", "value": "10 mx.slow.test"},
    {"name": "mx.slow.test", "type": "A", "value": SLOW_ADDR},
    {"name": "defer.test", "type": "MX", "value": "10 mx.defer.test"},
    {"name": "mx.defer.test", "type": "A", "value": DEFER_ADDR},
]
TAG = re.compile(rb"tag-[0-9a-f]{12}")


# ----- the nodes ----------------------------------------------------------------

class Cluster:
    """Nodes A, B, C on one database, started in turn (A creates the schema)."""

    def __init__(self, url, network, factory, dns=None, queue=None):
        self.network = network
        self.nodes = []
        for name, addr in NODES:
            extra = {
                "hostname": "node-%s.test" % name,
                "store": {"url": url},
                "queue": {"retry_schedule_secs": [1], **(queue or {})},
            }
            if dns is not None:
                extra["dns"] = {"nameservers": [dns.nameserver]}
            self.nodes.append(factory(
                network=network, name=name,
                listen={"smtp": ["%s:25" % addr], "submission": ["%s:587" % addr],
                        "submissions": [], "imap": ["%s:143" % addr],
                        "pop3": ["%s:110" % addr]},
                smtp={"max_messages_per_hour_per_user": 0,
                      "max_recipients_per_hour_per_user": 0},
                extra=extra,
            ))
        self.a, self.b, self.c = self.nodes

    def add_alice(self, node=None):
        node = node or self.a
        node.add_user(ALICE, ALICE_PW)


def message(tag, rcpts, sender=ALICE):
    return ("From: <%s>\r\nTo: %s\r\nSubject: cluster %s\r\nMessage-ID: <%s@cluster.test>\r\n"
            "\r\nbody of %s\r\n" % (sender, ", ".join("<%s>" % r for r in rcpts), tag, tag,
                                     tag)).encode()


def smtp_to(node, kind="smtp"):
    host, port = node.addr(kind)
    with node.netns():
        s = smtplib.SMTP(host, port, local_hostname="client.test", timeout=30)
    s.ehlo()
    return s


def send(s, rcpts, data, sender=ALICE):
    """MAIL, RCPTs, DATA on a connected smtplib client; returns the DATA reply
    text, asserting every step's 250."""
    code, msg = s.mail(sender)
    assert code == 250, (code, msg)
    for r in rcpts:
        code, msg = s.rcpt(r)
        assert code == 250, (r, code, msg)
    code, msg = s.data(data)
    assert code == 250, (code, msg)
    return msg


def imap_login(node):
    m = node.imap()
    m.login(ALICE, ALICE_PW)
    return m


def inbox_tags(node):
    """Counter of the tags in the Subjects of alice's INBOX, read over IMAP."""
    m = imap_login(node)
    try:
        typ, data = m.select("INBOX", readonly=True)
        assert typ == "OK", data
        count = int(data[0])
        tags = collections.Counter()
        if count:
            typ, data = m.fetch("1:*", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
            assert typ == "OK", data
            for item in data:
                if isinstance(item, tuple):
                    tags.update(t.decode() for t in TAG.findall(item[1]))
        assert sum(tags.values()) == count, (count, tags)
        return tags
    finally:
        m.logout()


# ----- 1. accounts, domains, aliases -----------------------------------------------

def test_accounts_and_aliases_are_shared(cluster_db, network, server_factory):
    cl = Cluster(cluster_db, network, server_factory)
    # Made with A's CLI while B and C already run.
    cl.a.add_user(ALICE, ALICE_PW)
    assert ALICE in cl.c.user_list()

    m = cl.b.imap()
    typ, _ = m.login(ALICE, ALICE_PW)
    assert typ == "OK"
    typ, data = m.select("INBOX")
    assert typ == "OK" and data == [b"0"], data
    m.logout()

    p = cl.c.pop3()
    p.user(ALICE)
    assert p.pass_(ALICE_PW).startswith(b"+OK")
    assert p.stat() == (0, 0)
    p.quit()

    # A wrong password is refused on another node alike.
    m = cl.c.imap()
    with pytest.raises(imaplib.IMAP4.error):
        m.login(ALICE, "wrong")
    m.shutdown()

    # Domain and alias through B, seen through C (and usable on A).
    cl.b.cli("domain", "add", "other.test")
    cl.b.cli("alias", "add", "info@other.test", ALICE)
    assert "other.test" in cl.c.domain_list()
    aliases = cl.c.cli("alias", "list", "--json").stdout
    assert '"info@other.test"' in aliases and ALICE in aliases, aliases
    tag = unique("tag")
    s = smtp_to(cl.a)
    send(s, ["info@other.test"], message(tag, ["info@other.test"], sender="x@remote.test"),
         sender="x@remote.test")
    s.quit()
    wait_until(lambda: inbox_tags(cl.c)[tag] == 1, timeout=15,
               message="the alias's mail in alice's INBOX seen through C")


# ----- 2. delivery, flags, IDLE across nodes ----------------------------------------

class Idler:
    """An IMAP session on NODE in IDLE on INBOX; a thread stamps every line."""

    def __init__(self, node):
        self.imap = RawIMAP(node.connect("imap"))
        self.imap.ok("LOGIN %s %s" % (ALICE, ALICE_PW))
        lines = self.imap.ok("SELECT INBOX")
        self.exists = max(int(m.group(1)) for m in
                          (re.match(r"\* (\d+) EXISTS", x) for x in lines) if m)
        self.imap.send(b"idle1 IDLE\r\n")
        cont = self.imap.readline()
        assert cont.startswith(b"+"), cont
        self.lines = []          # (monotonic time, line)
        self.cond = threading.Condition()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        try:
            while True:
                line = self.imap.readline()
                with self.cond:
                    self.lines.append((time.monotonic(), line.decode("utf-8", "replace")))
                    self.cond.notify_all()
                if line.startswith(b"idle1 "):
                    return
        except (AssertionError, OSError):
            return

    def wait_exists(self, n, timeout=10):
        """The time the line `* N EXISTS` (or a larger N) arrived."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for t, line in self.lines:
                    m = re.match(r"\* (\d+) EXISTS", line)
                    if m and int(m.group(1)) >= n:
                        return t
                left = deadline - time.monotonic()
                assert left > 0, "no * %d EXISTS within %ss; got %r" % (n, timeout, self.lines)
                self.cond.wait(left)

    def done(self):
        self.imap.send(b"DONE\r\n")
        self.thread.join(10)
        assert any(line.startswith("idle1 OK") for _, line in self.lines), self.lines
        self.imap.ok("LOGOUT")


def test_delivery_flags_and_idle_cross_nodes(cluster_db, network, server_factory):
    """IDLE latency, A's 250 to C's `* n EXISTS`, 5 deliveries per run; asserted:
    the median < 1 s (one slow sample does not fail it). Measured (debug build,
    10 runs): median 0-2 ms, best 0-2 ms, worst single sample 62 ms. (A sample
    can come out a hair below 0: A files local mail before its 250, so the
    notice may reach C before the client has parsed the reply.)"""
    cl = Cluster(cluster_db, network, server_factory)
    cl.add_alice()

    # Submitted at A (port 25, local recipient), fetched on B byte for byte.
    tag = unique("tag")
    data = message(tag, [ALICE], sender="someone@remote.test")
    s = smtp_to(cl.a)
    reply = send(s, [ALICE], data, sender="someone@remote.test")
    s.quit()
    queue_id_of(reply)
    b = imap_login(cl.b)
    b.select("INBOX")

    def uids():
        b.noop()
        typ, d = b.uid("SEARCH", None, "ALL")
        assert typ == "OK", d
        return d[0].split()
    (uid,) = wait_until(uids, timeout=15, message="the message on B")
    typ, d = b.uid("FETCH", uid, "(BODY.PEEK[])")
    assert typ == "OK", d
    body = d[0][1]
    assert body.endswith(data), (body, data)   # our bytes, after the trace headers
    assert body.count(tag.encode()) == 3

    # A flag stored on B is seen on C.
    typ, d = b.uid("STORE", uid, "+FLAGS", r"(\Flagged)")
    assert typ == "OK", d
    c = imap_login(cl.c)
    c.select("INBOX", readonly=True)

    def flags_on_c():
        typ, d = c.uid("FETCH", uid, "(FLAGS)")
        assert typ == "OK", d
        return rb"\Flagged" in d[0]
    wait_until(flags_on_c, timeout=5, message=r"\Flagged on C")
    c.logout()
    b.logout()

    # IDLE on C wakes for deliveries made through A.
    idler = Idler(cl.c)
    latencies = []
    s = smtp_to(cl.a)
    try:
        for i in range(5):
            tag = unique("tag")
            send(s, [ALICE], message(tag, [ALICE], sender="someone@remote.test"),
                 sender="someone@remote.test")
            t250 = time.monotonic()
            t_exists = idler.wait_exists(idler.exists + i + 1)
            latencies.append(t_exists - t250)
        s.quit()
    finally:
        s.close()
    idler.done()
    print("IDLE latencies A 250 -> C EXISTS (s): %s; best %.3f, median %.3f"
          % (["%.3f" % x for x in latencies], min(latencies), statistics.median(latencies)))
    assert statistics.median(latencies) < 1.0, latencies


# ----- 3. concurrent APPEND ---------------------------------------------------------

def test_concurrent_appends_from_three_nodes(cluster_db, network, server_factory):
    cl = Cluster(cluster_db, network, server_factory)
    cl.add_alice()
    per_node = 20
    conns = [imap_login(node) for node in cl.nodes]
    barrier = threading.Barrier(len(conns))
    results = [[] for _ in conns]     # per session: (uidvalidity, uid)
    errors = []

    def run(i):
        try:
            barrier.wait(10)
            for k in range(per_node):
                tag = unique("tag")
                typ, d = conns[i].append("INBOX", None, None,
                                         message(tag, [ALICE], sender="x@remote.test"))
                assert typ == "OK", d
                m = re.search(rb"\[APPENDUID (\d+) (\d+)\]", d[0])
                assert m, d
                results[i].append((int(m.group(1)), int(m.group(2))))
        except Exception as e:  # reported below
            errors.append((i, repr(e)))

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(conns))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    assert [len(r) for r in results] == [per_node] * 3
    validities = {v for r in results for v, _ in r}
    assert len(validities) == 1, validities
    all_uids = [u for r in results for _, u in r]
    assert len(set(all_uids)) == 3 * per_node, sorted(all_uids)
    for r in results:
        us = [u for _, u in r]
        assert us == sorted(us) and len(set(us)) == len(us), us
    # Every node sees the same 60 messages under those UIDs.
    for m in conns:
        typ, d = m.select("INBOX", readonly=True)
        assert typ == "OK" and int(d[0]) == 3 * per_node, d
        typ, d = m.uid("SEARCH", None, "ALL")
        assert sorted(int(x) for x in d[0].split()) == sorted(all_uids)
        m.logout()


# ----- 4. the queue is shared ---------------------------------------------------------

def test_remote_mail_queued_on_a_is_listed_by_b(cluster_db, network, server_factory):
    dns = TestDNS(network, RECORDS).start()
    peer = Peer(network, DEFER_ADDR, mode="tempfail", tempfail=10**6).start()
    cl = Cluster(cluster_db, network, server_factory, dns=dns)
    cl.add_alice()
    tag = unique("tag")
    rcpt = "x-%s@defer.test" % tag
    s = smtp_to(cl.a, "submission")
    s.login(ALICE, ALICE_PW)
    qid = queue_id_of(send(s, [rcpt], message(tag, [rcpt])))
    s.quit()

    def entry(node):
        for e in node.queue_entries():
            if e["id"] == qid:
                return e
        return None
    e = entry(cl.b)
    assert e is not None, cl.b.queue_list()
    assert e["sender"] == ALICE and [r["address"] for r in e["recipients"]] == [rcpt], e
    assert e["recipients"][0]["status"] == "pending", e
    assert qid in cl.b.queue_list()
    # Whichever node tried it, every node sees the deferral.
    e = wait_until(lambda: (lambda x: x if x and x["attempts"] and x["last_error"] else None)(
        entry(cl.c)), timeout=15, message="a recorded attempt seen through C")
    assert "451" in e["last_error"], e
    assert peer.transactions(), "the peer was tried"
    assert peer.messages() == []


# ----- 5. kill -9 of a node under load ------------------------------------------------

class Gate:
    """A remote MX (slow.test) that answers EHLO, MAIL and RCPT, then leaves
    DATA unanswered while closed (recording who waits: the EHLO name, i.e.
    the node, and the recipients); once opened it answers the waiting ones 421
    and accepts every later message."""

    def __init__(self, network, addr, port=25):
        with network.netns():
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((addr, port))
        self.sock.listen(64)
        self.opened = threading.Event()
        self.lock = threading.Lock()
        self.stalled = []     # {helo, rcpts, t}
        self.accepted = []    # {helo, rcpts, data, t}
        self.conns = []
        self.stopping = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.conns.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        f = conn.makefile("rb")

        def say(text):
            conn.sendall(text.encode() + b"\r\n")
        try:
            say("220 mx.slow.test ESMTP")
            helo, rcpts = None, []
            while True:
                line = f.readline()
                if not line:
                    return
                cmd = line.strip().decode("utf-8", "replace")
                verb = cmd.split(" ", 1)[0].upper()
                if verb in ("EHLO", "HELO"):
                    helo = cmd.split(" ", 1)[1].strip()
                    say("250 mx.slow.test")
                elif verb == "MAIL":
                    rcpts = []
                    say("250 2.1.0 ok")
                elif verb == "RCPT":
                    rcpts.append(re.search(r"<([^>]*)>", cmd).group(1).lower())
                    say("250 2.1.5 ok")
                elif verb == "DATA":
                    if not self.opened.is_set():
                        with self.lock:
                            self.stalled.append({"helo": helo, "rcpts": list(rcpts),
                                                 "t": time.monotonic()})
                        self.opened.wait()
                        say("421 4.3.2 closing, try again")
                        return
                    say("354 go ahead")
                    data = b""
                    while True:
                        chunk = f.readline()
                        if not chunk:
                            return
                        if chunk == b".\r\n":
                            break
                        data += chunk[1:] if chunk.startswith(b".") else chunk
                    with self.lock:
                        self.accepted.append({"helo": helo, "rcpts": list(rcpts), "data": data,
                                              "t": time.monotonic()})
                    say("250 2.0.0 accepted")
                elif verb == "QUIT":
                    say("221 2.0.0 bye")
                    return
                else:  # RSET, NOOP
                    say("250 2.0.0 ok")
        except OSError:
            return
        finally:
            f.close()
            conn.close()

    def open(self):
        self.opened.set()

    def stop(self):
        self.stopping = True
        self.opened.set()
        try:
            self.sock.shutdown(socket.SHUT_RDWR)   # wakes the accepting thread
        except OSError:
            pass
        self.sock.close()
        with self.lock:
            for c in self.conns:
                try:
                    c.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


def test_kill_one_node_under_load(cluster_db, network, server_factory):
    """B is killed (SIGKILL) while it has slow.test deliveries claimed (stalled
    at DATA by the gate) and 8 clients submit to A, B, C in turn (160 messages:
    all to alice, every 3rd also to sink.test, every 4th to slow.test).
    Measured (debug build, 16 runs): 53-72 acknowledged before the kill, 0-9
    submissions cut off by it (all on B), the rest taken by A and C; the 3-8
    entries B held were delivered by A or C 2.4-3.7 s after the kill
    (lease_secs = 3, renewed every second, plus the 1 s retry); queue empty
    2.7-4.8 s after the kill; test ~8-10 s. sink.test messages sent twice: 0-3
    while B recorded a message's outcomes only once all its domains were done,
    each one B had sent and was still holding (its slow.test part stalled); 0-2
    since B records each domain's outcomes as its transaction ends (51 runs),
    each one B was sending at the kill (its first copy stored by the sink between
    0.05 s before and 0.012 s after it)."""
    victim_index = 1
    dns = TestDNS(network, RECORDS).start()
    sink = Peer(network, SINK_ADDR, mode="accept").start()
    gate = Gate(network, SLOW_ADDR)
    try:
        cl = Cluster(cluster_db, network, server_factory, dns=dns, queue={"lease_secs": 3})
        cl.add_alice()
        victim = cl.nodes[victim_index]
        victim_helo = victim.config["hostname"]
        survivors = [n for n in cl.nodes if n is not victim]
        dead = threading.Event()

        threads_n, per_thread = 8, 20
        log = []                       # (tag, node name, "ok" | error, rcpts, t)
        log_lock = threading.Lock()
        acked = [0]

        def client(t):
            conns = {}
            for i in range(per_thread):
                k = (t + i) % 3
                while cl.nodes[k] is victim and dead.is_set():
                    k = (k + 1) % 3
                node = cl.nodes[k]
                tag = unique("tag")
                h = tag.split("-", 1)[1]
                rcpts = [ALICE]
                if i % 3 == 0:
                    rcpts.append("r-%s@sink.test" % h)
                if i % 4 == 1:
                    rcpts.append("s-%s@slow.test" % h)
                try:
                    s = conns.get(node.name)
                    if s is None:
                        s = smtp_to(node, "submission")
                        conns[node.name] = s
                        s.login(ALICE, ALICE_PW)
                    else:
                        s.rset()
                    send(s, rcpts, message(tag, rcpts))
                    outcome = "ok"
                except Exception as e:  # the killed node: allowed, checked below
                    outcome = repr(e)
                    s = conns.pop(node.name, None)
                    if s is not None:
                        s.close()
                with log_lock:
                    log.append((tag, node.name, outcome, rcpts, time.monotonic()))
                    if outcome == "ok":
                        acked[0] += 1
            for s in conns.values():
                try:
                    s.quit()
                except Exception:
                    s.close()

        threads = [threading.Thread(target=client, args=(t,)) for t in range(threads_n)]
        t_start = time.monotonic()
        for th in threads:
            th.start()

        # Kill B once a third is acknowledged and B is stuck in a slow.test delivery.
        def ready():
            with gate.lock:
                mine = [s for s in gate.stalled if s["helo"] == victim_helo]
            with log_lock:
                n = acked[0]
            return mine if mine and n >= threads_n * per_thread // 3 else None
        wait_until(ready, timeout=30, message="B holding a slow.test delivery, 1/3 acked")
        victim.kill()
        t_kill = time.monotonic()
        wall_kill = time.time()
        dead.set()
        with gate.lock:
            held_by_victim = {r for s in gate.stalled if s["helo"] == victim_helo
                              for r in s["rcpts"]}
            before_kill = [r for s in gate.stalled for r in s["rcpts"]]
        # While B lived nobody else took its claimed entries: each recipient was
        # attempted by one node at a time.
        assert len(before_kill) == len(set(before_kill)), before_kill
        with log_lock:
            acked_at_kill = acked[0]
        gate.open()

        for th in threads:
            th.join(60)
        assert not any(th.is_alive() for th in threads)
        t_sent = time.monotonic()

        # Errors only from B (its connections died with it), none from A or C,
        # and the survivors took the rest of the load.
        errors = [(tag, n, o) for tag, n, o, _, _ in log if o != "ok"]
        assert all(n == victim.name for _, n, _ in errors), errors
        after_kill_ok = [x for x in log if x[2] == "ok" and x[4] > t_kill]
        assert len(after_kill_ok) >= threads_n * per_thread // 3, len(after_kill_ok)
        assert len(log) == threads_n * per_thread

        # The dead node's queue entries are delivered by the survivors.
        def queue_empty():
            out = survivors[0].queue_list()
            return "queue is empty" in out
        wait_until(queue_empty, timeout=40, interval=0.2,
                   message="the queue (B's claims too) emptied by A and C")
        t_empty = time.monotonic()

        ok_tags = {x[0]: x for x in log if x[2] == "ok"}
        err_tags = {x[0]: x for x in log if x[2] != "ok"}

        # Local: each acknowledged message exactly once, the others at most once.
        local = inbox_tags(survivors[0])
        assert set(local) <= set(ok_tags) | set(err_tags), set(local) - set(ok_tags)
        assert [t for t in ok_tags if local[t] != 1] == [], {t: local[t] for t in ok_tags
                                                             if local[t] != 1}
        assert all(local[t] <= 1 for t in err_tags), {t: local[t] for t in err_tags}

        def by_rcpt(msgs, domain):
            out = collections.defaultdict(list)
            for m in msgs:
                for r in m["rcpts"]:
                    if r.endswith("@" + domain):
                        out["tag-" + r.split("@")[0].split("-", 1)[1]].append(m["helo"])
            return out

        # slow.test: the gate accepted nothing before it opened, so a node killed
        # there had nothing to resend: exactly once, B's stalled ones from A or C.
        with gate.lock:
            slow = by_rcpt(gate.accepted, "slow.test")
            takeovers = [m["t"] - t_kill for m in gate.accepted
                         if set(m["rcpts"]) & held_by_victim]
        want_slow = [t for t, x in ok_tags.items() if any(r.endswith("@slow.test") for r in x[3])]
        assert {t: slow.get(t) for t in want_slow if len(slow.get(t, [])) != 1} == {}
        assert all(len(v) <= 1 for v in slow.values()), slow
        for r in held_by_victim:
            t = "tag-" + r.split("@")[0].split("-", 1)[1]
            assert slow.get(t) and slow[t][0] != victim_helo, (r, slow.get(t))
        assert len(takeovers) == len(held_by_victim), (takeovers, held_by_victim)

        # sink.test accepts at once. Exactly once too, except for the entries B
        # was attempting at the kill: if B died after the sink's 250 but before it
        # recorded the outcome, its claim expires and A or C sends that message
        # again (at-least-once relay, as any MTA after a crash; documented in
        # crates/queue). B records each domain's outcomes as its transaction ends
        # (sink.test, then slow.test), so a message for both that B was holding
        # at the gate had its sink copy recorded before B went on to slow.test.
        # So a second copy is allowed only when the first came from B and reached
        # the sink just before the kill (within `in_flight` s: a transaction B was
        # finishing) or after it (the sink stores a message a moment after B sent
        # it, and B may have died in between); the second must come from A or C.
        # A copy B made earlier and never recorded would be a bug, held at the
        # gate or not.
        in_flight = 1.0

        def stored_at(m):   # seconds after the kill the sink stored M
            return os.path.getmtime(os.path.join(sink.spool, "%d.json" % m["n"])) - wall_kill
        held_tags = {"tag-" + r.split("@")[0].split("-", 1)[1] for r in held_by_victim}
        sink_msgs = sink.messages()
        sink_tags = collections.defaultdict(list)   # tag -> [(helo, stored_at)]
        for m in sink_msgs:
            for r in m["rcpt_tos"]:
                if r.endswith("@sink.test"):
                    sink_tags["tag-" + r.split("@")[0].split("-", 1)[1]].append(
                        (m["helo"], stored_at(m)))
        dups = {t: c for t, c in sink_tags.items() if len(c) > 1}
        assert all(len(c) == 2 and c[0][0] == victim_helo and c[1][0] != victim_helo
                   and -in_flight <= c[0][1]
                   for t, c in dups.items()), (dups, held_tags)
        want_sink = [t for t, x in ok_tags.items() if any(r.endswith("@sink.test") for r in x[3])]
        missing = [t for t in want_sink if not sink_tags.get(t)]
        assert missing == [], missing
        assert set(sink_tags) <= set(ok_tags) | set(err_tags)

        # B's claims lasted: renewed every lease_secs / 3 = 1 s, each ran out 2-3 s
        # after the kill, not before (nobody took an entry from a live node).
        assert takeovers and 1.5 <= min(takeovers) and max(takeovers) < 10, takeovers

        print("cluster kill: %d submissions, %d acked before the kill (%d in all), %d errors "
              "(B), B held %d slow.test deliveries, delivered by A/C %s s after the kill; "
              "sink duplicates %d %s; submissions done %.1f s after start, queue empty %.1f s "
              "after the kill"
              % (len(log), acked_at_kill, len(ok_tags), len(errors), len(held_by_victim),
                 ["%.2f" % x for x in sorted(takeovers)], len(dups),
                 {t: [(h, "%.3f" % x) for h, x in c] + ["held" if t in held_tags else "in flight"]
                  for t, c in dups.items()}, t_sent - t_start,
                 t_empty - t_kill))
    finally:
        gate.stop()
