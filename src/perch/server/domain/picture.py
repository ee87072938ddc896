"""``PATCH /{domain_name}/mailboxes/{mailbox_email}/profile_picture`` and serving the pictures.

The path and the avatar are checked together, every problem in one 422. The picture is then
prepared (``avatar.prepare``) and set on the Workspace user; only once Google has accepted it
does Perch keep it, under a new unguessable token, and answer ``{"success": true}``. Google
unreachable after the retries, or refusing the account's credentials: 503, nothing recorded.
"""

from __future__ import annotations

import asyncio
import secrets

from sqlalchemy.ext.asyncio import AsyncSession

from perch.server.domain import avatar, errors, lookup, repository
from perch.server.domain.avatar import EXTENSIONS, Inspected, InvalidAvatar
from perch.server.domain.errors import issue
from perch.server.errors import FieldIssue, InvalidFields
from perch.server.google import service as google_service
from perch.server.integrations.google import (
    DirectoryNotFound,
    GoogleRefused,
    GoogleUnavailable,
    Photo,
)
from perch.server.models.domain import DomainProvider
from perch.server.models.domain_mailbox import DomainMailbox, DomainMailboxStatus
from perch.server.runtime import Runtime


async def update(
    session: AsyncSession,
    runtime: Runtime,
    account_id: int,
    path: tuple[str, str],
    text: str | None,
) -> None:
    domain_name, mailbox_email = path
    mailbox, issues = await lookup.find(session, account_id, domain_name, mailbox_email)
    if mailbox is not None:
        issues += state_issues(mailbox, mailbox_email)
    image, avatar_issues = await _inspect(text)
    if issues or image is None or mailbox is None:
        raise InvalidFields(issues + avatar_issues)
    photo = await _prepare(image)
    await _set_in_workspace(session, runtime, mailbox, photo, path)
    await _keep(session, mailbox, photo)


def state_issues(mailbox: DomainMailbox, given: str) -> list[FieldIssue]:
    if mailbox.provider != DomainProvider.google:
        return [issue("mailbox_email", errors.PICTURE_NOT_SUPPORTED, given)]
    if mailbox.status == DomainMailboxStatus.deleting:
        return [issue("mailbox_email", errors.BEING_DELETED, given)]
    if mailbox.status != DomainMailboxStatus.paid or mailbox.google_user_id is None:
        return [issue("mailbox_email", errors.NOT_READY, given)]
    return []


async def _inspect(text: str | None) -> tuple[Inspected | None, list[FieldIssue]]:
    try:
        return await asyncio.to_thread(avatar.inspect, text), []
    except InvalidAvatar as e:
        return None, [issue("avatar", e.issue, e.value)]


async def _prepare(image: Inspected) -> Photo:
    try:
        return await asyncio.to_thread(avatar.prepare, image)
    except InvalidAvatar as e:
        raise InvalidFields([issue("avatar", e.issue, e.value)]) from e


async def _set_in_workspace(
    session: AsyncSession,
    runtime: Runtime,
    mailbox: DomainMailbox,
    photo: Photo,
    path: tuple[str, str],
) -> None:
    workspace = await google_service.workspace_for(session, runtime, mailbox.account_id)
    if workspace is None:
        raise InvalidFields([issue("domain_name", errors.NOT_CONNECTED, path[0])])
    try:
        await workspace.google.update_photo(
            workspace.credential, str(mailbox.google_user_id), photo
        )
    except DirectoryNotFound as e:
        raise InvalidFields([issue("mailbox_email", errors.NOT_IN_WORKSPACE, path[1])]) from e
    except GoogleRefused as e:
        if e.status != 400:
            raise errors.google_trouble(e) from e
        raise InvalidFields([issue("avatar", f"refused by Google: {e.message}")]) from e
    except GoogleUnavailable as e:
        raise errors.google_trouble(e) from e


async def _keep(session: AsyncSession, mailbox: DomainMailbox, photo: Photo) -> None:
    await repository.save_picture(session, mailbox.id, secrets.token_urlsafe(24), photo)


async def served(session: AsyncSession, filename: str) -> tuple[bytes, str] | None:
    """The bytes and MIME type behind ``/media/profile-pictures/{token}.{png|jpg}``."""
    token, _, extension = filename.rpartition(".")
    found = await repository.picture_by_token(session, token) if token else None
    if found is None or EXTENSIONS.get(found[1]) != extension:
        return None
    return found
