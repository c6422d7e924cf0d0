"""Per-account quotas end to end: `postie user quota` sets the limits; IMAP reports
them (RFC 9208 GETQUOTAROOT / GETQUOTA, through imaplib and imapclient) and refuses
APPEND and COPY past them with NO [OVERQUOTA] and nothing written; SMTP answers
RCPT for a full mailbox with 452 4.2.2 while other recipients go through; mail that
was accepted but does not fit waits in the queue, arrives once there is room, and is
bounced with 5.2.2 if there never is.

Every message here is APPENDed or sent with a known size, so every number the
server reports is checked exactly.
"""

import json
import re

import imapclient
import pytest

from harness import IMAP_LISTEN, client_tls_context, unique, wait_until

ALICE = ("alice@example.org", "alice-secret")
BOB = ("bob@example.org", "bob-secret")
DATE = '"01-Jan-2024 00:00:00 +0000"'


@pytest.fixture
def srv(server_factory):
    s = server_factory(listen=IMAP_LISTEN, extra={"queue": {"retry_schedule_secs": [1]}})
    s.add_user(*ALICE)
    s.add_user(*BOB)
    return s


def quota(srv, *args, check=True):
    """Runs `postie user quota alice@example.org ARGS`."""
    return srv.cli("user", "quota", ALICE[0], *args, check=check)


def login(srv, who=ALICE):
    m = srv.imap()
    m.login(*who)
    return m


def body(size, tag="m"):
    """A message of exactly SIZE octets (CRLF line ends, as stored)."""
    head = ("Subject: %s\r\n\r\n" % tag).encode()
    assert size >= len(head) + 2
    return head + b"x" * (size - len(head) - 2) + b"\r\n"


def append(m, mailbox, size, tag="m"):
    return m.append(mailbox, None, DATE, body(size, tag))


def count(m, mailbox):
    typ, data = m.status(mailbox, "(MESSAGES)")
    assert typ == "OK", data
    return int(re.search(rb"MESSAGES (\d+)", data[0]).group(1))


def sizes(m):
    """RFC822.SIZE of every message in every mailbox of the session's account."""
    total = []
    typ, boxes = m.list()
    for line in boxes:
        name = line.decode().rsplit(' "/" ', 1)[1].strip('"')
        typ, exists = m.select('"%s"' % name, readonly=True)
        assert typ == "OK"
        if exists == [b"0"]:
            continue
        typ, data = m.fetch("1:*", "(RFC822.SIZE)")
        for item in data:
            if item:
                total.append(int(re.search(rb"RFC822\.SIZE (\d+)", item).group(1)))
    m.unselect()
    return total


def quota_rows(out):
    """{resource: [used..., limit...]} from `user quota`'s table."""
    header, *rows = [line.split() for line in out.splitlines()]
    assert header == ["ACCOUNT", "RESOURCE", "USED", "LIMIT"], out
    assert all(r[0] == ALICE[0] for r in rows), out
    return {r[1]: r[2:] for r in rows}


def quota_json(srv, *args):
    return json.loads(quota(srv, *args, "--json").stdout)


def test_cli_sets_shows_and_clears_limits(srv):
    assert quota_rows(quota(srv).stdout) == {
        "storage": ["0", "octets", "(0)", "unlimited"],
        "messages": ["0", "unlimited"],
    }
    rows = quota_rows(quota(srv, "--storage", "1G", "--messages", "50000").stdout)
    assert rows["storage"] == ["0", "octets", "(0)", "1073741824", "octets", "(1G)"], rows
    assert rows["messages"] == ["0", "50000"], rows
    listing = [line.split() for line in srv.cli("user", "list").stdout.splitlines()]
    assert [ALICE[0], "1G", "50000", "no"] in listing, listing
    assert [BOB[0], "unlimited", "unlimited", "no"] in listing, listing
    assert srv.user_list() == [ALICE[0], BOB[0]]
    # Setting one limit keeps the other; `none` clears.
    assert quota_json(srv, "--storage", "none") == {
        "address": ALICE[0], "storage_used": 0, "storage_limit": None,
        "messages_used": 0, "messages_limit": 50000}
    got = quota_json(srv, "--messages", "none", "--storage", "10K")
    assert (got["storage_limit"], got["messages_limit"]) == (10240, None), got
    # Bad input and unknown accounts fail, changing nothing.
    p = quota(srv, "--storage", "lots", check=False)
    assert p.returncode != 0 and "not a size" in p.stderr, p.stderr
    p = quota(srv, "--messages", "-3", check=False)
    assert p.returncode != 0
    p = srv.cli("user", "quota", "nobody@example.org", "--storage", "1M", check=False)
    assert p.returncode != 0 and "no account" in p.stderr, p.stderr
    assert quota_json(srv)["storage_limit"] == 10240


