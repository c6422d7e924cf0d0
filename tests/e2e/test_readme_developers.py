"""The README's "For developers" examples, run as written against a real
`postie capture`: the Python test (requests) and the JS test (node --test,
fetch), each with a stand-in for the app under test that sends its mail with
smtplib or nodemailer. Only the catcher's address is changed (the test server
listens on free ports, not 8025)."""

import os
import re
import shutil
import smtplib
import textwrap

import pytest

from harness import capture_server

HERE = os.path.dirname(os.path.abspath(__file__))
README = os.path.join(HERE, "..", "..", "README.md")
NODE_DIR = os.path.join(HERE, "node")
README_BASE = "http://127.0.0.1:8025"


def section_blocks(language):
    with open(README, encoding="utf-8") as f:
        text = f.read()
    start = text.index("## For developers")
    end = re.search(r"^## ", text[start + 3:], re.M)
    section = text[start: start + 3 + end.start()] if end else text[start:]
    blocks = re.findall(r"^```%s\n(.*?)^```" % language, section, re.M | re.S)
    assert blocks, "no %s example in the README's For developers section" % language
    return blocks


def base_of(srv):
    host, port = srv.addr("http")
    return "http://%s:%d" % (host, port)


def test_the_python_example_works_as_written(server_factory):
    srv = capture_server(server_factory)
    host, port = srv.addr("smtp")

    def signup(address):
        """The app under test: mails a confirmation link, a moment later."""
        body = ("Subject: Confirm your address\r\nFrom: app@app.example\r\nTo: %s\r\n\r\n"
                "Welcome! Confirm here: https://app.example/confirm/8f14e45f\r\n" % address)
        with srv.netns():
            with smtplib.SMTP(host, port) as s:
                s.sendmail("app@app.example", [address], body.encode())

    code = section_blocks("python")[0].replace(README_BASE, base_of(srv))
    scope = {"signup": signup}
    exec(compile(code, "README.md (For developers)", "exec"), scope)
    tests = [v for k, v in scope.items() if k.startswith("test_") and callable(v)]
    assert tests, "the example defines a test function"
    # The example's own `signup` import line, if any, must not hide ours.
    scope["signup"] = signup
    with srv.netns():
        for test in tests:
            test()


@pytest.mark.skipif(shutil.which("node") is None
                    or not os.path.exists(os.path.join(NODE_DIR, "node_modules", "nodemailer")),
                    reason="node or nodemailer missing: run scripts/install-test-deps")
def test_the_js_example_works_as_written(server_factory, tmp_path):
    srv = capture_server(server_factory)
    host, port = srv.addr("smtp")
    example = section_blocks("js")[0].replace(README_BASE, base_of(srv))
    # The app under test: mails a 6-digit code with nodemailer.
    app = textwrap.dedent("""\
        import { createRequire } from "node:module";
        const require = createRequire(%r);
        const nodemailer = require("nodemailer");
        const app = {
          async requestPasswordReset(to) {
            const transport = nodemailer.createTransport({ host: %r, port: %d, secure: false,
                                                           ignoreTLS: true });
            await transport.sendMail({ from: "app@app.example", to,
              subject: "Your password reset", text: "Your code is 482915. It expires soon." });
          },
        };
        """) % (os.path.join(NODE_DIR, "package.json"), host, port)
    path = tmp_path / "readme_example.test.mjs"
    path.write_text(app + example)
    done = srv.tool(["node", "--test", str(path)], text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"^# pass 1$", done.stdout, re.M), done.stdout
