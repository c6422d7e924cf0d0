"""CONDSTORE and QRESYNC (RFC 7162) end to end, with a raw line client.

imaplib cannot parse VANISHED or response modifiers like `(MODSEQ n)` on SEARCH, so
these tests speak IMAP over a plain socket: each command returns its untagged lines and
the tagged line. Mail arrives over SMTP; a second session changes the mailbox the way
another client would.
"""

import re

import pytest

from harness import IMAP_LISTEN
from test_imap import ALICE, deliver


@pytest.fixture
def imap_server(server_factory):
    srv = server_factory(listen=dict(IMAP_LISTEN))
    srv.add_user(*ALICE)
    return srv


class Raw:
    """A minimal IMAP client: one command at a time, lines as text."""

    def __init__(self, srv):
        self.sock = srv.connect("imap")
        self.buf = b""
        self.n = 0
        greeting = self.line()
        assert greeting.startswith("* OK"), greeting

    def line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            assert chunk, "connection closed"
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line.decode()

    def cmd(self, text):
        """Sends `text`; returns (untagged lines, tagged line without the tag)."""
        self.n += 1
        tag = "c%d" % self.n
        self.sock.sendall(("%s %s\r\n" % (tag, text)).encode())
        untagged = []
        while True:
            line = self.line()
            if line.startswith(tag + " "):
                return untagged, line[len(tag) + 1:]
            untagged.append(line)

    def ok(self, text):
        untagged, tagged = self.cmd(text)
        assert tagged.startswith("OK"), (text, tagged, untagged)
        return untagged, tagged

    def close(self):
        self.cmd("LOGOUT")
        self.sock.close()


def session(srv):
    c = Raw(srv)
    c.ok("LOGIN %s %s" % ALICE)
    return c


def code(lines, name):
    """The value of `* OK [NAME value]` among untagged lines."""
    for line in lines:
        m = re.match(r"\* OK \[%s ([^\]]+)\]" % name, line)
        if m:
            return m.group(1)
    raise AssertionError("no %s in %r" % (name, lines))


def fetches(lines):
    """{uid: (seq, flags, modseq)} from untagged FETCH lines."""
    out = {}
    for line in lines:
        m = re.match(r"\* (\d+) FETCH \((.*)\)$", line)
        if not m:
            continue
        body = m.group(2)
        uid = int(re.search(r"UID (\d+)", body).group(1))
        flags = re.search(r"FLAGS \(([^)]*)\)", body)
        modseq = re.search(r"MODSEQ \((\d+)\)", body)
        # \Recent is per session (test_imap_recent.py); these tests are about the rest.
        out[uid] = (
            int(m.group(1)),
            [f for f in flags.group(1).split() if f != "\\Recent"] if flags else None,
            int(modseq.group(1)) if modseq else None,
        )
    return out


def uids(c):
    untagged, _ = c.ok("UID SEARCH ALL")
    line = [l for l in untagged if l.startswith("* SEARCH")][0]
    return [int(x) for x in line.split()[2:]]


def test_capability_and_enable(imap_server):
    c = session(imap_server)
    untagged, _ = c.ok("CAPABILITY")
    caps = untagged[0].split()
    assert "CONDSTORE" in caps and "QRESYNC" in caps
    untagged, _ = c.ok("ENABLE CONDSTORE QRESYNC")
    assert untagged == ["* ENABLED CONDSTORE QRESYNC"]
    # Already enabled: nothing new to list (RFC 5161 §3.2).
    untagged, _ = c.ok("ENABLE QRESYNC")
    assert untagged == ["* ENABLED"]
    c.close()


