"""Write a note, then read it back: every request goes through the app to PostgreSQL."""

import uuid

from locust import FastHttpUser, constant, task


class NoteTaker(FastHttpUser):
    wait_time = constant(0.05)

    @task
    def write_then_read(self) -> None:
        text = uuid.uuid4().hex
        with self.client.post("/notes", data=text, name="POST /notes", catch_response=True) as created:
            if created.status_code != 201:
                created.failure(f"status {created.status_code}")
                return
            note_id = created.json()["id"]
        with self.client.get(f"/notes/{note_id}", name="GET /notes/[id]", catch_response=True) as read:
            if read.status_code != 200 or read.json().get("body") != text:
                read.failure("the note read back is not the one written")
