"""The emulator's platform rules, Range pagination and GCRA bucket, without sockets."""

from __future__ import annotations

import importlib
from datetime import UTC, datetime, timedelta

import pytest

from harness.emulator.api_error import ApiError
from harness.emulator.models import AddOnPlan, App
from harness.emulator.ranges import paginate, parse_range
from harness.emulator.ratelimit import GcraBucket
from harness.emulator.render import app_json, dyno_size_json, formation_json, release_json, slug_json
from harness.emulator.scaling import parse_quantity
from harness.emulator.schema import assert_response, find_link, request_errors, response_errors
from harness.emulator.sizes import DYNO_SIZES, find_dyno_size
from harness.emulator.state import Platform


class StepClock:
    """A clock that moves one second per reading (ordering without sleeping)."""

    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


@pytest.fixture
def platform() -> Platform:
    return Platform(clock=StepClock())


@pytest.fixture
def deployed(platform: Platform) -> App:
    app = platform.create_app("shop")
    slug = platform.create_slug(
        app, {"web": "gunicorn app:app", "worker": "python worker.py"}, commit="a" * 40
    )
    platform.deploy(app, slug.id)
    return app


def raises(status: int, error_id: str) -> pytest.RaisesExc[ApiError]:
    return pytest.raises(ApiError, check=lambda e: (e.status, e.error_id) == (status, error_id))


# -- apps -------------------------------------------------------------------------------------


def test_app_names_follow_heroku_rules(platform: Platform) -> None:
    app = platform.create_app("my-app-1")
    assert platform.find_app("my-app-1") is app and platform.find_app(app.id) is app
    with raises(422, "invalid_params"):
        platform.create_app("My_App")
    with pytest.raises(ApiError, match="Name is already taken"):
        platform.create_app("my-app-1")
    with pytest.raises(ApiError, match=r"^Couldn't find that app\.$"):
        platform.find_app("nope")
    assert platform.create_app().name.startswith("emulated-app-")


def test_first_deploy_is_v1_with_web_1_and_other_types_0(deployed: App) -> None:
    assert [r.version for r in deployed.releases] == [1]
    assert deployed.releases[0].description == "Deploy aaaaaaaa"
    assert {t: (f.quantity, f.size) for t, f in deployed.formation.items()} == {
        "web": (1, "Standard-1X"),
        "worker": (0, "Standard-1X"),
    }


# -- formation ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "current", "expected"),
    [(3, 1, 3), ("3", 1, 3), ("+2", 1, 3), ("-1", 3, 2), ("=0", 5, 0), (" 4 ", 0, 4)],
)
def test_quantities_in_every_form_the_cli_sends(raw: object, current: int, expected: int) -> None:
    assert parse_quantity(raw, current) == expected


@pytest.mark.parametrize("raw", ["-2", "two", 1.5, True, None, "+-1"])
def test_bad_quantities_are_invalid_params(raw: object) -> None:
    with raises(422, "invalid_params"):
        parse_quantity(raw, 1)


def test_sizes_are_case_insensitive_and_returned_capitalised(platform: Platform, deployed: App) -> None:
    changes = platform.update_formation(deployed, [{"type": "web", "quantity": "2", "size": "standard-2x"}])
    assert (changes[0].formation.quantity, changes[0].formation.size) == (2, "Standard-2X")
    assert changes[0].quantity_changed and changes[0].size_changed
    by_id = find_dyno_size("Performance-M").id
    changes = platform.update_formation(deployed, [{"type": "web", "dyno_size": {"id": by_id}}])
    assert changes[0].formation.size == "Performance-M" and not changes[0].quantity_changed


def test_unknown_size_lists_the_available_ones(platform: Platform, deployed: App) -> None:
    with pytest.raises(ApiError) as caught:
        platform.update_formation(deployed, [{"type": "web", "size": "1X"}])
    assert caught.value.message.startswith(
        "No such size as 1X. Available dyno sizes are Eco, Basic, Standard-1X"
    )
    assert caught.value.message.endswith(" and Performance-2XL.")


