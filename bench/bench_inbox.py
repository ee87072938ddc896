"""Inbox speed, as ratios against bare clients in the same run.

* ``inbox.initial_sync_5000``: Perch's first sync of a Dovecot INBOX holding 5,000 messages
  (fetch, parse, classify, store in SQLite) vs a bare imapclient loop fetching the same
  messages (``BODY.PEEK[]`` in the same chunk size). Best of five rounds each, alternating
  (the median ratio is noted too), after one untimed fetch that warms Dovecot. Goal: 1.3x.
* ``inbox.reply_latency``: ``POST /rest/v2/inbox/messages/{id}/reply`` over ASGI (ledger writes,
  MIME, SMTP handoff to the sandbox server) vs a bare aiosmtplib send of the same message to the
  same server with the same login. Median of 30 each. Goal: at most 1.5x.
"""

from __future__ import annotations

import asyncio
import ipaddress
import statistics
import tempfile
import time
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib
import httpx
from imapclient import IMAPClient

from bench.common import Result
from perch.sandbox import Dovecot, SandboxCA, SandboxSMTP
from perch.server.app import create_app
from perch.server.auth import service as auth_service
from perch.server.config import Environment, Settings
from perch.server.db import create_engine
from perch.server.inbox import sync
from perch.server.inbox.parse_pool import parse_pool
from perch.server.kit.crypto import generate_key
from perch.server.kit.logging import configure_logging
from perch.server.models import Base, Mailbox, MailboxImap
from perch.server.runtime import Runtime

LOGIN, PASSWORD = "bench@example.com", "bench-pw"
MESSAGES = 5000
REPLIES = 30
ROUNDS = 5


def _message(n: int) -> bytes:
    message = EmailMessage()
    message["From"] = f"Prospect {n} <p{n}@example.org>"
    message["To"] = LOGIN
    message["Subject"] = f"Re: our offer {n}"
    message["Message-ID"] = f"<bench{n}@example.org>"
    message.set_content(f"Thanks for reaching out. Reply number {n}.\n" + "Some text. " * 60)
    message.add_alternative(
        f"<p>Thanks for reaching out. Reply number {n}.</p>" + "<p>Some text.</p>" * 60,
        subtype="html",
    )
    return bytes(message)


def _fill(dovecot: Dovecot, ca: SandboxCA) -> None:
    client = IMAPClient("127.0.0.1", dovecot.imaps_port, ssl=True, ssl_context=ca.client_context())
    client.login(LOGIN, PASSWORD)
    for n in range(MESSAGES):
        client.append("INBOX", _message(n))
    client.logout()


def _bare_fetch(dovecot: Dovecot, ca: SandboxCA) -> int:
    client = IMAPClient("127.0.0.1", dovecot.imap_port, ssl=False)
    client.starttls(ca.client_context())
    client.login(LOGIN, PASSWORD)
    client.select_folder("INBOX", readonly=True)
    uids = sorted(client.search("ALL"))
    total = 0
    for start in range(0, len(uids), sync.CHUNK):
        fetched = client.fetch(
            uids[start : start + sync.CHUNK], ["BODY.PEEK[]", "FLAGS", "INTERNALDATE"]
        )
        total += sum(len(data[b"BODY[]"]) for data in fetched.values())
    client.logout()
    return total


async def _runtime(directory: Path, ca_file: Path) -> Runtime:
    url = f"sqlite+aiosqlite:///{directory}/bench.db"
    engine = create_engine(url)
    async with engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    await engine.dispose()
    settings = Settings(
        env=Environment.test,
        database_url=url,
        secret_keys=generate_key(),  # type: ignore[arg-type]
        allowed_networks=[ipaddress.ip_network("127.0.0.0/8")],
        tls_ca_file=ca_file,
        inbox_initial_limit=MESSAGES,
        rate_concurrency=4,
    )
    return Runtime(settings)


async def _mailbox(
    runtime: Runtime, account_id: int, imap_port: int, smtp: SandboxSMTP | None
) -> tuple[int, int]:
    secret = runtime.secrets.encrypt(PASSWORD)
    async with runtime.session() as session:
        mailbox = Mailbox(
            account_id=account_id,
            email=LOGIN,
            smtp_login=LOGIN,
            smtp_password_encrypted=secret,
            smtp_server="127.0.0.1",
            smtp_port=smtp.starttls_port if smtp else 587,
        )
        session.add(mailbox)
        await session.flush()
        imap = MailboxImap(
            account_id=account_id,
            mailbox_id=mailbox.id,
            email=LOGIN,
            login=LOGIN,
            server="127.0.0.1",
            port=imap_port,
            password_encrypted=secret,
        )
        session.add(imap)
        await session.flush()
        return mailbox.id, imap.id


