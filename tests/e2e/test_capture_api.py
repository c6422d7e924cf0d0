"""Capture mode's Mailpit-compatible API against the real binary (issue 17,
docs/capture.md "API"): mail sent with smtplib (with and without AUTH) is read
back with `requests`, and every response is checked field by field against
Mailpit's documented shapes (swagger `MessagesSummary`, `MessageSummary`,
`Message`, `Attachment`, `Address`); `wait` returns a message sent after the
request began (a thread sends it 1 s later) and 408 at its timeout; `?inbox=`
filters by the AUTH user name; parts, raw source, headers, search, read state
and delete."""

import re
import threading
import time
from email.message import EmailMessage

import requests

from harness import capture_server, unique

ADDRESS_KEYS = {"Name", "Address"}
SUMMARY_KEYS = {
    "ID", "MessageID", "Read", "From", "To", "Cc", "Bcc", "ReplyTo", "Subject",
    "Created", "Tags", "Size", "Attachments", "Snippet",
}
LIST_KEYS = {"total", "unread", "count", "messages_count", "start", "tags", "messages"}
MESSAGE_KEYS = {
    "ID", "MessageID", "From", "To", "Cc", "Bcc", "ReplyTo", "ReturnPath", "Subject",
    "Date", "Tags", "Text", "HTML", "Size", "Inline", "Attachments",
}
ATTACHMENT_KEYS = {"PartID", "FileName", "ContentType", "ContentID", "Size"}
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")


class Api:
    """`requests` against the capture server's web listener, in its network
    namespace."""

    def __init__(self, srv):
        self.srv = srv
        host, port = srv.addr("http")
        self.base = "http://%s:%d" % (host, port)

    def call(self, method, path, **kwargs):
        kwargs.setdefault("timeout", 30)
        with self.srv.netns():
            return requests.request(method, self.base + path, **kwargs)

    def get(self, path, **kwargs):
        return self.call("GET", path, **kwargs)

    def json(self, path, **kwargs):
        r = self.get(path, **kwargs)
        assert r.status_code == 200, (path, r.status_code, r.text)
        assert r.headers["Content-Type"].startswith("application/json")
        return r.json()


def send(srv, msg, user=None):
    """Sends an EmailMessage through the capture SMTP listener, with AUTH as
    `user` when given (that names the inbox)."""
    s = srv.smtp("smtp")
    try:
        s.ehlo()
        if user is not None:
            s.login(user, "any-password")
        s.send_message(msg)
        s.quit()
    finally:
        s.close()


def plain(subject, body="Hello.", to="dev@example.test"):
    msg = EmailMessage()
    msg["From"] = "App <app@example.test>"
    msg["To"] = to
    msg["Subject"] = subject
    msg.set_content(body)
    return msg


def rich(subject):
    """multipart/mixed: multipart/alternative (text, HTML) and a PDF."""
    msg = EmailMessage()
    msg["From"] = "Shop <shop@example.test>"
    msg["To"] = "Ann <ann@example.test>, bob@example.test"
    msg["Cc"] = "Carol <carol@example.test>"
    msg["Reply-To"] = "help@example.test"
    msg["Subject"] = subject
    msg.set_content("Your verification code is 493817.\n"
                    "Confirm: https://app.example.test/confirm?t=xyz\n")
    msg.add_alternative('<p>Code <b>493817</b> '
                        '<a href="https://app.example.test/confirm?t=xyz&amp;s=1">Confirm</a></p>',
                        subtype="html")
    msg.add_attachment(b"%PDF-1.4\n", maintype="application", subtype="pdf",
                       filename="invoice.pdf")
    return msg


def wait_listed(api, count, query="", timeout=20):
    deadline = time.time() + timeout
    while True:
        path = "/api/v1/search?query=%s" % query if query else "/api/v1/messages"
        v = api.json(path)
        if len(v["messages"]) >= count:
            return v
        assert time.time() < deadline, "only %d of %d listed" % (len(v["messages"]), count)
        time.sleep(0.05)


def check_address(a):
    assert isinstance(a, dict) and set(a) == ADDRESS_KEYS, a
    assert isinstance(a["Name"], str) and isinstance(a["Address"], str)


def check_summary(m):
    assert SUMMARY_KEYS <= set(m), SUMMARY_KEYS - set(m)
    for key in ("ID", "MessageID", "Subject", "Created", "Snippet"):
        assert isinstance(m[key], str), key
    assert RFC3339.match(m["Created"]), m["Created"]
    assert isinstance(m["Read"], bool)
    assert isinstance(m["Size"], (int, float)) and not isinstance(m["Size"], bool)
    assert isinstance(m["Attachments"], int) and not isinstance(m["Attachments"], bool)
    assert isinstance(m["Tags"], list) and all(isinstance(t, str) for t in m["Tags"])
    check_address(m["From"])
    for key in ("To", "Cc", "Bcc", "ReplyTo"):
        assert isinstance(m[key], list), key
        for a in m[key]:
            check_address(a)
    assert len(m["Snippet"]) <= 250