@pytest.mark.parametrize("size", ["eco", "Basic"])
def test_eco_and_basic_run_at_most_one_dyno(platform: Platform, deployed: App, size: str) -> None:
    with pytest.raises(ApiError, match="more than 1"):
        platform.update_formation(deployed, [{"type": "web", "quantity": 2, "size": size}])
    platform.update_formation(deployed, [{"type": "web", "quantity": 1, "size": size}])


def test_batch_updates_are_all_or_nothing(platform: Platform, deployed: App) -> None:
    with raises(422, "invalid_params"):
        platform.update_formation(
            deployed, [{"type": "web", "quantity": 5}, {"type": "clock", "quantity": 1}]
        )
    assert deployed.formation["web"].quantity == 1
    with raises(422, "invalid_params"):
        platform.update_formation(deployed, [{"type": "web", "size": "Private-L"}])


def test_a_blank_app_cannot_be_scaled(platform: Platform) -> None:
    app = platform.create_app("blank")
    with pytest.raises(ApiError, match="must be deployed"):
        platform.update_formation(app, [{"type": "web", "quantity": 1}])


# -- releases and config -----------------------------------------------------------------------------


def test_config_changes_make_releases_with_heroku_descriptions(platform: Platform, deployed: App) -> None:
    release = platform.update_config(deployed, {"B": "2", "A": "1"})
    assert release is not None and release.version == 2 and release.description == "Set A, B config vars"
    assert platform.update_config(deployed, {"A": "1"}) is None, "no change, no release"
    removed = platform.update_config(deployed, {"A": None, "B": "3"})
    assert removed is not None and removed.description == "Set B config vars and Remove A config vars"
    assert deployed.config == {"B": "3"} and removed.config == {"B": "3"}
    assert removed.slug_id == deployed.releases[0].slug_id
    with raises(422, "invalid_params"):
        platform.update_config(deployed, {"BAD KEY": "x"})
    with raises(422, "invalid_params"):
        platform.update_config(deployed, {"N": 5})


def test_rollback_copies_slug_and_config_into_a_new_version(platform: Platform, deployed: App) -> None:
    first = deployed.releases[0]
    platform.update_config(deployed, {"DEMO_SLOWDOWN": "3"})
    assert platform.eligible_for_rollback(deployed, first)
    rolled = platform.rollback(deployed, first.id)
    assert (rolled.version, rolled.slug_id, rolled.config) == (3, first.slug_id, {})
    assert rolled.description == "Rollback to v1" and deployed.config == {}
    assert not platform.eligible_for_rollback(deployed, rolled), "the current release"
    with raises(404, "not_found"):
        platform.rollback(deployed, "no-such-release")


def test_deploying_another_apps_slug_sets_up_the_formation(platform: Platform, deployed: App) -> None:
    fork = platform.create_app("shop-copy")
    slug_id = deployed.releases[0].slug_id
    assert slug_id is not None
    release = platform.deploy(fork, slug_id, "Forked from shop")
    assert release.version == 1 and set(fork.formation) == {"web", "worker"}
    assert platform.find_slug(fork, slug_id).id == slug_id  # released to the fork: its slug too
    with raises(404, "not_found"):
        platform.find_slug(platform.create_app("unrelated"), slug_id)  # never released there


def test_addons_set_their_config_vars(platform: Platform) -> None:
    app = platform.create_app("with-db")
    plan = AddOnPlan(
        service="heroku-postgresql", plan="essential-0", price_cents=500, config={"DATABASE_URL": "x"}
    )
    addon = platform.add_addon(app, plan)
    assert addon.plan_name == "heroku-postgresql:essential-0" and app.config == {"DATABASE_URL": "x"}


# -- rendering against the schema ---------------------------------------------------------------


def test_rendered_resources_match_the_schema(platform: Platform, deployed: App) -> None:
    deployed.web_url = "http://127.0.0.1:40000/"
    assert_response("GET", "/apps/shop", app_json(deployed, platform))
    assert_response(
        "GET", "/apps/shop/formation", [formation_json(deployed, f) for f in deployed.formation.values()]
    )
    release = deployed.releases[0]
    assert_response("GET", "/apps/shop/releases/1", release_json(deployed, release, platform))
    slug = platform.slug_of(release)
    assert slug is not None
    assert_response("GET", f"/apps/shop/slugs/{slug.id}", slug_json(slug, deployed.stack))
    assert_response("GET", "/dyno-sizes", [dyno_size_json(s) for s in DYNO_SIZES])


