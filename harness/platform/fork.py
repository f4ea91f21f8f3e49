"""`harness fork`: a disposable staging copy of an app, made the way `heroku fork` did.

Steps, in order, each journaled (`fork_journal`) before it changes anything
and each checking the platform first, so a re-run after any failure, Ctrl-C
or SIGTERM continues and duplicates nothing:

1. create the app in the source's region and stack (`POST /apps`);
2. mark it: config var `HARNESS_FORK_OF` = the source's name (what `destroy-fork` checks);
3. provision add-ons of the same services (`POST /apps/{app}/addons`; plans overridable), skipping
   services the new app already has as many of, and add-ons shared from a third app;
4. copy config vars, less the excluded ones, the ones the source's add-ons set (the new add-ons
   set their own: a fork must never point at production's database) and the marker, plus
   overrides; copy buildpacks when the API gives them;
5. copy Postgres data when asked (`pgcopy`: pg_dump | psql, the source only read);
6. release the source's current slug (`POST /apps/{app}/releases {slug}`) unless it runs already;
7. scale every process type to 0 at the source's sizes (web stays at 0).

The source app is only ever read. `dry_run` makes the reads and prints every
call it would send instead of sending it. Config var values exist only in
memory, in the one request that sets them; what is printed shows names only.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from harness.errors import GuardError, NotFoundError
from harness.platform.fork_journal import AddOnCopy, ForkJournal, ForkJournalStore
from harness.platform.heroku import HerokuClient
from harness.platform.models import AddOn, App, Formation
from harness.platform.pgcopy import copy_database
from harness.platform.profile import FORK_MARKER, buildpacks, config_vars

__all__ = ["ForkOptions", "ForkResult", "destroy_fork", "fork_app"]

# An app created this long before its creation was journaled cannot be the one this fork made.
CLOCK_SKEW = timedelta(seconds=30)
Say = Callable[[str], None]


@dataclass(frozen=True, kw_only=True)
class ForkOptions:
    """What to fork and how: exclusions, overrides (values never printed), plans, data copy."""

    source: str
    target: str
    exclude: frozenset[str] = frozenset()
    overrides: Mapping[str, str] = field(default_factory=dict)
    addon_plans: Mapping[str, str] = field(default_factory=dict)  # service -> plan (`plan` or `svc:plan`)
    copy_data: bool = False
    dry_run: bool = False

    def plan_for(self, addon: AddOn) -> str:
        """The plan to provision for one source add-on (`service:plan`)."""
        service = addon.service or (addon.plan or "").split(":")[0]
        wanted = self.addon_plans.get(service) or addon.plan or service
        return wanted if ":" in wanted else f"{service}:{wanted}"


@dataclass
class ForkResult:
    """What the fork did (names only): the calls it sent (or would send), the add-ons, skipped ones."""

    app: str
    source: str
    calls: list[str] = field(default_factory=list)
    addons: list[AddOnCopy] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    resumed: bool = False


def _shown(body: Any, *, secret_values: bool) -> str:
    """A request body as printed: config var values replaced by `[secure]`."""
    if secret_values and isinstance(body, dict):
        body = {k: "[secure]" for k in body}
    return json.dumps(body, sort_keys=True)


class _Fork:
    """One fork run: the client, the journal, what is printed; each step a small method."""

    def __init__(self, client: HerokuClient, options: ForkOptions, store: ForkJournalStore, say: Say) -> None:
        self.client, self.options, self.store, self.say = client, options, store, say
        self.app = options.target
        self.result = ForkResult(app=options.target, source=options.source)
        journaled = store.read_fork(self.app)
        if journaled is not None and journaled.source != options.source:
            journaled = None  # a journal of a fork from another app says nothing about this one
        self.intent_on_disk = journaled is not None  # an earlier run meant to create the app
        self.journal = journaled or ForkJournal(app=self.app, source=options.source, api_host=client.api_host)
        self.result.resumed = journaled is not None

    # -- the edge: every write goes through here ---------------------------------------------------

    def send(self, method: str, path: str, body: Any, *, secret_values: bool = False) -> Any:
        """Send one write (printed first), or only print it in a dry run; returns the JSON answer."""
        line = f"{method} {path} {_shown(body, secret_values=secret_values)}"
        self.result.calls.append(line)
        self.say(("would send: " if self.options.dry_run else "") + line)
        if self.options.dry_run:
            return None
        response = self.client.request(method, path, body=body, idempotent=method == "PATCH", app=self.app)
        return response.json()

    def save(self) -> None:
        if not self.options.dry_run:
            self.store.write(self.journal)

    def finish_step(self, step: str) -> None:
        if step not in self.journal.steps_done:
            self.journal.steps_done.append(step)
        self.save()

    # -- reading -----------------------------------------------------------------------------------

    def target_app(self) -> App | None:
        try:
            return self.client.app(self.app)
        except NotFoundError:
            return None

    def ours(self, app: App) -> bool:
        """Whether an existing app of the target name is one this fork made."""
        if self.journal.app_id == app.id:
            return True
        try:
            names = config_vars(self.client, self.app)
        except NotFoundError:
            return False
        if names.get(FORK_MARKER) == self.options.source:
            return True
        # Created, but the answer (and so its id) was lost before the journal got it.
        journal = self.journal
        if not self.intent_on_disk or journal.app_id or journal.steps_done or names:
            return False
        return app.created_at is not None and app.created_at >= self.journal.intended_at - CLOCK_SKEW

    # -- the steps ---------------------------------------------------------------------------------

    def create(self, source: App) -> None:
        existing = self.target_app()
        if existing is not None:
            if not self.ours(existing):
                raise GuardError(
                    f"{self.app} already exists and harness did not fork it from {self.options.source} "
                    f"(no {FORK_MARKER}={self.options.source} marker, no fork journal of it): choose "
                    "another name for the fork.",
                    field="--to",
                )
            self.journal.app_id = existing.id
            self.save()
            return
        # A new app: whatever an older journal of this name recorded (a fork deleted since) is void.
        self.journal = ForkJournal(app=self.app, source=self.options.source, api_host=self.client.api_host)
        self.save()  # the intent, with its time, before the POST
        body = {
            "name": self.app,
            "region": source.region.name if source.region else None,
            "stack": source.stack.name if source.stack else None,
        }
        created = self.send("POST", "/apps", {k: v for k, v in body.items() if v})
        if created is not None:
            self.journal.app_id = str(created["id"])
            self.save()

    def mark(self) -> None:
        self.send("PATCH", f"/apps/{self.app}/config-vars", {FORK_MARKER: self.options.source})
        self.finish_step("mark")

    def addons(self, source_addons: list[AddOn]) -> None:
        existing = (
            [] if self.options.dry_run and self.journal.app_id is None else self.client.addons(self.app)
        )
        for addon in source_addons:
            if addon.app_name and addon.app_name != self.options.source:
                self.result.skipped.append(f"add-on {addon.name}: shared from {addon.app_name}, not copied")
                continue
            copied = next((c for c in self.journal.addons if c.source == addon.name), None)
            if copied is not None and copied.target and any(a.name == copied.target for a in existing):
                self.result.addons.append(copied)
                continue
            self.provision(addon, existing)
        self.finish_step("addons")

    def provision(self, addon: AddOn, existing: list[AddOn]) -> None:
        service = addon.service or ""
        taken = {c.target for c in self.journal.addons if c.target}
        spare = next((a for a in existing if a.service == service and a.name not in taken), None)
        plan = self.options.plan_for(addon)
        if spare is not None:  # made by an earlier run whose answer was lost: adopt it
            copy = AddOnCopy(source=addon.name, service=service, plan=plan, target=spare.name)
        else:
            self.journal.addons = [c for c in self.journal.addons if c.source != addon.name]
            self.journal.addons.append(AddOnCopy(source=addon.name, service=service, plan=plan))
            self.save()
            body: dict[str, Any] = {"plan": plan}
            attachment = _attachment_name(addon.config_vars)
            if attachment:  # the same config var as on the source (DATABASE_URL, not a colour)
                body["attachment"] = {"name": attachment}
            made = self.send("POST", f"/apps/{self.app}/addons", body)
            copy = AddOnCopy(
                source=addon.name, service=service, plan=plan, target=made["name"] if made else None
            )
        self.journal.addons = [c for c in self.journal.addons if c.source != addon.name] + [copy]
        self.result.addons.append(copy)
        self.save()

    def config(self, source_config: dict[str, str], source_addons: list[AddOn]) -> None:
        owned = {name for addon in source_addons for name in addon.config_vars}
        dropped = owned | set(self.options.exclude) | {FORK_MARKER}
        wanted = {k: v for k, v in source_config.items() if k not in dropped}
        wanted.update(self.options.overrides)
        if wanted:
            self.send("PATCH", f"/apps/{self.app}/config-vars", wanted, secret_values=True)
        self.result.skipped += [
            f"config var {n}: set by an add-on" for n in sorted(owned & set(source_config))
        ]
        self.result.skipped += [f"config var {n}: excluded" for n in sorted(set(self.options.exclude))]
        packs = buildpacks(self.client, self.options.source)
        if packs:
            updates = [{"buildpack": name} for name in packs]
            self.send("PUT", f"/apps/{self.app}/buildpack-installations", {"updates": updates})
        self.finish_step("config")

    def data(self, source_config: dict[str, str], source_addons: list[AddOn]) -> None:
        if not self.options.copy_data or self.journal.done("data"):
            return
        target_addons = {a.name: a for a in ([] if self.options.dry_run else self.client.addons(self.app))}
        target_config = {} if self.options.dry_run else config_vars(self.client, self.app)
        for addon in source_addons:
            copy = next((c for c in self.journal.addons if c.source == addon.name), None)
            if "postgres" not in (addon.service or "") or copy is None:
                continue
            line = f"copy data: {addon.name} -> {copy.target or '(new add-on)'} (pg_dump | psql)"
            self.result.calls.append(line)
            self.say(("would " if self.options.dry_run else "") + line)
            if self.options.dry_run:
                continue
            made = target_addons.get(copy.target or "")
            source_var = _url_var(addon.config_vars, source_config)
            target_var = _url_var(made.config_vars if made else (), target_config)
            if source_var is None or target_var is None:
                raise GuardError(
                    f"cannot copy the data of {addon.name}: no database URL config var on "
                    f"{'the source' if source_var is None else self.app}.",
                    field="copy_data",
                )
            copy_database(source_config[source_var], target_config[target_var])
        self.finish_step("data")

    def release(self, slug_id: str, version: int) -> None:
        current = None if self.journal.app_id is None else self.client.current_release(self.app)
        if current is not None and current.slug_id == slug_id:
            self.finish_step("release")
            return
        body = {"slug": slug_id, "description": f"Fork of {self.options.source} v{version}"}
        self.send("POST", f"/apps/{self.app}/releases", body)
        self.finish_step("release")

    def formation(self, source: Formation) -> None:
        updates = [{"type": p.type, "quantity": 0, "dyno_size": {"name": p.size}} for p in source]
        if updates:
            self.send("PATCH", f"/apps/{self.app}/formation", {"updates": updates})
        self.finish_step("formation")


def _attachment_name(config_vars: tuple[str, ...]) -> str | None:
    """`DATABASE` for an add-on that set `DATABASE_URL`: the attachment that sets the same var."""
    return next((n.removesuffix("_URL") for n in config_vars if n.endswith("_URL")), None)


def _url_var(names: tuple[str, ...] | list[str], config: Mapping[str, str]) -> str | None:
    """The add-on's database URL config var (DATABASE_URL, HEROKU_POSTGRESQL_…_URL)."""
    return next((n for n in names if n.endswith("_URL") and n in config), None)


