"""harness: capacity testing for Heroku web apps.

Scale a forked staging copy up, run Locust load and stress scenarios against it,
find the breaking point, render capacity reports, and restore the formation.
"""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
