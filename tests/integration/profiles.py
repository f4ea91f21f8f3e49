"""Short scenarios.yaml texts shared by integration tests (one place for the demo shop's quick load)."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def short_shop_load(*, app: str = "harness-demo", slo: str) -> str:
    """A 30 req/s load of the demo shop: 0.5 s ramp, 1.5 s warm-up, 4 s hold in 2 s windows; `slo` is YAML."""
    return f"""\
version: 1
target:
  app: {app}
  formations: [{{quantity: 1}}]
locustfiles:
  shop: {{path: {REPO / "locustfiles" / "demo_shop.py"}}}
expected_peak: {{rps: 30}}
scenarios:
  - name: shop-load
    kind: load
    level: {{rps: 30}}
    ramp_s: 0.5
    warmup_s: 1.5
    hold_s: 4
    window_s: 2
    slo: {slo}
"""
