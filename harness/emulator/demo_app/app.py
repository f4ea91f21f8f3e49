"""The demo app's WSGI application and its capacity model (see the package docstring)."""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from harness.emulator.demo_app.shared import SharedBottleneck

__all__ = ["DEFAULT_SERVICE_MS", "DemoApp", "ServiceModel", "make_app"]

# Endpoint name -> service time in ms at DEMO_SLOWDOWN=1.
DEFAULT_SERVICE_MS: dict[str, float] = {"home": 10.0, "product": 20.0, "search": 40.0, "checkout": 80.0}
# Share of /checkout's service time that is real CPU work (hashing), the rest a simulated DB wait.
CHECKOUT_CPU_SHARE = 0.1
# A leaking demo app stops growing here (past R15's 2 x 512 MB), so it never takes the machine down.
LEAK_MAX_MB = 1200

StartResponse = Callable[[str, list[tuple[str, str]]], Any]

_PRODUCTS: list[dict[str, Any]] = [
    {"id": i, "name": f"Product {i}", "price_cents": 500 + (i * 137) % 9500, "stock": (i * 7) % 40}
    for i in range(1, 201)
]


@dataclass(frozen=True, kw_only=True)
class ServiceModel:
    """Slots per dyno and service time per endpoint, read once from the environment."""

    slots: int
    service_ms: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_SERVICE_MS))
    leak_kb: int = 0  # memory kept for good by every served request (a leaking release)
    leak_max_mb: int = LEAK_MAX_MB
    shared_cap_rps: float | None = None  # DEMO_SHARED_CAP_RPS: all dynos together serve at most this

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ServiceModel:
        """Build the model from config vars (see the package docstring for the names)."""
        concurrency = int(env.get("WEB_CONCURRENCY", "2") or 2)
        slots = int(env.get("DEMO_SLOTS", "") or 2 * concurrency)
        slowdown = float(env.get("DEMO_SLOWDOWN", "") or 1.0)
        service = {}
        for name, default in DEFAULT_SERVICE_MS.items():
            raw = env.get(f"DEMO_SERVICE_MS_{name.upper()}", "")
            service[name] = (float(raw) if raw else default) * slowdown
        leak_kb = int(env.get("DEMO_LEAK_KB", "") or 0)
        leak_max_mb = int(env.get("DEMO_LEAK_MAX_MB", "") or LEAK_MAX_MB)
        cap = float(env.get("DEMO_SHARED_CAP_RPS", "") or 0) or None
        return cls(
            slots=max(1, slots),
            service_ms=service,
            leak_kb=max(0, leak_kb),
            leak_max_mb=leak_max_mb,
            shared_cap_rps=cap,
        )

    def capacity_rps(self, endpoint: str) -> float:
        """One dyno's true capacity (req/s) when all traffic goes to `endpoint`."""
        return self.slots / (self.service_ms[endpoint] / 1000.0)

    def mix_capacity_rps(self, weights: Mapping[str, float]) -> float:
        """One dyno's true capacity (req/s) for a traffic mix; weights need not sum to 1."""
        total = sum(weights.values())
        mean_s = sum(w * self.service_ms[e] for e, w in weights.items()) / total / 1000.0
        return self.slots / mean_s

    def as_json(self) -> dict[str, Any]:
        """The model and the per-endpoint capacities, for `/api/capacity`."""
        return {
            "slots": self.slots,
            "service_ms": self.service_ms,
            "capacity_rps": {e: round(self.capacity_rps(e), 3) for e in self.service_ms},
            "formula": "capacity_rps = slots / mean_service_s (per dyno)",
            "shared_cap_rps": self.shared_cap_rps,  # None, or the whole app's ceiling over all dynos
        }


