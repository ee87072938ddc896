"""The Runtime: what a process builds once and every request or job uses.

Built by the API's lifespan, by ``perch worker`` and by the CLI; never at import time.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import structlog
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from taskiq import AsyncBroker

from perch.server.config import Environment, Settings
from perch.server.db import create_engine, create_sessionmaker, session_scope
from perch.server.kit.crypto import SecretBox, load_or_create_key_file
from perch.server.ratelimit import KeyLimiter
from perch.server.worker import catalog
from perch.server.worker.broker import build_broker, register_run_job
from perch.server.worker.queue import DISPATCH, NODE

log = structlog.get_logger(__name__)


class ConfigError(Exception):
    """The settings cannot work as given; the message says what to change."""


def resolve_secret_keys(settings: Settings) -> list[str]:
    if settings.secret_keys:
        return [key.get_secret_value() for key in settings.secret_keys]
    if settings.env == Environment.development and settings.is_sqlite:
        return [load_or_create_key_file(settings.secret_key_file)]
    raise ConfigError(
        "PERCH_SECRET_KEYS is required outside the embedded default "
        "(generate one with `perch secrets generate-key`)"
    )


def client_ssl_context(settings: Settings) -> ssl.SSLContext:
    """Verifying TLS context for mail servers and HTTP APIs, plus PERCH_TLS_CA_FILE if set."""
    context = ssl.create_default_context()
    if settings.tls_ca_file is not None:
        context.load_verify_locations(cafile=str(settings.tls_ca_file))
    return context


SHUTDOWN_GRACE = timedelta(seconds=20)


class Runtime:
    def __init__(self, settings: Settings) -> None:
        catalog.load_all()
        self.settings = settings
        self.node = f"{socket.gethostname()}:{uuid.uuid4().hex[:8]}"
        keys = resolve_secret_keys(settings)
        self.secrets = SecretBox(keys)
        self.secret_material = keys[0]  # derives signing keys (cursors); never logged
        self.ssl_context = client_ssl_context(settings)
        self.engine: AsyncEngine = create_engine(settings.database_url)
        self.sessionmaker: async_sessionmaker[AsyncSession] = create_sessionmaker(self.engine)
        self.http = httpx.AsyncClient(verify=self.ssl_context, timeout=httpx.Timeout(20.0))
        self.broker: AsyncBroker = build_broker(settings.broker_url, settings.broker_queue)
        self._run_job_task = register_run_job(self.broker, self._run_job)
        self.state: dict[str, Any] = {}
        self.limiter = KeyLimiter(
            settings.rate_concurrency, settings.rate_queue, settings.rate_wait.total_seconds()
        )
        self.broker_started = False
        self._running: set[asyncio.Task[Any]] = set()  # jobs this process is running now

    @contextlib.asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        async with session_scope(self.sessionmaker) as session:
            session.info[DISPATCH] = self.dispatch
            session.info[NODE] = self.node
            yield session

    async def dispatch(self, job_id: int) -> None:
        """Hand a job id to the broker. A failure only delays the job: the sweep re-delivers.

        Before ``start_broker`` (the CLI, tests driving jobs by hand) jobs are only recorded."""
        if not self.broker_started:
            return
        try:
            await self._run_job_task.kiq(job_id)
        except Exception as e:
            log.warning("job.dispatch_failed", job_id=job_id, error=str(e))

    async def _run_job(self, job_id: int) -> None:
        from perch.server.worker.runner import run_job

        task = asyncio.current_task()
        if task is not None:
            self._running.add(task)
        try:
            await run_job(self, job_id)
        finally:
            self._running.discard(task)

    async def broker_ping(self) -> None:
        """Raises when the broker cannot be reached."""
        pool = getattr(self.broker, "connection_pool", None)
        if pool is not None:  # taskiq-redis
            from redis.asyncio import Redis

            async with Redis(connection_pool=pool) as client:
                await asyncio.wait_for(client.ping(), timeout=3)
            return
        connection = getattr(self.broker, "write_conn", None)
        if connection is not None and connection.is_closed:  # taskiq-aio-pika
            raise ConnectionError("AMQP connection is closed")

    async def start_broker(self, *, worker: bool = False) -> None:
        self.broker.is_worker_process = worker
        await self.broker.startup()
        self.broker_started = True

    async def close(self) -> None:
        """Let running jobs finish (up to ``SHUTDOWN_GRACE``; one still running then is picked
        up again after its lease, like any abandoned job), then release everything."""
        if self._running:
            await asyncio.wait(set(self._running), timeout=SHUTDOWN_GRACE.total_seconds())
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.broker.shutdown(), timeout=10)
        for resource in self.state.values():  # per-process pools (IMAP threads, parse workers)
            close = getattr(resource, "close", None)
            if callable(close):
                with contextlib.suppress(Exception):
                    close()
        await self.http.aclose()
        await self.engine.dispose()
