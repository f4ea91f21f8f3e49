"""The demo app's shared bottleneck: every process that opens the lock file shares one ceiling."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from harness.emulator.demo_app import ServiceModel
from harness.emulator.demo_app.shared import SharedBottleneck

# One dyno: threads passing the bottleneck for a second; prints how many passed. (A real process:
# the test process runs under gevent, whose green threads would deadlock on a blocking flock.)
DYNO = """
import sys, threading, time
from pathlib import Path
from harness.emulator.demo_app.shared import SharedBottleneck
shared = SharedBottleneck(Path(sys.argv[1]), cap_rps=50.0)
start = float(sys.argv[2])
while time.time() < start:
    time.sleep(0.005)
deadline = start + 1.0
passed = []
def work():
    while time.time() < deadline:
        shared.pass_through()
        passed.append(1)
threads = [threading.Thread(target=work) for _ in range(4)]
for t in threads: t.start()
for t in threads: t.join()
print(len(passed))
"""


def test_two_dynos_together_pass_at_most_the_cap(tmp_path: Path) -> None:
    lock = tmp_path / "shared.lock"
    start = time.time() + 1.5  # both processes begin together, after their imports
    dynos = [
        subprocess.Popen(
            [sys.executable, "-c", DYNO, str(lock), str(start)], stdout=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    passed = []
    for dyno in dynos:
        out, _ = dyno.communicate(timeout=60)
        assert dyno.returncode == 0
        passed.append(int(out.strip()))
    assert sum(passed) <= 50 * 1.0 + 8  # at most the cap (plus the passes that began before the deadline)
    assert sum(passed) >= 25  # and the lock is not stuck
    assert min(passed) > 0  # both dynos got through


def test_the_cap_is_off_unless_configured(tmp_path: Path) -> None:
    assert SharedBottleneck.from_env({}) is None
    assert ServiceModel.from_env({}).shared_cap_rps is None
    env = {"DEMO_SHARED_CAP_RPS": "150", "DEMO_SHARED_LOCK": str(tmp_path / "x.lock")}
    shared = SharedBottleneck.from_env(env)
    assert shared is not None and shared.cap_rps == 150.0 and shared.path == tmp_path / "x.lock"
    assert ServiceModel.from_env(env).as_json()["shared_cap_rps"] == 150.0
