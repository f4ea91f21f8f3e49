"""Heroku's published Platform API hyper-schema (the copy in `schema/`, see `schema/SOURCE.md`).

Tests use it to prove that the emulator answers, and the platform client asks,
in exactly api.heroku.com's shapes: `find_link(method, path)` picks the link
whose `href` template matches a concrete path, `response_errors` /
`request_errors` validate a body against that link's `targetSchema` /
`schema` (draft 4, `$ref`s resolved inside the file).

Two deliberate additions to plain validation:

- `strict=True` (the default for responses) also requires that a resource
  object carries *exactly* the properties its definition lists: the schema
  itself marks nothing required, so without this an empty `{}` would pass.
- the emulator's `web_url` is its loopback router URL, which the published
  pattern (`^https?://…\\.herokuapp\\.com/$`) cannot match; `loopback_web_url`
  replaces exactly that one pattern with a loopback one. Nothing else is relaxed.

`jsonschema` is a dev dependency, imported only when validating.
"""

from __future__ import annotations

import copy
import functools
import json
import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

if TYPE_CHECKING:
    import jsonschema

__all__ = [
    "LOOPBACK_WEB_URL_PATTERN",
    "Link",
    "SchemaMismatch",
    "assert_request",
    "assert_response",
    "find_link",
    "load_schema",
    "request_errors",
    "response_errors",
]

LOOPBACK_WEB_URL_PATTERN = r"^https?://(127\.0\.0\.1|localhost|\[::1\]):\d+/$"
_PARAM = re.compile(r"\{\([^)]*\)\}")


class SchemaMismatch(AssertionError):
    """A body does not match the schema; the message lists every violation."""


@dataclass(frozen=True, kw_only=True)
class Link:
    """One link of a resource: its method, href template and (request, response) schemas."""

    resource: str
    title: str
    method: str
    href: str
    request_schema: dict[str, Any] | None
    target_schema: dict[str, Any] | None

    @property
    def pattern(self) -> re.Pattern[str]:
        """The href as a regex over concrete paths (one path segment per `{…}` parameter)."""
        parts = _PARAM.split(self.href)
        return re.compile("^" + "[^/]+".join(re.escape(p) for p in parts) + "$")


@functools.cache
def load_schema() -> dict[str, Any]:
    """The whole hyper-schema as parsed JSON (cached; treat as read-only)."""
    text = resources.files("harness.emulator").joinpath("schema/platform-api-schema.json").read_text("utf-8")
    return dict(json.loads(text))


@functools.cache
def _links() -> tuple[Link, ...]:
    found = []
    for resource, definition in load_schema()["definitions"].items():
        for link in definition.get("links", []):
            found.append(
                Link(
                    resource=resource,
                    title=link.get("title", ""),
                    method=link["method"].upper(),
                    href=link["href"],
                    request_schema=link.get("schema"),
                    target_schema=link.get("targetSchema"),
                )
            )
    return tuple(found)


def find_link(method: str, path: str, *, title: str | None = None) -> Link:
    """The link for a concrete request, e.g. `find_link("GET", "/apps/demo/formation")`.

    Literal hrefs beat templated ones (`/account/rate-limits` is not `/users/{id}`);
    `title` picks among links sharing a method and href (release Create vs Rollback).
    """
    return _candidates(method, path, title)[0]


def _candidates(method: str, path: str, title: str | None) -> list[Link]:
    """Matching links, most specific href first."""
    bare = unquote(urlsplit(path).path).rstrip("/") or "/"
    method = method.upper()
    matches = [ln for ln in _links() if ln.method == method and ln.pattern.match(bare)]
    if title is not None:
        matches = [ln for ln in matches if ln.title == title]
    if not matches:
        raise LookupError(f"no schema link for {method} {bare}")
    fewest = min(ln.href.count("{") for ln in matches)
    return [ln for ln in matches if ln.href.count("{") == fewest]


def response_errors(
    method: str, path: str, body: Any, *, strict: bool = True, loopback_web_url: bool = True
) -> list[str]:
    """Every way `body` differs from the link's targetSchema (empty when it matches)."""
    link = find_link(method, path)
    if link.target_schema is None:
        return []
    errors = _validate(link.target_schema, body, loopback_web_url=loopback_web_url)
    if strict:
        errors += _property_set_errors(link.target_schema, body)
    return errors


