"""Attaching a request recorder to Locust's events, the same way locally and distributed.

A recorder listens on `request`; on a worker it forwards what it recorded in
each stats report (`report_to_master`), on the master it merges what workers
sent (`worker_report`). `detach()` removes exactly the listeners it added, so
listeners never pile up across scenarios (LOCUST-NOTES: listeners accumulate).
"""

from __future__ import annotations

from typing import Any

from locust.event import Events

__all__ = ["EventListening"]


class EventListening:
    """Mixin: attach/detach for a recorder that has on_request and the two worker-report handlers."""

    _events: Events | None = None
    _forward: bool = False

    def on_request(self, *args: Any, **kwargs: Any) -> None:
        raise NotImplementedError

    def _on_report_to_master(self, *args: Any, **kwargs: Any) -> None:
        raise NotImplementedError

    def _on_worker_report(self, *args: Any, **kwargs: Any) -> None:
        raise NotImplementedError

    def attach(self, events: Events, *, worker: bool = False, master: bool = False) -> None:
        """Listen on `events`; a worker forwards its records in each stats report, a master merges them."""
        self._events, self._forward = events, worker
        events.request.add_listener(self.on_request)
        if worker:
            events.report_to_master.add_listener(self._on_report_to_master)
        if master:
            events.worker_report.add_listener(self._on_worker_report)

    def detach(self) -> None:
        """Remove every listener this recorder added."""
        if self._events is None:
            return
        for hook, listener in (
            (self._events.request, self.on_request),
            (self._events.report_to_master, self._on_report_to_master),
            (self._events.worker_report, self._on_worker_report),
        ):
            if listener in hook._handlers:
                hook.remove_listener(listener)
        self._events = None
