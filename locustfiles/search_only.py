"""Search only: one endpoint with a known capacity (the demo app's /search, 40 ms per request per slot).

Meant for stress tests, where a single endpoint makes the breaking point easy to
check against the demo app's capacity model (4 slots / 40 ms = 100 req/s per
Standard-1X dyno). Short think time in users mode; arrival-rate mode paces it.
"""

import random

from locust import FastHttpUser, constant, task

SEARCH_TERMS = ["product", "1", "2", "3", "product 1", "product 4", "7", "9"]


class Searcher(FastHttpUser):
    """Searches the catalogue again and again."""

    wait_time = constant(0.1)

    @task
    def search(self) -> None:
        self.client.get(f"/search?q={random.choice(SEARCH_TERMS)}", name="/search")
