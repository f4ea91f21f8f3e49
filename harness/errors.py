"""One small exception tree for everything harness reports to a user.

Every class carries the process exit code that `harness` ends with when it
escapes to the CLI, plus the context a user needs (file/line/field, HTTP
status and request id, app and process type). Messages are one paragraph that
says what went wrong *and what to do*. Programmer mistakes stay plain
`TypeError`/`RuntimeError` and are not caught here.

    HarnessError                      exit 3  (generic failure)
    ├── ConfigError                   exit 2  file, line, field
    │   ├── LocustfileError           exit 2  a locustfile that does not import / lacks a class
    │   └── GuardError                exit 2  a safety guard refused (protected app, cost, URL, rate cap)
    │       └── ParityError           exit 2  `parity: refuse`: staging unlike production, or side effects
    ├── PlatformError                 exit 3  status, error_id, request_id, app
    │   ├── AuthError                 exit 3  missing or rejected token
    │   ├── NotFoundError             exit 3  unknown app / dyno / release
    │   ├── RateLimitError            exit 3  429 after retries
    │   ├── InvalidParamsError        exit 3  422 from the API
    │   └── PlatformUnavailableError  exit 3  connection errors, 5xx after retries
    ├── FormationError                exit 3  app, process_type (scale-up failed, dyno crashed, timeout)
    │   ├── StaleJournalError         exit 2  an earlier run left the app scaled; restore first
    │   └── RestoreError              exit 4  the original formation could not be restored
    ├── LoadError                     exit 3  Locust could not run (target unreachable, workers missing)
    ├── ResultsError                  exit 2  an unreadable or unknown run directory
    └── EmulatorError                 exit 3  the local emulator could not start or answer

Every command exits with one of `EXIT_CODE_TABLE` (shown in the README and at
the end of each command's --help): 1 is not an exception (the pipeline and the
load commands return it); 2 is every refusal before anything changed; 130/143
come from `platform.signals`.
"""

from __future__ import annotations

import re
from pathlib import Path

__all__ = [
    "EXIT_CODE_TABLE",
    "EXIT_CONFIG",
    "EXIT_INCONCLUSIVE",
    "EXIT_OK",
    "EXIT_PLATFORM",
    "EXIT_RESTORE",
    "EXIT_SLO_FAILED",
    "AuthError",
    "ConfigError",
    "EmulatorError",
    "FormationError",
    "GuardError",
    "HarnessError",
    "InvalidParamsError",
    "LoadError",
    "LocustfileError",
    "NotFoundError",
    "ParityError",
    "PlatformError",
    "PlatformUnavailableError",
    "RateLimitError",
    "RestoreError",
    "ResultsError",
    "StaleJournalError",
    "exit_codes_help",
    "sentence",
    "tidy",
]

EXIT_OK = 0
EXIT_SLO_FAILED = 1
EXIT_CONFIG = 2
EXIT_PLATFORM = 3
EXIT_RESTORE = 4
EXIT_INCONCLUSIVE = 5  # a comparison could not decide (too few repeats, too noisy)

# The one table of exit codes, true for every command (README "Exit codes"; each command's --help).
EXIT_CODE_TABLE: tuple[tuple[str, str], ...] = (
    ("0", "success: SLOs held, breaking point found, or the command did its job"),
    ("1", "an SLO failed, too little headroom, a scenario was aborted, or parity found a difference"),
    ("2", "refused before any change: usage, config, locustfile, guard, parity, journal"),
    ("3", "platform or runtime error: token, unknown app, API, dynos, Locust"),
    ("4", "restore failed: the journal is kept; run `harness restore`"),
    ("5", "compare / ab: the gate could not decide (too few repeats, or too noisy)"),
    ("130/143", "interrupted (Ctrl-C / SIGTERM): formation restored, report partial"),
)


def exit_codes_help() -> str:
    """The exit-code table as a --help epilog (the \\b keeps click from re-wrapping it)."""
    width = max(len(code) for code, _ in EXIT_CODE_TABLE)
    rows = [f"  {code:<{width}}  {meaning}" for code, meaning in EXIT_CODE_TABLE]
    return "\b\nExit codes:\n" + "\n".join(rows)


