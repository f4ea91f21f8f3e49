"""Config vars and add-ons that make a load test act in the real world: mail, SMS, payments, webhooks.

A capacity test must not e-mail or bill anyone. A staging app that still holds
a mail provider's key, an SMS account or a live payment key will, under load,
do it thousands of times. `scan` finds them by config var *name* patterns and
add-on service names; a value is only ever tested for a live-key prefix
(`LIVE_VALUE_PREFIXES`, in `profile._config_facts`) and never shown. Every
finding says what the test would do and what to change. Names the user has
neutralised (a sandbox key, a mail catcher) are acknowledged with
`target.side_effects_ok`.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict

__all__ = ["LIVE_VALUE_PREFIXES", "SAFE_ADDON_SERVICES", "Severity", "SideEffect", "scan"]


class Severity(enum.StrEnum):
    """How much a finding matters to a capacity test, most first."""

    HIGH = "high"  # results will not transfer, or the test acts in the real world
    MEDIUM = "medium"  # results may not transfer for part of the app
    LOW = "low"  # unlikely to change the measurement
    INFO = "info"  # worth knowing; no effect on the measurement

    @property
    def rank(self) -> int:
        """0 for HIGH … 3 for INFO (sort key)."""
        return list(Severity).index(self)


# Stripe secret and restricted live keys (`sk_live_…`, `rk_live_…`): a prefix test, nothing more.
LIVE_VALUE_PREFIXES: tuple[str, ...] = ("sk_live_", "rk_live_")


@dataclass(frozen=True)
class _Rule:
    pattern: re.Pattern[str]
    category: str  # mail, sms, payments, push, webhooks
    provider: str


def _rule(pattern: str, category: str, provider: str) -> _Rule:
    return _Rule(re.compile(pattern), category, provider)


_NAME_RULES: tuple[_Rule, ...] = (
    _rule(r"^SENDGRID_", "mail", "SendGrid"),
    _rule(r"^MAILGUN_", "mail", "Mailgun"),
    _rule(r"^POSTMARK_", "mail", "Postmark"),
    _rule(r"^MAILJET_", "mail", "Mailjet"),
    _rule(r"^SPARKPOST_", "mail", "SparkPost"),
    _rule(r"^MANDRILL_", "mail", "Mandrill"),
    _rule(r"^(BREVO|SENDINBLUE)_", "mail", "Brevo"),
    _rule(r"^(AWS_)?SES_", "mail", "Amazon SES"),
    _rule(r"^(SMTP|EMAIL|MAIL)_(HOST|SERVER|ADDRESS|PASSWORD|USER|USERNAME|URL)$", "mail", "SMTP"),
    _rule(r"^TWILIO_", "sms", "Twilio"),
    _rule(r"^(NEXMO|VONAGE)_", "sms", "Vonage"),
    _rule(r"^PLIVO_", "sms", "Plivo"),
    _rule(r"^MESSAGEBIRD_", "sms", "MessageBird"),
    _rule(r"^BLOWERIO_", "sms", "Blower.io"),
    _rule(r"^STRIPE_", "payments", "Stripe"),
    _rule(r"^BRAINTREE_", "payments", "Braintree"),
    _rule(r"^PAYPAL_", "payments", "PayPal"),
    _rule(r"^ADYEN_", "payments", "Adyen"),
    _rule(r"^SQUARE_(ACCESS_TOKEN|APPLICATION_ID|LOCATION_ID)$", "payments", "Square"),
    _rule(r"^ONESIGNAL_", "push", "OneSignal"),
    _rule(r"^(FCM|APNS)_", "push", "mobile push"),
    _rule(r"WEBHOOK", "webhooks", "a third-party webhook"),
    _rule(r"^SLACK_(BOT_)?TOKEN$", "webhooks", "Slack"),
)

# Heroku add-on services that deliver mail or SMS to real people.
_ADDON_RULES: dict[str, tuple[str, str]] = {
    "sendgrid": ("mail", "SendGrid"),
    "mailgun": ("mail", "Mailgun"),
    "postmark": ("mail", "Postmark"),
    "mailjet": ("mail", "Mailjet"),
    "sparkpost": ("mail", "SparkPost"),
    "socketlabs": ("mail", "SocketLabs"),
    "mailersend": ("mail", "MailerSend"),
    "twilio": ("sms", "Twilio"),
    "blowerio": ("sms", "Blower.io"),
    "nexmo": ("sms", "Vonage"),
    "plivo": ("sms", "Plivo"),
}
# Services that catch what would have been sent: the safe replacements to suggest.
SAFE_ADDON_SERVICES: frozenset[str] = frozenset({"mailtrap"})

_WHAT = {
    "mail": "e-mail real people",
    "sms": "send text messages to real phones (and pay for each)",
    "payments": "call the payment provider",
    "push": "push notifications to real devices",
    "webhooks": "call a third party's webhook",
}


class SideEffect(BaseModel):
    """One config var or add-on through which load would act in the real world."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: str  # "config var" or "add-on"
    name: str
    category: str
    provider: str
    severity: Severity
    live: bool = False  # a live payment key (by its name or its value's prefix)
    effect: str

    def describe(self) -> str:
        """`config var STRIPE_SECRET_KEY (Stripe, live key): ...`."""
        live = ", live key" if self.live else ""
        return f"{self.kind} {self.name} ({self.provider}{live}): {self.effect}"


def _config_finding(name: str, rule: _Rule, live: bool) -> SideEffect:
    if rule.category == "payments":
        live = live or "LIVE" in name
        severity = Severity.HIGH if live else Severity.MEDIUM
        what = "charge real cards" if live else "call the payment provider (test mode unless this is live)"
    else:
        severity, what = (
            (Severity.MEDIUM if rule.category == "webhooks" else Severity.HIGH),
            _WHAT[rule.category],
        )
    effect = (
        f"under load the app may {what} through {rule.provider}. Unset {name} on the staging app or point "
        "it at a sandbox (then list it in target.side_effects_ok)."
    )
    return SideEffect(
        kind="config var",
        name=name,
        category=rule.category,
        provider=rule.provider,
        severity=severity,
        live=live,
        effect=effect,
    )


def scan(
    config_var_names: Iterable[str],
    addon_services: Iterable[tuple[str, str]],
    *,
    live_key_names: Collection[str] = (),
    acknowledged: Collection[str] = (),
) -> list[SideEffect]:
    """Every side effect of an app: config var names by pattern, add-ons (`(name, service)`) by
    service; `acknowledged` names (config vars or add-on names/services) are left out."""
    found: list[SideEffect] = []
    for name in sorted(set(config_var_names) - set(acknowledged)):
        rule = next((r for r in _NAME_RULES if r.pattern.search(name)), None)
        if rule is not None:
            found.append(_config_finding(name, rule, name in live_key_names))
    for addon_name, service in sorted(addon_services):
        if addon_name in acknowledged or service in acknowledged or service not in _ADDON_RULES:
            continue
        category, provider = _ADDON_RULES[service]
        found.append(
            SideEffect(
                kind="add-on",
                name=addon_name,
                category=category,
                provider=provider,
                severity=Severity.HIGH,
                effect=(
                    f"the {service} add-on delivers for real: under load the app may {_WHAT[category]}. "
                    f"Remove it from the staging app or use a catcher (e.g. mailtrap)."
                ),
            )
        )
    return sorted(found, key=lambda s: (s.severity.rank, s.kind, s.name))