class DemoApp:
    """A WSGI shop whose endpoints hold one of `slots` for their service time."""

    def __init__(
        self,
        model: ServiceModel,
        *,
        dyno: str = "web.1",
        release: str = "",
        shared: SharedBottleneck | None = None,
    ) -> None:
        self.model = model
        self.shared = shared
        self.dyno = dyno
        self.release = release
        self._slots = threading.BoundedSemaphore(model.slots)
        self._in_flight = 0
        self._lock = threading.Lock()
        self._leaked: list[bytes] = []

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "/") or "/"
        method = environ.get("REQUEST_METHOD", "GET")
        if path == "/health":
            return self._json(start_response, {"status": "ok", "dyno": self.dyno})
        if path == "/api/capacity":
            return self._json(start_response, self.model.as_json())
        route = self._route(method, path)
        if route is None:
            return self._json(start_response, {"error": "not found", "path": path}, status="404 Not Found")
        endpoint, handler = route
        if self.shared is not None:
            self.shared.pass_through()
        self._serve_slot(endpoint)
        self._leak()
        return handler(environ, start_response, path)

    def _leak(self) -> None:
        """Keep `leak_kb` of touched memory for good (resident, so RSS grows), up to `leak_max_mb`."""
        size = self.model.leak_kb * 1024
        if size and len(self._leaked) * size < self.model.leak_max_mb * 1024 * 1024:
            with self._lock:
                self._leaked.append(b"\x01" * size)

    def _route(self, method: str, path: str) -> tuple[str, Callable[..., Iterable[bytes]]] | None:
        if method == "GET" and path == "/":
            return "home", self._home
        if method == "GET" and path.startswith("/products/"):
            return "product", self._product
        if method == "GET" and path == "/search":
            return "search", self._search
        if method == "POST" and path == "/checkout":
            return "checkout", self._checkout
        return None

    def _serve_slot(self, endpoint: str) -> None:
        """Wait for a free slot, then hold it for exactly the endpoint's service time."""
        service_s = self.model.service_ms[endpoint] / 1000.0
        with self._slots:
            started = time.perf_counter()
            if endpoint == "checkout":
                _burn_cpu(service_s * CHECKOUT_CPU_SHARE)
            remaining = service_s - (time.perf_counter() - started)
            if remaining > 0:
                time.sleep(remaining)

    def _home(self, environ: dict[str, Any], start_response: StartResponse, path: str) -> Iterable[bytes]:
        items = "".join(f"<li><a href='/products/{p['id']}'>{p['name']}</a></li>" for p in _PRODUCTS[:24])
        body = f"<!doctype html><title>Demo shop</title><h1>Demo shop</h1><ul>{items}</ul>"
        return self._respond(start_response, body.encode(), "text/html; charset=utf-8")

    def _product(self, environ: dict[str, Any], start_response: StartResponse, path: str) -> Iterable[bytes]:
        raw = path.rsplit("/", 1)[-1]
        if not raw.isdigit() or not 1 <= int(raw) <= len(_PRODUCTS):
            return self._json(start_response, {"error": "no such product"}, status="404 Not Found")
        return self._json(start_response, _PRODUCTS[int(raw) - 1])

    def _search(self, environ: dict[str, Any], start_response: StartResponse, path: str) -> Iterable[bytes]:
        query = parse_qs(environ.get("QUERY_STRING", "")).get("q", [""])[0].lower()
        hits = [p for p in _PRODUCTS if query in str(p["name"]).lower()][:20]
        return self._json(start_response, {"q": query, "count": len(hits), "results": hits})

    def _checkout(self, environ: dict[str, Any], start_response: StartResponse, path: str) -> Iterable[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        payload = environ["wsgi.input"].read(length) if length else b""
        order = hashlib.sha1(payload + self.dyno.encode()).hexdigest()[:12]
        return self._json(start_response, {"order": order, "status": "confirmed"}, status="201 Created")

    def _json(self, start_response: StartResponse, data: Any, *, status: str = "200 OK") -> Iterable[bytes]:
        return self._respond(start_response, json.dumps(data).encode(), "application/json", status=status)

    def _respond(
        self, start_response: StartResponse, body: bytes, content_type: str, *, status: str = "200 OK"
    ) -> Iterable[bytes]:
        headers = [
            ("Content-Type", content_type),
            ("Content-Length", str(len(body))),
            ("X-Dyno", self.dyno),
            ("X-Release", self.release),
        ]
        start_response(status, headers)
        return [body]


def _burn_cpu(seconds: float) -> None:
    """Real CPU work for about `seconds` (checkout's share of its service time)."""
    deadline = time.perf_counter() + seconds
    digest = b"checkout"
    while time.perf_counter() < deadline:
        for _ in range(50):
            digest = hashlib.sha256(digest).digest()


def make_app(env: Mapping[str, str] | None = None) -> DemoApp:
    """The WSGI app configured from `env` (default: the process environment)."""
    env = os.environ if env is None else env
    return DemoApp(
        ServiceModel.from_env(env),
        dyno=env.get("DYNO", "web.1"),
        release=env.get("HEROKU_RELEASE_VERSION", ""),
        shared=SharedBottleneck.from_env(env),
    )
