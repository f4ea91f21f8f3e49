"""Shoppers of the bundled demo shop: browse, search and check out.

A plain Locust file (runs with `locust -f locustfiles/demo_shop.py` too). The
weights follow a typical shop funnel: most visits browse the home page and
product pages, fewer search, few buy. Each task is one request, so in
arrival-rate mode the offered rate is requests/s. Think time 0.5-2 s applies in
users mode; arrival-rate mode replaces it with harness's pacer.
"""

import random

from locust import FastHttpUser, between, task

SEARCH_TERMS = ["product", "1", "2", "3", "product 1", "product 4", "7", "9"]
PRODUCT_IDS = range(1, 201)


class Shopper(FastHttpUser):
    """One visitor: reads the catalogue, searches, sometimes checks out."""

    wait_time = between(0.5, 2.0)

    @task(3)
    def home(self) -> None:
        self.client.get("/", name="/")

    @task(5)
    def product(self) -> None:
        self.client.get(f"/products/{random.choice(PRODUCT_IDS)}", name="/products/<id>")

    @task(3)
    def search(self) -> None:
        self.client.get(f"/search?q={random.choice(SEARCH_TERMS)}", name="/search")

    @task(1)
    def checkout(self) -> None:
        cart = {"items": [{"id": random.choice(PRODUCT_IDS), "qty": random.randint(1, 3)}]}
        self.client.post("/checkout", json=cart, name="/checkout")