def test_getquotaroot_and_getquota_report_exact_usage(srv):
    m = login(srv)
    for cap in ("QUOTA", "QUOTA=RES-STORAGE", "QUOTA=RES-MESSAGE"):
        assert cap in m.capabilities, m.capabilities
    assert "QUOTASET" not in m.capabilities, "limits are not settable over IMAP"

    # No limits: no quota root (RFC 9208 §4.2.2), and GETQUOTA "" has nothing to say.
    typ, (roots, quotas) = m.getquotaroot("INBOX")
    assert typ == "OK"
    # (imaplib gives [None] when no QUOTA response came.)
    assert roots == [b'"INBOX"'] and quotas == [None], (roots, quotas)
    typ, data = m.getquota('""')
    assert typ == "NO" and b"[NONEXISTENT]" in data[0], data

    # 3 + 1 messages over two mailboxes, 3000 octets in all.
    for size in (1000, 700, 300):
        assert append(m, "INBOX", size)[0] == "OK"
    assert append(m, "Sent", 1000)[0] == "OK"
    assert sorted(sizes(m)) == [300, 700, 1000, 1000]

    quota(srv, "--storage", "1M", "--messages", "10")
    typ, (roots, quotas) = m.getquotaroot("INBOX")
    assert typ == "OK"
    assert roots == [b'"INBOX" ""'], roots
    # STORAGE in units of 1024 octets, rounded up (RFC 9208 §5.1): 3000 -> 3.
    assert quotas == [b'"" (STORAGE 3 1024 MESSAGE 4 10)'], quotas
    typ, data = m.getquota('""')
    assert (typ, data) == ("OK", [b'"" (STORAGE 3 1024 MESSAGE 4 10)']), data
    # Every mailbox of the account, existing or not, has the same root.
    typ, (roots, quotas) = m.getquotaroot("NoSuchBox")
    assert typ == "OK" and roots == [b'"NoSuchBox" ""'] and len(quotas) == 1
    typ, data = m.getquota('"other"')
    assert typ == "NO" and b"[NONEXISTENT]" in data[0], data
    # Only the administrator sets limits.
    typ, data = m.setquota('""', "(STORAGE 99999)")
    assert typ == "NO" and b"[NOPERM]" in data[0], data
    typ, data = m.getquota('""')
    assert data == [b'"" (STORAGE 3 1024 MESSAGE 4 10)']

    # Only the message limit: only MESSAGE is reported.
    quota(srv, "--storage", "none")
    assert m.getquota('""')[1] == [b'"" (MESSAGE 4 10)']
    # Expunging gives the room back.
    m.select("INBOX")
    # STATUS DELETED-STORAGE (RFC 9208 §4.2.4): what an EXPUNGE would free, in
    # 1024-octet units, rounded up.
    assert m.status("INBOX", "(DELETED DELETED-STORAGE)")[1] == [
        b'"INBOX" (DELETED 0 DELETED-STORAGE 0)']
    m.store("1:2", "+FLAGS", "\\Deleted")  # 1000 + 700 octets
    assert m.status("INBOX", "(DELETED DELETED-STORAGE)")[1] == [
        b'"INBOX" (DELETED 2 DELETED-STORAGE 2)']
    m.store("2", "-FLAGS", "\\Deleted")
    m.expunge()
    assert m.getquota('""')[1] == [b'"" (MESSAGE 3 10)']
    m.logout()


def test_imapclient_reads_the_quota(srv):
    quota(srv, "--storage", "2M", "--messages", "5")
    host, port = srv.addr("imaps")
    with srv.netns():
        c = imapclient.IMAPClient(host, port=port, ssl=True, ssl_context=client_tls_context())
    try:
        c.login(*ALICE)
        c.append("INBOX", body(2048))
        roots, quotas = c.get_quota_root("INBOX")
        assert roots.mailbox == "INBOX" and roots.quota_roots == [""]
        got = sorted((q.quota_root, q.resource, q.usage, q.limit) for q in quotas)
        assert got == [("", "MESSAGE", 1, 5), ("", "STORAGE", 2, 2048)], got
        assert [(q.resource, q.usage) for q in c._get_quota("")] == [("STORAGE", 2), ("MESSAGE", 1)]
    finally:
        c.logout()


