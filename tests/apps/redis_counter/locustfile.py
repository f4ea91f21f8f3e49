"""Count hits: every request is an INCR on the app's Redis."""

from locust import FastHttpUser, constant, task


class Counter(FastHttpUser):
    wait_time = constant(0.05)

    @task
    def hit(self) -> None:
        self.client.get("/hit", name="GET /hit")
