"""The verification job resumes where a crashed run stopped and reports every mailbox once.

Driven by hand (``run_job``, no app): jobs are only recorded until we run them."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from perch.sandbox import SandboxIMAP, SandboxSMTP
from perch.server.auth import service as auth_service
from perch.server.kit.crypto import SecretBox, generate_key
from perch.server.mailbox import batch_service, repository, verification
from perch.server.mailbox.checks import Outcome
from perch.server.mailbox.validation import parse_bulk
from perch.server.models import Job, JobStatus
from perch.server.models.mailbox import Mailbox
from perch.server.models.mailbox_batch_item import BatchItemStatus
from perch.server.models.notification import Notification
from perch.server.runtime import Runtime
from perch.server.worker.runner import run_job
from tests.fixtures.peers import ALICE, ALICE_PASSWORD, BOB, BOB_PASSWORD
from tests.server.mailbox.conftest import mailbox


async def _submit(runtime: Runtime, body: dict[str, object]) -> tuple[int, int]:
    async with runtime.session() as session:
        issued = await auth_service.issue_key(session, "acme")
        batch = await batch_service.submit(
            session, issued.account, parse_bulk(json.dumps(body).encode()), runtime.secrets
        )
    async with runtime.session() as session:
        job = (
            await session.execute(select(Job).where(Job.kind == "mailbox.verify_batch"))
        ).scalar_one()
    return batch.id, job.id


async def test_a_rerun_verifies_only_pending_mailboxes_and_finishes_once(
    runtime: Runtime, smtp_server: SandboxSMTP, imap_server: SandboxIMAP
) -> None:
    ports = {"smtp_port": smtp_server.starttls_port, "imap_port": imap_server.starttls_port}
    body = {
        "mailboxes": [mailbox(ALICE, ALICE_PASSWORD, **ports), mailbox(BOB, BOB_PASSWORD, **ports)],
        "completion_notification_types": ["IN_APP"],
    }
    batch_id, job_id = await _submit(runtime, body)
    # A first run reported mailbox 0, then the process died.
    async with runtime.session() as session:
        first = (await repository.pending_items(session, batch_id))[0]
        await batch_service.record(session, first, Outcome(BatchItemStatus.connected, []))
    smtp_server.add_user(ALICE, "changed")  # re-verifying mailbox 0 now would fail

    assert await run_job(runtime, job_id)
    await verification.verify_batch(runtime, batch_id)  # a duplicate delivery changes nothing

    async with runtime.session() as session:
        job = await session.get(Job, job_id)
        counts = await repository.status_counts(session, batch_id)
        mailboxes = (
            (await session.execute(select(Mailbox.email).order_by(Mailbox.email))).scalars().all()
        )
        notes = await session.scalar(select(func.count()).select_from(Notification))
    assert job is not None and job.status == JobStatus.done
    assert counts[BatchItemStatus.connected] == 2 and counts[BatchItemStatus.pending] == 0
    assert list(mailboxes) == [ALICE, BOB]
    assert notes == 1


async def test_recording_twice_keeps_the_first_result(
    runtime: Runtime, smtp_server: SandboxSMTP, imap_server: SandboxIMAP
) -> None:
    ports = {"smtp_port": smtp_server.starttls_port, "imap_port": imap_server.starttls_port}
    batch_id, _ = await _submit(runtime, {"mailboxes": [mailbox(**ports)]})
    async with runtime.session() as session:
        [item] = await repository.pending_items(session, batch_id)
    async with runtime.session() as session:
        await batch_service.record(session, item, Outcome(BatchItemStatus.connected, []))
    for outcome in (Outcome(BatchItemStatus.connected, []), Outcome(BatchItemStatus.failed, [])):
        with pytest.raises(batch_service.AlreadyReported):
            async with runtime.session() as session:
                await batch_service.record(session, item, outcome)
    async with runtime.session() as session:
        counts = await repository.status_counts(session, batch_id)
        stored = await session.scalar(select(func.count()).select_from(Mailbox))
    assert counts[BatchItemStatus.connected] == 1 and counts[BatchItemStatus.failed] == 0
    assert stored == 1


async def test_the_last_attempt_reports_what_is_left_as_aborted(runtime: Runtime) -> None:
    batch_id, job_id = await _submit(
        runtime,
        {"mailboxes": [mailbox(host="localhost", smtp_port=1, imap_port=1)]},
    )
    async with runtime.session() as session:
        job = await session.get(Job, job_id)
        assert job is not None
        job.attempts = 7  # the next run is the 8th and last
    runtime.secrets = SecretBox([generate_key()])  # a key that opens none of the stored passwords
    assert await run_job(runtime, job_id)
    async with runtime.session() as session:
        items = await repository.items(session, batch_id)
        batch = await repository.batch(session, batch_id)
    assert [i.status for i in items] == [BatchItemStatus.failed]
    assert items[0].problems[0]["code"] == "VERIFICATION_ABORTED"
    assert batch is not None and batch.finished_at is not None
