"""`RuntimeSettings`: the timings and limits the dyno manager and the router share.

Its own module because the router, the runtime, the control plane and the
`serve` command all read it, and none of them should import another for it.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["RuntimeSettings"]


@dataclass(frozen=True, kw_only=True)
class RuntimeSettings:
    """Timings and limits of the dyno manager and the router (seconds unless named otherwise)."""

    boot_timeout_s: float = 60.0  # R10: web dyno must bind $PORT within this
    boot_delay_s: float = 0.0  # extra simulated delay before a dyno may count as up
    shutdown_grace_s: float = 5.0  # SIGTERM -> SIGKILL (Heroku: 30 s; shorter locally so scale-down is quick)
    router_timeout_s: float = 30.0  # H12: response headers must arrive within this
    active_per_dyno: int = 50  # router's per-dyno active request limit
    backlog_per_dyno: int = 50  # router backlog is backlog_per_dyno * n_up_dynos, then H11
    metrics_interval_s: float = 20.0  # runtime-metrics log samples per dyno
    restart_crashed: bool = True  # Heroku restarts crashed dynos (immediately once, then with a cool-off)
    crash_cooloff_s: float = 10.0  # wait before restarting a dyno that crashed again (Heroku: up to 20 min)
    router_boot_wait_s: float = (
        10.0  # H20: how long the router holds a request while web dynos boot (Heroku: 75 s)
    )
    # Every request waits this long in the router before a dyno is picked: a queue of known length, so
    # tests can check that the server-side view measures router queueing as what it was set to.
    router_hold_ms: float = 0.0
    connect_timeout_s: float = 5.0  # H19: connecting to a dyno must succeed within this (Heroku: 5 s)
