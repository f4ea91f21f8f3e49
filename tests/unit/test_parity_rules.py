"""The pure parts of parity: `compare` on two profiles, the side-effect patterns, the fork's plan
choice and pg environment. Profiles are built here; the emulator tests read them from the API."""

from __future__ import annotations

import pytest

from harness.platform.fork import ForkOptions
from harness.platform.models import AddOn, Formation, ProcessFormation
from harness.platform.parity import Severity, compare, is_concurrency_var, is_data_service
from harness.platform.pgcopy import pg_environment
from harness.platform.profile import FORK_MARKER, AppProfile, ProfileAddOn
from harness.platform.side_effects import scan

PG = ProfileAddOn(
    name="postgresql-a",
    service="heroku-postgresql",
    plan="heroku-postgresql:standard-2",
    config_vars=("DATABASE_URL",),
)


def profile(name: str, **changes: object) -> AppProfile:
    base = AppProfile(
        name=name,
        stack="heroku-24",
        region="us",
        commit="a" * 40,
        process_types={"web": "gunicorn app:app", "worker": "celery worker"},
        formation=Formation.of(
            [
                ProcessFormation(type="web", quantity=2, size="Standard-2X"),
                ProcessFormation(type="worker", quantity=1, size="Standard-1X"),
            ]
        ),
        addons=(PG,),
        buildpacks=("heroku/python",),
        config_var_names=("DATABASE_URL", "WEB_CONCURRENCY", "FEATURE_X"),
    )
    return base.model_copy(update=changes)


def kinds(prod: AppProfile, stage: AppProfile) -> dict[tuple[str, str], Severity]:
    return {(d.aspect, d.subject): d.severity for d in compare(prod, stage).differences}


def test_identical_apps_pass_and_quantities_do_not_count() -> None:
    stage = profile(
        "stage", formation=Formation.of([ProcessFormation(type="web", quantity=0, size="standard-2x")])
    )
    stage = stage.model_copy(
        update={
            "formation": Formation.of(
                [*stage.formation, ProcessFormation(type="worker", quantity=0, size="Standard-1X")]
            )
        }
    )
    report = compare(profile("prod"), stage)
    assert report.differences == () and report.passed and report.side_effects == ()


def test_the_plan_difference_says_what_it_does() -> None:
    cheap = PG.model_copy(update={"plan": "heroku-postgresql:essential-0"})
    [diff] = compare(profile("prod"), profile("stage", addons=(cheap,))).differences
    assert diff.severity is Severity.HIGH and diff.aspect == "add-on plan"
    assert diff.effect == (
        "staging uses heroku-postgresql:essential-0, production standard-2: results bound by "
        "heroku-postgresql will not transfer."
    )


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"stack": "heroku-22"}, {("stack", ""): Severity.HIGH}),
        ({"region": "eu"}, {("region", ""): Severity.MEDIUM}),
        ({"maintenance": True}, {("maintenance", ""): Severity.HIGH}),
        ({"buildpacks": ("heroku/nodejs", "heroku/python")}, {("buildpacks", ""): Severity.MEDIUM}),
        ({"buildpacks": None}, {}),  # the API did not say: nothing to compare
        ({"commit": "b" * 40}, {("commit", ""): Severity.HIGH}),
        ({"commit": None}, {("commit", ""): Severity.INFO}),
        ({"process_types": {"web": "gunicorn app:app"}}, {("process type", "worker"): Severity.MEDIUM}),
        (
            {"process_types": {"web": "gunicorn -w 8 app:app", "worker": "celery worker"}},
            {("command", "web"): Severity.HIGH},
        ),
        ({"addons": ()}, {("add-on", "heroku-postgresql"): Severity.HIGH}),
        (
            {"config_var_names": ("DATABASE_URL", "FEATURE_X")},
            {("config var", "WEB_CONCURRENCY"): Severity.HIGH},
        ),
        (
            {"config_var_names": ("DATABASE_URL", "WEB_CONCURRENCY")},
            {("config var", "FEATURE_X"): Severity.MEDIUM},
        ),
        (
            {"config_var_names": ("DATABASE_URL", "WEB_CONCURRENCY", "FEATURE_X", "EXTRA", FORK_MARKER)},
            {("config var", "EXTRA"): Severity.LOW},
        ),
    ],
)
def test_each_difference_has_its_severity(
    changes: dict[str, object], expected: dict[tuple[str, str], Severity]
) -> None:
    assert kinds(profile("prod"), profile("stage", **changes)) == expected


