"""Several IMAP sessions on one mailbox at once, with mail arriving meanwhile.

Four raw IMAP clients (each in its own thread, on its own connection) work on
alice's INBOX at the same time for a bounded number of operations each: UID
STORE +FLAGS / -FLAGS on random UIDs, APPEND, UID EXPUNGE of messages they
marked \\Deleted, NOOP; an SMTP thread delivers messages meanwhile. Every
line the server sends is recorded and fed to a per-client model of the
mailbox (sequence number -> UID), which checks each untagged response against
what the client was told before: an EXPUNGE or FETCH names an existing
sequence number, EXISTS never shrinks, a sequence number keeps its UID, UIDs
grow with sequence numbers; a UID EXPUNGE's reply carries the EXPUNGE of its
message; a UID STORE's reply shows the store's effect unless another session
demonstrably got in between. Afterwards every client's view (UIDs and flags)
must equal every other's and a fresh session's, and the message count must
be what the threads' tagged OK responses add up to.

The operations are random; the seed is printed on failure and can be set with
IMAP_CONCURRENCY_SEED to replay the same choices (the timing differs).
"""

import os
import random
import re
import select
import socket
import threading
import time

from harness import IMAP_LISTEN, unique

ALICE, ALICE_PW = "alice@example.org", "alice-secret"
CLIENTS = 4
OPS_PER_CLIENT = 60
INITIAL = 8
DELIVERED = 12
# Flags the random STOREs play with; \Deleted is only ever set by the client
# that then expunges the message, so every expunge is counted exactly once.
RANDOM_FLAGS = ("\\Seen", "\\Flagged", "\\Answered", "$Label1")
TIMEOUT = 30.0


class ProtocolError(AssertionError):
    pass


