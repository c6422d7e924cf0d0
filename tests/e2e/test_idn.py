"""Internationalised domains: one domain, two spellings.

A U-label and its A-label name the same domain (RFC 5890 §2.3.2.1, RFC 6531 §3.2):
`例子.中国` is `xn--fsqu00a.xn--fiqs8s`. Whichever spelling the administrator types,
and whichever the sender writes, mail lands in the same mailbox. Without SMTPUTF8
only the A-label may be written on the wire; with it, both.
"""

import base64
import json
import re
import smtplib

import pytest

from harness import unique
from smtpraw import RawSMTP, client_tls_context

# (spelling the domain is added in, the user as added, an A-label recipient,
#  a U-label recipient): Chinese, German, and a mixed ASCII + IDN name.
CASES = [
    ("例子.中国", "li@例子.中国", "li@xn--fsqu00a.xn--fiqs8s", "li@例子.中国"),
    ("xn--bcher-kva.example", "kunde@bücher.example",
     "Kunde@XN--BCHER-KVA.example", "kunde@Bücher.example"),
    ("Mail.Bücher.EXAMPLE", "x@mail.xn--bcher-kva.example",
     "x@mail.xn--bcher-kva.example", "X@MAIL.BÜCHER.example"),
]
PASSWORD = "idn-secret"


def other_spelling(domain):
    """The domain in the other form (IDNA through Python's codec, which is IDNA 2003
    but agrees on these names)."""
    if domain.isascii():
        return domain.encode("ascii").decode("idna")
    return domain.encode("idna").decode("ascii")


def send_raw(server, sender, rcpts, smtputf8, marker):
    """One transaction on the MX listener: every recipient must get 250."""
    with RawSMTP(server.connect("smtp")) as s:
        s.ehlo()
        s.expect("MAIL FROM:<%s>%s" % (sender, " SMTPUTF8" if smtputf8 else ""), 250)
        for rcpt in rcpts:
            s.expect("RCPT TO:<%s>" % rcpt, 250)
        s.expect("DATA", 354)
        s.expect("From: <%s>\r\nSubject: %s\r\n\r\n%s\r\n." % (sender, marker, marker), 250)
        s.expect("QUIT", 221)


def stored_markers(server, user):
    return [m for m in server.mailbox(user) if b"Subject: idn-" in m]


@pytest.mark.parametrize("added,user,ascii_rcpt,utf8_rcpt", CASES,
                         ids=["chinese", "german", "mixed"])
def test_both_spellings_reach_one_inbox(server_factory, added, user, ascii_rcpt, utf8_rcpt):
    server = server_factory()
    out = server.cli("domain", "add", added).stdout
    assert "added domain" in out
    # The other spelling is the same domain.
    again = server.cli("domain", "add", other_spelling(added), check=False)
    assert again.returncode != 0, again.stdout
    assert "already exists" in again.stderr, again.stderr
    assert "panicked" not in again.stderr
    assert len(server.domain_list()) == 1, server.domain_list()
    server.cli("user", "add", user, "--password-stdin", input=PASSWORD + "\n")

    markers = [unique("idn") for _ in range(3)]
    # Without SMTPUTF8: only the A-label spelling is legal, and it is local.
    send_raw(server, "s@example.net", [ascii_rcpt], False, markers[0])
    with RawSMTP(server.connect("smtp")) as s:
        s.ehlo()
        s.expect("MAIL FROM:<s@example.net>", 250)
        s.expect("RCPT TO:<%s>" % utf8_rcpt, 553, "5.6.7")
        s.expect("QUIT", 221)
    # With SMTPUTF8: both spellings.
    send_raw(server, "s@example.net", [utf8_rcpt], True, markers[1])
    send_raw(server, "s@example.net", [ascii_rcpt], True, markers[2])

    # One account, found by either spelling.
    server.wait_for_mail(ascii_rcpt, 3)
    by_ascii = stored_markers(server, ascii_rcpt)
    by_utf8 = stored_markers(server, utf8_rcpt)
    assert by_ascii == by_utf8
    for marker in markers:
        assert sum(marker.encode() in m for m in by_ascii) == 1, marker
    # Delivered-To names the account; in a message without SMTPUTF8 in A-labels only.
    account = user.split("@")[0] + "@" + other_spelling(user.split("@")[1]).lower() \
        if not user.isascii() else user
    plain = next(m for m in by_ascii if markers[0].encode() in m)
    assert ("\r\nDelivered-To: %s\r\n" % account).encode() in plain, plain[:400]


def test_both_spellings_in_one_transaction_are_one_recipient(server_factory):
    server = server_factory()
    server.cli("domain", "add", "例子.中国")
    server.cli("user", "add", "li@例子.中国", "--password-stdin", input=PASSWORD + "\n")
    marker = unique("idn")
    send_raw(server, "s@example.net",
             ["li@例子.中国", "LI@xn--fsqu00a.xn--fiqs8s", "li@例子。中国"], True, marker)
    server.wait_for_mail("li@xn--fsqu00a.xn--fiqs8s", 1)
    # A second, unrelated message proves the first was filed only once.
    send_raw(server, "s@example.net", ["li@xn--fsqu00a.xn--fiqs8s"], False, unique("idn"))
    rows = server.wait_for_mail("li@例子.中国", 2)
    assert len(rows) == 2, rows


