"""Cheaper repeats of a stress search: re-measure only the bracket around what the first repeat found.

A comparison needs several independent repeats of the breaking point, and a
full search each time spends most of its load climbing from the start level
and measuring the recovery. Once repeat 1 has found level X, later repeats
(`repeat_search: bracket`, the default) start at 85 % of X, grow by three
tolerances per probe, and skip the recovery measurement (cool-downs after a
break still happen, at the full search's recovery level). Against simulated
apps (tests/unit/test_repeat_search.py) that is about 0.8 of a full search's
load time, with answers as close to the truth as a full search's. Each repeat
is still a complete, independent search of its own — it only starts where the
answer is likely to be — so a release that is slower than the hint still
breaks inside the bracket search; if it breaks already at its start, the
engine falls back to the full search. `bench/bracket_repeats.py` measures that
the two agree.
"""

from __future__ import annotations

from harness.capacity.search_params import SearchParams

__all__ = ["BRACKET_START", "bracket_params"]

BRACKET_START = 0.85  # of the level the first repeat found
GROWTH_IN_TOLERANCES = 3.0


def bracket_params(params: SearchParams, near: float) -> SearchParams | None:
    """The search of a later repeat around `near` (the level repeat 1 found); None: no cheaper search."""
    start = min(max(params.start_level, near * BRACKET_START), params.max_level)
    growth = min(params.growth, 1.0 + GROWTH_IN_TOLERANCES * params.tolerance)
    if start <= params.start_level and growth >= params.growth:
        return None
    # Cool-downs after a break go back to the full search's level (default: its start), not to the
    # bracket's start just under capacity, where a backlog would take much longer to drain.
    recovery = params.recovery_level or params.start_level
    update = {"start_level": start, "growth": growth, "measure_recovery": False, "recovery_level": recovery}
    return params.model_copy(update=update)
