"""Run one demo-app dyno: `python -m harness.emulator.demo_app` serves on $PORT (Procfile `web`)."""

from __future__ import annotations

import os
import signal
import sys
import types

import waitress

from harness.emulator.demo_app.app import make_app

# Threads beyond the slots only wait on the slot semaphore; the router never
# sends more than 50 requests at once to one dyno (Heroku's per-dyno limit).
EXTRA_THREADS = 56


def main() -> None:
    """Serve until SIGTERM, like a Heroku web process bound to $PORT."""
    port = int(os.environ.get("PORT", "5000"))
    app = make_app()

    def _stop(signum: int, frame: types.FrameType | None) -> None:
        sys.exit(0)

    signal.signal(signal.SIGTERM, _stop)
    print(f"demo app {app.dyno} listening on 127.0.0.1:{port} with {app.model.slots} slots", flush=True)
    waitress.serve(
        app,
        host=os.environ.get("HOST", "127.0.0.1"),
        port=port,
        threads=app.model.slots + EXTRA_THREADS,
        connection_limit=1000,
        backlog=2048,
        channel_timeout=120,
        ident="harness-demo",
        _quiet=True,
    )


if __name__ == "__main__":
    main()
