"""Durability: a message that got "250 queued as ID" survives a SIGKILL of the
server and is delivered exactly once after the restart."""

import collections
import smtplib
import threading

from harness import queue_id_of, wait_until

USERS = ["alice@example.org", "bob@example.org"]
THREADS = 8
KILL_AFTER = 100


def test_sigkill_mid_stream_loses_and_duplicates_nothing(server_factory):
    srv = server_factory()
    for u in USERS:
        srv.add_user(u, "pw-" + u)

    accepted = []          # (queue id, token, [rcpts]) for every 250 the clients saw
    errors_before_kill = []
    lock = threading.Lock()
    killed = threading.Event()

    def worker(n):
        i = 0
        try:
            s = srv.smtp("smtp", timeout=20)
            s.ehlo()
            while not killed.is_set() and i < 2000:
                token = "tok-%d-%d" % (n, i)
                rcpts = USERS if i % 5 == 0 else [USERS[(n + i) % 2]]
                msg = ("From: <load@example.net>\r\nSubject: %s\r\n\r\n%s\r\n%s\r\n"
                       % (token, token, "padding " * 40)).encode()
                i += 1
                code, resp = s.mail("load@example.net")
                if code != 250:
                    raise AssertionError("MAIL: %s %r" % (code, resp))
                for r in rcpts:
                    code, resp = s.rcpt(r)
                    if code != 250:
                        raise AssertionError("RCPT: %s %r" % (code, resp))
                code, resp = s.data(msg)
                if code == 250:
                    with lock:
                        accepted.append((queue_id_of(resp).lower(), token, rcpts))
                else:
                    raise AssertionError("DATA: %s %r" % (code, resp))
        except (OSError, smtplib.SMTPException, AssertionError) as e:
            if not killed.is_set():
                with lock:
                    errors_before_kill.append("thread %d: %r" % (n, e))

    threads = [threading.Thread(target=worker, args=(n,), daemon=True) for n in range(THREADS)]
    for t in threads:
        t.start()
    try:
        wait_until(lambda: len(accepted) >= KILL_AFTER or errors_before_kill
                   or not any(t.is_alive() for t in threads),
                   timeout=120, interval=0.01, message="%d accepted messages" % KILL_AFTER)
    finally:
        killed.set()
        srv.kill()  # SIGKILL while the clients are mid-stream
    for t in threads:
        t.join(60)
    assert not errors_before_kill, errors_before_kill
    assert len(accepted) >= KILL_AFTER

    with lock:
        recorded = list(accepted)
    qids = [q for q, _, _ in recorded]
    assert len(set(qids)) == len(qids), "the server handed out a queue id twice"

    print("accepted before SIGKILL: %d messages" % len(recorded))
    srv.start()  # same data dir

    want = collections.defaultdict(set)
    for qid, _, rcpts in recorded:
        for r in rcpts:
            want[r].add(qid)

    def all_delivered():
        for r in USERS:
            have = {q.lower() for _, _, q in srv.mail_list(r)}
            if not want[r] <= have:
                return False
        return True

    wait_until(all_delivered, timeout=120, interval=0.2,
               message="every acknowledged message to be delivered after the restart")
    wait_until(lambda: not any(q in srv.queue_list().lower() for q in qids),
               timeout=120, interval=0.2, message="the queue to drain")

    token_of = {q: tok for q, tok, _ in recorded}
    for r in USERS:
        rows = srv.mail_list(r)
        counts = collections.Counter(q.lower() for _, _, q in rows)
        dups = {q: n for q, n in counts.items() if n > 1}
        assert not dups, "%s: queue ids delivered more than once: %r" % (r, dups)
        missing = want[r] - set(counts)
        assert not missing, "%s: acknowledged but lost: %r" % (r, sorted(missing))
        # content check: each token at most once (no re-queued copy under a new id)
        seen = collections.Counter()
        for uid, _, q in rows:
            body = srv.mail_read(r, uid)
            if q.lower() in token_of:
                assert token_of[q.lower()].encode() in body, "wrong body for %s" % q
            for line in body.split(b"\r\n"):
                if line.startswith(b"Subject: tok-"):
                    seen[line] += 1
        print("%s: %d stored, %d acknowledged" % (r, len(rows), len(want[r])))
        dup_tokens = [t for t, n in seen.items() if n > 1]
        assert not dup_tokens, "%s: same message stored twice: %r" % (r, dup_tokens[:5])
