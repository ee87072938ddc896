"""What the domain jobs do in Google Workspace: create a mailbox's user, delete it.

Both take a mailbox id, reload the row and act only while it is in the state that asked for the
work (``ORDERED``, ``DELETING``), so a repeated or recovered job never acts twice. Google calls
happen outside any transaction. Google unreachable: the exception propagates and the job is
retried with backoff. Google refusing for good, or the last attempt failing: the mailbox moves
where its owner sees why (``FAILED`` with ``error``, or back to ``PAID`` with ``error``).

A created user carries ``externalIds: [{customType: "perch", value: <marker>}]``; a retry that
finds the address taken adopts the user only if it carries this mailbox's marker, so Perch never
takes over (or later deletes) a user it did not create.
"""

from __future__ import annotations

import secrets
from typing import NoReturn

import structlog

from perch.server.domain import repository
from perch.server.google import service as google_service
from perch.server.integrations.google import (
    DirectoryConflict,
    DirectoryNotFound,
    DirectoryUser,
    GoogleRefused,
    GoogleUnavailable,
    NewUser,
)
from perch.server.models.domain_mailbox import DomainMailbox, DomainMailboxStatus
from perch.server.runtime import Runtime
from perch.server.worker.runner import JobFailed

log = structlog.get_logger(__name__)

CREATE_MAILBOX = "domain.create_mailbox"
DELETE_MAILBOX = "domain.delete_mailbox"
MAX_ATTEMPTS = 10  # backoff 2, 4, ... 512 s: about 17 minutes in all
MARKER = "perch"
NOT_CONNECTED = "Google Workspace is not connected"
ORDERED, PAID = DomainMailboxStatus.ordered, DomainMailboxStatus.paid
DELETING, FAILED = DomainMailboxStatus.deleting, DomainMailboxStatus.failed


def new_password() -> str:
    """A strong random password; the user's password is never stored by Perch."""
    return secrets.token_urlsafe(24)


async def create_user(runtime: Runtime, mailbox_id: int, *, last_attempt: bool) -> None:
    async with runtime.session() as session:
        mailbox = await repository.mailbox_by_id(session, mailbox_id)
        if mailbox is None or mailbox.status != ORDERED:
            return
        workspace = await google_service.workspace_for(session, runtime, mailbox.account_id)
    if workspace is None:
        await _settle(runtime, mailbox, ORDERED, FAILED, NOT_CONNECTED)
    try:
        user = await _insert_or_adopt(workspace, mailbox)
    except GoogleRefused as e:
        await _settle(runtime, mailbox, ORDERED, FAILED, str(e))
    except GoogleUnavailable as e:
        if last_attempt:
            await _settle(runtime, mailbox, ORDERED, FAILED, str(e))
        raise
    async with runtime.session() as session:
        await repository.change_status(
            session, mailbox.id, ORDERED, PAID, google_user_id=user.id, error=None
        )
    log.info("domain.mailbox.created", mailbox_id=mailbox.id, google_user_id=user.id)


async def _insert_or_adopt(
    workspace: google_service.Workspace, mailbox: DomainMailbox
) -> DirectoryUser:
    marker = (MARKER, mailbox.google_marker)
    new = NewUser(mailbox.email, mailbox.first_name, mailbox.last_name, new_password(), marker)
    try:
        return await workspace.google.insert_user(workspace.credential, new)
    except DirectoryConflict as e:
        user = await workspace.google.get_user(workspace.credential, mailbox.email)
        if marker in user.external_ids:
            return user  # created by an earlier attempt of this job
        raise DirectoryConflict(409, "duplicate", "the address belongs to another user") from e


async def delete_user(runtime: Runtime, mailbox_id: int, *, last_attempt: bool) -> None:
    async with runtime.session() as session:
        mailbox = await repository.mailbox_by_id(session, mailbox_id)
        if mailbox is None or mailbox.status != DELETING:
            return
        workspace = await google_service.workspace_for(session, runtime, mailbox.account_id)
    if workspace is None:
        await _settle(runtime, mailbox, DELETING, PAID, NOT_CONNECTED)
    try:
        await _delete_in_workspace(workspace, mailbox)
    except GoogleRefused as e:
        await _settle(runtime, mailbox, DELETING, PAID, str(e))
    except GoogleUnavailable as e:
        if last_attempt:
            await _settle(runtime, mailbox, DELETING, PAID, str(e))
        raise
    async with runtime.session() as session:
        row = await repository.mailbox_by_id(session, mailbox_id)
        if row is not None and row.status == DELETING:
            await repository.remove_mailbox(session, row)
    log.info("domain.mailbox.deleted", mailbox_id=mailbox_id)


async def _delete_in_workspace(workspace: google_service.Workspace, mailbox: DomainMailbox) -> None:
    if mailbox.google_user_id is None:
        return  # no user was ever created for it
    try:
        await workspace.google.delete_user(workspace.credential, mailbox.google_user_id)
    except DirectoryNotFound:
        log.info("domain.mailbox.already_gone", mailbox_id=mailbox.id)


async def _settle(
    runtime: Runtime,
    mailbox: DomainMailbox,
    expected: DomainMailboxStatus,
    status: DomainMailboxStatus,
    error: str,
) -> NoReturn:
    """Record why the work could not be done, and stop the job for good."""
    async with runtime.session() as session:
        await repository.change_status(session, mailbox.id, expected, status, error=error)
    log.warning("domain.mailbox.gave_up", mailbox_id=mailbox.id, status=status, error=error)
    raise JobFailed(error)
