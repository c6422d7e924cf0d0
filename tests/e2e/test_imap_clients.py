"""Real IMAP clients against Postie: mbsync (isync) two-way sync between the
server and a local Maildir, over the imap listener (plain LOGIN, allowed from
loopback) and over imaps with the server's self-signed certificate pinned;
and the imapclient library (PyPI) for what a Python mail program does:
LIST with special-use flags, SELECT, UID SEARCH, FETCH with ENVELOPE and
BODYSTRUCTURE parsed by the library, STORE, MOVE, APPEND (APPENDUID), IDLE.
mbsync runs inside the server's network namespace (Server.tool); mail
arrives over SMTP like real mail."""

import base64
import datetime
import os
import pty
import re
import shutil
import socket
import ssl
import subprocess
import threading
import time

import pytest

from harness import HOSTNAME, IMAP_LISTEN, unique

try:
    import imapclient
    from imapclient.imapclient import ARCHIVE, DRAFTS, FLAGGED, JUNK, SEEN, SENT, TRASH
except ImportError:  # pragma: no cover - reported as a skip below
    imapclient = None

ALICE, ALICE_PW = "alice@example.org", "alice-secret"

needs_mbsync = pytest.mark.skipif(
    shutil.which("mbsync") is None, reason="mbsync missing: run scripts/install-test-deps")
needs_imapclient = pytest.mark.skipif(
    imapclient is None, reason="imapclient missing: run scripts/install-test-deps")


@pytest.fixture
def imap_server(server_factory):
    srv = server_factory(listen=IMAP_LISTEN)
    srv.add_user(ALICE, ALICE_PW)
    srv.add_user("bob@example.org", "bob-secret")
    return srv


def send(srv, subject, body="Hello from SMTP\r\n", rcpt=ALICE,
         sender="carol@example.net"):
    msg = (
        "From: Carol <%s>\r\nTo: Alice <%s>\r\nSubject: %s\r\n"
        "Date: Mon, 07 Apr 2025 10:00:00 +0000\r\nMessage-ID: <%s@example.net>\r\n\r\n%s"
        % (sender, rcpt, subject, unique("id"), body)
    ).encode()
    s = srv.smtp()
    try:
        s.ehlo()
        assert s.sendmail(sender, [rcpt], msg) == {}
        s.quit()
    finally:
        s.close()
    return msg


def deliver(srv, subjects, **kw):
    """Sends one message per subject to alice, waits until all are stored;
    returns the messages as sent."""
    before = len(srv.mail_list(ALICE))
    sent = [send(srv, s, **kw) for s in subjects]
    srv.wait_for_mail(ALICE, before + len(subjects))
    return sent


def ok(result):
    typ, data = result
    assert typ == "OK", (typ, data)
    return data


def imaplib_login(srv):
    c = srv.imap()
    ok(c.login(ALICE, ALICE_PW))
    return c


def server_messages(srv, mailbox):
    """{uid: (flags, whole message bytes)} of MAILBOX, read over imaplib
    without changing anything (EXAMINE, BODY.PEEK)."""
    c = imaplib_login(srv)
    try:
        ok(c.select('"%s"' % mailbox, readonly=True))
        out = {}
        data = ok(c.uid("FETCH", "1:*", "(UID FLAGS BODY.PEEK[])"))
        for item in data:
            if not isinstance(item, tuple):
                continue
            head, body = item
            uid = int(re.search(rb"UID (\d+)", head).group(1))
            flags = set(re.search(rb"FLAGS \(([^)]*)\)", head).group(1).decode().split())
            out[uid] = (flags, body)
        status = ok(c.status('"%s"' % mailbox, "(MESSAGES UIDNEXT)"))[0]
        messages, uidnext = re.search(rb"MESSAGES (\d+) UIDNEXT (\d+)", status).groups()
        assert int(messages) == len(out), (status, sorted(out))
        return out, int(uidnext)
    finally:
        c.logout()


# ----- mbsync (isync) ---------------------------------------------------------------

