"""DELETE /rest/v2/domains/{domain_name}/mailboxes/{mailbox_email} (seed 004): 202, then a job
deletes the Workspace user, the mailbox and any sending connection of the same address."""

from __future__ import annotations

import httpx
import pytest

from perch.sandbox.google import GoogleWorkspace, ServiceAccount
from perch.server.domain.provisioning import DELETE_MAILBOX
from perch.server.models import JobStatus
from perch.server.models.domain_mailbox import DomainMailboxStatus
from perch.server.runtime import Runtime
from tests.fixtures.app import ApiUser
from tests.helpers import until
from tests.server.domain.factories import (
    add_domain_mailbox,
    add_sending_connection,
    jobs_of,
    sending_connections,
    set_status,
)
from tests.server.domain.helpers import (
    DOMAIN,
    RICHARD,
    assert_fields,
    assert_problem,
    mailbox,
    mailbox_path,
    paid_mailbox,
)

JARED = "jared@piedpiper.com"


@pytest.fixture
async def richard(user: ApiUser, service_account: ServiceAccount) -> ApiUser:
    await paid_mailbox(user.client, service_account, RICHARD, JARED)
    return user


async def _counts(user: ApiUser) -> tuple[int, int, list[str]]:
    listed = (await user.client.get("/rest/v2/domains")).json()["domains"]
    one = (await user.client.get(f"/rest/v2/domains/{DOMAIN}")).json()
    mailboxes = (await user.client.get(f"/rest/v2/domains/{DOMAIN}/mailboxes")).json()
    emails = [m["email"] for m in mailboxes["mailboxes"]]
    return listed[0]["mailboxes_count"], one["mailboxes_count"], emails


async def _job_is(runtime: Runtime, status: JobStatus) -> bool:
    return (await jobs_of(runtime, DELETE_MAILBOX))[0].status == status


async def _gone(user: ApiUser, email: str = RICHARD) -> bool:
    return (await user.client.get(mailbox_path(DOMAIN, email))).status_code == 404


async def test_seed_example_deletes_the_workspace_user(
    richard: ApiUser, workspace: GoogleWorkspace
) -> None:
    assert workspace.user(RICHARD) is not None
    assert await _counts(richard) == (2, 2, [JARED, RICHARD])

    response = await richard.client.delete(mailbox_path())
    assert response.status_code == 202
    assert response.content == b""

    await until(lambda: _gone(richard))
    assert workspace.user(RICHARD) is None
    assert workspace.user(JARED) is not None
    assert await _counts(richard) == (1, 1, [JARED])
    assert [r.status for r in workspace.served("DELETE", "/users/")] == [204]


async def test_upper_case_path_arguments(richard: ApiUser, workspace: GoogleWorkspace) -> None:
    response = await richard.client.delete(mailbox_path("PiedPiper.COM", "RICHARD@PIEDPIPER.COM"))
    assert response.status_code == 202
    await until(lambda: _gone(richard))
    assert workspace.user(RICHARD) is None


async def test_sending_connection_of_the_address_is_removed(
    richard: ApiUser, other_user: ApiUser, runtime: Runtime
) -> None:
    await add_sending_connection(runtime, richard.account, RICHARD)
    await add_sending_connection(runtime, other_user.account, RICHARD)
    await add_sending_connection(runtime, richard.account, JARED)
    assert (await richard.client.delete(mailbox_path())).status_code == 202
    await until(lambda: _gone(richard))
    assert await sending_connections(runtime, RICHARD) == [(other_user.account.id, 1)]
    assert await sending_connections(runtime, JARED) == [(richard.account.id, 1)]


async def test_seed_422_example_domain_mismatch(richard: ApiUser) -> None:
    response = await richard.client.delete(mailbox_path(DOMAIN, "richard@other-domain.com"))
    assert_fields(response, ("mailbox_email", "domain_mismatch", "richard@other-domain.com"))


@pytest.mark.parametrize("status", [DomainMailboxStatus.ordered, DomainMailboxStatus.failed])
async def test_only_paid_mailboxes_can_be_deleted(
    richard: ApiUser, runtime: Runtime, workspace: GoogleWorkspace, status: DomainMailboxStatus
) -> None:
    await add_domain_mailbox(runtime, richard.account, "dinesh@piedpiper.com", status=status)
    response = await richard.client.delete(mailbox_path(DOMAIN, "Dinesh@piedpiper.com"))
    assert_fields(
        response,
        ("mailbox_email", "cannot_delete_due_to_not_connected_mailbox", "Dinesh@piedpiper.com"),
    )
    assert workspace.served("DELETE", "/users/") == []