def test_invalid_idna_is_a_clean_error(server_factory):
    server = server_factory()
    server.cli("domain", "add", "例子.中国")
    for bad in ["xn--zz.example", "bücher-.example", "a\u2028b.example"]:
        p = server.cli("domain", "add", bad, check=False)
        assert p.returncode != 0
        assert "not a valid domain" in p.stderr, p.stderr
        assert "panicked" not in p.stderr
    with RawSMTP(server.connect("smtp")) as s:
        s.ehlo()
        s.expect("MAIL FROM:<a@xn--zz.example>", 553, "5.1.7")
        s.expect("MAIL FROM:<s@example.net> SMTPUTF8", 250)
        s.expect("RCPT TO:<li@xn--zz.example>", 553, "5.1.3")
        s.expect("RCPT TO:<li@-bücher.example>", 553, "5.1.3")
        # The session goes on.
        s.expect("RSET", 250)
        s.expect("QUIT", 221)
    assert server.running()


def test_dns_records_use_a_labels(server_factory):
    server = server_factory()
    server.cli("domain", "add", "bücher.example")
    server.cli("dkim", "generate", "bücher.example")
    for spelling in ["bücher.example", "xn--bcher-kva.example"]:
        out = server.cli("dns", "records", spelling).stdout
        owners = [line.split()[0] for line in out.splitlines()
                  if line.strip() and not line.startswith(";")]
        assert owners, out
        # Zone files hold A-labels (RFC 5890 §2.3.2.1; a U-label owner name would be
        # a different, unresolvable name).
        assert all(o.isascii() for o in owners), out
        assert any(o == "xn--bcher-kva.example." for o in owners), out
        assert any(o.endswith("._domainkey.xn--bcher-kva.example.") for o in owners), out
        assert "bücher" not in out


def submit(server, login, sender, from_header, rcpt, smtputf8):
    """Submission on 587 after STARTTLS and AUTH PLAIN as LOGIN; returns the reply to
    MAIL FROM, and for an accepted sender the reply to the end of DATA."""
    with RawSMTP(server.connect("submission")) as s:
        s.ehlo()
        s.expect("STARTTLS", 220)
        s.starttls()
        s.ehlo()
        token = base64.b64encode(("\0%s\0%s" % (login, PASSWORD)).encode()).decode()
        s.expect("AUTH PLAIN " + token, 235)
        r = s.cmd("MAIL FROM:<%s>%s" % (sender, " SMTPUTF8" if smtputf8 else ""))
        if r.code != 250:
            return r, None
        s.expect("RCPT TO:<%s>" % rcpt, 250)
        s.expect("DATA", 354)
        marker = unique("idn")
        done = s.cmd("From: <%s>\r\nTo: <%s>\r\nSubject: %s\r\n\r\n%s\r\n."
                     % (from_header, rcpt, marker, marker))
        s.expect("QUIT", 221)
        return r, done


def test_an_idn_user_passes_the_sender_check_in_both_spellings(server_factory):
    server = server_factory()
    server.cli("domain", "add", "xn--bcher-kva.example")
    server.cli("domain", "add", "例子.中国")
    server.cli("user", "add", "kunde@bücher.example", "--password-stdin",
               input=PASSWORD + "\n")
    server.cli("user", "add", "li@例子.中国", "--password-stdin", input=PASSWORD + "\n")
    # DKIM keys for the IDN domain: submitted mail is signed with d= its A-label.
    keys = server.cli("dkim", "generate", "bücher.example").stdout
    assert "._domainkey.xn--bcher-kva.example." in keys, keys
    tries = [
        # (login, MAIL FROM, From:, SMTPUTF8)
        ("kunde@bücher.example", "kunde@xn--bcher-kva.example",
         "kunde@xn--bcher-kva.example", False),
        ("kunde@xn--bcher-kva.example", "Kunde@Bücher.example", "kunde@bücher.example", True),
        ("KUNDE@BÜCHER.example", "kunde@bücher.example", "kunde@XN--BCHER-KVA.example", True),
    ]
    for login, sender, from_header, utf8 in tries:
        mail, done = submit(server, login, sender, from_header, "li@xn--fsqu00a.xn--fiqs8s",
                            utf8)
        assert mail.code == 250, (login, sender, mail)
        assert done.code == 250, (login, sender, from_header, done)
    # Someone else's address in the same domain is still refused (the check is on).
    mail, _ = submit(server, "kunde@bücher.example", "other@xn--bcher-kva.example",
                     "other@xn--bcher-kva.example", "li@例子.中国", False)
    assert (mail.code, mail.enhanced) == (550, "5.7.1"), mail
    stored = server.wait_for_mail("li@例子.中国", len(tries))
    for uid, _, _ in stored:
        message = server.mail_read("li@例子.中国", uid)
        sigs = re.findall(rb"DKIM-Signature:(.*?)\r\n(?![ \t])", message, re.S)
        assert len(sigs) == 2, message[:2000]  # Ed25519 and RSA
        for sig in sigs:
            flat = re.sub(rb"\s+", b"", sig)
            assert b"d=xn--bcher-kva.example;" in flat, sig


def test_lists_show_one_spelling_whatever_was_typed(server_factory):
    """Users and aliases added with A-labels are listed like the domain: in U-labels."""
    server = server_factory()
    server.cli("domain", "add", "xn--fsqu00a.xn--fiqs8s")
    server.cli("user", "add", "li@xn--fsqu00a.xn--fiqs8s", "--password-stdin",
               input=PASSWORD + "\n")
    server.cli("alias", "add", "info@例子.中国", "li@xn--fsqu00a.xn--fiqs8s")
    domains = [d["domain"] for d in json.loads(server.cli("domain", "list", "--json").stdout)]
    users = [u["address"] for u in json.loads(server.cli("user", "list", "--json").stdout)]
    aliases = json.loads(server.cli("alias", "list", "--json").stdout)
    assert domains == ["例子.中国"], domains
    assert users == ["li@例子.中国"], users
    assert aliases == [{"alias": "info@例子.中国", "target": "li@例子.中国"}], aliases
    assert "li@例子.中国" in server.cli("user", "list").stdout