def check_list(v):
    assert LIST_KEYS <= set(v), LIST_KEYS - set(v)
    for key in ("total", "unread", "count", "messages_count", "start"):
        assert isinstance(v[key], int) and not isinstance(v[key], bool), key
    assert isinstance(v["tags"], list)
    assert v["count"] == len(v["messages"])
    for m in v["messages"]:
        check_summary(m)


def test_list_message_parts_raw_headers_in_mailpits_shape(server_factory):
    srv = capture_server(server_factory)
    api = Api(srv)
    first = unique("first")
    second = unique("second")
    send(srv, plain(first, "Just text."))
    send(srv, rich(second))
    v = wait_listed(api, 2)
    check_list(v)
    assert v["total"] == 2 and v["unread"] == 2 and v["messages_count"] == 2
    assert v["start"] == 0
    # Newest first.
    assert [m["Subject"] for m in v["messages"]] == [second, first]
    m = v["messages"][0]
    assert m["From"] == {"Name": "Shop", "Address": "shop@example.test"}
    assert m["To"] == [{"Name": "Ann", "Address": "ann@example.test"},
                       {"Name": "", "Address": "bob@example.test"}]
    assert m["Cc"] == [{"Name": "Carol", "Address": "carol@example.test"}]
    assert m["ReplyTo"] == [{"Name": "", "Address": "help@example.test"}]
    assert m["Bcc"] == []
    assert m["Attachments"] == 1
    assert m["Read"] is False
    assert m["Snippet"].startswith("Your verification code is 493817.")
    assert m["Inbox"] == "default"
    assert re.match(r"^default-\d+$", m["ID"])

    # Paging.
    page = api.json("/api/v1/messages?start=1&limit=1")
    check_list(page)
    assert page["count"] == 1 and page["start"] == 1 and page["total"] == 2
    assert page["messages"][0]["Subject"] == first

    # The message: Mailpit's Message, plus Inbox, Links and Codes.
    msg = api.json("/api/v1/message/%s" % m["ID"])
    assert MESSAGE_KEYS <= set(msg), MESSAGE_KEYS - set(msg)
    assert msg["ID"] == m["ID"] and msg["Subject"] == second
    assert RFC3339.match(msg["Date"])
    assert "493817" in msg["Text"]
    assert "<b>493817</b>" in msg["HTML"]
    assert msg["Inline"] == []
    assert len(msg["Attachments"]) == 1
    att = msg["Attachments"][0]
    assert set(att) == ATTACHMENT_KEYS
    assert att["FileName"] == "invoice.pdf"
    assert att["ContentType"] == "application/pdf"
    assert att["PartID"] == "2"
    assert att["Size"] == 9
    assert msg["Codes"] == ["493817"]
    assert msg["Links"] == ["https://app.example.test/confirm?t=xyz",
                            "https://app.example.test/confirm?t=xyz&s=1"]
    assert msg["Inbox"] == "default"
    # Opening it marked it read.
    v = api.json("/api/v1/messages")
    assert v["unread"] == 1
    assert v["messages"][0]["Read"] is True

    part = api.get("/api/v1/message/%s/part/2" % m["ID"])
    assert part.status_code == 200
    assert part.headers["Content-Type"] == "application/pdf"
    assert part.content == b"%PDF-1.4\n"
    text = api.get("/api/v1/message/%s/part/1.1" % m["ID"])
    assert text.status_code == 200
    assert text.headers["Content-Type"].startswith("text/plain")
    assert b"493817" in text.content
    assert api.get("/api/v1/message/%s/part/7" % m["ID"]).status_code == 404

    raw = api.get("/api/v1/message/%s/raw" % m["ID"])
    assert raw.status_code == 200
    assert raw.headers["Content-Type"].startswith("text/plain")
    assert ("Subject: %s" % second).encode() in raw.content
    assert b"invoice.pdf" in raw.content

    headers = api.json("/api/v1/message/%s/headers" % m["ID"])
    assert headers["Subject"] == [second]
    assert list(headers) == sorted(headers)
    assert all(isinstance(v, list) for v in headers.values())

    latest = api.json("/api/v1/message/latest")
    assert latest["ID"] == m["ID"]

    for bad in ("default-999999", "nobody-1", "default-x", "x"):
        r = api.get("/api/v1/message/%s" % bad)
        assert r.status_code == 404, bad
        assert isinstance(r.json()["error"], str)


