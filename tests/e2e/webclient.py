"""A `requests` session on the web face of a test server, for the pages and
the API (issue 16): sign-in with the form's CSRF token, the hidden `csrf` field
of any page's forms, and JSON API calls. All sockets are made inside the
server's network namespace."""

import html
import os
import re
import ssl

import requests
from requests.adapters import HTTPAdapter

CSRF_FIELD = re.compile(r'name="csrf" value="([0-9a-f]+)"')


def base_url(server, kind="http"):
    host, port = server.addr(kind)
    return "%s://%s:%d" % ("https" if kind == "https" else "http", host, port)


class CAFileAdapter(HTTPAdapter):
    """Verifies the server against its own generated certificate, through the
    standard library's context (as tests/e2e/test_web_autoconfig.py does):
    urllib3's own context refuses a self-signed leaf used as its own CA."""

    def __init__(self, cafile):
        self.context = ssl.create_default_context(cafile=cafile)
        # urllib3 matches the name (127.0.0.1) itself; the chain is still verified.
        self.context.check_hostname = False
        super().__init__()

    def init_poolmanager(self, *args, **kwargs):
        kwargs["ssl_context"] = self.context
        return super().init_poolmanager(*args, **kwargs)


class Web:
    """One browser-like client (its own cookie jar)."""

    def __init__(self, server, kind="http"):
        self.server = server
        self.base = base_url(server, kind)
        self.http = requests.Session()
        if kind == "https":
            cafile = os.path.join(server.data_dir, "tls", "cert.pem")
            self.http.mount("https://", CAFileAdapter(cafile))

    def request(self, method, path, **kwargs):
        kwargs.setdefault("timeout", 30)
        kwargs.setdefault("allow_redirects", False)
        with self.server.netns():
            return self.http.request(method, self.base + path, **kwargs)

    def get(self, path, **kwargs):
        return self.request("GET", path, **kwargs)

    def post(self, path, **kwargs):
        return self.request("POST", path, **kwargs)

    def csrf(self, path):
        """The CSRF token of the forms on page `path`."""
        page = self.get(path)
        assert page.status_code == 200, (path, page.status_code, page.text[:300])
        found = CSRF_FIELD.search(page.text)
        assert found, "no csrf field on %s" % path
        return found.group(1)

    def sign_in(self, address, password, expect=303):
        token = self.csrf("/login")
        r = self.post("/login", data={"address": address, "password": password, "csrf": token})
        assert r.status_code == expect, (r.status_code, r.text[:300])
        return r

    def form(self, path, action, fields):
        """Posts `fields` to `action` with the CSRF token of page `path`."""
        data = dict(fields)
        data["csrf"] = self.csrf(path)
        return self.post(action, data=data)


def text_of(page):
    """A page's text with tags removed and entities decoded (for asserts on
    what a person sees)."""
    return html.unescape(re.sub(r"<[^>]+>", " ", page))
