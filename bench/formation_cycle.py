"""Scale-up latency and restore time through the platform layer, against the local emulator.

Runs N cycles of `FormationSession` (journal → scale harness-demo from web=1 to
web=4:Standard-2X → wait until every dyno is up → restore and verify) and
prints the medians, plus how many Platform API requests one cycle costs (each
counts against Heroku's 4,500/hour budget).

    .venv/bin/python bench/formation_cycle.py --cycles 5
"""

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

from harness.emulator import EmulatorProcess  # noqa: E402
from harness.platform import FormationSession, HerokuClient, JournalStore, parse_scale_args  # noqa: E402
from harness.platform.auth import ApiToken  # noqa: E402


def main() -> None:
    """Measure and print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=5)
    parser.add_argument("--target", default="web=4:standard-2x")
    args = parser.parse_args()
    with EmulatorProcess.start(boot_timeout_s=30, shutdown_grace_s=1) as emulator:
        client = HerokuClient(ApiToken(emulator.token), emulator.api_url)
        store = JournalStore(tempfile.mkdtemp())
        latency, restore, requests = [], [], []
        for _ in range(args.cycles):
            seen = len(emulator.requests())
            with FormationSession(client, "harness-demo", parse_scale_args([args.target]), store=store) as s:
                assert s.result is not None
                latency.append(s.result.scale_up_latency_s)
                left = time.monotonic()
            restore.append(time.monotonic() - left)
            requests.append(len(emulator.requests()) - seen)
    print(f"cycles: {args.cycles} × (web=1 → {args.target} → restore)")
    median, worst = statistics.median(latency), max(latency)
    print(f"scale-up latency (PATCH → all up): median {median:.2f} s, max {worst:.2f} s")
    print(f"restore + read-back verify: median {statistics.median(restore) * 1000:.0f} ms")
    print(f"Platform API requests per cycle: {statistics.median(requests):.0f}")


if __name__ == "__main__":
    main()
