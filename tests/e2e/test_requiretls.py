"""REQUIRETLS (RFC 8689 §4.1, docs/tls.md), the receiving half, with Python's
smtplib: offered in EHLO only once the connection is encrypted (STARTTLS on
587 and 25, implicit TLS on 465); `MAIL FROM:<a> REQUIRETLS` accepted there and
kept with the queue entry (`postie queue show`), and mail for a local user
delivered; refused in clear (530 5.7.10); given twice or with a value, a 501."""

import re

from harness import queue_id_of, unique
from smtpraw import client_tls_context

ALICE = "alice@example.org"


def message(marker):
    return ("From: %s\r\nTo: x\r\nSubject: %s\r\n\r\nrequiretls\r\n" % (ALICE, marker)).encode()


def login(s):
    code, resp = s.login(ALICE, "alice-secret")
    assert code == 235, resp


def shown_flag(server, qid):
    out = server.cli("queue", "show", qid).stdout
    m = re.search(r"requiretls (true|false)", out)
    assert m, out
    return m.group(1) == "true"


def test_submission_over_starttls_and_implicit_tls_keeps_the_flag(server):
    ids = []
    for kind in ("submission", "submissions"):
        with server.smtp(kind) as s:
            if kind == "submission":
                s.ehlo("client.test.example")
                assert not s.has_extn("requiretls"), "REQUIRETLS offered in clear"
                s.starttls(context=client_tls_context())
            s.ehlo("client.test.example")
            assert s.has_extn("requiretls"), s.esmtp_features
            login(s)
            marker = unique("rt")
            code, resp = s.mail(ALICE, ["REQUIRETLS"])
            assert code == 250, (code, resp)
            # A remote recipient: the entry stays queued (no outside DNS here).
            assert s.rcpt("someone@elsewhere.test")[0] == 250
            code, resp = s.data(message(marker))
            assert code == 250, resp
            ids.append(queue_id_of(resp))
            # The same connection without the parameter: no flag.
            assert s.mail(ALICE)[0] == 250
            assert s.rcpt("someone@elsewhere.test")[0] == 250
            code, resp = s.data(message(marker))
            assert code == 250, resp
            plain = queue_id_of(resp)
        assert shown_flag(server, ids[-1]) is True
        assert shown_flag(server, plain) is False


def test_mx_over_starttls_accepts_it_and_delivers_locally(server):
    with server.smtp("smtp") as s:
        s.ehlo("client.test.example")
        assert not s.has_extn("requiretls")
        s.starttls(context=client_tls_context())
        s.ehlo("client.test.example")
        assert s.has_extn("requiretls")
        marker = unique("mx")
        code, resp = s.mail("sender@example.net", ["REQUIRETLS"])
        assert code == 250, (code, resp)
        assert s.rcpt("bob@example.org")[0] == 250
        code, resp = s.data(message(marker))
        assert code == 250, resp
    (uid, _, _), = server.wait_for_mail("bob@example.org", 1)
    assert marker.encode() in server.mail_read("bob@example.org", uid)


def test_refused_in_clear_and_malformed_over_tls(server):
    # In clear, on the MX listener and on submission after a (loopback) login.
    for kind in ("smtp", "submission"):
        with server.smtp(kind) as s:
            s.ehlo("client.test.example")
            if kind == "submission":
                login(s)
            code, resp = s.mail(ALICE, ["REQUIRETLS"])
            assert (code, resp[:6]) == (530, b"5.7.10"), (kind, code, resp)
            assert b"REQUIRETLS needs TLS" in resp
            # Nothing started: a plain MAIL still works.
            assert s.mail(ALICE)[0] == 250
    with server.smtp("submissions") as s:
        s.ehlo("client.test.example")
        login(s)
        code, resp = s.mail(ALICE, ["REQUIRETLS", "REQUIRETLS"])
        assert (code, resp[:5]) == (501, b"5.5.4"), (code, resp)
        code, resp = s.mail(ALICE, ["REQUIRETLS=YES"])
        assert (code, resp[:5]) == (501, b"5.5.4"), (code, resp)
        assert s.mail(ALICE, ["REQUIRETLS"])[0] == 250
    assert server.queue_entries() == []
