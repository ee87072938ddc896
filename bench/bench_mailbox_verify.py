"""Bulk verification of 200 mailboxes vs verifying one, against slow sandbox peers.

The peers (SMTP + IMAP per host, 200 ms added before every server reply: greeting, each EHLO
line, STARTTLS, AUTH, LOGIN, SELECT...) run in separate processes (5 hosts each), so their work
is not Perch's and one peer event loop does not serialise 200 sessions (a single in-process
pymap needs about 1 s just to greet 200 simultaneous connections).
Each measurement is the whole ``mailbox.verify_batch`` job on a fresh SQLite database: checks,
one transaction per mailbox, the batch finish.

* ``spread``: 200 mailboxes over 25 server hosts (8 per host, the default per-host bound),
  ``PERCH_VERIFY_CONCURRENCY=200``: the goal, at most 2x one mailbox.
* ``spread_default_concurrency``: the same with the default ``PERCH_VERIFY_CONCURRENCY=50``.
* ``one_host``: 40 mailboxes on one host with the defaults: the per-host bound (8) at work.

Peak memory: the process's peak RSS after the runs, and the peak of Python allocations
(tracemalloc) during a separate 200-mailbox run.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import resource
import tempfile
import time
import tracemalloc
from contextlib import AsyncExitStack
from datetime import timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from bench.common import Result
from perch.server.auth import service as auth_service
from perch.server.config import Environment, Settings
from perch.server.db import create_engine
from perch.server.kit.crypto import generate_key
from perch.server.kit.logging import configure_logging
from perch.server.mailbox import batch_service, verification
from perch.server.mailbox.validation import parse_bulk
from perch.server.models import Base
from perch.server.runtime import Runtime

HOSTS = [f"127.0.0.{i}" for i in range(1, 26)]
PER_HOST = 8
HOSTS_PER_PROCESS = 5  # peers in 5 processes: one single-threaded pymap would be the bottleneck
LATENCY = 0.2


def _peers(hosts: list[str], per_host: int, latency: float, pipe: Connection) -> None:
    asyncio.run(_serve_peers(hosts, per_host, latency, pipe))


async def _serve_peers(hosts: list[str], per_host: int, latency: float, pipe: Connection) -> None:
    from perch.sandbox import Faults, SandboxCA, SandboxIMAP, SandboxSMTP

    ca = SandboxCA(hosts=["localhost", *hosts])
    faults = Faults(latency=latency)
    ports = {}
    async with AsyncExitStack() as stack:
        for host in hosts:
            users = {f"u{i}@{host.replace('.', '-')}.test": f"pw{i}" for i in range(per_host)}
            smtp = await stack.enter_async_context(SandboxSMTP(ca, users, host, faults))
            imap = await stack.enter_async_context(SandboxIMAP(ca, users, host, faults))
            ports[host] = (smtp.starttls_port, imap.starttls_port, users)
        pipe.send((ca.ca_pem, ports))
        await asyncio.get_running_loop().run_in_executor(None, pipe.recv)  # until told to stop


def _mailboxes(ports: dict[str, Any], hosts: list[str]) -> list[dict[str, Any]]:
    out = []
    for host in hosts:
        smtp_port, imap_port, users = ports[host]
        for email, password in users.items():
            out.append(
                {
                    "smtp_email": email,
                    "smtp_password": password,
                    "smtp_server": host,
                    "smtp_port": smtp_port,
                    "imap_email": email,
                    "imap_password": password,
                    "imap_server": host,
                    "imap_port": imap_port,
                }
            )
    return out


async def _runtime(directory: Path, bundle: Path, **overrides: Any) -> Runtime:
    url = f"sqlite+aiosqlite:///{directory}/bench-{time.monotonic_ns()}.db"
    engine = create_engine(url)
    async with engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    await engine.dispose()
    settings = Settings(
        env=Environment.test,
        database_url=url,
        secret_keys=generate_key(),  # type: ignore[arg-type]
        tls_ca_file=bundle,
        allowed_networks="127.0.0.0/8",  # type: ignore[arg-type]
        mail_timeout=timedelta(seconds=30),
        log_level="WARNING",
        **overrides,
    )
    return Runtime(settings)


async def _verify(runtime: Runtime, mailboxes: list[dict[str, Any]]) -> float:
    """Wall time of the verification job for one batch of ``mailboxes``; all must connect."""
    body = json.dumps({"mailboxes": mailboxes}).encode()
    async with runtime.session() as session:
        account = await auth_service.get_or_create_account(session, f"bench-{time.monotonic_ns()}")
        batch = await batch_service.submit(session, account, parse_bulk(body), runtime.secrets)
    started = time.perf_counter()
    await verification.verify_batch(runtime, batch.id)
    elapsed = time.perf_counter() - started
    async with runtime.session() as session:
        summary = await batch_service.summary(session, account, batch.id)
    assert summary.connected_mailboxes_count == len(mailboxes), summary.failed_mailboxes[:1]
    return elapsed


async def _scenario(
    directory: Path,
    bundle: Path,
    mailboxes: list[dict[str, Any]],
    overrides: dict[str, Any],
) -> tuple[float, float]:
    """(time for all ``mailboxes``, best of three times for the first one alone)."""
    runtime = await _runtime(directory, bundle, **overrides)
    try:
        one = min([await _verify(runtime, mailboxes[:1]) for _ in range(3)])
        many = await _verify(runtime, mailboxes)
    finally:
        await runtime.close()
    return many, one


async def _traced_peak(directory: Path, bundle: Path, mailboxes: list[dict[str, Any]]) -> float:
    """Peak of Python allocations while verifying ``mailboxes`` (timing not used)."""
    runtime = await _runtime(directory, bundle, verify_concurrency=200)
    tracemalloc.start()
    try:
        await _verify(runtime, mailboxes)
        return float(tracemalloc.get_traced_memory()[1])
    finally:
        tracemalloc.stop()
        await runtime.close()


async def run() -> list[Result]:
    configure_logging("WARNING")
    context = multiprocessing.get_context("spawn")
    groups = [HOSTS[i : i + HOSTS_PER_PROCESS] for i in range(0, len(HOSTS), HOSTS_PER_PROCESS)]
    pipes, processes = [], []
    for group in groups:
        parent, child = context.Pipe()
        process = context.Process(target=_peers, args=(group, PER_HOST, LATENCY, child))
        process.start()
        pipes.append(parent)
        processes.append(process)
    try:
        return await _run(pipes)
    finally:
        for pipe, process in zip(pipes, processes, strict=True):
            pipe.send("stop")
            process.join(timeout=30)
            if process.is_alive():
                process.kill()


async def _run(pipes: list[Connection]) -> list[Result]:
    loop = asyncio.get_running_loop()
    ca_pem, ports = b"", {}
    for pipe in pipes:
        pem, group_ports = await loop.run_in_executor(None, pipe.recv)
        ca_pem += pem
        ports.update(group_ports)
    spread = _mailboxes(ports, HOSTS)
    one_host = _one_host(ports, 40)
    with tempfile.TemporaryDirectory() as name:
        directory = Path(name)
        bundle = directory / "ca.pem"
        bundle.write_bytes(ca_pem)
        many, one = await _scenario(directory, bundle, spread, {"verify_concurrency": 200})
        results = [_result("mailbox_verify.200_spread", many, one, 200, goal=2.0)]
        many, one = await _scenario(directory, bundle, spread, {})
        results.append(_result("mailbox_verify.200_spread_default_concurrency", many, one, 200))
        many, one = await _scenario(directory, bundle, one_host, {})
        results.append(_result("mailbox_verify.40_one_host", many, one, 40))
        traced = await _traced_peak(directory, bundle, spread)
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    for result in results:
        result.notes["peak_rss_mb"] = round(peak_rss, 1)
    results[0].notes["traced_peak_mb"] = round(traced / 2**20, 1)
    return results


def _one_host(ports: dict[str, Any], count: int) -> list[dict[str, Any]]:
    """``count`` mailboxes (distinct addresses) all on the first host's servers."""
    smtp_port, imap_port, users = ports[HOSTS[0]]
    logins = list(users.items())
    out = []
    for i in range(count):
        login, password = logins[i % len(logins)]
        out.append(
            {
                "smtp_email": f"a{i}@example.com",
                "smtp_login": login,
                "smtp_password": password,
                "smtp_server": HOSTS[0],
                "smtp_port": smtp_port,
                "imap_email": login,
                "imap_password": password,
                "imap_server": HOSTS[0],
                "imap_port": imap_port,
            }
        )
    return out


def _result(name: str, many: float, one: float, count: int, goal: float | None = None) -> Result:
    return Result(name, many, one, goal=goal, notes={"mailboxes": count, "latency_ms": 200})
