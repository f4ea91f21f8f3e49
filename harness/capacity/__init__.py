"""Pure capacity logic: SLO verdicts (`slo.py`) and the breaking-point search (`search.py`).

No I/O, no clock, no Locust here: `load/` measures, this package decides.
"""

from harness.capacity.search import SearchParams, SearchResult, SearchStatus, breaking_point_search
from harness.capacity.slo import EndpointLimits, SloLimits, StepJudgement, judge

__all__ = [
    "EndpointLimits",
    "SearchParams",
    "SearchResult",
    "SearchStatus",
    "SloLimits",
    "StepJudgement",
    "breaking_point_search",
    "judge",
]
