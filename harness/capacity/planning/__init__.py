"""Capacity planning: one scaling curve across formations, how many dynos the peak needs, what it costs.

`points` turns breaking points into capacity per formation, efficiency and
where scaling stops; `usl` fits the Universal Scalability Law per dyno size;
`recommend` picks the cheapest formation that holds the peak with headroom;
`costs` prices formations, requests and the test itself; `plan` puts them
together, and `runs` plans a recorded multi-formation run. Pure logic: no I/O, no clock.
"""

from harness.capacity.planning.costs import (
    AUTOSCALING_NOTE,
    HOURS_PER_MONTH,
    FormationCost,
    Prices,
    PriceSource,
    RunCost,
    cost_per_million_requests,
    formation_cost,
    run_cost,
)
from harness.capacity.planning.plan import CapacityPlan, FormationFigures, SizePlan, plan_capacity
from harness.capacity.planning.points import (
    CapacityPoint,
    Efficiency,
    ScalingStep,
    ScalingStop,
    Uncertainty,
    efficiencies,
    point_from_bracket,
    point_from_repeats,
    scaling_steps,
    scaling_stop,
)
from harness.capacity.planning.recommend import Candidate, Recommendation, recommend
from harness.capacity.planning.runs import plan_for_run, point_from_breaking_point
from harness.capacity.planning.usl import FitQuality, NotEnoughPoints, UslFit, fit_quality, fit_usl, usl

__all__ = [
    "AUTOSCALING_NOTE",
    "HOURS_PER_MONTH",
    "Candidate",
    "CapacityPlan",
    "CapacityPoint",
    "Efficiency",
    "FitQuality",
    "FormationCost",
    "FormationFigures",
    "NotEnoughPoints",
    "PriceSource",
    "Prices",
    "Recommendation",
    "RunCost",
    "ScalingStep",
    "ScalingStop",
    "SizePlan",
    "Uncertainty",
    "UslFit",
    "cost_per_million_requests",
    "efficiencies",
    "fit_quality",
    "fit_usl",
    "formation_cost",
    "plan_capacity",
    "plan_for_run",
    "point_from_bracket",
    "point_from_breaking_point",
    "point_from_repeats",
    "recommend",
    "run_cost",
    "scaling_steps",
    "scaling_stop",
    "usl",
]
