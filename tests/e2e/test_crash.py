"""Durability: a message that got "250 queued as ID" survives a SIGKILL of the
server and is delivered exactly once after the restart (issue 12, finding 12).

The server is killed while WRITERS clients are still writing, after at least
KILL_AFTER acknowledged messages, with limits that cannot stop them (the hourly
per-address limits are off: with their defaults the clients used to be refused
before the kill, and the test proved little). The test asserts that the clients
really were sending when the kill came (every writer had an acknowledgement
shortly before it, and transactions were cut off by it), then restarts the
server on the same data dir and checks, by a token in each message, that every
acknowledged message is delivered exactly once: none lost, none duplicated. A
message whose transaction was cut off may be delivered or not, but at most once.
"""

import collections
import re
import smtplib
import threading
import time

from harness import IMAP_LISTEN, queue_id_of, wait_until

USERS = ["alice@example.org", "bob@example.org"]
PASSWORD = "crash-secret"
WRITERS = 10
# More than the default smtp.max_messages_per_hour_per_ip (2000): with the
# default limits the writers would be refused before the kill.
KILL_AFTER = 2500
# Each writer must have had an acknowledgement within this many seconds before
# the kill, so the kill lands while all of them are writing (they ack hundreds
# of messages a second in all).
RECENT = 1.0
SMTP_LIMITS = {
    "max_messages_per_hour_per_ip": 0,    # 0: no limit
    "max_recipients_per_hour_per_ip": 0,
    "max_connections_per_ip": 100,
}
TOKEN = re.compile(rb"tok-\d+-\d+")