async def test_a_mailbox_already_being_deleted(
    richard: ApiUser, runtime: Runtime, workspace: GoogleWorkspace
) -> None:
    workspace.fail(503, retry_after=0, method="DELETE")  # keeps it DELETING
    assert (await richard.client.delete(mailbox_path())).status_code == 202
    again = await richard.client.delete(mailbox_path())
    assert_fields(again, ("mailbox_email", "mailbox_being_deleted", RICHARD))
    await set_status(runtime, JARED, DomainMailboxStatus.deleting)
    response = await richard.client.delete(mailbox_path(DOMAIN, JARED))
    assert_fields(response, ("mailbox_email", "mailbox_being_deleted", JARED))


async def test_unknown_domain_and_mailbox(richard: ApiUser) -> None:
    response = await richard.client.delete(mailbox_path("hooli.xyz", "gavin@hooli.xyz"))
    assert_fields(response, ("domain_name", "not_found", "hooli.xyz"))
    response = await richard.client.delete(mailbox_path(DOMAIN, "gilfoyle@piedpiper.com"))
    assert_fields(response, ("mailbox_email", "not_found", "gilfoyle@piedpiper.com"))


async def test_not_connected(richard: ApiUser) -> None:
    await richard.client.delete("/rest/v2/domains/google/connection")
    response = await richard.client.delete(mailbox_path())
    assert_fields(response, ("domain_name", "google_workspace_not_connected", DOMAIN))
    assert (await mailbox(richard.client))["status"] == "PAID"


async def test_google_down_keeps_the_mailbox_until_a_retry_succeeds(
    richard: ApiUser, runtime: Runtime, workspace: GoogleWorkspace
) -> None:
    workspace.fail(503, retry_after=0, method="DELETE", path="/users/")
    assert (await richard.client.delete(mailbox_path())).status_code == 202

    async def attempted() -> bool:
        jobs = await jobs_of(runtime, DELETE_MAILBOX)
        return bool(jobs) and jobs[0].attempts >= 1 and jobs[0].status == JobStatus.pending

    await until(attempted)
    [job] = await jobs_of(runtime, DELETE_MAILBOX)
    assert "GoogleUnavailable" in (job.last_error or "")
    assert (await mailbox(richard.client))["status"] == "DELETING"
    assert await _counts(richard) == (2, 2, [JARED, RICHARD])
    assert workspace.user(RICHARD) is not None

    workspace.clear_outages()  # the job's next attempt (after its backoff) succeeds
    await until(lambda: _gone(richard), timeout=20)
    assert workspace.user(RICHARD) is None
    await until(lambda: _job_is(runtime, JobStatus.done))  # recorded just after the work


async def test_user_already_gone_from_workspace(
    richard: ApiUser, workspace: GoogleWorkspace
) -> None:
    workspace.users.pop(RICHARD)
    assert (await richard.client.delete(mailbox_path())).status_code == 202
    await until(lambda: _gone(richard))


async def test_google_refusing_returns_the_mailbox_to_paid_with_the_reason(
    richard: ApiUser, runtime: Runtime, workspace: GoogleWorkspace, service_account: ServiceAccount
) -> None:
    workspace.delegation[service_account.client_id] = set()
    workspace.revoke_tokens()
    assert (await richard.client.delete(mailbox_path())).status_code == 202

    async def back_to_paid() -> bool:
        return (await mailbox(richard.client))["status"] == "PAID"

    await until(back_to_paid)
    found = await mailbox(richard.client)
    assert "unauthorized_client" in found["error"]
    assert workspace.user(RICHARD) is not None
    await until(lambda: _job_is(runtime, JobStatus.failed))  # no retry after a refusal
    assert (await jobs_of(runtime, DELETE_MAILBOX))[0].attempts == 1


async def test_no_key_is_401_in_the_iso_dialect(
    richard: ApiUser, anonymous: httpx.AsyncClient
) -> None:
    response = await anonymous.delete(mailbox_path())
    assert assert_problem(response, 401, "Unauthorized") == "Invalid api key"
