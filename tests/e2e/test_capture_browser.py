"""Capture mode's web UI in a real browser (issue 17): headless Chromium
through selenium. Mail sent with smtplib shows in the list (with the inbox
switcher); an HTML message whose HTML carries a script and a remote image is
opened: the script did not run (the iframe still holds the original content,
the top page's title is ours) and the image was not fetched (a tiny HTTP
server on 127.0.0.9 counts requests) until "Show remote images" is clicked; a
message sent while the list is open appears without a reload by hand (the
server-sent events); delete one, then delete all. Screenshots go to
tests/e2e/output/screenshots/capture-*.png (not committed)."""

import contextlib
import http.server
import re
import threading
import urllib.request

import harness
from harness import unique, wait_until
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.common.by import By
from webdriving import browser


def start_capture(server_factory):
    """A server in capture mode: the harness's helper when there is one, else
    a `postie serve` with `[capture] enabled = true` (what `postie capture`
    runs)."""
    helper = getattr(harness, "capture_server", None)
    if helper is not None:
        return helper(server_factory)
    return server_factory(extra={"capture": {"enabled": True}})


class Counter(http.server.BaseHTTPRequestHandler):
    """Counts every request (the remote image); answers a 1x1 GIF."""
    hits = []

    def do_GET(self):  # noqa: N802 (the stdlib's name)
        Counter.hits.append(self.path)
        gif = (b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01"
               b"\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")
        self.send_response(200)
        self.send_header("Content-Type", "image/gif")
        self.send_header("Content-Length", str(len(gif)))
        self.end_headers()
        self.wfile.write(gif)

    def log_message(self, *args):
        pass


@contextlib.contextmanager
def image_server(srv):
    """An HTTP server on 127.0.0.9 (a free port) in the server's network
    namespace, counting requests in Counter.hits; yields its port."""
    Counter.hits = []
    with srv.netns():
        httpd = http.server.HTTPServer(("127.0.0.9", 0), Counter)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield httpd.server_address[1]
    finally:
        httpd.shutdown()
        httpd.server_close()


def send(srv, subject, body, html=None, user=None):
    """Sends one message through the capture SMTP listener (with AUTH as
    `user` when given: that names the inbox)."""
    if html is None:
        msg = ("From: App <app@example.test>\r\nTo: dev@example.test\r\nSubject: %s\r\n"
               "\r\n%s\r\n" % (subject, body))
    else:
        msg = ("From: App <app@example.test>\r\nTo: dev@example.test\r\nSubject: %s\r\n"
               "MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=b1\r\n\r\n"
               "--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n%s\r\n"
               "--b1\r\nContent-Type: text/html; charset=utf-8\r\n\r\n%s\r\n--b1--\r\n"
               % (subject, body, html))
    s = srv.smtp("smtp")
    try:
        s.ehlo()
        if user is not None:
            s.login(user, "any-password")
        s.sendmail("app@example.test", ["dev@example.test"], msg.encode())
        s.quit()
    finally:
        s.close()


def body_text(b):
    """The page's text, or "" while it is being replaced (a live reload)."""
    try:
        return b.text
    except WebDriverException:
        return ""


def iframe_html(b):
    """The body of the document inside the page's iframe, read by the
    driver from outside (no script of ours is put into the frame)."""
    frame = b.driver.find_element(By.CSS_SELECTOR, "iframe.message-html")
    b.driver.switch_to.frame(frame)
    try:
        return b.driver.find_element(By.TAG_NAME, "body").get_attribute("outerHTML")
    finally:
        b.driver.switch_to.default_content()


def message_id(b, subject):
    """The id in the list's link to the message with `subject`."""
    link = b.driver.find_element(By.PARTIAL_LINK_TEXT, subject)
    m = re.search(r"/view/([^/?#]+)$", link.get_attribute("href"))
    assert m, link.get_attribute("href")
    return m.group(1)


