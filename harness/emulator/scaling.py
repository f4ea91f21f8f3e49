"""Formation rules: quantities (absolute or `+N`/`-N`), sizes, per-type limits, batches all or nothing.

`FormationRules` is a mixin of `Platform` (`state.py`); `sync_formation` makes
the formation follow a released slug's process types.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from harness.emulator.api_error import ApiError, invalid, not_found
from harness.emulator.models import RELEASE_TYPE, App, Clock, Formation, FormationChange, Slug, new_id
from harness.emulator.sizes import DEFAULT_SIZE, find_dyno_size

__all__ = ["FormationRules", "parse_quantity", "sync_formation"]

QUANTITY_PATTERN = re.compile(r"^\s*([=+-]?)\s*(\d+)\s*$")


def parse_quantity(raw: object, current: int) -> int:
    """Absolute quantity from an int, or a string `N`, `=N`, `+N`, `-N` (the CLI's forms)."""
    if isinstance(raw, bool):
        raise invalid('Quantity must be an integer or a string such as "2", "+1" or "-1".')
    if isinstance(raw, int):
        quantity = raw
    elif isinstance(raw, str) and (match := QUANTITY_PATTERN.match(raw)):
        sign, digits = match.groups()
        quantity = {"+": current + int(digits), "-": current - int(digits)}.get(sign, int(digits))
    else:
        raise invalid(f'Invalid quantity {raw!r}: use an integer or a string such as "2", "+1" or "-1".')
    if quantity < 0:
        raise invalid(f"Quantity must be zero or more (asked for {quantity}).")
    return quantity


def sync_formation(app: App, slug: Slug, now: datetime) -> None:
    """Formation follows the slug's process types: new types at 0 (web at 1 on first deploy)."""
    first_deploy = not app.formation
    for ptype, command in slug.process_types.items():
        if ptype == RELEASE_TYPE:  # the release phase's command runs per release, never as a dyno
            continue
        existing = app.formation.get(ptype)
        if existing is not None:
            existing.command = command
            continue
        quantity = 1 if first_deploy and ptype == "web" else 0
        app.formation[ptype] = Formation(
            id=new_id(),
            type=ptype,
            quantity=quantity,
            size=DEFAULT_SIZE,
            command=command,
            created_at=now,
            updated_at=now,
        )
    for ptype in [t for t in app.formation if t not in slug.process_types or t == RELEASE_TYPE]:
        del app.formation[ptype]


class FormationRules:
    """Finding and updating an app's formation (mixed into `Platform`)."""

    clock: Clock

    def find_formation(self, app: App, identity: str) -> Formation:
        """A formation by id or process type; 404 otherwise."""
        for formation in app.formation.values():
            if identity in (formation.id, formation.type):
                return formation
        raise not_found("formation")

    def update_formation(self, app: App, updates: Sequence[Mapping[str, Any]]) -> list[FormationChange]:
        """Validate every update first, then apply them all (a batch is all or nothing)."""
        if app.current_release is None or app.current_release.slug_id is None:
            raise invalid("App must be deployed before dynos can be scaled.")
        planned = [self._plan_update(app, update) for update in updates]
        now = self.clock()
        changes = []
        for formation, quantity, size in planned:
            change = FormationChange(
                formation=formation,
                quantity_changed=quantity != formation.quantity,
                size_changed=size != formation.size,
            )
            formation.quantity, formation.size = quantity, size
            if change.quantity_changed or change.size_changed:
                formation.updated_at = now
            changes.append(change)
        return changes

    def _plan_update(self, app: App, update: Mapping[str, Any]) -> tuple[Formation, int, str]:
        ptype = update.get("type")
        if not isinstance(ptype, str) or not ptype:
            raise invalid('Each formation update needs a process type ("type").')
        formation = self._formation_for_update(app, ptype)
        size = self._size_for_update(update, formation.size)
        quantity = formation.quantity
        if update.get("quantity") is not None:
            quantity = parse_quantity(update["quantity"], formation.quantity)
        size_info = find_dyno_size(size)
        if size_info.private_space_only:
            raise invalid(f"{size_info.name} dynos can only run in Private or Shield Spaces.")
        if quantity > size_info.max_per_type:
            raise invalid(
                f"Cannot update to more than {size_info.max_per_type} {size_info.name} size dynos "
                "per process type."
            )
        return formation, quantity, size_info.name

    def _formation_for_update(self, app: App, identity: str) -> Formation:
        try:
            return self.find_formation(app, identity)
        except ApiError:
            raise invalid(f"Couldn't find that process type ({identity}) in the app's Procfile.") from None

    @staticmethod
    def _size_for_update(update: Mapping[str, Any], current: str) -> str:
        dyno_size = update.get("dyno_size")
        if isinstance(dyno_size, Mapping):
            ident = dyno_size.get("name") or dyno_size.get("id")
            if not isinstance(ident, str):
                raise invalid('dyno_size needs a "name" or an "id".')
            return find_dyno_size(ident).name
        if dyno_size is not None:
            raise invalid('dyno_size must be an object with a "name" or an "id".')
        size = update.get("size")
        if size is None:
            return current
        if not isinstance(size, str):
            raise invalid('size must be a string such as "Standard-2X".')
        return find_dyno_size(size).name
