"""The emulator's log buffer: Heroku's line format, filters, the ring, and live subscribers."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta, timezone

from harness.emulator.logs import LogBuffer, format_line
from harness.emulator.sizes import DYNO_SIZES, canonical_size

WHEN = datetime(2024, 10, 17, 22, 23, 22, 209776, tzinfo=UTC)


def test_line_format_matches_heroku() -> None:
    assert format_line("app", "web.1", "log line 1", WHEN) == (
        "2024-10-17T22:23:22.209776+00:00 app[web.1]: log line 1"
    )
    local = WHEN.astimezone(timezone(timedelta(hours=2)))
    assert format_line("heroku", "router", "x", local).startswith(
        "2024-10-17T22:23:22.209776+00:00 heroku[router]"
    )


def test_recent_filters_by_source_and_dyno_or_type() -> None:
    logs = LogBuffer()
    logs.append("app", "web.1", "one")
    logs.append("heroku", "router", "two")
    logs.append("app", "web.2", "three")
    logs.append("app", "worker.1", "four")
    logs.append("heroku", "web.10", "five")
    assert [line.rsplit(" ", 1)[1] for line in logs.recent(10)] == ["one", "two", "three", "four", "five"]
    assert [line.rsplit(" ", 1)[1] for line in logs.recent(2)] == ["four", "five"]
    assert [line.rsplit(" ", 1)[1] for line in logs.recent(10, source="app")] == ["one", "three", "four"]
    assert [line.rsplit(" ", 1)[1] for line in logs.recent(10, dyno="web")] == ["one", "three", "five"]
    assert [line.rsplit(" ", 1)[1] for line in logs.recent(10, dyno="web.1")] == ["one"]
    assert logs.recent(0) == []


def test_ring_keeps_the_newest_lines() -> None:
    logs = LogBuffer(capacity=3)
    for i in range(5):
        logs.append("app", "web.1", f"n{i}")
    assert len(logs) == 3
    assert [line.rsplit(" ", 1)[1] for line in logs.recent(10)] == ["n2", "n3", "n4"]


def test_subscribers_get_new_matching_lines_until_closed() -> None:
    async def scenario() -> list[str]:
        logs = LogBuffer()
        logs.append("app", "web.1", "before")
        subscription = logs.subscribe(source="heroku")
        logs.append("app", "web.1", "not heroku")
        logs.append("heroku", "router", "first")

        async def later() -> None:
            await asyncio.sleep(0.01)
            logs.append("heroku", "web.1", "second")
            await subscription.aclose()

        task = asyncio.ensure_future(later())
        got = [line async for line in subscription]
        await task
        return got

    got = asyncio.run(scenario())
    assert [line.rsplit(" ", 1)[1] for line in got] == ["first", "second"]


def test_sizes_are_case_insensitive_and_capitalised() -> None:
    assert canonical_size("standard-2x").name == "Standard-2X"
    assert canonical_size("PERFORMANCE-L").web_concurrency == 17
    assert {size.memory_mb for size in DYNO_SIZES if size.name in ("Eco", "Basic", "Standard-1X")} == {512}
    concurrency = {size.name: size.web_concurrency for size in DYNO_SIZES}
    assert concurrency["Standard-2X"] == 4 and concurrency["Performance-M"] == 5
    assert concurrency["Private-S"] == 4 and concurrency["Performance-2XL"] == 33
