"""``perch serve`` on the embedded default, and ``perch serve`` + ``perch worker`` over Redis."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from perch.server.db import create_engine, create_sessionmaker
from perch.server.kit.crypto import generate_key
from perch.server.models import Job, JobStatus
from tests.helpers import PERCH, free_port, perch_env, until


@contextlib.contextmanager
def running(args: list[str], env: dict[str, str], cwd: Path) -> Iterator[subprocess.Popen[str]]:
    process = subprocess.Popen(
        [PERCH, *args],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


async def _healthy(port: int) -> dict[str, object]:
    async def up() -> bool:
        try:
            async with httpx.AsyncClient() as client:
                return (await client.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200
        except httpx.TransportError:
            return False

    await until(up, timeout=30)
    async with httpx.AsyncClient() as client:
        return (await client.get(f"http://127.0.0.1:{port}/healthz")).json()  # type: ignore[no-any-return]


@pytest.mark.slow
async def test_serve_on_an_empty_directory_prints_a_working_key(tmp_path: Path) -> None:
    port = free_port()
    env = perch_env()  # the embedded default: SQLite file and generated key in the cwd
    with running(["serve", "--port", str(port)], env, tmp_path) as process:
        health = await _healthy(port)
        assert health["database"] == {"ok": True, "dialect": "sqlite"}
        process.terminate()
        output = process.communicate(timeout=15)[0]
    lines = output.splitlines()
    key = lines[
        lines.index(next(line for line in lines if "shown only this once" in line)) + 1
    ].strip()
    assert key.startswith("perch_")
    assert (tmp_path / "perch.db").exists() and (tmp_path / "perch-secret.key").exists()
    assert oct((tmp_path / "perch-secret.key").stat().st_mode & 0o777) == "0o600"
    with running(["serve", "--port", str(port)], env, tmp_path) as process:
        await _healthy(port)
        async with httpx.AsyncClient() as client:
            response = await client.get(
                f"http://127.0.0.1:{port}/rest/v2/nothing", headers={"x-api-key": key}
            )
        assert response.status_code == 404
        process.terminate()
        assert "shown only this once" not in process.communicate(timeout=15)[0]


@pytest.mark.slow
def test_serve_refuses_to_start_without_keys_outside_development(tmp_path: Path) -> None:
    env = perch_env(
        PERCH_ENV="production", PERCH_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path}/p.db"
    )
    result = subprocess.run(
        [PERCH, "serve"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert "PERCH_SECRET_KEYS is required" in result.stderr


BROKERS = [
    pytest.param("redis://127.0.0.1:6379/0", marks=pytest.mark.redis, id="redis"),
    pytest.param("amqp://guest:guest@127.0.0.1:5672/", marks=pytest.mark.rabbitmq, id="rabbitmq"),
]


@pytest.mark.slow
@pytest.mark.parametrize("broker", BROKERS)
async def test_a_job_enqueued_by_serve_is_run_by_a_worker(tmp_path: Path, broker: str) -> None:
    database = f"sqlite+aiosqlite:///{tmp_path}/shared.db"
    env = perch_env(
        PERCH_DATABASE_URL=database,
        PERCH_SECRET_KEYS=generate_key(),
        PERCH_BROKER_URL=broker,
        PERCH_BROKER_QUEUE=f"perch-test-{uuid.uuid4().hex}",
        PERCH_SCHEDULER_TICK="0.2",
        PERCH_HEARTBEAT_INTERVAL="0.5",
    )
    port = free_port()
    engine = create_engine(database)
    maker = create_sessionmaker(engine)

    async def done_jobs() -> list[Job]:
        async with maker() as session:
            stmt = select(Job).where(Job.kind == "system.heartbeat", Job.status == JobStatus.done)
            return list((await session.execute(stmt)).scalars())

    try:
        with running(["serve", "--port", str(port)], env, tmp_path):
            serve_node = (await _healthy(port))["scheduler"]["node"]  # type: ignore[index]

            async def serve_leads() -> bool:
                return (await _healthy(port))["scheduler"]["leader"] is True  # type: ignore[index]

            await until(serve_leads)
            await asyncio.sleep(1.0)
            assert await done_jobs() == []  # serve only enqueues; nobody consumes yet
            with running(["worker"], env, tmp_path):

                async def ran() -> bool:
                    return bool(await done_jobs())

                await until(ran, timeout=30)
        job = (await done_jobs())[0]
        assert job.enqueued_by == serve_node
        assert job.run_by and job.run_by != serve_node
    finally:
        await engine.dispose()
        if broker.startswith("amqp"):
            await _delete_amqp_queue(broker, env["PERCH_BROKER_QUEUE"])


async def _delete_amqp_queue(url: str, name: str) -> None:
    import aio_pika

    connection = await aio_pika.connect(url)
    async with connection:
        channel = await connection.channel()
        await channel.queue_delete(name)
        await channel.exchange_delete(name)