def test_schema_checks_are_not_vacuous() -> None:
    assert response_errors("GET", "/apps/x/formation/web", {}), "missing properties are reported"
    assert response_errors("GET", "/account/rate-limits", {"remaining": "many"})
    assert find_link("GET", "/account/rate-limits").resource == "rate-limit"
    assert find_link("POST", "/apps/x/releases", title="Rollback").request_schema is not None
    assert (
        request_errors("POST", "/apps/x/releases", {"release": "1f0e3b9a-7c1d-4e2a-9b8c-1d2e3f4a5b6c"}) == []
    )
    assert request_errors("POST", "/apps/x/releases", {"slug": "1f0e3b9a-7c1d-4e2a-9b8c-1d2e3f4a5b6c"}) == []
    assert request_errors("POST", "/apps/x/releases", {}), "neither slug nor release"
    cli_style = {"updates": [{"type": "web", "quantity": "+1", "size": "standard-2x"}]}
    assert request_errors("PATCH", "/apps/x/formation", cli_style), (
        "the CLI's legacy form is not the schema's"
    )


# -- Range -----------------------------------------------------------------------------------------


def test_range_pages_follow_next_range() -> None:
    items = list(range(1, 8))
    spec = parse_range("version ..; max=3", ["version"])
    pages = []
    while True:
        page = paginate(items, spec, lambda item, _field: item)
        pages.append(page.items)
        if page.next_range is None:
            assert page.status == 200
            break
        assert page.status == 206
        spec = parse_range(page.next_range, ["version"])
    assert pages == [[1, 2, 3], [4, 5, 6], [7]]


def test_range_descending_with_bounds() -> None:
    spec = parse_range("version 6..2; max=2, order=desc", ["version"])
    page = paginate(list(range(1, 8)), spec, lambda item, _field: item)
    assert page.items == [6, 5] and page.content_range == "version 6..5; max=2, order=desc"
    assert page.next_range == "version ]5..2; max=2, order=desc"


@pytest.mark.parametrize(
    "header",
    ["colour ..", "name ..; max=0", "name ..; max=1001", "name ..; order=sideways", "name", "version a.."],
)
def test_bad_ranges_are_416(header: str) -> None:
    with raises(416, "requested_range_not_satisfiable"):
        spec = parse_range(header, ["name", "version"])
        paginate([1, 2], spec, lambda item, _field: item)


# -- rate limit ----------------------------------------------------------------------------------------


def test_gcra_bucket_empties_and_refills_at_its_rate() -> None:
    now = [0.0]
    bucket = GcraBucket(capacity=3, rate_per_s=0.5, clock=lambda: now[0])
    assert [bucket.take() for _ in range(4)] == [(True, 2), (True, 1), (True, 0), (False, 0)]
    now[0] += 2.0  # one interval (1 / 0.5 s) later
    assert bucket.remaining() == 1 and bucket.take() == (True, 0)
    now[0] += 100.0
    assert bucket.remaining() == 3, "never above capacity"
    assert bucket.drain_to(1) == 1 and bucket.take() == (True, 0) and bucket.take()[0] is False


@pytest.mark.parametrize(
    "module",
    [
        "admin",
        "api",
        "context",
        "control",
        "logplex",
        "process",
        "ranges",
        "ratelimit",
        "render",
        "schema",
        "server",
        "state",
    ],
)
def test_public_surface_is_declared(module: str) -> None:
    imported = importlib.import_module(f"harness.emulator.{module}")
    assert imported.__all__ and all(hasattr(imported, name) for name in imported.__all__)
    import harness.emulator

    assert harness.emulator.__all__ == ["EmulatorProcess"]
    assert harness.emulator.EmulatorProcess.__name__ == "EmulatorProcess"