async def _sync_ratio(dovecot: Dovecot, ca: SandboxCA, directory: Path, ca_file: Path) -> Result:
    """Best of ``ROUNDS`` for each side, the two alternating, after one untimed fetch that
    warms Dovecot's caches (the first read of a freshly filled mailbox is slower for anyone)."""
    await asyncio.to_thread(_fill, dovecot, ca)
    await asyncio.to_thread(_bare_fetch, dovecot, ca)
    cold = await _perch_sync(dovecot, directory / "cold", ca_file, warm=False)
    bare_times, perch_times = [], []
    for round_ in range(ROUNDS):
        start = time.perf_counter()
        await asyncio.to_thread(_bare_fetch, dovecot, ca)
        bare_times.append(time.perf_counter() - start)
        perch_times.append(await _perch_sync(dovecot, directory / f"sync{round_}", ca_file))
    median = statistics.median(perch_times) / statistics.median(bare_times)
    return Result(
        "inbox.initial_sync_5000",
        min(perch_times),
        min(bare_times),
        goal=1.3,
        notes={
            "messages": MESSAGES,
            "rounds": ROUNDS,
            "median_ratio": round(median, 2),
            "cold_ratio": round(cold / min(bare_times), 2),  # incl. starting the parse worker
        },
    )


async def _perch_sync(dovecot: Dovecot, directory: Path, ca_file: Path, warm: bool = True) -> float:
    """One first sync of the whole INBOX into an empty database: wall time. ``warm``: the parse
    worker is already up, as in a server that has been running; else its start is timed too."""
    directory.mkdir()
    runtime = await _runtime(directory, ca_file)
    async with runtime.session() as session:
        issued = await auth_service.issue_key(session, "bench")
    _, imap_id = await _mailbox(runtime, issued.account.id, dovecot.imap_port, None)
    if warm:
        parse_pool(runtime).start()
    start = time.perf_counter()
    result = await sync.sync_mailbox(runtime, imap_id)
    elapsed = time.perf_counter() - start
    await runtime.close()
    assert result is not None and result.imported == MESSAGES, result
    return elapsed


async def _reply_ratio(ca: SandboxCA, dovecot: Dovecot, directory: Path, ca_file: Path) -> Result:
    async with SandboxSMTP(ca, {LOGIN: PASSWORD}) as smtp:
        runtime = await _runtime(directory / "reply", ca_file)
        async with runtime.session() as session:
            issued = await auth_service.issue_key(session, "bench")
        _, imap_id = await _mailbox(runtime, issued.account.id, dovecot.imap_port, smtp)
        runtime.settings.inbox_initial_limit = 1
        await sync.sync_mailbox(runtime, imap_id)
        app = create_app(runtime=runtime)
        perch_times, bare_times = [], []
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app),
                base_url="http://b",
                headers={"x-api-key": issued.key},
            ) as client,
        ):
            message_id = (await client.get("/rest/v2/inbox/messages")).json()["content"][0]["id"]
            for _ in range(REPLIES):
                start = time.perf_counter()
                response = await client.post(
                    f"/rest/v2/inbox/messages/{message_id}/reply",
                    json={"body": {"html": "<p>Sounds good.</p>"}},
                )
                perch_times.append(time.perf_counter() - start)
                assert response.status_code == 200, response.text
                bare_times.append(await _bare_send(smtp, ca))
        return Result(
            "inbox.reply_latency",
            statistics.median(perch_times),
            statistics.median(bare_times),
            goal=1.5,
            notes={"replies": REPLIES},
        )


async def _bare_send(smtp: SandboxSMTP, ca: SandboxCA) -> float:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = LOGIN, "p1@example.org", "Re: our offer 1"
    message.set_content("Sounds good.")
    message.add_alternative("<p>Sounds good.</p>", subtype="html")
    start = time.perf_counter()
    await aiosmtplib.send(
        message,
        hostname="127.0.0.1",
        port=smtp.starttls_port,
        start_tls=True,
        tls_context=ca.client_context(),
        username=LOGIN,
        password=PASSWORD,
        timeout=10,
    )
    return time.perf_counter() - start


async def run() -> list[Result]:
    if not Dovecot.available():
        print("dovecot is not installed: inbox benchmarks skipped")
        return []
    configure_logging("WARNING")
    ca = SandboxCA()
    with tempfile.TemporaryDirectory() as name, Dovecot(ca, {LOGIN: PASSWORD}) as dovecot:
        directory = Path(name)
        (directory / "reply").mkdir()
        ca_file = ca.write_bundle(directory / "ca.pem")
        return [
            await _sync_ratio(dovecot, ca, directory, ca_file),
            await _reply_ratio(ca, dovecot, directory, ca_file),
        ]