def test_store_fetch_changedsince_and_search_modseq(imap_server):
    deliver(imap_server, 3)
    c = session(imap_server)
    untagged, _ = c.ok("SELECT INBOX (CONDSTORE)")
    highest = int(code(untagged, "HIGHESTMODSEQ"))
    untagged, _ = c.ok("FETCH 1:* (UID MODSEQ)")
    before = fetches(untagged)
    assert len(before) == 3
    assert all(0 < m <= highest for (_, _, m) in before.values())

    # STORE gives a new, higher MODSEQ and reports it (RFC 7162 §3.1.2).
    untagged, _ = c.ok("STORE 2 +FLAGS (\\Flagged)")
    stored = fetches(untagged)
    (uid2,) = stored
    seq, flags, modseq = stored[uid2]
    assert seq == 2 and "\\Flagged" in flags and modseq > highest

    # CHANGEDSINCE: only the changed message, with MODSEQ though not asked for.
    untagged, _ = c.ok("FETCH 1:* (UID FLAGS) (CHANGEDSINCE %d)" % highest)
    assert fetches(untagged) == {uid2: (2, ["\\Flagged"], modseq)}
    untagged, _ = c.ok("FETCH 1:* (UID FLAGS) (CHANGEDSINCE %d)" % modseq)
    assert fetches(untagged) == {}

    # SEARCH MODSEQ with the (MODSEQ n) suffix (RFC 7162 §3.1.5).
    untagged, _ = c.ok("SEARCH MODSEQ %d" % (highest + 1))
    assert "* SEARCH 2 (MODSEQ %d)" % modseq in untagged
    untagged, _ = c.ok("SEARCH MODSEQ %d" % (modseq + 1))
    assert "* SEARCH" in untagged
    untagged, _ = c.ok("STATUS INBOX (HIGHESTMODSEQ)")
    assert any("HIGHESTMODSEQ %d" % modseq in l for l in untagged), untagged
    c.close()


def test_store_unchangedsince_reports_modified(imap_server):
    deliver(imap_server, 2)
    c = session(imap_server)
    c.ok("SELECT INBOX")
    untagged, _ = c.ok("FETCH 1:2 (UID MODSEQ)")
    known = fetches(untagged)
    first = min(known)
    old = known[first][2]
    # Unchanged since the client's value: the change is made.
    untagged, tagged = c.ok("STORE 1 (UNCHANGEDSINCE %d) +FLAGS (\\Seen)" % old)
    assert "MODIFIED" not in tagged
    assert "\\Seen" in fetches(untagged)[first][1]
    # Message 1 changed after message 2's value; message 2 did not: only 1 is
    # refused and named in [MODIFIED], message 2 is changed.
    second = max(known)
    untagged, tagged = c.ok(
        "STORE 1:2 (UNCHANGEDSINCE %d) +FLAGS (\\Answered)" % known[second][2]
    )
    assert tagged.startswith("OK [MODIFIED 1]"), tagged
    assert first not in fetches(untagged)
    untagged, _ = c.ok("FETCH 2 (UID FLAGS)")
    assert "\\Answered" in fetches(untagged)[second][1]
    untagged, tagged = c.ok("UID STORE %d (UNCHANGEDSINCE %d) +FLAGS (\\Answered)" % (first, old))
    assert tagged.startswith("OK [MODIFIED %d]" % first), tagged
    untagged, _ = c.ok("FETCH 1 (UID FLAGS)")
    assert "\\Answered" not in fetches(untagged)[first][1]
    c.close()


