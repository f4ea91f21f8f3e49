"""Provisioning and deprovisioning add-ons on a running app (mixed into the `Controller`).

Provisioning starts the service first (`addons.AddonServices`), then records
the add-on and sets its config vars in one release ("Attach DATABASE
(@ref:postgresql-…)"), which restarts every dyno on it as Heroku does.
Deprovisioning removes the vars in a release ("Detach …"), then stops the
service, so the add-on's data is gone with it. A failure after the service
started undoes it: no service outlives its add-on.
"""

from __future__ import annotations

from typing import Any, Protocol

from harness.emulator.addons import AddonServices, attachment_names, find_plan
from harness.emulator.addons_services import AddonServiceError
from harness.emulator.api_error import ApiError
from harness.emulator.models import AddOn, AddOnPlan, App, Release, new_id
from harness.emulator.state import Platform

__all__ = ["AddonControl"]


class _ControlPlane(Protocol):
    platform: Platform
    services: AddonServices

    def log_api(self, app: App, message: str) -> None: ...

    async def update_config(
        self, app: App, changes: dict[str, Any], description: str | None = None
    ) -> Release | None: ...


class AddonControl:
    """`provision_addon` / `deprovision_addon` / `deprovision_all` of the `Controller`."""

    async def provision_addon(
        self: _ControlPlane,
        app: App,
        plan_identity: str,
        *,
        attachment: str | None = None,
        release: bool = True,
    ) -> AddOn:
        """`POST /apps/{app}/addons {plan, attachment: {name}}`: a real service, then a release.

        Without `release` (an app being created from app.json) the vars are set for its first release.
        """
        plan = find_plan(plan_identity)
        names = attachment_names(plan.service, app.config, attachment)
        addon_id = new_id()
        try:
            url, message = await self.services.provision(addon_id, plan)
        except AddonServiceError as exc:
            raise ApiError(422, "invalid_params", str(exc)) from None
        try:
            config = {f"{name}_URL": url for name in names}
            addon = self.platform.add_addon(
                app,
                AddOnPlan(service=plan.service, plan=plan.plan, price_cents=plan.price_cents, config=config),
                addon_id=addon_id,
                attachments=names,
                provision_message=message,
                apply_config=not release,
            )
            if release:
                await self.update_config(app, dict(config), f"Attach {names[0]} (@ref:{addon.name})")
        except BaseException:
            await self.services.deprovision(addon_id)
            self.platform.remove_addon(app, addon_id)
            raise
        self.log_api(
            app, f"Attach {', '.join(names)} (@ref:{addon.name}) by user {self.platform.account.email}"
        )
        return addon

    async def deprovision_addon(self: _ControlPlane, app: App, addon: AddOn) -> AddOn:
        """`DELETE /apps/{app}/addons/{id}`: its config vars leave in a release, then its service stops."""
        self.platform.remove_addon(app, addon.id)
        removed = {name: None for name in addon.config_vars if name in app.config}
        first = addon.attachments[0] if addon.attachments else addon.name
        if removed:
            await self.update_config(app, dict(removed), f"Detach {first} (@ref:{addon.name})")
        await self.services.deprovision(addon.id)
        self.log_api(app, f"Destroy {addon.name} by user {self.platform.account.email}")
        return addon

    async def deprovision_all(self: _ControlPlane, app: App) -> None:
        """Stop the services of every add-on of an app that is going away (no releases: it is deleted)."""
        for addon in list(app.addons):
            self.platform.remove_addon(app, addon.id)
            await self.services.deprovision(addon.id)
