"""Entry point of the `harness` command.

`import locust` monkey-patches the whole process with gevent, and anything that
opens sockets (httpx, ssl) must be imported *after* that patch or it blocks the
load generator (see LOCUST-NOTES: locust#1178, #2661). So `main()` patches
first and only then imports the commands. The emulator is the one exception: it
runs on asyncio in a process of its own (`python -m harness.emulator`) and must
never be patched, so `harness emulator ...` skips the patch.
"""

from __future__ import annotations

import sys

__all__ = ["main"]


def _wants_gevent(argv: list[str]) -> bool:
    """Every command but `emulator` may run Locust or talk to the API next to it."""
    args = [a for a in argv[1:] if not a.startswith("-")]
    return not (args and args[0] == "emulator")


def main() -> None:
    """Patch (when needed), then hand over to click."""
    if not _wants_gevent(sys.argv):
        # `harness emulator ...` runs its own group alone: `harness.cli.app` imports the load commands,
        # and importing locust patches the process with gevent all the same.
        from harness.emulator.__main__ import run_emulator_cli

        run_emulator_cli(sys.argv[sys.argv.index("emulator") + 1 :], prog_name="harness emulator")
        return
    from gevent import monkey

    monkey.patch_all()
    from harness.cli.app import cli

    cli()
