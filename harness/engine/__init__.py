"""The scenario engine: drives a scenario's step plan through `load/` and judges it with `capacity/`.

    run_scenario(config, scenario, host=URL) -> ScenarioResult     # one scenario end to end

Above `load/` (which only drives Locust) and `capacity/` (which only decides).
Importing it imports Locust: only the CLI entry point and the pipeline do.
"""

from harness.engine.plans import hold_plan, planned_seconds, spike_plan
from harness.engine.run import run_scenario, session_options

__all__ = ["hold_plan", "planned_seconds", "run_scenario", "session_options", "spike_plan"]
