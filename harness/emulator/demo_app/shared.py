"""A bottleneck shared by every dyno of the app: the stand-in for a database, an add-on, a lock.

With ``DEMO_SHARED_CAP_RPS`` set, every request (except ``/health`` and
``/api/capacity``) first takes an exclusive ``flock`` on one file that all
dynos open, and holds it for ``1 / cap`` seconds. So however many dynos run,
the app as a whole serves at most ``cap`` req/s: adding dynos stops helping
once ``n × capacity_rps(dyno)`` reaches it. The file is ``DEMO_SHARED_LOCK``
(default: one per user in the temporary directory; give apps that run side by
side their own).
"""

from __future__ import annotations

import fcntl
import os
import tempfile
import threading
import time
from collections.abc import Mapping
from pathlib import Path

__all__ = ["SharedBottleneck"]


class SharedBottleneck:
    """At most `cap_rps` requests per second across every process that opens `path`."""

    def __init__(self, path: Path, cap_rps: float) -> None:
        self.path = path
        self.cap_rps = cap_rps
        self.hold_s = 1.0 / cap_rps
        # flock belongs to the open file, which this process's threads share: a thread lock goes first.
        self._local = threading.Lock()
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> SharedBottleneck | None:
        """The bottleneck the config vars ask for, or None when DEMO_SHARED_CAP_RPS is unset."""
        raw = env.get("DEMO_SHARED_CAP_RPS", "")
        if not raw or float(raw) <= 0:
            return None
        default = Path(tempfile.gettempdir()) / f"harness-demo-shared-{os.getuid()}.lock"
        return cls(Path(env.get("DEMO_SHARED_LOCK", "") or default), float(raw))

    def pass_through(self) -> None:
        """Wait for the shared resource, then hold it for 1 / cap seconds."""
        with self._local:
            fcntl.flock(self._fd, fcntl.LOCK_EX)
            try:
                time.sleep(self.hold_s)
            finally:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
