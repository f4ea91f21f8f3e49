"""The bundled demo app: a small staging shop with a *known* capacity.

Capacity model (the ground truth harness is measured against)
-------------------------------------------------------------
Each dyno serves at most ``C`` requests at once ("slots"). A request to
endpoint ``e`` holds a slot for exactly ``S_e`` seconds (part of it real CPU
work for ``/checkout``, the rest a simulated database wait). Requests beyond
``C`` queue inside the dyno, in arrival order. So one dyno's true capacity for
a traffic mix with weights ``w_e`` (summing to 1) is::

    capacity_rps(dyno) = C / sum(w_e * S_e)

and an app with ``n`` web dynos behind the router serves ``n`` times that.
Past capacity the queue grows, latency rises, and once the router's limits are
reached requests fail the Heroku way (H11 backlog, H12 timeout).

Knobs (config vars; changing one creates a release and restarts the dynos, so
a "slower release" is one ``PATCH /apps/{app}/config-vars`` away):

- ``DEMO_SLOTS``: ``C`` directly. Default ``2 * WEB_CONCURRENCY``, and the
  emulator sets ``WEB_CONCURRENCY`` from the dyno size the way Heroku's Python
  buildpack does (Standard-1X: 2, so C = 4).
- ``DEMO_SLOWDOWN``: a multiplier on every service time (default 1.0).
- ``DEMO_SERVICE_MS_<NAME>``: one endpoint's service time in ms (NAME is
  HOME, PRODUCT, SEARCH or CHECKOUT).
- ``DEMO_LEAK_KB``: a leaking release: every served request keeps this many KB
  for good (default 0), up to ``DEMO_LEAK_MAX_MB`` (default 1200), so memory per
  dyno rises and crosses the quota (R14 at 512 MB on Standard-1X, R15 at twice it).
- ``DEMO_SHARED_CAP_RPS``: a bottleneck shared by all dynos (a lock every
  request holds for ``1 / cap`` s, see ``shared.py``): the app as a whole then
  serves ``min(n * capacity_rps(dyno), cap)``. ``DEMO_SHARED_LOCK`` names its
  file (give apps that run side by side their own).

Default service times: ``/`` 10 ms, ``/products/<id>`` 20 ms, ``/search`` 40 ms,
``/checkout`` (POST) 80 ms, ``/health`` 0 ms (no slot). A Standard-1X dyno
therefore serves 100 req/s of ``/search`` and 400 req/s of ``/``.
``GET /api/capacity`` returns the model as JSON so tests and benchmarks can
read the ground truth instead of repeating the formula.
"""

from harness.emulator.demo_app.app import DemoApp, ServiceModel, make_app

__all__ = ["DemoApp", "ServiceModel", "make_app"]