def request_errors(method: str, path: str, body: Any, *, title: str | None = None) -> list[str]:
    """Every way a request body differs from the link's request schema.

    Without `title`, a body that fits any link sharing the method and href passes
    (`POST /apps/{app}/releases` is both Create `{slug}` and Rollback `{release}`).
    """
    found: list[list[str]] = []
    for link in _candidates(method, path, title):
        if link.request_schema is None:
            errors = [] if body in (None, {}) else [f"{method} {path} takes no body"]
        else:
            errors = _validate(link.request_schema, body, loopback_web_url=False)
        if not errors:
            return []
        found.append([f"{link.title}: {e}" for e in errors])
    return [e for errors in found for e in errors]


def assert_response(method: str, path: str, body: Any, **kwargs: bool) -> None:
    """Raise `SchemaMismatch` listing every violation of `response_errors`."""
    errors = response_errors(method, path, body, **kwargs)
    if errors:
        raise SchemaMismatch(f"{method} {path}: " + "; ".join(errors))


def assert_request(method: str, path: str, body: Any, *, title: str | None = None) -> None:
    """Raise `SchemaMismatch` listing every violation of `request_errors`."""
    errors = request_errors(method, path, body, title=title)
    if errors:
        raise SchemaMismatch(f"{method} {path}: " + "; ".join(errors))


def _validate(subschema: dict[str, Any], body: Any, *, loopback_web_url: bool) -> list[str]:
    validator = _validator(json.dumps(subschema, sort_keys=True), loopback_web_url)
    return [
        f"{'/'.join(str(p) for p in error.absolute_path) or '<root>'}: {error.message}"
        for error in sorted(validator.iter_errors(body), key=lambda e: list(map(str, e.absolute_path)))
    ]


@functools.cache
def _validator(subschema_json: str, loopback_web_url: bool) -> jsonschema.protocols.Validator:
    import jsonschema

    definitions = load_schema()["definitions"]
    if loopback_web_url:
        definitions = copy.deepcopy(definitions)
        definitions["app"]["definitions"]["web_url"]["pattern"] = LOOPBACK_WEB_URL_PATTERN
    wrapper = {"definitions": definitions, "allOf": [json.loads(subschema_json)]}
    return jsonschema.Draft4Validator(wrapper, format_checker=_format_checker())


@functools.cache
def _format_checker() -> jsonschema.FormatChecker:
    """uuid, date-time, email and uri checked without optional jsonschema extras."""
    import jsonschema

    checker = jsonschema.FormatChecker(formats=())
    checker.checks("uuid", raises=ValueError)(lambda v: not isinstance(v, str) or bool(uuid.UUID(v)))
    checker.checks("date-time", raises=ValueError)(_is_date_time)
    checker.checks("email")(lambda v: not isinstance(v, str) or re.match(r"^[^@\s]+@[^@\s]+$", v) is not None)
    checker.checks("uri")(lambda v: not isinstance(v, str) or bool(urlsplit(v).scheme and urlsplit(v).netloc))
    return checker


def _is_date_time(value: object) -> bool:
    """RFC 3339: a date, `T`, a time and an explicit offset (`Z` or ±hh:mm)."""
    if not isinstance(value, str):
        return True
    if "T" not in value or not re.search(r"(Z|[+-]\d\d:\d\d)$", value):
        return False
    return datetime.fromisoformat(value.replace("Z", "+00:00")).tzinfo is not None


def _resource_of(target: dict[str, Any]) -> tuple[str | None, bool]:
    """(resource name, is_array) when the target schema is a resource or a list of one."""
    is_array = "items" in target
    ref = (target.get("items") if is_array else target) or {}
    match = re.fullmatch(r"#/definitions/([^/]+)", str(ref.get("$ref", "")))
    return (match.group(1) if match else None), is_array


def _property_set_errors(target: dict[str, Any], body: Any) -> list[str]:
    resource, is_array = _resource_of(target)
    if resource is None:
        return []
    expected = set(load_schema()["definitions"][resource].get("properties", {}))
    objects = body if is_array and isinstance(body, list) else [body]
    errors = []
    for index, obj in enumerate(objects):
        if not isinstance(obj, dict):
            continue
        where = f"[{index}] " if is_array else ""
        if missing := sorted(expected - set(obj)):
            errors.append(f"{where}missing {resource} properties: {', '.join(missing)}")
        if extra := sorted(set(obj) - expected):
            errors.append(f"{where}properties not in the {resource} schema: {', '.join(extra)}")
    return errors
