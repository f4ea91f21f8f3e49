"""Comparing releases: which runs make each side, their repeat-level metrics, comparability, the verdict.

    base = resolve_side("v51", store, app="shop-staging")   # run dirs, run ids, series ids or releases
    result = compare_sides(base, new, margin=0.05, gates=("breaking_point", "p95"))

Above `results/` (it reads run directories) and `capacity/` (whose `compare`
module holds the statistics); rendered by `report/compare_html.py` and
`cli/compare.py`.
"""

from harness.comparison.model import Comparison, GateOutcome, Side, SideSummary
from harness.comparison.run import compare_sides, resolve_side

__all__ = ["Comparison", "GateOutcome", "Side", "SideSummary", "compare_sides", "resolve_side"]