def test_capture_ui_in_a_browser(server_factory):
    srv = start_capture(server_factory)
    plain = unique("Plain hello")
    hostile = unique("Hostile HTML")
    project = unique("Project mail")
    with image_server(srv) as port:
        html = ("<html><head><title>inner</title></head><body>"
                "<p id=\"original\">Original HTML content</p>"
                "<script>document.body.innerHTML='PWNED';parent.document.title='PWNED'</script>"
                "<img src=\"http://127.0.0.9:%d/x.png\" alt=\"remote\">"
                "</body></html>" % port)
        send(srv, plain, "Hello in plain text.")
        send(srv, hostile, "The text part.", html=html)
        send(srv, project, "For project A.", user="project-a")

        with browser(srv) as b:
            # The list: newest first, all inboxes, the switcher.
            b.get("/")
            wait_until(lambda: project in body_text(b), message="the list shows the mail")
            text = b.text
            assert plain in text and hostile in text and project in text, text
            assert text.index(project) < text.index(hostile) < text.index(plain), text
            switcher = [a.get_attribute("href") for a in
                        b.driver.find_elements(By.CSS_SELECTOR, "nav.inboxes a")]
            assert any(h.endswith("/?inbox=default") for h in switcher), switcher
            assert any(h.endswith("/?inbox=project-a") for h in switcher), switcher
            b.screenshot("capture-01-list")

            b.get("/?inbox=project-a")
            assert project in b.text and plain not in b.text, b.text
            b.screenshot("capture-02-inbox")
            b.get("/?query=" + urllib.request.quote("subject:" + hostile))
            assert hostile in b.text and plain not in b.text, b.text

            # The hostile message: its HTML in the sandboxed iframe.
            b.get("/")
            hid = message_id(b, hostile)
            b.get("/view/%s" % hid)
            title = b.driver.title
            assert "Postie capture" in title, title
            frame = b.driver.find_element(By.CSS_SELECTOR, "iframe.message-html")
            assert frame.get_attribute("sandbox") == "", frame.get_attribute("sandbox")
            wait_until(lambda: "Original HTML content" in iframe_html(b),
                       message="the iframe loaded the message's HTML")
            inner = iframe_html(b)
            assert '<p id="original">Original HTML content</p>' in inner, inner
            assert "PWNED" not in b.driver.title
            assert b.driver.title == title
            assert "PWNED" not in body_text(b)
            # Remote images blocked: nothing reached the image server, and the
            # HTML's own CSP says so.
            assert Counter.hits == [], Counter.hits
            with srv.netns():
                r = urllib.request.urlopen("http://%s:%d/view/%s/html" % (
                    srv.addr("http")[0], srv.addr("http")[1], hid), timeout=10)
            csp = r.headers["Content-Security-Policy"]
            assert "script-src" not in csp and "http:" not in csp, csp
            assert "default-src 'none'" in csp, csp
            b.screenshot("capture-03-html-message")

            # The other tabs.
            for tab, expect in (("text", "The text part."), ("headers", "Subject"),
                                ("raw", "multipart/alternative"), ("mime", "text/html")):
                b.get("/view/%s?tab=%s" % (hid, tab))
                assert expect in b.text, (tab, b.text)
            b.get("/view/%s?tab=raw" % hid)
            b.screenshot("capture-04-raw")

            # Asked for: the remote image loads (the control of the check above).
            b.get("/view/%s" % hid)
            b.driver.find_element(By.LINK_TEXT, "Show remote images").click()
            wait_until(lambda: Counter.hits, message="the remote image is fetched once allowed")
            assert "PWNED" not in b.driver.title

            # Live update: a message sent while the list is open shows up by itself.
            b.get("/")
            wait_until(lambda: b.driver.execute_script(
                "return document.getElementById('live').textContent") == "live",
                message="the event stream is open")
            live = unique("Live arrival")
            send(srv, live, "Sent while the list is open.")
            wait_until(lambda: live in body_text(b), timeout=20,
                       message="the new message appears without a manual reload")
            b.screenshot("capture-05-live")

            # Delete one, then all.
            lid = message_id(b, live)
            b.get("/view/%s" % lid)
            b.submit("/view/%s/delete" % lid)
            assert live not in b.text and plain in b.text, b.text
            b.get("/")
            b.submit("/delete-all")
            assert "No messages" in b.text, b.text
            assert plain not in b.text and hostile not in b.text and project not in b.text
            b.screenshot("capture-06-empty")