def fork_app(
    client: HerokuClient, options: ForkOptions, *, store: ForkJournalStore, say: Say = lambda _t: None
) -> ForkResult:
    """Make (or finish making) the fork; see the module doc for the steps. Raises on any failure
    with the journal kept, so running it again continues."""
    if options.source == options.target:
        raise GuardError("the fork must be a new app: --to names the source itself", field="--to")
    source = client.app(options.source)
    release = client.current_release(options.source)
    if release is None or release.slug_id is None:
        raise GuardError(f"{options.source} has nothing deployed: there is no slug to fork.", field="--from")
    source_addons = client.addons(options.source)
    source_config = config_vars(client, options.source)
    formation = Formation.from_entries(client.formation(options.source))
    fork = _Fork(client, options, store, say)
    fork.create(source)
    fork.mark()
    fork.addons(source_addons)
    fork.config(source_config, source_addons)
    fork.data(source_config, source_addons)
    fork.release(release.slug_id, release.version)
    fork.formation(formation)
    fork.finish_step("done")
    return fork.result


def destroy_fork(
    client: HerokuClient,
    app: str,
    *,
    store: ForkJournalStore,
    dry_run: bool = False,
    say: Say = lambda _t: None,
) -> str:
    """Delete an app harness forked, and only such an app: it must carry the `HARNESS_FORK_OF`
    marker (naming another app). Returns the source it was forked from."""
    source = config_vars(client, app).get(FORK_MARKER)
    if not source or source == app:
        raise GuardError(
            f"{app} was not made by `harness fork` (it has no {FORK_MARKER} config var): harness only "
            "deletes apps it forked. Delete it yourself if you mean it (`heroku apps:destroy`).",
            field="--app",
        )
    line = f"DELETE /apps/{app}"
    say(("would send: " if dry_run else "") + line)
    if not dry_run:
        client.request("DELETE", f"/apps/{app}", idempotent=False, app=app)
        store.delete(app)
    return source
