"""Visitors of the Flask stand-in's home page (tests/apps/flask_shop), for `harness run` in tests."""

from locust import FastHttpUser, constant, task


class Visitor(FastHttpUser):
    wait_time = constant(1)

    @task
    def home(self) -> None:
        self.client.get("/", name="/")