class RawIMAP:
    """A line-oriented IMAP client that records every response line (literals
    inlined) and keeps a model of the selected mailbox: `seqs[i]` is the UID
    of sequence number i+1 (None until the server names it), `flags[uid]` the
    last flags the server reported."""

    def __init__(self, sock, name):
        self.sock = sock
        self.name = name
        self.buf = b""
        self.tagn = 0
        self.log = []  # every line sent (">> ") and received
        self.seqs = None  # None until a mailbox is selected
        self.flags = {}
        self.greeting = self._read_response_line()

    # ----- wire -----------------------------------------------------------------

    def _fill(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            raise ProtocolError("%s: no response within %.0fs" % (self.name, TIMEOUT))
        r, _, _ = select.select([self.sock], [], [], left)
        if r:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ProtocolError("%s: connection closed" % self.name)
            self.buf += chunk

    def _read_line(self, deadline):
        while b"\r\n" not in self.buf:
            self._fill(deadline)
        line, _, self.buf = self.buf.partition(b"\r\n")
        return line

    def _read_bytes(self, n, deadline):
        while len(self.buf) < n:
            self._fill(deadline)
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def _read_response_line(self):
        """One response, literals included ({n}CRLF + n octets + the rest)."""
        deadline = time.monotonic() + TIMEOUT
        line = self._read_line(deadline)
        while True:
            m = re.search(rb"\{(\d+)\}$", line)
            if not m:
                break
            line += b"\r\n" + self._read_bytes(int(m.group(1)), deadline)
            line += self._read_line(deadline)
        self.log.append(line)
        return line

    def send(self, data):
        self.log.append(b">> " + data.rstrip(b"\r\n")[:200])
        self.sock.sendall(data)

    def command(self, text, literal=None):
        """Sends a command (LITERAL+ for LITERAL), feeds every untagged
        response to the model; returns (status line, untagged lines)."""
        self.tagn += 1
        tag = b"%s%d" % (self.name.encode(), self.tagn)
        if literal is None:
            self.send(tag + b" " + text + b"\r\n")
        else:
            self.send(tag + b" " + text + b" {%d+}\r\n" % len(literal) + literal + b"\r\n")
        untagged = []
        while True:
            line = self._read_response_line()
            if line.startswith(tag + b" "):
                return line[len(tag) + 1:], untagged
            if line.startswith(b"* "):
                self.observe(line, text)
                untagged.append(line)
            elif line.startswith(b"+"):
                raise ProtocolError("%s: unexpected continuation %r" % (self.name, line))
            else:
                raise ProtocolError("%s: unexpected line %r" % (self.name, line))

    def ok(self, text, literal=None):
        status, untagged = self.command(text, literal)
        if not status.startswith(b"OK"):
            raise ProtocolError("%s: %r -> %r" % (self.name, text, status))
        return status, untagged

    # ----- the model --------------------------------------------------------------

    def fail(self, why):
        raise ProtocolError("%s: %s\nlast lines:\n%s" % (
            self.name, why, "\n".join(l.decode("utf-8", "replace")[:200] for l in self.log[-40:])))

    def observe(self, line, command):
        if self.seqs is None:
            return
        m = re.match(rb"\* (\d+) (EXISTS|EXPUNGE|FETCH)\b(.*)", line, re.S)
        if not m:
            return
        n, kind, rest = int(m.group(1)), m.group(2), m.group(3)
        if kind == b"EXISTS":
            if n < len(self.seqs):
                self.fail("EXISTS %d after %d messages without EXPUNGE" % (n, len(self.seqs)))
            self.seqs.extend([None] * (n - len(self.seqs)))
        elif kind == b"EXPUNGE":
            verb = command.split()[0].upper()
            if verb in (b"FETCH", b"STORE", b"SEARCH"):
                self.fail("EXPUNGE during %r (RFC 3501 7.4.1)" % command)
            if not 1 <= n <= len(self.seqs):
                self.fail("EXPUNGE %d with EXISTS %d" % (n, len(self.seqs)))
            uid = self.seqs.pop(n - 1)
            self.flags.pop(uid, None)
        else:
            if not 1 <= n <= len(self.seqs):
                self.fail("FETCH for message %d with EXISTS %d" % (n, len(self.seqs)))
            um = re.search(rb"\bUID (\d+)", rest)
            if um:
                uid = int(um.group(1))
                known = self.seqs[n - 1]
                if known is not None and known != uid:
                    self.fail("message %d has UID %d, it had UID %d" % (n, uid, known))
                if known is None and uid in self.seqs:
                    self.fail("UID %d at message %d, but also at %d"
                              % (uid, n, self.seqs.index(uid) + 1))
                self.seqs[n - 1] = uid
                for i, other in enumerate(self.seqs):
                    if other is not None and (i < n - 1 and other >= uid
                                              or i > n - 1 and other <= uid):
                        self.fail("UIDs not ascending: %d at %d, %d at %d"
                                  % (uid, n, other, i + 1))
            fm = re.search(rb"\bFLAGS \(([^)]*)\)", rest)
            if fm:
                uid = self.seqs[n - 1]
                if uid is None:
                    self.fail("FETCH FLAGS without UID for message %d of unknown UID" % n)
                self.flags[uid] = frozenset(fm.group(1).decode().split())

    def select(self, mailbox=b"INBOX"):
        self.seqs = []
        self.flags = {}
        return self.ok(b"SELECT " + mailbox)

    def view(self):
        """NOOP, UID FETCH 1:* (FLAGS), UID SEARCH ALL: the mailbox as this
        session sees it, {uid: flags} (without \\Recent, which is per session)."""
        self.ok(b"NOOP")
        self.ok(b"UID FETCH 1:* (FLAGS)")
        _, untagged = self.ok(b"UID SEARCH ALL")
        (search,) = [l for l in untagged if l.startswith(b"* SEARCH")]
        uids = [int(x) for x in search.split()[2:]]
        if None in self.seqs:
            self.fail("UID FETCH 1:* left messages without UID: %r" % self.seqs)
        if uids != self.seqs:
            self.fail("UID SEARCH ALL %r != the sequence %r" % (uids, self.seqs))
        return {uid: self.flags[uid] - {"\\Recent"} for uid in self.seqs}


def reply_flags(untagged, uid):
    """The flag sets the FETCH responses in UNTAGGED report for UID."""
    out = []
    for line in untagged:
        if re.match(rb"\* \d+ FETCH ", line) and re.search(rb"\bUID %d\b" % uid, line):
            m = re.search(rb"\bFLAGS \(([^)]*)\)", line)
            if m:
                out.append(set(m.group(1).decode().split()))
    return out


def connect(srv, name):
    host, port = srv.addr("imap")
    with srv.netns():
        sock = socket.create_connection((host, port), timeout=TIMEOUT)
    c = RawIMAP(sock, name)
    assert c.greeting.startswith(b"* OK"), c.greeting
    c.ok(b"LOGIN %s %s" % (ALICE.encode(), ALICE_PW.encode()))
    return c


def message(subject):
    return ("From: <worker@example.org>\r\nTo: <alice@example.org>\r\nSubject: %s\r\n"
            "Message-ID: <%s@example.org>\r\n\r\nbody of %s\r\n"
            % (subject, subject, subject)).encode()


class Store:
    """One random UID STORE: who, what, when (sent, answered), the flag sets
    the reply's FETCHes of the UID showed, and whether the UID was in the
    client's view when the reply came."""

    def __init__(self, client, uid, sign, flag, t0, t1, states, in_view):
        self.client, self.uid, self.sign, self.flag = client, uid, sign, flag
        self.t0, self.t1, self.states, self.in_view = t0, t1, states, in_view

    def __repr__(self):
        return "c%d UID STORE %d %sFLAGS %s -> %r" % (
            self.client, self.uid, self.sign, self.flag, self.states)


def unexplained_store_replies(stores, expunged):
    """The STOREs whose reply does not show their own effect, nor can that be
    explained by another session acting on the message meanwhile.

    A reply should show the flag set by +FLAGS (cleared by -FLAGS). Under
    concurrency it may legitimately not: another session's opposite STORE of
    the same flag on the same message may land between this store and the
    reply (their commands then overlap in time), or the message may have been
    expunged (UID EXPUNGE sent before this reply came back) so the store did
    nothing and the reply shows only older news, or none."""
    bad = []
    for st in stores:
        if not st.in_view and not st.states:
            continue  # a UID this client knew to be gone, or never had
        if any((st.flag in f) == (st.sign == "+") for f in st.states):
            continue
        gone = st.uid in expunged and expunged[st.uid] < st.t1
        if gone:
            continue
        if st.states and any(o.client != st.client and o.uid == st.uid and o.flag == st.flag
                             and o.sign != st.sign and o.t0 < st.t1 and o.t1 > st.t0
                             for o in stores):
            continue
        bad.append(st)
    return bad


class Worker:
    """One client's thread: OPS_PER_CLIENT random operations; counts what its
    tagged OK responses did."""

    def __init__(self, client, index, seed):
        self.c = client
        self.index = index
        self.rng = random.Random(seed)
        self.appended = []
        self.expunged = {}  # uid -> when its UID EXPUNGE was sent
        self.stores = []
        self.error = None

    def run(self):
        try:
            ops = ["store"] * 27 + ["append"] * 10 + ["expunge"] * 10 + ["noop"] * 13
            assert len(ops) == OPS_PER_CLIENT
            self.rng.shuffle(ops)
            for op in ops:
                getattr(self, op)()
        except BaseException as e:  # reported by the test after the join
            self.error = e

    def known_uids(self):
        return [u for u in self.c.seqs if u is not None]

    def store(self):
        # Any UID up to the highest seen, gone ones included (then no FETCH).
        top = max(self.known_uids() + [1]) + 2
        uid = self.rng.randint(1, top)
        flag = self.rng.choice(RANDOM_FLAGS)
        sign = self.rng.choice("+-")
        t0 = time.monotonic()
        _, untagged = self.c.ok(b"UID STORE %d %sFLAGS (%s)" % (uid, sign.encode(), flag.encode()))
        t1 = time.monotonic()
        self.stores.append(Store(self.index, uid, sign, flag, t0, t1, reply_flags(untagged, uid),
                                 uid in self.c.seqs))

    def append(self):
        subject = unique("c%d-append" % self.index)
        flags = self.rng.choice([b"()", b"(\\Seen)", b"(\\Flagged $Label1)"])
        status, _ = self.c.ok(b"APPEND INBOX " + flags, literal=message(subject))
        m = re.search(rb"\[APPENDUID (\d+) (\d+)\]", status)
        if not m:
            self.c.fail("APPEND without APPENDUID: %r" % status)
        self.appended.append(int(m.group(2)))

    def expunge(self):
        # Only UIDs = index (mod CLIENTS), so no two clients expunge one message.
        mine = [u for u in self.known_uids() if u % CLIENTS == self.index]
        if not mine:
            self.c.ok(b"NOOP")
            return
        uid = self.rng.choice(mine)
        _, untagged = self.c.ok(b"UID STORE %d +FLAGS (\\Deleted)" % uid)
        if uid not in self.c.seqs:
            self.c.fail("UID %d vanished, only this client expunges it" % uid)
        if not any("\\Deleted" in f for f in reply_flags(untagged, uid)):
            self.c.fail("UID STORE %d +FLAGS (\\Deleted) reported %r" % (uid, untagged))
        t0 = time.monotonic()
        self.c.ok(b"UID EXPUNGE %d" % uid)
        if uid in self.c.seqs:
            self.c.fail("UID EXPUNGE %d answered OK without its EXPUNGE response" % uid)
        self.expunged[uid] = t0

    def noop(self):
        self.c.ok(b"NOOP")


def smtp_sender(srv, smtp, count, sent, errors):
    try:
        smtp.ehlo()
        for i in range(count):
            subject = unique("delivered-%d" % i)
            msg = ("From: <carol@example.net>\r\nTo: <%s>\r\nSubject: %s\r\n\r\nbody %d\r\n"
                   % (ALICE, subject, i)).encode()
            assert smtp.sendmail("carol@example.net", [ALICE], msg) == {}
            sent.append(subject)
        smtp.quit()
    except BaseException as e:
        errors.append(e)
    finally:
        smtp.close()


def test_concurrent_sessions_agree(server_factory):
    srv = server_factory(listen=IMAP_LISTEN)
    srv.add_user(ALICE, ALICE_PW)
    s = srv.smtp()
    s.ehlo()
    for i in range(INITIAL):
        s.sendmail("carol@example.net", [ALICE], message(unique("initial-%d" % i)))
    s.quit()
    srv.wait_for_mail(ALICE, INITIAL)

    seed = int(os.environ.get("IMAP_CONCURRENCY_SEED") or random.randrange(1 << 30))
    clients = [connect(srv, "c%d" % i) for i in range(CLIENTS)]
    for c in clients:
        c.select()
        assert len(c.seqs) == INITIAL
        c.ok(b"UID FETCH 1:* (FLAGS)")  # learn the UIDs
    workers = [Worker(c, i, seed + i) for i, c in enumerate(clients)]
    smtp = srv.smtp()
    sent, smtp_errors = [], []
    threads = [threading.Thread(target=w.run, daemon=True) for w in workers]
    threads.append(threading.Thread(
        target=smtp_sender, args=(srv, smtp, DELIVERED, sent, smtp_errors), daemon=True))
    for t in threads:
        t.start()
    deadline = time.monotonic() + 120
    for t in threads:
        t.join(max(0, deadline - time.monotonic()))
        assert not t.is_alive(), "a client thread is still running after 120s (seed %d)" % seed
    for w in workers:
        if w.error is not None:
            raise AssertionError("client c%d failed (seed %d): %s" % (w.index, seed, w.error))
    assert not smtp_errors, smtp_errors
    assert len(sent) == DELIVERED

    appended = [u for w in workers for u in w.appended]
    expunged = [u for w in workers for u in w.expunged]
    assert len(set(appended)) == len(appended), "APPENDUID gave one UID twice: %r" % appended
    # Not vacuous: every kind of operation happened.
    assert appended and expunged and all(w.stores for w in workers)
    expunge_times = {u: t for w in workers for u, t in w.expunged.items()}
    stores = [st for w in workers for st in w.stores]
    expected = INITIAL + DELIVERED + len(appended) - len(expunged)

    # Delivery is asynchronous (queue): wait for every accepted message.
    deadline = time.monotonic() + 30
    while len(srv.mail_list(ALICE)) != expected:
        assert time.monotonic() < deadline, (
            "INBOX has %d messages, expected %d = %d + %d delivered + %d appended - %d "
            "expunged (seed %d)\nqueue: %s" % (len(srv.mail_list(ALICE)), expected, INITIAL,
                                               DELIVERED, len(appended), len(expunged), seed,
                                               srv.queue_list()))
        time.sleep(0.05)

    views = [c.view() for c in clients]
    fresh = connect(srv, "fresh")
    _, untagged = fresh.select()
    exists = [int(l.split()[1]) for l in untagged if l.endswith(b" EXISTS")]
    assert exists == [expected], untagged
    fresh_view = fresh.view()
    assert len(fresh_view) == expected
    for c, view in zip(clients, views):
        assert sorted(view) == sorted(fresh_view), (
            "%s sees UIDs %r, a fresh session %r (seed %d)"
            % (c.name, sorted(view), sorted(fresh_view), seed))
        diff = {u: (sorted(view[u]), sorted(fresh_view[u]))
                for u in view if view[u] != fresh_view[u]}
        assert not diff, "%s: flags differ from a fresh session's: %r (seed %d)" % (
            c.name, diff, seed)
    uids = set(fresh_view)
    assert set(appended) - set(expunged) <= uids
    assert not set(expunged) & uids
    bad = unexplained_store_replies(stores, expunge_times)
    assert not bad, "UID STORE replies without the store's effect: %r (seed %d)" % (bad, seed)
    assert not any("\\Deleted" in f for f in fresh_view.values())
    print("seed %d: %d messages, %d appended, %d expunged, %d stores"
          % (seed, expected, len(appended), len(expunged), len(stores)))
    for c in clients + [fresh]:
        c.ok(b"LOGOUT")
        c.sock.close()