def test_qresync_select_and_uid_fetch_vanished(imap_server):
    deliver(imap_server, 4)
    a = session(imap_server)
    a.ok("ENABLE QRESYNC")
    untagged, _ = a.ok("SELECT INBOX")
    validity = int(code(untagged, "UIDVALIDITY"))
    highest = int(code(untagged, "HIGHESTMODSEQ"))
    all_uids = uids(a)
    a.ok("UNSELECT")

    # Meanwhile another client flags one message and expunges another.
    b = session(imap_server)
    b.ok("SELECT INBOX")
    b.ok("UID STORE %d +FLAGS (\\Flagged)" % all_uids[2])
    b.ok("UID STORE %d +FLAGS (\\Deleted)" % all_uids[0])
    b.ok("EXPUNGE")
    b.close()

    untagged, tagged = a.ok("SELECT INBOX (QRESYNC (%d %d))" % (validity, highest))
    assert "* VANISHED (EARLIER) %d" % all_uids[0] in untagged, untagged
    changed = fetches(untagged)
    assert set(changed) == {all_uids[2]}
    seq, flags, modseq = changed[all_uids[2]]
    assert seq == 2 and flags == ["\\Flagged"] and modseq > highest
    assert int(code(untagged, "HIGHESTMODSEQ")) >= modseq
    # VANISHED comes before the FETCHes (RFC 7162 §3.2.5.1).
    assert untagged.index("* VANISHED (EARLIER) %d" % all_uids[0]) < min(
        i for i, l in enumerate(untagged) if " FETCH " in l
    )

    # Known UIDs limit VANISHED (EARLIER).
    untagged, _ = a.ok(
        "SELECT INBOX (QRESYNC (%d %d %d:%d))"
        % (validity, highest, all_uids[1], all_uids[3])
    )
    assert "* OK [CLOSED] Previous mailbox closed" in untagged
    assert not any(l.startswith("* VANISHED") for l in untagged), untagged

    # A UIDVALIDITY mismatch: a full resync, so no VANISHED and no FETCH.
    untagged, _ = a.ok("EXAMINE INBOX (QRESYNC (%d %d))" % (validity + 1, highest))
    assert not any(l.startswith("* VANISHED") or " FETCH " in l for l in untagged)

    untagged, _ = a.ok("UID FETCH 1:* (FLAGS) (CHANGEDSINCE %d VANISHED)" % highest)
    assert untagged[0] == "* VANISHED (EARLIER) %d" % all_uids[0], untagged
    assert set(fetches(untagged)) == {all_uids[2]}
    # VANISHED is a UID FETCH modifier only.
    _, tagged = a.cmd("FETCH 1:* (FLAGS) (CHANGEDSINCE %d VANISHED)" % highest)
    assert tagged.startswith("BAD"), tagged
    a.close()


def test_qresync_needs_enable(imap_server):
    deliver(imap_server, 1)
    c = session(imap_server)
    _, tagged = c.cmd("SELECT INBOX (QRESYNC (1 1))")
    assert tagged.startswith("BAD"), tagged
    c.close()


def test_expunge_by_another_session_arrives_as_vanished(imap_server):
    deliver(imap_server, 3)
    a = session(imap_server)
    a.ok("ENABLE QRESYNC")
    a.ok("SELECT INBOX")
    all_uids = uids(a)

    b = session(imap_server)
    b.ok("SELECT INBOX")
    b.ok("UID STORE %d +FLAGS.SILENT (\\Deleted)" % all_uids[1])
    b.ok("EXPUNGE")
    b.close()

    untagged, _ = a.ok("NOOP")
    assert "* VANISHED %d" % all_uids[1] in untagged, untagged
    assert not any(l.endswith("EXPUNGE") for l in untagged), untagged
    # The flag change before the expunge is not reported for a vanished message.
    assert all_uids[1] not in fetches(untagged)
    assert uids(a) == [all_uids[0], all_uids[2]]
    a.close()


def highestmodseqs(lines):
    """The `* OK [HIGHESTMODSEQ n]` values among untagged lines."""
    return [int(m.group(1)) for m in (re.match(r"\* OK \[HIGHESTMODSEQ (\d+)\]", l) for l in lines) if m]


@pytest.mark.parametrize("first", [
    "FETCH 1 (FLAGS MODSEQ)",
    "FETCH 1:* (FLAGS) (CHANGEDSINCE 1)",
    "SEARCH MODSEQ 1",
    "STORE 1 (UNCHANGEDSINCE 1000) +FLAGS.SILENT (\\Flagged)",
])
def test_first_condstore_enabling_command_sends_highestmodseq(imap_server, first):
    # RFC 7162 §3.1: the first CONDSTORE enabling command in a mailbox selected
    # without CONDSTORE gets `* OK [HIGHESTMODSEQ n]`; later ones do not.
    deliver(imap_server, 2)
    c = session(imap_server)
    untagged, _ = c.ok("SELECT INBOX")
    highest = int(code(untagged, "HIGHESTMODSEQ"))
    untagged, _ = c.ok(first)
    assert highestmodseqs(untagged) == [highest], untagged
    untagged, _ = c.ok("FETCH 1 (FLAGS MODSEQ)")
    assert highestmodseqs(untagged) == [], untagged
    # Enabled on the connection: the next SELECT's own response is enough.
    c.ok("SELECT INBOX")
    untagged, _ = c.ok(first)
    assert highestmodseqs(untagged) == [], untagged
    c.close()


