"""Python's smtplib as the client: delivery, TLS, AUTH, SIZE, 8BITMIME,
SMTPUTF8, many messages per connection and concurrent clients."""

import re
import smtplib
import threading

import pytest

from harness import HOSTNAME, queue_id_of
from smtpraw import client_tls_context

def split_stored(stored, client_msg):
    """The stored message must be the server's trace headers followed by the
    client's message, byte for byte. Returns the trace header block."""
    assert stored.endswith(client_msg), (
        "stored message does not end with the client's bytes\n--- stored:\n%r\n--- sent:\n%r"
        % (stored, client_msg))
    prefix = stored[: len(stored) - len(client_msg)]
    assert prefix.endswith(b"\r\n"), "trace headers must end with CRLF: %r" % prefix
    return prefix


def check_trace(prefix, sender, rcpt):
    assert prefix.startswith(b"Return-Path: <%s>\r\n" % sender.encode()), prefix
    assert b"\r\nDelivered-To: %s\r\n" % rcpt.encode() in prefix, prefix
    assert b"\r\nReceived: " in prefix, prefix
    # every line of the trace block is a header line or a folded continuation
    for line in prefix[:-2].split(b"\r\n"):
        assert re.match(rb"^([A-Za-z0-9-]+: |[ \t])", line), "bad trace line %r" % line


def send_one(s, sender, rcpts, msg, mail_options=()):
    """MAIL/RCPT/DATA by hand so the DATA reply (queue id) is visible."""
    code, resp = s.mail(sender, list(mail_options))
    assert code == 250, (code, resp)
    for r in rcpts:
        code, resp = s.rcpt(r)
        assert code == 250, (r, code, resp)
    code, resp = s.data(msg)
    assert code == 250, (code, resp)
    return queue_id_of(resp)


MESSAGE = (
    b"From: Sender <sender@example.net>\r\n"
    b"To: Alice <alice@example.org>\r\n"
    b"Subject: round trip\r\n"
    b"Message-ID: <round-trip-1@example.net>\r\n"
    b"Date: Mon, 02 Jan 2006 15:04:05 +0000\r\n"
    b"\r\n"
    b"first line\r\n"
    b".starts with a dot\r\n"
    b"..starts with two dots\r\n"
    b".\r\n"
    b" . space dot\r\n"
    b"\r\n"
    b"trailing spaces   \r\n"
    b"tab\there\r\n"
    b"last line\r\n"
)


def test_plain_send_round_trip(server):
    s = server.smtp("smtp")
    code, _ = s.ehlo()
    assert code == 250
    qid = send_one(s, "sender@example.net", ["alice@example.org"], MESSAGE)
    assert s.quit()[0] == 221

    rows = server.wait_for_mail("alice@example.org", 1)
    assert len(rows) == 1
    uid, size, listed_qid = rows[0]
    assert listed_qid.lower() == qid.lower()
    stored = server.mail_read("alice@example.org", uid)
    assert size == len(stored), "mail list SIZE %d != stored length %d" % (size, len(stored))
    prefix = split_stored(stored, MESSAGE)
    check_trace(prefix, "sender@example.net", "alice@example.org")
    assert HOSTNAME.encode() in prefix, "Received header should name the server"
    assert b" with ESMTP id " in prefix, "RFC 3848 protocol keyword: %r" % prefix
    # bob got nothing
    assert server.mail_list("bob@example.org") == []


def test_starttls_auth_plain_on_submission(server):
    s = server.smtp("submission")
    s.ehlo()
    assert s.has_extn("starttls")
    s.starttls(context=client_tls_context())
    s.ehlo()
    assert not s.has_extn("starttls"), "STARTTLS must not be offered again inside TLS"
    assert "PLAIN" in s.esmtp_features.get("auth", "").upper().split()
    s.user, s.password = "alice@example.org", "alice-secret"
    code, resp = s.auth("PLAIN", s.auth_plain)
    assert code == 235, resp
    msg = b"From: <alice@example.org>\r\nTo: <bob@example.org>\r\nSubject: sub\r\n\r\nvia 587\r\n"
    send_one(s, "alice@example.org", ["bob@example.org"], msg)
    s.quit()
    rows = server.wait_for_mail("bob@example.org", 1)
    stored = server.mail_read("bob@example.org", rows[0][0])
    assert b"via 587\r\n" in stored
    assert stored.startswith(b"Return-Path: <alice@example.org>\r\n")
    assert b" with ESMTPSA id " in stored, "RFC 3848: TLS + AUTH is ESMTPSA: %r" % stored


def test_implicit_tls_auth_login_on_submissions(server):
    s = server.smtp("submissions")
    s.ehlo()
    assert not s.has_extn("starttls"), "no STARTTLS on the implicit-TLS listener"
    assert "LOGIN" in s.esmtp_features.get("auth", "").upper().split()
    s.user, s.password = "alice@example.org", "alice-secret"
    code, resp = s.auth("LOGIN", s.auth_login, initial_response_ok=False)
    assert code == 235, resp
    msg = b"From: <alice@example.org>\r\nTo: <bob@example.org>\r\nSubject: 465\r\n\r\nvia 465\r\n"
    send_one(s, "alice@example.org", ["bob@example.org"], msg)
    s.quit()
    rows = server.wait_for_mail("bob@example.org", 1)
    assert b"via 465\r\n" in server.mail_read("bob@example.org", rows[0][0])


