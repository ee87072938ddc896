"""``perch serve``, ``perch worker`` and ``perch sandbox``: the long-running processes."""

from __future__ import annotations

import asyncio
import contextlib
import signal

import structlog
import typer
import uvicorn

from perch.cli.common import fail, load_settings, migrated_session
from perch.server.auth import service as auth_service
from perch.server.config import Settings
from perch.server.runtime import ConfigError, Runtime, resolve_secret_keys

log = structlog.get_logger(__name__)


def serve(
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8000, help="Port to listen on."),
) -> None:
    """Run the API, the jobs and the scheduler in one process (the embedded default).

    The database is created or migrated first. On an empty database an account `default` is
    created and its API key is printed once.
    """
    from perch.server.app import create_app

    settings = load_settings()
    _check_config(settings)
    issued = asyncio.run(_prepare(settings))
    if issued is not None:
        typer.echo(f"Created account {issued.account.name!r}. Its API key (shown only this once):")
        typer.echo(f"    {issued.key}")
    typer.echo(f"Perch listening on http://{host}:{port} (docs at /docs)", err=True)
    uvicorn.run(create_app(settings), host=host, port=port, log_level="warning")


def _check_config(settings: Settings) -> None:
    try:
        resolve_secret_keys(settings)
    except ConfigError as e:
        fail(str(e))


async def _prepare(settings: Settings) -> auth_service.IssuedKey | None:
    async with migrated_session(settings) as session:
        return await auth_service.bootstrap(session)


def worker(
    concurrency: int = typer.Option(50, help="Jobs run at the same time in this process."),
) -> None:
    """Run jobs from PERCH_BROKER_URL (Redis or RabbitMQ), and the scheduler when elected.

    Start as many workers as you like; exactly one scheduler is active at a time.
    """
    settings = load_settings()
    if settings.is_memory_broker:
        fail(
            "perch worker needs PERCH_BROKER_URL=redis://… or amqp://… "
            "(with memory:// the jobs run inside `perch serve`)"
        )
    _check_config(settings)
    asyncio.run(_run_worker(settings, concurrency))


async def _run_worker(settings: Settings, concurrency: int) -> None:
    from taskiq.api import run_receiver_task

    from perch.server.worker.scheduler import Scheduler

    runtime = Runtime(settings)
    await runtime.start_broker(worker=True)
    scheduler = Scheduler(runtime)
    tasks = [
        asyncio.create_task(scheduler.run_forever()),
        asyncio.create_task(run_receiver_task(runtime.broker, max_async_tasks=concurrency)),
    ]
    log.info("worker.started", node=runtime.node, broker=settings.broker_url.split(":", 1)[0])
    await _until_signalled()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    with contextlib.suppress(Exception):
        await scheduler.release()
    await runtime.close()
    log.info("worker.stopped", node=runtime.node)


async def _until_signalled() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()


def sandbox(
    host: str = typer.Option("127.0.0.1", help="Loopback address for the sandbox servers."),
) -> None:
    """Start local SMTP, IMAP and DNS servers with a test CA and demo mailboxes.

    Prints the PERCH_* settings and the mailbox credentials to use with them.
    """
    try:
        from perch.sandbox.runner import run_sandbox
    except ImportError:
        fail("the sandbox needs its extra: pip install 'perch[sandbox]'")

    async def run() -> None:
        task = asyncio.create_task(run_sandbox(host=host, out=typer.echo))
        await _until_signalled()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    asyncio.run(run())
