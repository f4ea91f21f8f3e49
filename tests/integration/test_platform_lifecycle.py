"""The platform layer over real HTTP against the emulator: snapshot → journal → scale → restore.

One emulator for this module runs `two-types`, an app whose Procfile has `web` (the demo app) and
`worker`, so restores are checked across process types *and* sizes. Every test starts from the
same baseline formation (web=1:Standard-1X worker=1:Standard-2X) and leaves the app there.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from harness.emulator import EmulatorProcess
from harness.emulator.schema import assert_request
from harness.errors import (
    AuthError,
    FormationError,
    GuardError,
    NotFoundError,
    PlatformUnavailableError,
    RestoreError,
    StaleJournalError,
)
from harness.platform.auth import ApiToken
from harness.platform.formation import (
    FormationSession,
    PollPolicy,
    RestoreResult,
    begin,
    restore,
    scale_to,
    snapshot,
)
from harness.platform.guard import preflight
from harness.platform.heroku import ACCEPT, HerokuClient, RetryPolicy
from harness.platform.journal import Journal, JournalStore
from harness.platform.models import DynoState, Formation, ProcessFormation, parse_scale_args
from tests.integration.helpers import trusting

APP = "two-types"
WORKER_ONLY = "worker-only"
FAST_POLL = PollPolicy(initial_s=0.1, factor=1.5, max_s=0.5)
FAST_RETRY = RetryPolicy(backoff_initial_s=0.05, backoff_max_s=0.5, timeout_s=15)


def formation(*specs: str) -> Formation:
    entries = []
    for spec in specs:
        process_type, rest = spec.split("=")
        quantity, size = rest.split(":")
        entries.append(ProcessFormation(type=process_type, quantity=int(quantity), size=size))
    return Formation.of(entries)


BASE = formation("web=1:Standard-1X", "worker=1:Standard-2X")


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorProcess]:
    root = tmp_path_factory.mktemp("apps")
    two_types, worker_only = root / APP, root / WORKER_ONLY
    two_types.mkdir()
    worker_only.mkdir()
    sleeper = 'python -c "import time; time.sleep(3600)"'
    (two_types / "Procfile").write_text(f"web: python -m harness.emulator.demo_app\nworker: {sleeper}\n")
    (worker_only / "Procfile").write_text(f"worker: {sleeper}\n")
    process = EmulatorProcess.start(
        apps={APP: two_types, WORKER_ONLY: worker_only},
        boot_timeout_s=20.0,
        shutdown_grace_s=1.0,
        crash_cooloff_s=5.0,  # a dyno that crashes twice stays `crashed` long enough to be seen
        router_boot_wait_s=2.0,
    )
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture
def client(emulator: EmulatorProcess) -> Iterator[HerokuClient]:
    with HerokuClient(ApiToken(emulator.token), emulator.api_url, retry=FAST_RETRY) as api:
        scale_to(api, APP, BASE, timeout_s=60, poll=FAST_POLL)
        assert snapshot(api, APP) == BASE
        yield api
    emulator.clear_faults()
    emulator.drain_rate_limit(4500)  # refill: later tests must not be paced by an earlier drain


@pytest.fixture
def store(tmp_path: Path) -> JournalStore:
    return JournalStore(tmp_path / "state")


def last_seq(emulator: EmulatorProcess) -> int:
    entries = emulator.requests()
    return int(entries[-1]["seq"]) if entries else 0


def test_scale_up_then_restore_exactly_across_types_and_sizes(
    client: HerokuClient, store: JournalStore
) -> None:
    expected = formation("web=3:Standard-2X", "worker=2:Standard-1X")
    changes = parse_scale_args(["web=3:standard-2x", "worker=2:standard-1x"])
    with FormationSession(client, APP, changes, store=store, timeout_s=60, poll=FAST_POLL) as session:
        journal = store.read(APP)
        assert journal is not None
        assert (journal.original, journal.intended, journal.api_host) == (BASE, expected, client.api_host)
        assert snapshot(client, APP) == expected
        up = [(d.type, d.size) for d in client.dynos(APP) if d.state is DynoState.UP]
        assert up.count(("web", "Standard-2X")) == 3
        assert up.count(("worker", "Standard-1X")) == 2
        result = session.result
        assert result is not None
        assert sorted(d.name for d in result.dynos) == ["web.1", "web.2", "web.3", "worker.1", "worker.2"]
        assert result.scale_up_latency_s > 0
        assert all(d.boot_s is not None and d.seen_up_after_s is not None for d in result.new_dynos)
        assert result.release_version == client.current_release(APP).version  # type: ignore[union-attr]
    assert snapshot(client, APP) == BASE
    assert store.read(APP) is None
    assert session.restored is not None and session.restored.restored


def test_a_crash_during_boot_aborts_and_restores(
    emulator: EmulatorProcess, client: HerokuClient, store: JournalStore
) -> None:
    emulator.fail_next_boots(APP, 20)
    try:
        with (
            pytest.raises(FormationError, match="crashed") as info,
            FormationSession(client, APP, parse_scale_args(["web=3"]), store=store, poll=FAST_POLL),
        ):
            pytest.fail("the session must not be entered when a dyno crashes")
    finally:
        emulator.fail_next_boots(APP, 0)
    assert info.value.process_type == "web"
    assert snapshot(client, APP) == BASE
    assert store.read(APP) is None


def test_a_timeout_aborts_and_restores(
    emulator: EmulatorProcess, client: HerokuClient, store: JournalStore
) -> None:
    emulator.set_settings(APP, boot_delay_s=30)
    try:
        with (
            pytest.raises(FormationError, match="did not reach") as info,
            FormationSession(
                client, APP, parse_scale_args(["web=2"]), store=store, timeout_s=1.5, poll=FAST_POLL
            ),
        ):
            pytest.fail("the session must not be entered after a timeout")
    finally:
        emulator.set_settings(APP, boot_delay_s=0)
    assert "web 1/2 up" in str(info.value)
    assert snapshot(client, APP) == BASE


def test_an_exception_in_the_body_restores(client: HerokuClient, store: JournalStore) -> None:
    with (
        pytest.raises(ZeroDivisionError),
        FormationSession(client, APP, parse_scale_args(["worker=3"]), store=store, poll=FAST_POLL),
    ):
        assert snapshot(client, APP).get("worker") == ProcessFormation(
            type="worker", quantity=3, size="Standard-2X"
        )
        _ = 1 / 0
    assert snapshot(client, APP) == BASE
    assert store.read(APP) is None


def test_rescale_journals_the_next_formation_and_still_restores_the_original(
    emulator: EmulatorProcess, client: HerokuClient, store: JournalStore
) -> None:
    first = formation("web=2:Standard-1X", "worker=1:Standard-2X")
    second = formation("web=3:Standard-2X", "worker=1:Standard-2X")
    with FormationSession(client, APP, first, store=store, timeout_s=60, poll=FAST_POLL) as session:
        result = session.rescale(second)
        journal = store.read(APP)
        assert journal is not None and (journal.original, journal.intended) == (BASE, second)
        assert snapshot(client, APP) == second and result.target == second and session.result is result
        up = [(d.type, d.size) for d in client.dynos(APP) if d.state is DynoState.UP]
        assert up.count(("web", "Standard-2X")) == 3
        emulator.fail_next_boots(APP, 20)  # the next move fails: the original still comes back
        try:
            with pytest.raises(FormationError, match="crashed"):
                session.rescale(formation("web=4:Standard-2X", "worker=1:Standard-2X"))
        finally:
            emulator.fail_next_boots(APP, 0)
    assert snapshot(client, APP) == BASE
    assert store.read(APP) is None
    with pytest.raises(RuntimeError, match="scaled session"):
        session.rescale(second)


def test_restore_retries_through_500_and_503(
    emulator: EmulatorProcess, client: HerokuClient, store: JournalStore
) -> None:
    journal = begin(client, APP, parse_scale_args(["web=2", "worker=0"]), store)
    client.update_formation(APP, journal.intended)
    since = last_seq(emulator)
    emulator.fail_next(2, 500)
    emulator.fail_next(2, 503)
    result = restore(client, APP, store, budget_s=60, retry_delay_s=0.2)
    assert result.restored
    assert snapshot(client, APP) == BASE
    assert store.read(APP) is None
    statuses = [entry["status"] for entry in emulator.requests(since)]
    assert (statuses.count(500), statuses.count(503)) == (2, 2)


def test_restore_waits_out_a_drained_rate_limit(
    emulator: EmulatorProcess, client: HerokuClient, store: JournalStore
) -> None:
    journal = begin(client, APP, parse_scale_args(["web=2:standard-2x"]), store)
    client.update_formation(APP, journal.intended)
    since = last_seq(emulator)
    emulator.drain_rate_limit(0)
    result = restore(client, APP, store, budget_s=60, retry_delay_s=0.2)
    assert result.restored
    statuses = [entry["status"] for entry in emulator.requests(since)]
    assert 429 in statuses
    emulator.drain_rate_limit(4500)
    assert snapshot(client, APP) == BASE


def test_journal_is_on_disk_before_the_patch_and_kept_when_restore_fails(
    emulator: EmulatorProcess, client: HerokuClient, store: JournalStore
) -> None:
    emulator.fail_next(1000, 503, method="PATCH")
    few = HerokuClient(
        ApiToken(emulator.token), emulator.api_url, retry=RetryPolicy(max_attempts=2, backoff_initial_s=0.05)
    )
    with (
        few,
        pytest.raises(RestoreError) as info,
        FormationSession(few, APP, parse_scale_args(["web=4"]), store=store, restore_budget_s=0.5),
    ):
        pytest.fail("the scale PATCH fails, so the session must not be entered")
    assert isinstance(info.value.__context__, PlatformUnavailableError)  # the failed scale PATCH
    assert info.value.manual_commands == [
        f"heroku ps:scale web=1 worker=1 -a {APP}",
        f"heroku ps:type web=standard-1x worker=standard-2x -a {APP}",
    ]
    assert f"heroku ps:scale web=1 worker=1 -a {APP}" in str(info.value)
    assert info.value.exit_code == 4
    kept = store.read(APP)
    assert kept is not None and kept.original == BASE
    emulator.clear_faults()
    assert restore(client, APP, store).restored  # finishing the job later works
    assert store.read(APP) is None
    assert snapshot(client, APP) == BASE


def test_restore_is_idempotent(client: HerokuClient, store: JournalStore) -> None:
    assert restore(client, APP, store) == RestoreResult(app=APP, restored=False, formation=None, attempts=0)
    store.write(Journal(app=APP, api_host=client.api_host, original=BASE, intended=BASE))
    first = restore(client, APP, store)
    assert first.restored and first.formation == BASE
    assert not restore(client, APP, store).restored
    assert snapshot(client, APP) == BASE


def test_a_stale_journal_blocks_a_new_change(
    emulator: EmulatorProcess, client: HerokuClient, store: JournalStore
) -> None:
    store.write(Journal(app=APP, api_host=client.api_host, original=BASE, intended=BASE))
    since = last_seq(emulator)
    with (
        pytest.raises(StaleJournalError, match=f"harness restore --app {APP}"),
        FormationSession(client, APP, parse_scale_args(["web=2"]), store=store),
    ):
        pytest.fail("must refuse")
    assert not [e for e in emulator.requests(since) if e["method"] == "PATCH"]
    assert store.read(APP) is not None  # the refusal keeps the earlier journal


def test_restore_refuses_a_journal_of_another_api(client: HerokuClient, store: JournalStore) -> None:
    store.write(Journal(app=APP, api_host="api.heroku.com", original=BASE, intended=BASE))
    with pytest.raises(RestoreError, match=r"api\.heroku\.com"):
        restore(client, APP, store)
    assert store.read(APP) is not None


def test_preflight_returns_the_facts(emulator: EmulatorProcess, client: HerokuClient) -> None:
    facts = preflight(client, APP, local=True, verify=trusting(emulator))
    assert facts.app.name == APP
    assert facts.app.web_url == emulator.web_url(APP)
    assert facts.formation == BASE
    assert facts.slug is not None and set(facts.slug.process_types) == {"web", "worker"}
    assert facts.release.version >= 1 and facts.release.slug_id == facts.slug.id
    assert facts.prices["standard-2x"] == pytest.approx(50 / 720)


def test_preflight_refuses_a_bad_token_and_an_unknown_app(
    emulator: EmulatorProcess, client: HerokuClient
) -> None:
    with HerokuClient(ApiToken("not-the-token"), emulator.api_url) as wrong, pytest.raises(AuthError) as info:
        preflight(wrong, APP, local=True)
    assert info.value.status == 401
    assert "HEROKU_API_KEY" in str(info.value)
    with pytest.raises(NotFoundError):
        preflight(client, "no-such-app", local=True)


def test_preflight_refuses_maintenance_nothing_deployed_no_web_and_unreachable(
    emulator: EmulatorProcess, client: HerokuClient
) -> None:
    headers = {"Authorization": f"Bearer {emulator.token}", "Accept": ACCEPT}
    with httpx.Client(base_url=emulator.api_url, headers=headers, timeout=30) as api:
        api.patch(f"/apps/{APP}", json={"maintenance": True}).raise_for_status()
        try:
            with pytest.raises(GuardError, match="maintenance"):
                preflight(client, APP, local=True)
        finally:
            api.patch(f"/apps/{APP}", json={"maintenance": False}).raise_for_status()
        empty = api.post("/apps", json={"name": f"empty-{uuid.uuid4().hex[:8]}"}).json()
        try:
            with pytest.raises(GuardError, match="nothing deployed"):
                preflight(client, empty["name"], local=True)
        finally:
            api.delete(f"/apps/{empty['id']}")
    with pytest.raises(GuardError, match="no `web` process type"):
        preflight(client, WORKER_ONLY, local=True)
    with pytest.raises(GuardError, match="unreachable"):
        preflight(client, APP, local=True, target_url="http://127.0.0.1:9/", probe_timeout_s=2)
    with pytest.raises(GuardError, match="not the app's own URL"):
        preflight(client, APP, local=True, target_url="https://example.com/")


def test_every_request_the_client_sent_matches_the_schema(
    emulator: EmulatorProcess, client: HerokuClient
) -> None:
    release = client.current_release(APP)
    assert release is not None and release.slug_id is not None
    client.account()
    client.app(APP)
    client.update_formation(APP, BASE)
    client.dynos(APP)
    client.releases(APP)
    client.slug(APP, release.slug_id)
    client.config_var_names(APP)
    client.addons(APP)
    client.dyno_sizes()
    client.create_log_session(APP, dyno_name="web.1", lines=5, source="app", tail=False)
    entries = emulator.requests()  # every request of this module's tests, not only the calls above
    assert {(e["method"], e["path"].split("/")[-1]) for e in entries} >= {
        ("GET", "account"),
        ("PATCH", "formation"),
        ("GET", "dynos"),
        ("GET", "releases"),
        ("GET", "config-vars"),
        ("GET", "addons"),
        ("GET", "dyno-sizes"),
        ("POST", "log-sessions"),
    }
    ours = [e for e in entries if e["headers"].get("User-Agent", "").startswith("harness/")]
    assert len(ours) > 10
    for entry in ours:
        assert_request(entry["method"], entry["path"], entry["body"])
        assert entry["headers"]["Accept"] == ACCEPT
        uuid.UUID(entry["headers"]["Request-Id"])