# mbsync prints its progress counters only to a terminal, the last one being the
# totals: C(hannels) B(oxes) F(ar side) N(ear side); per side +added *flag
# updates #trashed (propagated deletions), each as done/total.
COUNTERS = re.compile(
    r"C: (\d+)/(\d+)\s+B: (\d+)/(\d+)\s+"
    r"F: \+(\d+)/(\d+) \*(\d+)/(\d+) #(\d+)/(\d+)\s+"
    r"N: \+(\d+)/(\d+) \*(\d+)/(\d+) #(\d+)/(\d+)")

SPECIAL = ("Archive", "Drafts", "Junk", "Sent", "Trash")


class Mbsync:
    """mbsync with its own config and a Maildir store in HOME; the sync state
    lives in each local mailbox (SyncState *), so runs over the imap and the
    imaps listener continue the same sync."""

    def __init__(self, server, home):
        self.server = server
        self.home = str(home)
        self.maildir = os.path.join(self.home, "mail")
        os.makedirs(self.maildir, exist_ok=True)
        self.rc = os.path.join(self.home, "mbsyncrc")

    def write_rc(self, kind):
        if kind == "imap":
            # isync 1.4 spells it SSLType (TLSType from 1.5 on). Without TLS
            # mbsync only uses a mechanism that is named explicitly.
            security = "SSLType None\nAuthMechs LOGIN\n"
        else:
            # Only the server's own certificate is trusted: a host certificate
            # in CertificateFile is matched against the one the server shows.
            security = ("SSLType IMAPS\nCertificateFile %s\nSystemCertificates no\n"
                        % os.path.join(self.server.data_dir, "tls", "cert.pem"))
        with open(self.rc, "w") as f:
            f.write(
                "IMAPAccount postie\n"
                "Host 127.0.0.1\n"
                "Port %d\n"
                "User %s\n"
                "Pass %s\n"
                "Timeout 30\n"
                "%s"
                "\n"
                "IMAPStore far\n"
                "Account postie\n"
                "\n"
                "MaildirStore near\n"
                "Path %s/\n"
                "Inbox %s/INBOX\n"
                "SubFolders Verbatim\n"
                "\n"
                "Channel postie\n"
                "Far :far:\n"
                "Near :near:\n"
                "Patterns *\n"
                "Create Both\n"
                "Expunge Both\n"
                "SyncState *\n"
                % (self.server.port(kind), ALICE, ALICE_PW, security,
                   self.maildir, self.maildir))
        os.chmod(self.rc, 0o600)

    def run(self, kind):
        """One `mbsync -V -a` over the KIND listener, its stdout on a pty (so it
        prints its counters). Returns (final counters dict, output)."""
        self.write_rc(kind)
        master, slave = pty.openpty()
        chunks = []

        def drain():
            while True:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # EIO: every copy of the slave side is closed
                    return
                if not chunk:
                    return
                chunks.append(chunk)

        reader = threading.Thread(target=drain, daemon=True)
        reader.start()
        try:
            p = self.server.tool(
                ["mbsync", "-V", "-c", self.rc, "-a"], capture_output=False,
                stdin=subprocess.DEVNULL, stdout=slave, stderr=subprocess.PIPE,
                env=dict(os.environ, HOME=self.home), timeout=60)
        finally:
            os.close(slave)
            reader.join(10)
            os.close(master)
        out = b"".join(chunks).decode("utf-8", "replace")
        err = p.stderr.decode("utf-8", "replace")
        text = "exit %s\n--- stdout:\n%s\n--- stderr:\n%s" % (p.returncode, out, err)
        assert p.returncode == 0, text
        assert "error" not in err.lower(), text
        found = COUNTERS.findall(out)
        assert found, "no progress counters in mbsync's output:\n" + text
        n = [int(x) for x in found[-1]]
        for done, total in zip(n[0::2], n[1::2]):
            assert done == total, "mbsync did not finish everything:\n" + text
        counters = {
            "channels": n[1], "boxes": n[3],
            "far": {"new": n[4], "flags": n[6], "trashed": n[8]},
            "near": {"new": n[10], "flags": n[12], "trashed": n[14]},
        }
        return counters, text

    def files(self, box):
        """{uid or None: (subdir, info flags, path)} of the local mailbox BOX;
        mbsync puts the server UID in the name (",U=<uid>")."""
        out = {}
        for sub in ("new", "cur"):
            d = os.path.join(self.maildir, box, sub)
            if not os.path.isdir(d):
                continue
            for name in os.listdir(d):
                m = re.search(r",U=(\d+)", name)
                uid = int(m.group(1)) if m else None
                info = name.rpartition(":2,")[2] if ":2," in name else ""
                assert uid not in out, "two local files for UID %s in %s" % (uid, box)
                out[uid] = (sub, info, os.path.join(d, name))
        return out

    def snapshot(self):
        """Every file name under the Maildir, for 'nothing changed' checks."""
        names = set()
        for dirpath, _, files in os.walk(self.maildir):
            for f in files:
                if f not in (".mbsyncstate.lock",):
                    names.add(os.path.relpath(os.path.join(dirpath, f), self.maildir))
        return names