def test_append_and_copy_past_the_limit_are_refused(srv):
    m = login(srv)
    for size in (1000, 1000):
        append(m, "INBOX", size)
    # Messages: room for one more.
    quota(srv, "--messages", "3")
    assert append(m, "Drafts", 500)[0] == "OK"
    typ, data = append(m, "INBOX", 500)
    assert typ == "NO" and data[0].startswith(b"[OVERQUOTA]"), (typ, data)
    assert count(m, "INBOX") == 2 and count(m, "Drafts") == 1, "nothing written"
    # The selected mailbox sees no new message either.
    typ, data = m.select("INBOX")
    assert data == [b"2"]
    typ, data = append(m, "INBOX", 500)
    assert typ == "NO" and b"[OVERQUOTA]" in data[0]
    assert m.noop()[0] == "OK"
    assert m.select("INBOX")[1] == [b"2"]

    # Storage: 2500 used; 1000 more octets fit, 2000 do not.
    quota(srv, "--messages", "none", "--storage", "3500")
    m.select("INBOX")
    typ, data = m.copy("1:2", "Archive")
    assert typ == "NO" and data[0].startswith(b"[OVERQUOTA]"), (typ, data)
    assert count(m, "Archive") == 0, "a refused COPY copies nothing"
    typ, data = m.copy("1", "Archive")
    assert typ == "OK", data
    assert count(m, "Archive") == 1
    # Now full (3500 of 3500), yet MOVE goes through: it adds nothing.
    typ, data = m.uid("MOVE", "2", "Trash")
    assert typ == "OK", data
    assert count(m, "Trash") == 1 and count(m, "INBOX") == 1
    assert m.getquota('""')[1] == [b'"" (STORAGE 4 4)']
    # Raising the limit lets APPEND in again.
    quota(srv, "--storage", "1M")
    assert append(m, "INBOX", 500)[0] == "OK"
    assert count(m, "INBOX") == 2
    m.logout()


def test_smtp_refuses_a_full_mailbox_at_rcpt(srv):
    quota(srv, "--messages", "0")
    marker = unique("full")
    msg = ("From: <carol@example.net>\r\nSubject: %s\r\n\r\n%s\r\n" % (marker, marker)).encode()
    s = srv.smtp()
    s.ehlo()
    assert s.mail("carol@example.net")[0] == 250
    assert s.rcpt(ALICE[0]) == (452, b"4.2.2 Mailbox full")
    assert s.rcpt(BOB[0])[0] == 250, "another recipient in the same transaction"
    code, text = s.data(msg)
    assert code == 250, text
    s.quit()
    srv.wait_for_mail(BOB[0], 1)
    assert marker.encode() in srv.mailbox(BOB[0])[0]
    assert srv.mail_list(ALICE[0]) == []

    # With room again, the sender's retry is taken and filed.
    quota(srv, "--messages", "none")
    s = srv.smtp()
    s.ehlo()
    assert s.sendmail("carol@example.net", [ALICE[0]], msg) == {}
    s.quit()
    srv.wait_for_mail(ALICE[0], 1)
    assert marker.encode() in srv.mailbox(ALICE[0])[0]


def test_accepted_mail_that_does_not_fit_waits_in_the_queue(srv):
    # Not full, so RCPT is accepted, but the message is larger than what is left.
    quota(srv, "--storage", "1K")
    marker = unique("big")
    text = "\r\n".join(["y" * 70] * 40)
    msg = ("From: <bob@example.org>\r\nSubject: %s\r\n\r\n%s\r\n" % (marker, text)).encode()
    s = srv.smtp()
    s.ehlo()
    assert s.sendmail(BOB[0], [ALICE[0]], msg) == {}
    s.quit()
    wait_until(lambda: "4.2.2 Mailbox full" in srv.queue_list(), 20,
               message="the deferral in the queue listing")
    assert srv.mail_list(ALICE[0]) == []
    # Room again: the next retry (one second here) files it.
    quota(srv, "--storage", "none")
    srv.wait_for_mail(ALICE[0], 1)
    assert marker.encode() in srv.mailbox(ALICE[0])[0]


def test_a_mailbox_that_stays_full_bounces_with_5_2_2(server_factory):
    srv = server_factory(extra={"queue": {"retry_schedule_secs": [1], "max_age_secs": 3}})
    srv.add_user(*ALICE)
    srv.add_user(*BOB)
    quota(srv, "--storage", "100")
    s = srv.smtp()
    s.ehlo()
    msg = b"From: <bob@example.org>\r\nSubject: too big\r\n\r\n" + b"z" * 500 + b"\r\n"
    assert s.sendmail(BOB[0], [ALICE[0]], msg) == {}
    s.quit()
    # The sender gets the bounce, with the permanent mailbox-full status.
    rows = srv.wait_for_mail(BOB[0], 1, timeout=30)
    report = srv.mail_read(BOB[0], rows[0][0])
    assert b"Action: failed" in report, report
    assert b"Status: 5.2.2" in report, report
    assert srv.mail_list(ALICE[0]) == []