def test_search_read_and_delete(server_factory):
    srv = capture_server(server_factory)
    api = Api(srv)
    tag = unique("s")
    send(srv, plain("Welcome %s" % tag, "Thanks for joining the club.", to="zed@example.test"))
    send(srv, plain("Invoice %s" % tag, "Please pay soon.", to="amy@example.test"))
    wait_listed(api, 2)

    def subjects(query):
        v = api.json("/api/v1/search", params={"query": query})
        check_list(v)
        return [m["Subject"] for m in v["messages"]]

    assert subjects("subject:welcome") == ["Welcome %s" % tag]
    assert subjects("to:amy") == ["Invoice %s" % tag]
    assert subjects("from:app@example.test") == ["Invoice %s" % tag, "Welcome %s" % tag]
    assert subjects('"joining the club"') == ["Welcome %s" % tag]
    assert subjects("pay") == ["Invoice %s" % tag]
    assert subjects("-subject:invoice") == ["Welcome %s" % tag]
    assert api.get("/api/v1/search", params={"query": "x" * 2000}).status_code == 400

    ids = [m["ID"] for m in api.json("/api/v1/messages")["messages"]]
    r = api.call("PUT", "/api/v1/messages", json={"IDs": [ids[0]], "Read": True})
    assert r.status_code == 200
    assert api.json("/api/v1/messages")["unread"] == 1

    r = api.call("DELETE", "/api/v1/messages", json={"IDs": [ids[0]]})
    assert r.status_code == 200
    v = api.json("/api/v1/messages")
    assert [m["ID"] for m in v["messages"]] == ids[1:]
    r = api.call("DELETE", "/api/v1/messages")
    assert r.status_code == 200
    assert api.json("/api/v1/messages")["total"] == 0


def test_wait_returns_mail_sent_after_the_request(server_factory):
    srv = capture_server(server_factory)
    api = Api(srv)
    tag = unique("reset")
    # Already there before the request: what a plain wait answers at once, and
    # what `since=now` ignores.
    send(srv, plain("Password reset %s" % tag, "old code 1111"))
    wait_listed(api, 1)
    r = api.get("/api/v1/wait", params={"query": "subject:%s" % tag, "timeout": 30})
    assert r.status_code == 200 and r.json()["Snippet"].startswith("old code 1111"), r.text

    def later():
        time.sleep(1)
        send(srv, plain("Something else"))
        send(srv, plain("Password reset %s" % tag,
                        "Your one-time code is 842613.\nhttps://app.example.test/reset?k=abc\n"))

    thread = threading.Thread(target=later)
    started = time.time()
    thread.start()
    try:
        r = api.get("/api/v1/wait", params={"query": "subject:%s" % tag, "timeout": 30,
                                            "since": "now"}, timeout=40)
    finally:
        thread.join()
    elapsed = time.time() - started
    assert r.status_code == 200, r.text
    assert 0.9 <= elapsed < 20, elapsed
    m = r.json()
    check_summary(m)
    assert m["Subject"] == "Password reset %s" % tag
    assert m["Codes"] == ["842613"]
    assert m["Links"] == ["https://app.example.test/reset?k=abc"]
    assert m["Inbox"] == "default"

    # Nothing new: 408 with a JSON error at the timeout.
    started = time.time()
    r = api.get("/api/v1/wait", params={"query": "subject:%s" % tag, "timeout": 1,
                                        "since": "now"})
    assert r.status_code == 408
    assert isinstance(r.json()["error"], str)
    assert time.time() - started >= 0.9


def test_inboxes_by_auth_user_name(server_factory):
    srv = capture_server(server_factory)
    api = Api(srv)
    send(srv, plain("to A one"), user="project-a")
    send(srv, plain("to B"), user="project-b")
    send(srv, plain("to A two"), user="project-a")
    send(srv, plain("no auth"))
    wait_listed(api, 4)

    a = api.json("/api/v1/messages", params={"inbox": "project-a"})
    check_list(a)
    assert a["total"] == 2
    assert [m["Subject"] for m in a["messages"]] == ["to A two", "to A one"]
    assert all(m["Inbox"] == "project-a" and m["ID"].startswith("project-a-")
               for m in a["messages"])
    b = api.json("/api/v1/messages", params={"inbox": "project-b"})
    assert [m["Subject"] for m in b["messages"]] == ["to B"]
    d = api.json("/api/v1/messages", params={"inbox": "default"})
    assert [m["Subject"] for m in d["messages"]] == ["no auth"]
    assert api.json("/api/v1/messages", params={"inbox": "nobody"})["total"] == 0
    s = api.json("/api/v1/search", params={"query": "to", "inbox": "project-b"})
    assert [m["Subject"] for m in s["messages"]] == ["to B"]

    # wait within one inbox: mail to another inbox does not wake it.
    def later():
        time.sleep(1)
        send(srv, plain("late"), user="project-b")
        send(srv, plain("late"), user="project-a")

    thread = threading.Thread(target=later)
    thread.start()
    try:
        r = api.get("/api/v1/wait", params={"query": "late", "inbox": "project-a",
                                            "timeout": 30, "since": "now"}, timeout=40)
    finally:
        thread.join()
    assert r.status_code == 200, r.text
    assert r.json()["Inbox"] == "project-a"

    # Delete all of one inbox.
    assert api.call("DELETE", "/api/v1/messages", params={"inbox": "project-a"}).status_code == 200
    assert api.json("/api/v1/messages", params={"inbox": "project-a"})["total"] == 0
    assert api.json("/api/v1/messages")["total"] == 3


def test_release_needs_a_smarthost(server_factory):
    srv = capture_server(server_factory)
    api = Api(srv)
    send(srv, plain("release me"))
    m = wait_listed(api, 1)["messages"][0]
    r = api.call("POST", "/api/v1/message/%s/release" % m["ID"],
                 json={"To": ["someone@example.net"]})
    assert r.status_code == 403
    assert r.json() == {"error": "release needs relay.smarthost"}
