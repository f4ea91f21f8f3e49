"""Pure parts of the formation lifecycle: the wait condition, changed types, polling."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from harness.platform.formation import (
    DynoBoot,
    PollPolicy,
    _boot,
    changed_types,
    wait_progress,
)
from harness.platform.models import Dyno, Formation, ProcessFormation


def formation(**types: tuple[int, str]) -> Formation:
    return Formation.of(ProcessFormation(type=t, quantity=q, size=s) for t, (q, s) in types.items())


def dyno(name: str, state: str, version: int = 5, size: str = "Standard-2X") -> Dyno:
    return Dyno.model_validate(
        {
            "id": name,
            "name": name,
            "type": name.split(".")[0],
            "state": state,
            "size": size,
            "release": {"id": "r", "version": version},
        }
    )


TARGET = formation(web=(3, "Standard-2X"), worker=(1, "Standard-1X"))


def test_waits_until_every_dyno_is_up_on_the_release_at_the_size() -> None:
    dynos = [
        dyno("web.1", "up"),
        dyno("web.2", "starting"),
        dyno("web.3", "up", version=4),  # old release: does not count
        dyno("web.4", "up", size="Standard-1X"),  # old size: does not count
    ]
    progress = wait_progress(dynos, TARGET, ["web"], release_version=5)
    assert not progress.done
    assert progress.missing == {"web": 2}
    assert progress.describe() == "web 1/3 up"
    done = wait_progress([dyno(f"web.{i}", "up") for i in (1, 2, 3)], TARGET, ["web"], 5)
    assert done.done and done.describe() == "web 3/3 up"


def test_a_crashed_dyno_is_reported() -> None:
    progress = wait_progress([dyno("web.1", "crashed"), dyno("web.2", "up")], TARGET, ["web"], 5)
    assert [d.name for d in progress.crashed] == ["web.1"]
    assert not progress.done


def test_types_scaled_to_zero_need_no_wait() -> None:
    progress = wait_progress([], formation(web=(0, "Basic")), ["web"], None)
    assert progress.done


def test_changed_types() -> None:
    original = formation(web=(1, "Standard-1X"), worker=(1, "Standard-1X"))
    assert changed_types(original, TARGET) == ("web",)
    assert changed_types(original, original) == ()
    assert changed_types(original, formation(web=(1, "standard-1x"), clock=(1, "Basic"))) == ("clock",)


def test_poll_policy_backs_off_to_a_cap() -> None:
    delays = PollPolicy(initial_s=1, factor=2, max_s=5).delays()
    assert [next(delays) for _ in range(5)] == [1, 2, 4, 5, 5]


def test_boot_time_from_platform_timestamps() -> None:
    requested = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    raw = dyno("web.2", "up").model_copy(
        update={
            "created_at": requested + timedelta(seconds=1),
            "updated_at": requested + timedelta(seconds=9),
        }
    )
    assert _boot(raw, requested, 8.5) == DynoBoot(
        name="web.2",
        type="web",
        size="Standard-2X",
        created_at=raw.created_at,
        up_at=raw.updated_at,
        boot_s=8.0,
        seen_up_after_s=8.5,
        preexisting=False,
    )
    old = raw.model_copy(update={"created_at": requested - timedelta(hours=1)})
    assert _boot(old, requested).preexisting
    same_second = raw.model_copy(update={"created_at": requested})  # API time has whole seconds
    assert not _boot(same_second, requested + timedelta(seconds=0.4)).preexisting