def test_select_condstore_needs_no_second_highestmodseq(imap_server):
    deliver(imap_server, 1)
    c = session(imap_server)
    c.ok("SELECT INBOX (CONDSTORE)")
    untagged, _ = c.ok("FETCH 1 (FLAGS MODSEQ)")
    assert highestmodseqs(untagged) == [], untagged
    c.close()


def test_esearch_min_max_modseq_is_of_the_messages_returned(imap_server):
    # imaptest's esearch-condstore: MODSEQ covers only what MIN/MAX return (RFC 4731
    # §3.2, RFC 7162 §3.1.5), all matches once ALL or COUNT is asked.
    deliver(imap_server, 4)
    c = session(imap_server)
    c.ok("SELECT INBOX")
    modseq = {}
    for seq in (1, 3, 2, 4):
        untagged, _ = c.ok("STORE %d (UNCHANGEDSINCE 100000) +FLAGS (\\Seen)" % seq)
        modseq[seq] = [m for (s, _, m) in fetches(untagged).values() if s == seq][0]
    assert modseq[1] < modseq[3] < modseq[2] < modseq[4]
    key = 'MODSEQ "/flags/\\\\seen" all 1'

    def esearch(ret, seqs):
        untagged, _ = c.ok("SEARCH RETURN (%s) %s %s" % (ret, seqs, key))
        line = [l for l in untagged if l.startswith("* ESEARCH")]
        assert len(line) == 1, untagged
        return line[0].split(")", 1)[1].strip()

    assert esearch("MIN", "1:3") == "MIN 1 MODSEQ %d" % modseq[1]
    assert esearch("MAX", "1:3") == "MAX 3 MODSEQ %d" % modseq[3]
    assert esearch("MIN MAX", "2:3") == "MIN 2 MAX 3 MODSEQ %d" % modseq[2]
    assert esearch("MIN MAX", "1:3") == "MIN 1 MAX 3 MODSEQ %d" % modseq[3]
    assert esearch("", "1:3") == "ALL 1:3 MODSEQ %d" % modseq[2]
    assert esearch("MIN COUNT", "1:3") == "MIN 1 COUNT 3 MODSEQ %d" % modseq[2]
    c.close()


def flag_change_seen_by(c, imap_server, flag):
    """Another session adds `flag` to message 1; returns what `c`'s NOOP reports."""
    other = session(imap_server)
    other.ok("SELECT INBOX")
    other.ok("STORE 1 +FLAGS.SILENT (%s)" % flag)
    other.close()
    untagged, _ = c.ok("NOOP")
    return fetches(untagged)


def test_status_highestmodseq_enables_condstore_in_the_selected_mailbox(imap_server):
    # RFC 7162 §3.1: STATUS (HIGHESTMODSEQ) is a CONDSTORE enabling command, even
    # for another mailbox: the first one gets `* OK [HIGHESTMODSEQ n]` and from then
    # on every FETCH update carries MODSEQ.
    deliver(imap_server, 1)
    c = session(imap_server)
    c.ok("CREATE Other")
    untagged, _ = c.ok("SELECT INBOX")
    highest = int(code(untagged, "HIGHESTMODSEQ"))
    changed = flag_change_seen_by(c, imap_server, "\\Flagged")
    assert changed[1][2] is None, changed
    untagged, _ = c.ok("STATUS Other (HIGHESTMODSEQ)")
    assert len(highestmodseqs(untagged)) == 1, untagged
    assert highestmodseqs(untagged)[0] > highest, untagged
    changed = flag_change_seen_by(c, imap_server, "\\Answered")
    assert changed[1][2] is not None, changed
    untagged, _ = c.ok("STATUS INBOX (HIGHESTMODSEQ)")
    assert highestmodseqs(untagged) == [], untagged
    c.close()


def test_status_highestmodseq_before_select_enables_condstore(imap_server):
    deliver(imap_server, 1)
    c = session(imap_server)
    untagged, _ = c.ok("STATUS INBOX (HIGHESTMODSEQ)")
    assert highestmodseqs(untagged) == [], untagged
    c.ok("SELECT INBOX")
    changed = flag_change_seen_by(c, imap_server, "\\Flagged")
    assert changed[1][2] is not None, changed
    c.close()