def read(path):
    with open(path, "rb") as f:
        return f.read()


def without_tuid(data):
    """DATA minus the X-TUID field mbsync adds to the copies it makes (its
    own marker for finding a copied message again)."""
    head, sep, body = data.partition(b"\n\n")
    lines = [l for l in head.split(b"\n") if not l.startswith(b"X-TUID: ")]
    return b"\n".join(lines) + sep + body


def same_message(local, remote):
    """A Maildir file holds the message with LF line ends; on the server it has
    CRLF."""
    return without_tuid(local.replace(b"\r\n", b"\n")) == without_tuid(
        remote.replace(b"\r\n", b"\n"))


@needs_mbsync
def test_mbsync_two_way_sync(imap_server, tmp_path):
    srv = imap_server
    s1, s2 = unique("inbox-1"), unique("inbox-2")
    sent = deliver(srv, [s1, s2])
    c = imaplib_login(srv)
    ok(c.create("Work"))
    work_msg = (b"From: Alice <alice@example.org>\r\nTo: <bob@example.org>\r\n"
                b"Subject: quarterly plan\r\nMessage-ID: <plan@example.org>\r\n\r\n"
                b"Plan line 1\r\nPlan line 2\r\n")
    ok(c.append("Work", "(\\Flagged)", None, work_msg))
    c.logout()

    mb = Mbsync(srv, tmp_path)

    # 1. The first sync pulls everything: every folder, every message, flags.
    counters, out = mb.run("imap")
    assert counters["near"] == {"new": 3, "flags": 0, "trashed": 0}, out
    assert counters["far"] == {"new": 0, "flags": 0, "trashed": 0}, out
    assert counters["boxes"] == 7, out  # INBOX, Work, the five special-use folders
    for box in SPECIAL + ("INBOX", "Work"):
        assert os.path.isdir(os.path.join(mb.maildir, box, "cur")), box
        assert os.path.isdir(os.path.join(mb.maildir, box, "new")), box
    remote_inbox, _ = server_messages(srv, "INBOX")
    local_inbox = mb.files("INBOX")
    assert sorted(local_inbox) == sorted(remote_inbox) == [1, 2], (local_inbox, out)
    for uid, (flags, data) in remote_inbox.items():
        assert same_message(read(local_inbox[uid][2]), data)
        assert local_inbox[uid][1] == "" and "\\Seen" not in flags
    # What was sent, after the fields added on delivery, one message each.
    assert sorted(next(i for i, m in enumerate(sent) if data.endswith(m))
                  for _, data in remote_inbox.values()) == [0, 1]
    local_text = b"".join(read(f[2]) for f in local_inbox.values())
    assert s1.encode() in local_text and s2.encode() in local_text
    local_work = mb.files("Work")
    assert sorted(local_work) == [1]
    assert same_message(read(local_work[1][2]), work_msg)
    assert local_work[1][1] == "F", local_work  # \Flagged came along
    for box in SPECIAL:
        assert mb.files(box) == {}, box

    # 2. Local changes: a new message dropped into Work/new, and INBOX UID 1 read
    # (moved to cur/ with the S flag, as a mail reader does).
    new_local = (b"From: Alice <alice@example.org>\r\nTo: <bob@example.org>\r\n"
                 b"Subject: written offline\r\nMessage-ID: <offline@example.org>\r\n\r\n"
                 b"Drafted on the train.\r\n").replace(b"\r\n", b"\n")
    with open(os.path.join(mb.maildir, "Work", "new", "%d.offline.test" % time.time_ns()),
              "wb") as f:
        f.write(new_local)
    _, _, path1 = local_inbox[1]
    os.rename(path1, os.path.join(mb.maildir, "INBOX", "cur",
                                  os.path.basename(path1).rpartition(":2,")[0] + ":2,S"))
    _, uidnext_before = server_messages(srv, "Work")

    counters, out = mb.run("imap")
    assert counters["far"] == {"new": 1, "flags": 1, "trashed": 0}, out
    assert counters["near"] == {"new": 0, "flags": 0, "trashed": 0}, out
    remote_work, _ = server_messages(srv, "Work")
    assert sorted(remote_work) == [1, uidnext_before], remote_work
    flags, data = remote_work[uidnext_before]
    assert same_message(new_local, data), data
    assert b"\n" not in data.replace(b"\r\n", b""), "stored with CRLF line ends"
    assert "\\Seen" not in flags
    remote_inbox, _ = server_messages(srv, "INBOX")
    assert "\\Seen" in remote_inbox[1][0] and "\\Seen" not in remote_inbox[2][0], remote_inbox
    # mbsync learnt the new UID and put it in the local file name.
    local_work = mb.files("Work")
    assert sorted(local_work) == [1, uidnext_before], local_work

    # 3. No change on either side: nothing to do.
    before = mb.snapshot()
    server_before = {box: server_messages(srv, box) for box in ("INBOX", "Work")}
    counters, out = mb.run("imap")
    assert counters["far"] == counters["near"] == {"new": 0, "flags": 0, "trashed": 0}, out
    assert mb.snapshot() == before
    assert {box: server_messages(srv, box) for box in ("INBOX", "Work")} == server_before

    # 4. Over imaps (the server's certificate pinned): changes on both sides.
    # Server: a new delivery, \Flagged on the pushed Work message. Local: INBOX
    # UID 2 deleted, which Expunge Both turns into an expunge on the server.
    s3 = unique("inbox-3")
    deliver(srv, [s3])
    c = imaplib_login(srv)
    ok(c.select("Work"))
    ok(c.uid("STORE", str(uidnext_before), "+FLAGS", "(\\Flagged)"))
    c.logout()
    os.remove(mb.files("INBOX")[2][2])

    counters, out = mb.run("imaps")
    assert counters["near"] == {"new": 1, "flags": 1, "trashed": 0}, out
    # The deletion goes to the server as a flag update (\Deleted), then an expunge.
    assert counters["far"] == {"new": 0, "flags": 1, "trashed": 0}, out
    remote_inbox, _ = server_messages(srv, "INBOX")
    assert sorted(remote_inbox) == [1, 3], "UID 2 deleted locally must be expunged"
    local_inbox = mb.files("INBOX")
    assert sorted(local_inbox) == [1, 3], local_inbox
    assert s3.encode() in read(local_inbox[3][2])
    assert same_message(read(local_inbox[3][2]), remote_inbox[3][1])
    assert mb.files("Work")[uidnext_before][1] == "F"

    # 5. imaps again, nothing changed: nothing to do.
    before = mb.snapshot()
    server_before = {box: server_messages(srv, box) for box in ("INBOX", "Work")}
    counters, out = mb.run("imaps")
    assert counters["far"] == counters["near"] == {"new": 0, "flags": 0, "trashed": 0}, out
    assert mb.snapshot() == before
    assert {box: server_messages(srv, box) for box in ("INBOX", "Work")} == server_before


