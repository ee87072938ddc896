"""Declarations of job handlers and periodic producers.

Domain ``tasks.py`` modules declare their jobs at import time; ``perch.server.worker.catalog``
imports them all so that every process knows every job kind.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from perch.server.runtime import Runtime
    from perch.server.worker.runner import JobContext

Handler = Callable[["JobContext"], Awaitable[None]]
Producer = Callable[["Runtime"], Awaitable[None]]


@dataclass(frozen=True)
class JobSpec:
    kind: str
    handler: Handler
    max_attempts: int


@dataclass(frozen=True)
class PeriodicSpec:
    name: str
    producer: Producer
    every: Callable[[Runtime], timedelta]


class JobRegistry:
    def __init__(self) -> None:
        self.jobs: dict[str, JobSpec] = {}
        self.periodic_specs: dict[str, PeriodicSpec] = {}

    def job(self, kind: str, *, max_attempts: int = 5) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.jobs[kind] = JobSpec(kind, handler, max_attempts)
            return handler

        return register

    def periodic(
        self, name: str, every: Callable[[Runtime], timedelta]
    ) -> Callable[[Producer], Producer]:
        def register(producer: Producer) -> Producer:
            self.periodic_specs[name] = PeriodicSpec(name, producer, every)
            return producer

        return register

    def spec(self, kind: str) -> JobSpec | None:
        return self.jobs.get(kind)


jobs = JobRegistry()