def sentence(text: str) -> str:
    """`text` ending in exactly one full stop (a quoted API message may bring its own)."""
    text = text.rstrip()
    return text if text.endswith((".", "!", "?", "…")) else f"{text}."


# A full stop doubled where two sentences meet ("provided.." / "app.."), never an ellipsis.
_DOUBLED_STOP = re.compile(r"(?<!\.)\.\.(?!\.)")


def tidy(message: str) -> str:
    """One paragraph of error text without doubled full stops."""
    return _DOUBLED_STOP.sub(".", message)


class HarnessError(Exception):
    """Root of every error harness reports to a user; `exit_code` is what the CLI exits with."""

    exit_code: int = EXIT_PLATFORM

    def __init__(self, message: str) -> None:
        message = tidy(message)
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ConfigError(HarnessError):
    """Bad input: scenarios.yaml, a CLI argument, a locustfile. Names file, line and field."""

    exit_code = EXIT_CONFIG

    def __init__(
        self,
        message: str,
        *,
        file: str | Path | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        self.file = str(file) if file is not None else None
        self.line = line
        self.field = field
        super().__init__(self._locate(message))

    def _locate(self, message: str) -> str:
        where = self.file or ""
        if self.file and self.line is not None:
            where = f"{self.file}:{self.line}"
        if self.field:
            where = f"{where}: {self.field}" if where else self.field
        return f"{where}: {message}" if where else message


class LocustfileError(ConfigError):
    """A locustfile that does not import, or lacks the user classes the scenario names."""


class GuardError(ConfigError):
    """A safety guard refused the test before anything was changed."""


class ParityError(GuardError):
    """`parity: refuse`: staging differs from production where it matters, or the test would act in
    the real world (mail, SMS, payments)."""


class PlatformError(HarnessError):
    """The Heroku Platform API (or the emulator) answered with an error or could not be reached."""

    exit_code = EXIT_PLATFORM

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        error_id: str | None = None,
        request_id: str | None = None,
        app: str | None = None,
    ) -> None:
        self.status = status
        self.error_id = error_id
        self.request_id = request_id
        self.app = app
        suffix = f" (request id {request_id})" if request_id else ""
        super().__init__(message + suffix)


class AuthError(PlatformError):
    """No token, or the API rejected it (401)."""


class NotFoundError(PlatformError):
    """The API does not know the app, dyno or release (404)."""


class RateLimitError(PlatformError):
    """The API kept answering 429 after backing off."""


class InvalidParamsError(PlatformError):
    """The API refused the parameters (422), e.g. an unknown dyno size."""


class PlatformUnavailableError(PlatformError):
    """Connection errors or 5xx answers persisted through retries."""


class FormationError(HarnessError):
    """Scaling failed: a dyno crashed during boot, or dynos did not come up in time."""

    exit_code = EXIT_PLATFORM

    def __init__(self, message: str, *, app: str | None = None, process_type: str | None = None) -> None:
        self.app = app
        self.process_type = process_type
        super().__init__(message)


class StaleJournalError(FormationError):
    """A journal from an earlier run shows the app may still be scaled up: a refusal, like a guard."""

    exit_code = EXIT_CONFIG


class RestoreError(FormationError):
    """The original formation could not be restored; the journal is kept for `harness restore`."""

    exit_code = EXIT_RESTORE

    def __init__(
        self,
        message: str,
        *,
        app: str | None = None,
        journal: str | Path | None = None,
        manual_commands: list[str] | None = None,
    ) -> None:
        self.journal = str(journal) if journal is not None else None
        self.manual_commands = list(manual_commands or [])
        if self.manual_commands:
            message = message + "\nTo finish by hand:\n  " + "\n  ".join(self.manual_commands)
        super().__init__(message, app=app)


class LoadError(HarnessError):
    """Locust could not generate the load: target unreachable, workers never joined, runner failure."""

    exit_code = EXIT_PLATFORM


class ResultsError(HarnessError):
    """A run directory that does not exist or cannot be read."""

    exit_code = EXIT_CONFIG


class EmulatorError(HarnessError):
    """The local emulator could not start, or stopped answering."""

    exit_code = EXIT_PLATFORM
