"""CHUNKING (RFC 3030): BDAT over a raw socket."""

import pytest

ALICE = "alice@example.org"


def start(server):
    c = server.raw("smtp")
    exts = c.ehlo()
    assert "CHUNKING" in exts, exts
    return c, exts


def test_bdat_two_chunks_byte_exact(server):
    c, _ = start(server)
    msg = (
        b"From: <sender@example.net>\r\nTo: <alice@example.org>\r\nSubject: bdat\r\n\r\n"
        b"first chunk line\r\n"
        b".a line starting with a dot is not stuffed in BDAT\r\n"
        b".\r\n"
        b"split across chu"
    )
    tail = b"nks here\r\nlast line\r\n"
    c.expect("MAIL FROM:<sender@example.net>", 250)
    c.expect("RCPT TO:<%s>" % ALICE, 250)
    c.send(b"BDAT %d\r\n" % len(msg) + msg)
    c.expect(None, 250)
    c.send(b"BDAT %d LAST\r\n" % len(tail) + tail)
    r = c.expect(None, 250, "2.0.0")
    assert "queued as" in r.text
    c.expect("QUIT", 221)
    rows = server.wait_for_mail(ALICE, 1)
    stored = server.mail_read(ALICE, rows[0][0])
    assert stored.endswith(msg + tail), stored


def test_bdat_pipelined_with_empty_last(server):
    c, _ = start(server)
    body = b"Subject: piped bdat\r\n\r\nhello\r\n"
    c.send(b"MAIL FROM:<sender@example.net>\r\nRCPT TO:<alice@example.org>\r\n"
           b"BDAT %d\r\n" % len(body) + body + b"BDAT 0 LAST\r\n")
    for _ in range(3):
        c.expect(None, 250)
    r = c.expect(None, 250)
    assert "queued as" in r.text, r
    rows = server.wait_for_mail(ALICE, 1)
    assert server.mail_read(ALICE, rows[0][0]).endswith(body)


def test_data_after_bdat_is_refused(server):
    c, _ = start(server)
    c.expect("MAIL FROM:<sender@example.net>", 250)
    c.expect("RCPT TO:<%s>" % ALICE, 250)
    c.send(b"BDAT 5\r\nhello")
    c.expect(None, 250)
    c.expect("DATA", 503)  # RFC 3030 §2: no DATA once BDAT has begun
    c.expect("RSET", 250)


def test_bdat_without_transaction(server):
    c, _ = start(server)
    c.send(b"BDAT 4 LAST\r\nabcd")
    c.expect(None, 503)
    c.expect("NOOP", 250)  # the 4 octets were consumed, not taken as a command


def test_bdat_over_size_limit(server_factory):
    srv = server_factory(smtp={"max_message_size": 10000})
    srv.add_user(ALICE, "alice-secret")
    c, _ = start(srv)
    c.expect("MAIL FROM:<sender@example.net>", 250)
    c.expect("RCPT TO:<%s>" % ALICE, 250)
    chunk = b"x" * 998 + b"\r\n"
    codes = []
    for _ in range(12):  # ~12000 octets against a 10000 limit
        c.send(b"BDAT %d\r\n" % len(chunk) + chunk)
        codes.append(c.reply().code)
        if codes[-1] != 250:
            break
    else:  # the server may wait for the last chunk to say no
        c.send(b"BDAT 0 LAST\r\n")
        codes.append(c.reply().code)
    assert codes[-1] == 552, codes
    c.expect("RSET", 250)
    assert srv.mail_list(ALICE) == []


def test_binarymime_requires_bdat(server):
    c, exts = start(server)
    if "BINARYMIME" not in exts:
        pytest.skip("BINARYMIME not advertised")
    c.expect("MAIL FROM:<sender@example.net> BODY=BINARYMIME", 250)
    c.expect("RCPT TO:<%s>" % ALICE, 250)
    c.expect("DATA", 503)
    body = b"Subject: bin\r\nContent-Transfer-Encoding: binary\r\n\r\n\x01\x02\xff\r\n"
    c.send(b"BDAT %d LAST\r\n" % len(body) + body)
    c.expect(None, 250)
    rows = server.wait_for_mail(ALICE, 1)
    assert server.mail_read(ALICE, rows[0][0]).endswith(body)