# ----- imapclient ---------------------------------------------------------------------

def imapclient_connect(srv, kind="imap", **kw):
    host, port = srv.addr(kind)
    with srv.netns():
        if kind == "imaps":
            return imapclient.IMAPClient(host, port, ssl=True, timeout=30, **kw)
        return imapclient.IMAPClient(host, port, ssl=False, timeout=30)


@needs_imapclient
def test_imapclient_session(imap_server):
    srv = imap_server
    subject = unique("imapclient")
    deliver(srv, [unique("other")])
    sent = deliver(srv, [subject])[0]

    c = imapclient_connect(srv)
    c.normalise_times = False  # INTERNALDATE with its zone, as the server gave it
    assert b"Postie ready" in c.welcome
    c.login(ALICE, ALICE_PW)
    caps = c.capabilities()
    for cap in (b"IMAP4REV1", b"UIDPLUS", b"MOVE", b"IDLE", b"SPECIAL-USE", b"NAMESPACE"):
        assert cap in caps, caps

    folders = {name: set(flags) for flags, delim, name in c.list_folders()}
    assert set(folders) == {"INBOX", "Archive", "Drafts", "Junk", "Sent", "Trash"}, folders
    for name, flag in (("Archive", ARCHIVE), ("Drafts", DRAFTS), ("Junk", JUNK),
                       ("Sent", SENT), ("Trash", TRASH)):
        assert flag in folders[name], folders
        assert c.find_special_folder(flag) == name
    assert all(delim == b"/" for _, delim, _ in c.list_folders())
    assert c.namespace().personal == (("", "/"),)

    info = c.select_folder("INBOX")
    assert info[b"EXISTS"] == 2 and info[b"UIDNEXT"] == 3 and info[b"READ-WRITE"], info
    validity = info[b"UIDVALIDITY"]
    uids = c.search(["SUBJECT", subject])
    assert uids == [2], uids
    assert c.search(["ALL"]) == [1, 2]
    assert c.search(["FROM", "carol@example.net", "UNSEEN"]) == [1, 2]

    data = c.fetch(uids, ["ENVELOPE", "BODYSTRUCTURE", "RFC822.SIZE", "FLAGS", "BODY.PEEK[]"])
    assert set(data) == {2}, data
    msg = data[2]
    env = msg[b"ENVELOPE"]
    assert env.subject == subject.encode()
    (frm,) = env.from_
    assert (frm.name, frm.mailbox, frm.host) == (b"Carol", b"carol", b"example.net")
    (to,) = env.to
    assert (to.name, to.mailbox, to.host) == (b"Alice", b"alice", b"example.org")
    assert env.date == datetime.datetime(2025, 4, 7, 10, 0, tzinfo=datetime.timezone.utc)
    assert env.message_id and env.message_id.endswith(b"@example.net>")
    body = msg[b"BODYSTRUCTURE"]
    assert not body.is_multipart
    assert (body[0].lower(), body[1].lower()) == (b"text", b"plain"), body
    whole = msg[b"BODY[]"]
    assert whole.endswith(sent) and msg[b"RFC822.SIZE"] == len(whole)
    assert body[6] == len(sent.split(b"\r\n\r\n", 1)[1]), body  # body size in octets
    assert msg[b"FLAGS"] == (b"\\Recent",)  # this session selected first

    # STORE: flags come back as the library's tuples.
    flags = c.add_flags(uids, [FLAGGED, b"$Project"])
    assert set(flags[2]) == {FLAGGED, b"$Project", b"\\Recent"}, flags
    assert set(c.get_flags(uids)[2]) == {FLAGGED, b"$Project", b"\\Recent"}
    assert set(c.remove_flags(uids, [b"$Project"])[2]) == {FLAGGED, b"\\Recent"}

    # A multipart message over APPEND, with flags and an internal date.
    boundary = "b-" + unique("x")
    multipart = (
        "From: Alice <alice@example.org>\r\nTo: Bob <bob@example.org>\r\n"
        "Subject: with attachment\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed; boundary="%s"\r\n\r\n'
        "--%s\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nSee attached.\r\n"
        "--%s\r\nContent-Type: application/pdf; name=a.pdf\r\n"
        "Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--%s--\r\n"
        % (boundary, boundary, boundary, boundary)).encode()
    when = datetime.datetime(2024, 1, 5, 10, 11, 12,
                             tzinfo=datetime.timezone(datetime.timedelta(hours=1)))
    drafts_validity = c.folder_status("Drafts", [b"UIDVALIDITY"])[b"UIDVALIDITY"]
    resp = c.append("Drafts", multipart, flags=[SEEN], msg_time=when)
    m = re.match(rb"\[APPENDUID (\d+) (\d+)\]", resp)
    assert m, resp
    assert int(m.group(1)) == drafts_validity and int(m.group(2)) == 1, resp

    # MOVE, then the moved message in its new folder, flags kept.
    c.move(uids, "Archive")
    assert c.search(["SUBJECT", subject]) == []
    assert c.search(["ALL"]) == [1]
    c.select_folder("Archive", readonly=True)
    moved = c.search(["SUBJECT", subject])
    assert moved == [1], moved
    got = c.fetch(moved, ["FLAGS", "ENVELOPE"])[1]
    # EXAMINE shows \Recent on what no SELECT has claimed yet (as Dovecot does).
    assert set(got[b"FLAGS"]) == {FLAGGED, b"\\Recent"} and got[b"ENVELOPE"].subject == subject.encode()

    c.select_folder("Drafts", readonly=True)
    got = c.fetch([1], ["BODYSTRUCTURE", "FLAGS", "INTERNALDATE", "BODY.PEEK[]"])[1]
    assert got[b"BODY[]"] == multipart
    assert set(got[b"FLAGS"]) == {SEEN, b"\\Recent"}
    assert got[b"INTERNALDATE"] == when, got[b"INTERNALDATE"]
    bs = got[b"BODYSTRUCTURE"]
    assert bs.is_multipart, bs
    parts, subtype = bs[0], bs[1]
    assert subtype.lower() == b"mixed"
    assert [(p[0].lower(), p[1].lower()) for p in parts] == [
        (b"text", b"plain"), (b"application", b"pdf")], bs
    assert parts[1][5].lower() == b"base64", parts[1]

    # IDLE in INBOX sees a delivery as EXISTS.
    info = c.select_folder("INBOX")
    assert info[b"EXISTS"] == 1 and info[b"UIDVALIDITY"] == validity, info
    c.idle()
    try:
        send(srv, unique("during-idle"))
        deadline = time.monotonic() + 20
        seen = []
        while (2, b"EXISTS") not in seen:
            left = deadline - time.monotonic()
            assert left > 0, "no '* 2 EXISTS' during IDLE within 20s; got %r" % seen
            seen += c.idle_check(timeout=min(left, 1.0))
    finally:
        c.idle_done()
    assert c.search(["ALL"]) == [1, 3]
    c.logout()


