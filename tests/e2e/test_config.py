"""A bad config makes `postie serve` exit non-zero with a message naming the
file and the offending key, instead of starting."""

import os
import subprocess

import pytest

from harness import to_toml


def serve_fails(srv, text, *needles):
    srv.write_config(text)
    argv = [srv.bin, "serve", "--config", srv.config_path]
    try:
        p = subprocess.run(argv, capture_output=True, timeout=30, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        pytest.fail("postie serve kept running with a bad config:\n" + text)
    out = (p.stdout + p.stderr).decode("utf-8", "replace")
    assert p.returncode != 0, "postie serve exited 0 with a bad config:\n%s\n%s" % (text, out)
    assert "postie ready" not in out
    assert srv.config_path in out, "the error should name the file %s:\n%s" % (srv.config_path, out)
    for needle in needles:
        assert needle in out, "the error should mention %r:\n%s" % (needle, out)
    return out


CASES = {
    "unknown-top-level-key": ({"bogus_key": 1}, ["bogus_key"]),
    "unknown-smtp-key": ({"smtp": {"max_recipeints": 3}}, ["max_recipeints"]),
    "bad-listen-address": ({"listen": {"smtp": ["not-an-address"]}}, ["smtp", "not-an-address"]),
    "bad-port": ({"listen": {"submission": ["127.0.0.1:99999"]}}, ["submission"]),
    "wrong-type": ({"smtp": {"max_recipients": "many"}}, ["max_recipients"]),
    "bad-enum": ({"auth": {"allow_plaintext": "sometimes"}}, ["auth.allow_plaintext"]),
    "moved-key": ({"smtp": {"allow_plaintext_auth": "never"}}, ["smtp.allow_plaintext_auth"]),
}


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_bad_config_is_refused(server_factory, case):
    change, needles = CASES[case]
    srv = server_factory(start=False)
    config = {k: (dict(v) if isinstance(v, dict) else v) for k, v in srv.config.items()}
    for key, value in change.items():
        if isinstance(value, dict):
            config[key].update(value)
        else:
            config[key] = value
    serve_fails(srv, to_toml(config), *needles)


def test_toml_syntax_error(server_factory):
    srv = server_factory(start=False)
    serve_fails(srv, to_toml(srv.config) + "\n[smtp\nbroken = \n")


def test_missing_config_file(server_factory):
    srv = server_factory(start=False)
    os.unlink(srv.config_path)
    argv = [srv.bin, "serve", "--config", srv.config_path]
    p = subprocess.run(argv, capture_output=True, timeout=30, stdin=subprocess.DEVNULL)
    out = (p.stdout + p.stderr).decode("utf-8", "replace")
    assert p.returncode != 0, out
    assert srv.config_path in out, out


def test_good_config_starts(server_factory):
    """The control case: the same helper's unmodified config does start."""
    srv = server_factory()
    assert srv.running()
    assert {"smtp", "submission", "submissions"} <= set(srv.listeners)
