"""Which HTTPS certificates the load generator accepts: always verified, plus the emulator's CA.

Locust's `FastHttpUser` skips certificate checks unless told otherwise
(`insecure = True`); harness turns verification on for every user class that
keeps that default, so a test against a real Heroku app never talks to an
unverified peer. For an emulator target the platform (`platform/target.py`,
the one place that decides "local") hands over the emulator's CA file, which is
trusted in addition to the system's; nothing else ever adds trust.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import gevent.ssl
from locust import FastHttpUser, HttpUser, User

__all__ = ["ssl_context_factory", "with_trust"]


def ssl_context_factory(ca_file: Path | None) -> Callable[..., gevent.ssl.SSLContext]:
    """A geventhttpclient context factory: the system's CAs (`cafile` it passes) plus `ca_file`.

    One context per CA bundle and process, shared by every user's connection pool: loading the
    system's bundle costs milliseconds of CPU, which thousands of users would each pay at start.
    """
    contexts: dict[str | None, gevent.ssl.SSLContext] = {}

    def factory(cafile: str | None = None) -> gevent.ssl.SSLContext:
        context = contexts.get(cafile)
        if context is None:
            context = gevent.ssl.create_default_context(cafile=cafile)
            if ca_file is not None:
                context.load_verify_locations(cafile=str(ca_file))
            contexts[cafile] = context
        return context

    return factory


def _declares(cls: type[User], attr: str) -> bool:
    """Whether the locustfile's class (or a base of its own) sets `attr`, rather than Locust."""
    return any(attr in vars(k) for k in cls.__mro__ if issubclass(k, FastHttpUser) and k is not FastHttpUser)


def with_trust(namespace: dict[str, object], cls: type[User], ca_file: Path | None) -> None:
    """Make `cls`'s HTTPS verified (and trusting `ca_file`, if given) in the subclass `namespace`."""
    if issubclass(cls, FastHttpUser):
        if not _declares(cls, "insecure") and not _declares(cls, "ssl_context_factory"):
            namespace["insecure"] = False
            namespace["ssl_context_factory"] = staticmethod(ssl_context_factory(ca_file))
    elif issubclass(cls, HttpUser) and ca_file is not None:
        base_init = cls.__init__

        def __init__(self: HttpUser, *args: Any, **kwargs: Any) -> None:
            base_init(self, *args, **kwargs)
            if self.client.verify is True:  # requests' default: certifi only
                self.client.verify = str(ca_file)

        namespace["__init__"] = __init__