def test_an_add_on_var_is_compared_as_the_add_on_and_sizes_of_the_tested_type_are_info() -> None:
    stage = profile(
        "stage",
        addons=(),
        config_var_names=("WEB_CONCURRENCY", "FEATURE_X"),
        formation=Formation.of(
            [
                ProcessFormation(type="web", quantity=1, size="Standard-1X"),
                ProcessFormation(type="worker", quantity=1, size="Standard-1X"),
            ]
        ),
    )
    found = {
        (d.aspect, d.subject): d.severity
        for d in compare(profile("prod"), stage, tested_process_type="web").differences
    }
    assert found == {("add-on", "heroku-postgresql"): Severity.HIGH, ("dyno size", "web"): Severity.INFO}
    assert not compare(profile("prod"), stage).passed


def test_value_digests_are_compared_only_when_both_sides_have_them() -> None:
    prod = profile(
        "prod", value_digests={"WEB_CONCURRENCY": "dg-1", "FEATURE_X": "dg-2", "DATABASE_URL": "dg-3"}
    )
    stage = profile(
        "stage", value_digests={"WEB_CONCURRENCY": "dg-9", "FEATURE_X": "dg-2", "DATABASE_URL": "dg-4"}
    )
    assert kinds(prod, stage) == {("config value", "WEB_CONCURRENCY"): Severity.MEDIUM}
    assert kinds(prod, profile("stage")) == {}
    assert "dg-1" not in repr(prod) and "dg-1" not in prod.model_dump_json(), "digests stay in memory"


def test_side_effects_by_name_value_prefix_and_add_on() -> None:
    names = [
        "SENDGRID_API_KEY",
        "TWILIO_AUTH_TOKEN",
        "STRIPE_SECRET_KEY",
        "STRIPE_LIVE_SECRET",
        "BRAINTREE_KEY",
    ]
    names += ["SLACK_WEBHOOK_URL", "SMTP_PASSWORD", "DATABASE_URL", "MAILTRAP_API_TOKEN", "WEB_CONCURRENCY"]
    found = scan(
        names,
        [("sendgrid-flat-1", "sendgrid"), ("mailtrap-1", "mailtrap"), ("postgresql-a", "heroku-postgresql")],
        live_key_names={"STRIPE_SECRET_KEY"},
        acknowledged={"SMTP_PASSWORD"},
    )
    by_name = {e.name: e for e in found}
    assert set(by_name) == {
        "SENDGRID_API_KEY", "TWILIO_AUTH_TOKEN", "STRIPE_SECRET_KEY", "STRIPE_LIVE_SECRET",
        "BRAINTREE_KEY", "SLACK_WEBHOOK_URL", "sendgrid-flat-1",
    }  # fmt: skip
    assert by_name["STRIPE_SECRET_KEY"].live and by_name["STRIPE_SECRET_KEY"].severity is Severity.HIGH
    assert by_name["STRIPE_LIVE_SECRET"].live, "LIVE in the name"
    assert not by_name["BRAINTREE_KEY"].live and by_name["BRAINTREE_KEY"].severity is Severity.MEDIUM
    assert by_name["TWILIO_AUTH_TOKEN"].category == "sms" and by_name["sendgrid-flat-1"].kind == "add-on"
    assert found[0].severity is Severity.HIGH and found[-1].severity is Severity.MEDIUM, "worst first"


def test_kinds_of_services_and_vars() -> None:
    assert (
        is_data_service("heroku-postgresql")
        and is_data_service("heroku-redis")
        and is_data_service("memcachier")
    )
    assert not is_data_service("papertrail")
    assert (
        is_concurrency_var("WEB_CONCURRENCY")
        and is_concurrency_var("DB_POOL")
        and not is_concurrency_var("SECRET_KEY_BASE")
    )


def test_fork_plans_and_pg_environment() -> None:
    addon = AddOn.model_validate(
        {
            "id": "1",
            "name": "postgresql-a",
            "addon_service": {"name": "heroku-postgresql"},
            "plan": {"name": "heroku-postgresql:standard-2"},
            "config_vars": ["DATABASE_URL"],
            "app": {"name": "shop"},
        }
    )
    assert addon.config_vars == ("DATABASE_URL",) and addon.app_name == "shop"
    assert ForkOptions(source="shop", target="x").plan_for(addon) == "heroku-postgresql:standard-2"
    cheaper = ForkOptions(source="shop", target="x", addon_plans={"heroku-postgresql": "essential-0"})
    assert cheaper.plan_for(addon) == "heroku-postgresql:essential-0"
    env = pg_environment("postgres://u%40x:p%2Fw@db.example.com:5433/d1")
    assert env == {
        "PGHOST": "db.example.com",
        "PGPORT": "5433",
        "PGDATABASE": "d1",
        "PGUSER": "u@x",
        "PGPASSWORD": "p/w",
        "PGSSLMODE": "require",
    }
    assert pg_environment("postgres://u:p@127.0.0.1/d?sslmode=disable")["PGSSLMODE"] == "disable"
