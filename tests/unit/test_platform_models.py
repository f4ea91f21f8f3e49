"""Formation values, scale arguments and the API models' parsing of real answer shapes."""

from __future__ import annotations

import pytest

from harness.errors import ConfigError
from harness.platform.models import (
    Dyno,
    DynoSize,
    DynoState,
    Formation,
    FormationEntry,
    ProcessChange,
    ProcessFormation,
    Release,
    canonical_size,
    merge,
    parse_scale_args,
)


def formation(**types: tuple[int, str]) -> Formation:
    return Formation.of(ProcessFormation(type=t, quantity=q, size=s) for t, (q, s) in types.items())


def test_parse_scale_args() -> None:
    changes = parse_scale_args(["web=4:standard-2x", "worker=1"])
    assert changes == (
        ProcessChange(type="web", quantity=4, size="standard-2x"),
        ProcessChange(type="worker", quantity=1, size=None),
    )


@pytest.mark.parametrize("arg", ["web+1", "web=-1", "web", "=3", "web=1:", "web=x"])
def test_parse_scale_args_rejects_deltas_and_junk(arg: str) -> None:
    with pytest.raises(ConfigError, match="TYPE=QUANTITY"):
        parse_scale_args([arg])


def test_parse_scale_args_rejects_repeats_and_nothing() -> None:
    with pytest.raises(ConfigError, match="twice"):
        parse_scale_args(["web=1", "web=2"])
    with pytest.raises(ConfigError, match="at least one"):
        parse_scale_args([])


def test_merge_keeps_unnamed_types_and_current_sizes() -> None:
    current = formation(web=(1, "Standard-1X"), worker=(2, "Standard-2X"), clock=(0, "Basic"))
    merged = merge(current, parse_scale_args(["web=4:standard-2x", "worker=1"]))
    assert merged == formation(web=(4, "Standard-2X"), worker=(1, "Standard-2X"), clock=(0, "Basic"))
    assert merged.describe() == "clock=0:Basic web=4:Standard-2X worker=1:Standard-2X"


def test_merge_adds_a_new_type_with_the_default_size() -> None:
    merged = merge(formation(web=(1, "Standard-1X")), [ProcessChange(type="worker", quantity=1)])
    assert merged.get("worker") == ProcessFormation(type="worker", quantity=1, size="Standard-1X")


def test_matches_ignores_size_case_and_checks_every_type() -> None:
    original = formation(web=(1, "Standard-1X"), worker=(2, "Standard-2X"))
    assert original.matches(formation(web=(1, "standard-1x"), worker=(2, "STANDARD-2X")))
    assert not original.matches(formation(web=(1, "Standard-1X"), worker=(1, "Standard-2X")))
    assert not original.matches(formation(web=(1, "Standard-1X")))
    assert not original.matches(formation(web=(1, "Standard-2X"), worker=(2, "Standard-2X")))


def test_formation_rejects_duplicate_types() -> None:
    with pytest.raises(ValueError, match="twice"):
        Formation(processes=(ProcessFormation(type="web", quantity=1, size="Basic"),) * 2)


def test_canonical_size() -> None:
    assert canonical_size("standard-2x") == "Standard-2X"
    assert canonical_size("PERFORMANCE-L-RAM") == "Performance-L-RAM"
    assert canonical_size("dyno-2c-4gb") == "dyno-2c-4gb"


def test_formation_entry_reads_dyno_size_or_the_deprecated_size() -> None:
    new = FormationEntry.model_validate(
        {"type": "web", "quantity": 2, "dyno_size": {"id": "x", "name": "Standard-2X"}, "size": "standard-1X"}
    )
    old = FormationEntry.model_validate({"type": "web", "quantity": 2, "size": "Standard-1X"})
    assert (new.size, old.size) == ("Standard-2X", "Standard-1X")


def test_dyno_state_and_release_version() -> None:
    dyno = Dyno.model_validate(
        {"id": "1", "name": "web.1", "type": "web", "state": "up", "release": {"id": "r", "version": 7}}
    )
    assert (dyno.state, dyno.release_version) == (DynoState.UP, 7)
    odd = Dyno.model_validate({"id": "2", "name": "web.2", "type": "web", "state": "provisioning"})
    assert odd.state is DynoState.UNKNOWN


def test_release_flattens_user_and_slug() -> None:
    release = Release.model_validate(
        {"id": "r", "version": 3, "user": {"email": "a@b.c", "id": "u"}, "slug": {"id": "s"}, "current": True}
    )
    assert (release.user_email, release.slug_id, release.current) == ("a@b.c", "s", True)
    assert Release.model_validate({"id": "r", "version": 1, "slug": None}).slug_id is None


def test_dyno_size_hourly_price() -> None:
    size = DynoSize.model_validate({"name": "Standard-2X", "cost": {"cents": 5000, "unit": "month"}})
    assert size.hourly_usd == pytest.approx(50 / 720)
    assert DynoSize.model_validate({"name": "Eco", "cost": None}).hourly_usd is None
