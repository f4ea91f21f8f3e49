"""The platform package's public surface, pinned: the pipeline and the CLI import these names."""

from __future__ import annotations

import importlib

import harness.platform

MODULES = ["auth", "formation", "guard", "heroku", "journal", "models", "safe_scale", "signals", "target"]


def test_package_exports() -> None:
    assert set(harness.platform.__all__) == {
        "ApiToken",
        "Formation",
        "FormationSession",
        "HerokuClient",
        "Interrupted",
        "Journal",
        "JournalStore",
        "PlatformTarget",
        "PollPolicy",
        "PreflightFacts",
        "ProcessChange",
        "ProcessFormation",
        "RestoreResult",
        "RetryPolicy",
        "SafeScale",
        "ScaleResult",
        "SignalPolicy",
        "find_token",
        "open_platform",
        "parse_scale_args",
        "preflight",
        "restore",
        "scale_to",
        "snapshot",
    }


def test_every_exported_name_exists() -> None:
    for name in MODULES:
        module = importlib.import_module(f"harness.platform.{name}")
        for exported in module.__all__:
            assert hasattr(module, exported), f"harness.platform.{name}.{exported}"
