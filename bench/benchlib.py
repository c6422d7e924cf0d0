"""Helpers every bench script shares: where the release build lives and the
load average printed before and after a run.

The bench scripts are executables without a `.py` suffix; each puts its own
directory on sys.path and imports this module, so `bench/NAME` keeps running
as before (directly, and when it re-executes itself inside its private
network namespace). Not part of CI.
"""

import os


def target_dir():
    """The cargo target dir the scripts build `postie` into (release) and run it
    from: $CARGO_TARGET_DIR when set, else ~/.cache/postie-target. Pass
    CARGO_TARGET_DIR to use an existing release build."""
    return os.environ.get("CARGO_TARGET_DIR") or os.path.join(
        os.path.expanduser("~"), ".cache", "postie-target")


def loadavg():
    """The 1-, 5- and 15-minute load averages, as /proc/loadavg gives them."""
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


class Load:
    """Reads the load average when made (before a run) and on after(); line()
    is the report's line. The machine is shared (2 cores, other jobs
    compiling), so every figure is printed with the load it was taken under."""

    def __init__(self):
        self.before = loadavg()
        self.after_ = None

    def after(self):
        self.after_ = loadavg()
        return self.after_

    def line(self):
        if self.after_ is None:
            self.after()
        return "load average (1/5/15 min): before %s, after %s; %d cores" % (
            self.before, self.after_, os.cpu_count())
