"""What the test helper processes (TestDNS, Peer, Postfix) have in common:
reading their log, stopping them, and removing the temp dir they made."""

import shutil
import signal
import subprocess


class HelperProcess:
    """Base of the helpers. A subclass sets `proc` (a Popen, or None before
    start), `log_path`, `_tmp_dir` (its temp dir) and `_own_tmp` (whether it
    made that dir and so removes it), and `what` (its name in messages)."""

    proc = None
    what = "helper"

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def stop(self, timeout=20):
        """SIGTERM; a helper that ignores it is killed and the test fails."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout)
                raise AssertionError("%s ignored SIGTERM:\n%s" % (self.what, self.log()))

    def cleanup(self):
        """stop(), then remove the temp dir (when it made it)."""
        try:
            self.stop()
        finally:
            if self._own_tmp:
                shutil.rmtree(self._tmp_dir, ignore_errors=True)
