"""`harness emulator run APP -- COMMAND`: a one-off dyno on a running emulator, as `heroku run` does.

Attached (the default) it streams the command's output from the dyno's
`attach_url` and exits with the command's own exit status (read from
Heroku's exit-status marker line); `--detach` prints the dyno's name and
returns (the output goes to the app's log). It talks to the emulator's
Platform API only (`--api-url`, `HEROKU_API_URL`; token from `--token` /
`HARNESS_EMULATOR_TOKEN`), never to its internals.
"""

from __future__ import annotations

import shlex

import click
import httpx

from harness.emulator.control_oneoff import EXIT_MARKER
from harness.errors import EmulatorError, exit_codes_help

__all__ = ["run_command"]

TOKEN_ENV = "HARNESS_EMULATOR_TOKEN"
ACCEPT = "application/vnd.heroku+json; version=3"
MARKER_PREFIX = EXIT_MARKER.split("{", 1)[0]


def _start(api_url: str, token: str, app: str, command: str, *, attach: bool) -> dict[str, object]:
    headers = {"Authorization": f"Bearer {token}", "Accept": ACCEPT}
    try:
        response = httpx.post(
            f"{api_url.rstrip('/')}/apps/{app}/dynos",
            json={"command": command, "attach": attach},
            headers=headers,
            timeout=60.0,
        )
    except httpx.HTTPError as exc:
        raise EmulatorError(
            f"Cannot reach the emulator at {api_url} ({exc}): is `harness emulator serve` running there?"
        ) from None
    if response.status_code != 201:
        try:
            message = response.json().get("message", response.text)
        except ValueError:
            message = response.text
        raise EmulatorError(f"The emulator refused to run the command on {app}: {message}")
    return dict(response.json())


def _stream(attach_url: str) -> int:
    """Echo the dyno's output; its exit status from the marker line (1 if the stream ended without one)."""
    status = 1
    with httpx.stream("GET", attach_url, timeout=httpx.Timeout(30.0, read=None)) as stream:
        for line in stream.iter_lines():
            if line.startswith(MARKER_PREFIX):
                status = int(line[len(MARKER_PREFIX) :].strip() or 1)
            else:
                click.echo(line)
    return status


@click.command("run", epilog=exit_codes_help())
@click.argument("app")
@click.argument("command", nargs=-1, required=True)
@click.option(
    "--api-url", envvar="HEROKU_API_URL", show_envvar=True, required=True, help="The emulator's API."
)
@click.option("--token", envvar=TOKEN_ENV, show_envvar=True, required=True, help="The emulator's API token.")
@click.option("--detach", is_flag=True, help="Run in the background; output goes to the app's log.")
@click.pass_context
def run_command(
    ctx: click.Context, app: str, command: tuple[str, ...], api_url: str, token: str, detach: bool
) -> None:
    """Run COMMAND in a one-off dyno of APP (e.g. `-- ./manage.py migrate`); exits with its status."""
    line = command[0] if len(command) == 1 else shlex.join(command)
    dyno = _start(api_url, token, app, line, attach=not detach)
    if detach:
        click.echo(f"Running `{line}` on {app}... up, {dyno['name']}")
        return
    ctx.exit(_stream(str(dyno["attach_url"])))