def subjects_by_imap(srv, user):
    """{token: count} over USER's INBOX, read in one IMAP FETCH."""
    c = srv.imap()
    try:
        c.login(user, PASSWORD)
        typ, data = c.select("INBOX", readonly=True)
        assert typ == "OK", data
        counts = collections.Counter()
        if int(data[0]) == 0:
            return counts
        typ, data = c.fetch("1:*", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        assert typ == "OK", data
        for item in data:
            if isinstance(item, tuple):
                for tok in TOKEN.findall(item[1]):
                    counts[tok.decode()] += 1
        return counts
    finally:
        try:
            c.logout()
        except Exception:
            pass


def test_sigkill_while_writers_are_writing_loses_and_duplicates_nothing(server_factory):
    srv = server_factory(smtp=SMTP_LIMITS, listen=IMAP_LISTEN)
    for u in USERS:
        srv.add_user(u, PASSWORD)

    lock = threading.Lock()
    accepted = []                 # (queue id, token, rcpts) for every 250 to DATA
    last_ack = {}                 # writer -> monotonic time of its last 250
    cut_off = []                  # (writer, token, stage) of transactions the kill interrupted
    errors_before_kill = []
    killing = threading.Event()   # set just before SIGKILL: only classifies errors

    def writer(n):
        i = 0
        s = None
        token, stage = None, "connect"
        try:
            s = srv.smtp("smtp", timeout=30)
            s.ehlo()
            while True:  # until the kill breaks the connection
                token = "tok-%d-%d" % (n, i)
                rcpts = USERS if i % 5 == 0 else [USERS[(n + i) % 2]]
                msg = ("From: <load@example.net>\r\nSubject: %s\r\n\r\n%s\r\n%s\r\n"
                       % (token, token, "padding " * 40)).encode()
                i += 1
                stage = "MAIL"
                code, resp = s.mail("load@example.net")
                if code != 250:
                    raise AssertionError("MAIL: %s %r" % (code, resp))
                stage = "RCPT"
                for r in rcpts:
                    code, resp = s.rcpt(r)
                    if code != 250:
                        raise AssertionError("RCPT: %s %r" % (code, resp))
                stage = "DATA"
                code, resp = s.data(msg)
                if code != 250:
                    raise AssertionError("DATA: %s %r" % (code, resp))
                with lock:
                    accepted.append((queue_id_of(resp).lower(), token, rcpts))
                    last_ack[n] = time.monotonic()
                token, stage = None, "between"
        except (OSError, smtplib.SMTPException, AssertionError) as e:
            with lock:
                if killing.is_set():
                    if token is not None:
                        cut_off.append((n, token, stage))
                else:
                    errors_before_kill.append("writer %d: %r" % (n, e))
        finally:
            if s is not None:
                s.close()

    threads = [threading.Thread(target=writer, args=(n,), daemon=True) for n in range(WRITERS)]
    started = time.monotonic()
    for t in threads:
        t.start()
    try:
        wait_until(lambda: len(accepted) >= KILL_AFTER or errors_before_kill
                   or not all(t.is_alive() for t in threads),
                   timeout=300, interval=0.01, message="%d accepted messages" % KILL_AFTER)
    finally:
        with lock:
            killing.set()
            kill_at = time.monotonic()
            alive_at_kill = sum(t.is_alive() for t in threads)
            acks_at_kill = dict(last_ack)
        srv.kill()  # SIGKILL while the writers are mid-stream
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads), "a writer did not notice the kill"
    assert not errors_before_kill, errors_before_kill

    with lock:
        recorded = list(accepted)
    elapsed = kill_at - started
    print("acknowledged before SIGKILL: %d messages by %d writers in %.1fs (%.0f/s); "
          "cut off by the kill: %d transactions %r"
          % (len(recorded), WRITERS, elapsed, len(recorded) / elapsed, len(cut_off),
             collections.Counter(stage for _, _, stage in cut_off)))
    assert len(recorded) >= KILL_AFTER
    # The kill came while everyone was writing: every writer was alive and had an
    # acknowledgement shortly before it, and the kill interrupted transactions.
    assert alive_at_kill == WRITERS, "only %d of %d writers were running" % (alive_at_kill, WRITERS)
    stale = {n: kill_at - acks_at_kill.get(n, started) for n in range(WRITERS)
             if kill_at - acks_at_kill.get(n, started) > RECENT}
    assert not stale, "writers without an acknowledgement in the last %ss: %r" % (RECENT, stale)
    assert cut_off, "no transaction was in progress when the server was killed"

    qids = [q for q, _, _ in recorded]
    assert len(set(qids)) == len(qids), "the server handed out a queue id twice"

    srv.start()  # same data dir

    want = collections.defaultdict(set)
    for _, token, rcpts in recorded:
        for r in rcpts:
            want[r].add(token)
    cut_tokens = {tok for _, tok, _ in cut_off}

    def delivered():
        return {r: subjects_by_imap(srv, r) for r in USERS}

    def all_delivered():
        have = delivered()
        return all(want[r] <= set(have[r]) for r in USERS) and have

    have = wait_until(all_delivered, timeout=180, interval=0.5,
                      message="every acknowledged message to be delivered after the restart")
    wait_until(lambda: not any(q in srv.queue_list().lower() for q in qids),
               timeout=120, interval=0.5, message="the queue to drain")
    have = delivered()

    for r in USERS:
        counts = have[r]
        dups = {t: n for t, n in counts.items() if n > 1}
        assert not dups, "%s: messages stored more than once: %r" % (r, sorted(dups)[:10])
        missing = want[r] - set(counts)
        assert not missing, "%s: acknowledged but lost: %r" % (r, sorted(missing)[:10])
        unexpected = set(counts) - want[r] - cut_tokens
        assert not unexpected, "%s: stored but never sent: %r" % (r, sorted(unexpected)[:10])
        print("%s: %d stored, %d acknowledged, %d from cut-off transactions"
              % (r, sum(counts.values()), len(want[r]), len(set(counts) & cut_tokens)))

    # The queue ids in the mailboxes are the acknowledged ones, each at most once.
    for r in USERS:
        ids = collections.Counter(q.lower() for _, _, q in srv.mail_list(r))
        dups = {q: n for q, n in ids.items() if n > 1}
        assert not dups, "%s: queue ids delivered more than once: %r" % (r, dups)