def test_size_advertised_and_enforced(server):
    s = server.smtp("smtp")
    s.ehlo()
    assert s.has_extn("size")
    assert int(s.esmtp_features["size"]) == 1048576
    code, resp = s.mail("sender@example.net", ["SIZE=2000000"])
    assert code == 552, (code, resp)
    assert resp.startswith(b"5.3.4"), resp
    # declared within the limit but the body is bigger: 552 at end of data
    s.rset()
    code, resp = s.mail("sender@example.net", ["SIZE=1000"])
    assert code == 250, resp
    assert s.rcpt("alice@example.org")[0] == 250
    big = b"Subject: big\r\n\r\n" + (b"x" * 998 + b"\r\n") * 1100  # ~1.1 MB
    code, resp = s.data(big)
    assert code == 552, (code, resp)
    assert resp.startswith(b"5.3.4"), resp
    # a message within the limit still goes through on the same connection
    s.rset()
    send_one(s, "sender@example.net", ["alice@example.org"], b"Subject: small\r\n\r\nsmall\r\n")
    s.quit()
    rows = server.wait_for_mail("alice@example.org", 1)
    assert len(rows) == 1
    assert b"small\r\n" in server.mail_read("alice@example.org", rows[0][0])


def test_8bitmime_round_trip(server):
    msg = (
        b"From: <sender@example.net>\r\nTo: <alice@example.org>\r\n"
        b"Subject: 8bit\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        b"\xc3\xa9t\xc3\xa9 \xe2\x82\xac \xf0\x9f\x93\xac\r\n"
        b"latin-1 bytes: \xe9\xe8\xff\x80\r\n"
    )
    s = server.smtp("smtp")
    s.ehlo()
    assert s.has_extn("8bitmime")
    send_one(s, "sender@example.net", ["alice@example.org"], msg, ["BODY=8BITMIME"])
    s.quit()
    rows = server.wait_for_mail("alice@example.org", 1)
    split_stored(server.mail_read("alice@example.org", rows[0][0]), msg)


def test_smtputf8_address(server):
    rcpt = "jos\u00e9@example.org"
    server.add_user(rcpt, "jose-secret")
    msg = (
        "From: <s\u00e9nder@example.net>\r\nTo: <%s>\r\nSubject: h\u00e9llo\r\n\r\nbonjour\r\n" % rcpt
    ).encode("utf-8")
    s = server.smtp("smtp")
    s.ehlo()
    assert s.has_extn("smtputf8")
    refused = s.sendmail("s\u00e9nder@example.net", [rcpt], msg, mail_options=["SMTPUTF8"])
    assert refused == {}
    s.quit()
    rows = server.wait_for_mail(rcpt, 1)
    stored = server.mail_read(rcpt, rows[0][0])
    prefix = split_stored(stored, msg)
    assert prefix.startswith("Return-Path: <s\u00e9nder@example.net>\r\n".encode()), prefix
    assert ("Delivered-To: %s\r\n" % rcpt).encode() in prefix


def test_fifty_messages_on_one_connection(server):
    s = server.smtp("smtp")
    s.ehlo()
    sent = {}
    for i in range(50):
        body = ("Subject: msg %d\r\n\r\nbody of message %d\r\n" % (i, i)).encode()
        qid = send_one(s, "sender@example.net", ["alice@example.org"], body)
        assert qid not in sent, "queue id %s reused" % qid
        sent[qid] = body
    assert s.quit()[0] == 221
    rows = server.wait_for_mail("alice@example.org", 50, timeout=60)
    assert len(rows) == 50
    assert {q.lower() for _, _, q in rows} == {q.lower() for q in sent}
    uids = [u for u, _, _ in rows]
    assert len(set(uids)) == 50 and uids == sorted(uids), "UIDs must be unique and ascending"
    by_qid = {q.lower(): u for u, _, q in rows}
    for qid in list(sent)[::10]:
        stored = server.mail_read("alice@example.org", by_qid[qid.lower()])
        split_stored(stored, sent[qid])


def test_concurrent_clients(server):
    threads_n, per_thread = 8, 10
    results, errors = [], []
    lock = threading.Lock()

    def worker(n):
        try:
            s = server.smtp("smtp")
            s.ehlo()
            for i in range(per_thread):
                rcpt = "alice@example.org" if (n + i) % 2 == 0 else "bob@example.org"
                body = ("Subject: t%d-%d\r\n\r\nthread %d message %d\r\n" % (n, i, n, i)).encode()
                qid = send_one(s, "sender@example.net", [rcpt], body)
                with lock:
                    results.append((rcpt, qid))
            s.quit()
        except Exception as e:  # surfaced below
            with lock:
                errors.append(repr(e))

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(threads_n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    assert len(results) == threads_n * per_thread
    assert len({q for _, q in results}) == len(results), "queue ids must be unique"
    for rcpt in ("alice@example.org", "bob@example.org"):
        want = {q.lower() for r, q in results if r == rcpt}
        rows = server.wait_for_mail(rcpt, len(want), timeout=60)
        assert {q.lower() for _, _, q in rows} == want


def test_smtplib_rejections_map_to_exceptions(server):
    """Relay denial and unknown users surface through smtplib as refusals."""
    s = server.smtp("smtp")
    s.ehlo()
    with pytest.raises(smtplib.SMTPRecipientsRefused) as e:
        s.sendmail("sender@example.net", ["nobody@example.org", "x@remote.invalid"],
                   b"Subject: x\r\n\r\nx\r\n")
    refused = e.value.recipients
    assert refused["nobody@example.org"][0] == 550
    assert refused["nobody@example.org"][1].startswith(b"5.1.1")
    assert refused["x@remote.invalid"][0] == 550
    assert refused["x@remote.invalid"][1].startswith(b"5.7.1")
    s.quit()