@needs_imapclient
def test_imapclient_over_imaps_verifies_the_certificate(imap_server):
    """imaps with certificate verification on: the server's self-signed
    certificate as the only trust anchor, the host name checked."""
    ctx = ssl.create_default_context(cafile=os.path.join(imap_server.data_dir, "tls", "cert.pem"))
    host, port = imap_server.addr("imaps")
    assert host == "127.0.0.1"
    # The certificate names the configured hostname and localhost.
    with imap_server.netns():
        sock = socket.create_connection((host, port), timeout=30)
    with ctx.wrap_socket(sock, server_hostname=HOSTNAME) as tls:
        assert tls.version() in ("TLSv1.2", "TLSv1.3")
    with imap_server.netns():
        c = imapclient.IMAPClient("localhost", port, ssl=True, ssl_context=ctx, timeout=30)
    c.login(ALICE, ALICE_PW)
    assert c.select_folder("INBOX")[b"EXISTS"] == 0
    c.logout()


@needs_imapclient
def test_imapclient_sees_binary_and_status_size_advertised(imap_server):
    c = imapclient_connect(imap_server)
    c.login(ALICE, ALICE_PW)
    payload = b"\x00\x01\x02\xff binary"
    msg = (b"From: a@example.org\r\nSubject: bin\r\nMIME-Version: 1.0\r\n"
           b"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n"
           + base64.b64encode(payload) + b"\r\n")
    c.append("INBOX", msg)
    # Both extensions answer...
    assert c.folder_status("INBOX", [b"MESSAGES", b"SIZE"]) == {b"MESSAGES": 1, b"SIZE": len(msg)}
    c.select_folder("INBOX", readonly=True)
    assert c.fetch([1], ["BINARY.SIZE[1]"])[1][b"BINARY.SIZE[1]"] == len(payload)
    # ...but a client only uses what CAPABILITY lists.
    caps = c.capabilities()
    missing = [cap for cap in (b"BINARY", b"STATUS=SIZE") if cap not in caps]
    assert not missing, "not advertised: %r in %r" % (missing, caps)
    c.logout()
