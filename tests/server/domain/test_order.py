"""Ordering domains and mailboxes on the account's Google Workspace, and reading them back."""

from __future__ import annotations

import re

import pytest

from perch.sandbox.google import GoogleWorkspace, ServiceAccount
from perch.server.domain.provisioning import CREATE_MAILBOX
from perch.server.models import JobStatus
from perch.server.runtime import Runtime
from tests.fixtures.app import ApiUser
from tests.helpers import until
from tests.server.domain.factories import jobs_of
from tests.server.domain.helpers import (
    DOMAIN,
    OWNER,
    RICHARD,
    assert_fields,
    assert_problem,
    connect,
    mailbox,
    order,
    paid_mailbox,
    wait_status,
)

ISO_LOCAL = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$")


@pytest.fixture
async def ready(user: ApiUser, service_account: ServiceAccount) -> ApiUser:
    """Connected, with an owner, nothing ordered."""
    assert (await connect(user.client, service_account)).status_code == 200
    assert (await user.client.post("/rest/v2/domains/owner", json=OWNER)).status_code == 200
    return user


async def test_providers_list_only_google(user: ApiUser) -> None:
    response = await user.client.get("/rest/v2/domains/providers")
    assert response.json() == {
        "providers": [{"name": "GOOGLE", "currency": "USD", "email_account_price": 0.0}]
    }


async def test_order_creates_the_workspace_user_then_paid(
    ready: ApiUser, workspace: GoogleWorkspace
) -> None:
    mailboxes = [
        {"first_name": "Richard", "last_name": "Hendricks", "email": "Richard@PiedPiper.com"}
    ]
    body = {"provider": "GOOGLE", "domains": ["PiedPiper.com"], "mailboxes": mailboxes}
    response = await ready.client.post("/rest/v2/domains/order", json=body)
    assert response.status_code == 202 and response.content == b""

    await wait_status(ready.client, "PAID")
    user = workspace.user(RICHARD)
    assert user is not None
    assert user["name"] == {
        "givenName": "Richard",
        "familyName": "Hendricks",
        "fullName": "Richard Hendricks",
    }
    assert user["changePasswordAtNextLogin"] is False
    password = workspace.passwords[user["id"]]
    assert len(password) >= 24 and password not in str(await mailbox(ready.client))
    assert user["externalIds"][0]["customType"] == "perch"


async def test_reads_after_an_order(ready: ApiUser) -> None:
    assert (await order(ready.client, RICHARD, "jared@piedpiper.com")).status_code == 202
    await wait_status(ready.client, "PAID", "jared@piedpiper.com")
    await wait_status(ready.client, "PAID")

    [listed] = (await ready.client.get("/rest/v2/domains")).json()["domains"]
    assert ISO_LOCAL.match(listed.pop("created"))
    assert listed == {
        "domain": DOMAIN,
        "mailboxes_count": 2,
        "provider": "GOOGLE",
        "is_custom_domain": True,
        "is_ready": True,
        "expires": None,
    }
    domain = (await ready.client.get("/rest/v2/domains/PIEDPIPER.com")).json()
    assert domain["owner"] == {k: v for k, v in OWNER.items() if k != "configuration"}
    assert (domain["mailboxes_count"], domain["max_mailboxes"]) == (2, 10)
    assert domain["all_mailboxes_are_ready"] is True
    assert (domain["email_forward_address"], domain["domain_redirect_url"]) == (None, None)
    mailboxes = (await ready.client.get(f"/rest/v2/domains/{DOMAIN}/mailboxes")).json()
    assert mailboxes["mailboxes"][0] == {
        "first_name": "Richard",
        "last_name": "Hendricks",
        "email": "jared@piedpiper.com",
        "provider": "GOOGLE",
        "status": "PAID",
    }
    one = await mailbox(ready.client, "RICHARD@piedpiper.com")
    assert ISO_LOCAL.match(one.pop("created"))
    assert one == {
        "first_name": "Richard",
        "last_name": "Hendricks",
        "email": RICHARD,
        "login": RICHARD,
        "provider": "GOOGLE",
        "status": "PAID",
        "authenticator": None,
        "smtp_server": "smtp.gmail.com",
        "smtp_password": None,
        "smtp_port": 587,
        "imap_server": "imap.gmail.com",
        "imap_email": RICHARD,
        "imap_password": None,
        "imap_port": 993,
        "profile_picture": None,
        "error": None,
    }


async def test_unknown_domain_and_mailbox_reads_are_404(ready: ApiUser) -> None:
    await order(ready.client, RICHARD)
    for path in (
        "/rest/v2/domains/nope.com",
        "/rest/v2/domains/nope.com/mailboxes",
        "/rest/v2/domains/nope.com/mailboxes/a%40nope.com",
        f"/rest/v2/domains/{DOMAIN}/mailboxes/nobody%40piedpiper.com",
        f"/rest/v2/domains/{DOMAIN}/mailboxes/richard%40other.com",
    ):
        assert_problem(await ready.client.get(path), 404, "Not Found")
    assert (await ready.client.get("/rest/v2/domains")).json()["domains"][0]["domain"] == DOMAIN


@pytest.mark.parametrize("provider", ["MAILDOSO", "MAILFORGE", "MICROSOFT"])
async def test_providers_this_perch_cannot_serve(ready: ApiUser, provider: str) -> None:
    response = await order(ready.client, RICHARD, provider=provider)
    assert_fields(response, ("provider", "provider_not_available", provider))


async def test_unverified_and_foreign_domains_are_refused(
    ready: ApiUser, workspace: GoogleWorkspace
) -> None:
    response = await order(ready.client, "gavin@hooli.xyz", domain="hooli.xyz")
    assert_fields(response, ("domains.0", "domain_not_verified_in_google_workspace", "hooli.xyz"))
    response = await order(ready.client, "a@elsewhere.com", domain="elsewhere.com")
    assert_fields(response, ("domains.0", "domain_not_in_google_workspace", "elsewhere.com"))
    assert (await ready.client.get("/rest/v2/domains")).json() == {"domains": []}
    assert workspace.served("POST", "/users") == []


async def test_every_problem_of_the_body_at_once(ready: ApiUser) -> None:
    body = {
        "provider": "ACME",
        "domains": ["piedpiper.com", "PIEDPIPER.COM", "not a domain"],
        "mailboxes": [
            {"first_name": "", "last_name": "H" * 61, "email": "richard@hooli.xyz"},
            {"first_name": "A", "last_name": "B", "email": "bad address"},
            {"last_name": "B", "email": "x@piedpiper.com"},
        ],
    }
    response = await ready.client.post("/rest/v2/domains/order", json=body)
    assert_fields(
        response,
        ("provider", "must be one of MAILDOSO, MAILFORGE, GOOGLE, MICROSOFT", "ACME"),
        ("domains.1", "duplicate", "PIEDPIPER.COM"),
        ("domains.2", "must be a valid domain name", "not a domain"),
        ("mailboxes.0.first_name", "must not be empty", ""),
        ("mailboxes.0.last_name", "must be at most 60 characters", "H" * 61),
        ("mailboxes.1.email", "must be a valid email address", "bad address"),
        ("mailboxes.2.first_name", "is required", None),
    )


async def test_missing_fields_and_owner(user: ApiUser, service_account: ServiceAccount) -> None:
    await connect(user.client, service_account)
    response = await user.client.post("/rest/v2/domains/order", json={"domains": []})
    assert_fields(
        response,
        ("provider", "is required", None),
        ("domains", "must not be empty", None),
        ("mailboxes", "is required", None),
        ("owner", "owner_required", None),
    )


async def test_mailboxes_must_be_in_the_ordered_domains(ready: ApiUser) -> None:
    mailboxes = [{"first_name": "G", "last_name": "B", "email": "gavin@hooli.xyz"}]
    body = {"provider": "GOOGLE", "domains": [DOMAIN], "mailboxes": mailboxes}
    response = await ready.client.post("/rest/v2/domains/order", json=body)
    assert_fields(response, ("mailboxes.0.email", "domain_not_in_order", "gavin@hooli.xyz"))


async def test_not_connected(user: ApiUser) -> None:
    await user.client.post("/rest/v2/domains/owner", json=OWNER)
    response = await order(user.client, RICHARD)
    assert_fields(response, ("provider", "google_workspace_not_connected", "GOOGLE"))


async def test_a_domain_is_ordered_once(ready: ApiUser) -> None:
    await order(ready.client, RICHARD)
    response = await order(ready.client, "jared@piedpiper.com", domain="PiedPiper.com")
    assert_fields(response, ("domains.0", "domain_already_exists", "piedpiper.com"))


async def test_an_address_already_in_workspace_is_refused(
    ready: ApiUser, workspace: GoogleWorkspace
) -> None:
    workspace.add_user("jared@piedpiper.com", "Jared", "Dunn")
    response = await order(ready.client, "Jared@piedpiper.com")
    assert_fields(
        response,
        ("mailboxes.0.email", "mailbox_already_exists_in_google_workspace", "Jared@piedpiper.com"),
    )


async def test_at_most_max_mailboxes_per_domain(ready: ApiUser) -> None:
    emails = [f"m{i}@piedpiper.com" for i in range(11)]
    assert_fields(
        await order(ready.client, *emails),
        ("mailboxes", "too_many_mailboxes_for_domain", DOMAIN),
    )
    assert (await order(ready.client, *emails[:9])).status_code == 202
    more = [
        {"first_name": "A", "last_name": "B", "email": e}
        for e in ("n1@piedpiper.com", "n2@piedpiper.com")
    ]
    response = await ready.client.post("/rest/v2/domains/mailboxes/order", json={"mailboxes": more})
    assert_fields(response, ("mailboxes", "too_many_mailboxes_for_domain", DOMAIN))


async def test_more_mailboxes_on_an_existing_domain(
    ready: ApiUser, workspace: GoogleWorkspace
) -> None:
    await order(ready.client, RICHARD)
    more = [
        {"first_name": "Jared", "last_name": "Dunn", "email": "JARED@piedpiper.com"},
        {"first_name": "R", "last_name": "H", "email": RICHARD},
        {"first_name": "G", "last_name": "B", "email": "gavin@hooli.xyz"},
    ]
    response = await ready.client.post("/rest/v2/domains/mailboxes/order", json={"mailboxes": more})
    assert_fields(
        response,
        ("mailboxes.1.email", "mailbox_already_exists", RICHARD),
        ("mailboxes.2.email", "domain_not_found", "gavin@hooli.xyz"),
    )
    response = await ready.client.post(
        "/rest/v2/domains/mailboxes/order", json={"mailboxes": more[:1]}
    )
    assert response.status_code == 202 and response.content == b""
    await wait_status(ready.client, "PAID", "jared@piedpiper.com")
    assert workspace.user("jared@piedpiper.com") is not None


async def test_google_down_keeps_the_mailbox_ordered_until_a_retry_succeeds(
    ready: ApiUser, runtime: Runtime, workspace: GoogleWorkspace
) -> None:
    workspace.fail(503, retry_after=0, method="POST", path="/users")
    assert (await order(ready.client, RICHARD)).status_code == 202

    async def attempted() -> bool:
        jobs = await jobs_of(runtime, CREATE_MAILBOX)
        return bool(jobs) and jobs[0].attempts >= 1 and jobs[0].status == JobStatus.pending

    await until(attempted)
    assert (await mailbox(ready.client))["status"] == "ORDERED"
    assert workspace.user(RICHARD) is None
    domain = (await ready.client.get(f"/rest/v2/domains/{DOMAIN}")).json()
    assert domain["all_mailboxes_are_ready"] is False

    workspace.clear_outages()
    await wait_status(ready.client, "PAID")
    assert workspace.user(RICHARD) is not None


async def test_a_retry_adopts_the_user_it_created(
    ready: ApiUser, runtime: Runtime, workspace: GoogleWorkspace
) -> None:
    """Google created the user but the answer was lost: the retry finds its own marker."""
    workspace.fail(0, times=1, method="POST", path="/users", after=True)
    assert (await order(ready.client, RICHARD)).status_code == 202
    await wait_status(ready.client, "PAID")
    assert [r.status for r in workspace.served("POST", "/users")] == [0, 409]
    created = workspace.user(RICHARD)
    assert created is not None
    assert (await mailbox(ready.client))["status"] == "PAID"
    assert len([u for u in workspace.users if u == RICHARD]) == 1


async def test_someone_elses_user_makes_the_mailbox_failed(
    ready: ApiUser, runtime: Runtime, workspace: GoogleWorkspace
) -> None:
    """The address was taken between the order and the job: FAILED, the user left alone."""
    workspace.fail(503, retry_after=0, method="POST", path="/users", times=2)
    assert (await order(ready.client, RICHARD)).status_code == 202
    await until(lambda: _attempted_once(runtime))
    workspace.add_user(RICHARD, "Other", "Person")
    await wait_status(ready.client, "FAILED")
    failed = await mailbox(ready.client)
    assert "another user" in failed["error"]
    other = workspace.user(RICHARD)
    assert other is not None and other["name"]["givenName"] == "Other"

    workspace.users.pop(RICHARD)  # re-ordering a FAILED mailbox tries again
    again = [{"first_name": "Richard", "last_name": "Hendricks", "email": RICHARD}]
    response = await ready.client.post(
        "/rest/v2/domains/mailboxes/order", json={"mailboxes": again}
    )
    assert response.status_code == 202
    await wait_status(ready.client, "PAID")
    assert (await mailbox(ready.client))["error"] is None


async def _attempted_once(runtime: Runtime) -> bool:
    jobs = await jobs_of(runtime, CREATE_MAILBOX)
    return bool(jobs) and jobs[0].attempts >= 1 and jobs[0].status == JobStatus.pending


async def test_order_when_google_is_down_is_503(ready: ApiUser, workspace: GoogleWorkspace) -> None:
    workspace.fail(503, retry_after=0, path="/domains")
    details = assert_problem(await order(ready.client, RICHARD), 503, "Service Unavailable")
    assert "could not be reached" in details
    assert (await ready.client.get("/rest/v2/domains")).json() == {"domains": []}


async def test_paid_mailbox_helper_is_end_to_end(
    user: ApiUser, service_account: ServiceAccount, workspace: GoogleWorkspace
) -> None:
    await paid_mailbox(user.client, service_account, "dinesh@piedpiper.com")
    assert workspace.user("dinesh@piedpiper.com") is not None


async def test_another_accounts_domain_cannot_take_orders(
    ready: ApiUser, other_user: ApiUser, workspace: GoogleWorkspace
) -> None:
    await order(ready.client, RICHARD)
    await wait_status(ready.client, "PAID")
    more = [{"first_name": "Jared", "last_name": "Dunn", "email": "jared@piedpiper.com"}]
    response = await other_user.client.post(
        "/rest/v2/domains/mailboxes/order", json={"mailboxes": more}
    )
    assert_fields(response, ("mailboxes.0.email", "domain_not_found", "jared@piedpiper.com"))
    nowhere = [{"first_name": "J", "last_name": "D", "email": "jared@nowhere.com"}]
    response = await other_user.client.post(
        "/rest/v2/domains/mailboxes/order", json={"mailboxes": nowhere}
    )
    assert_fields(response, ("mailboxes.0.email", "domain_not_found", "jared@nowhere.com"))
    assert workspace.user("jared@piedpiper.com") is None
    assert (await other_user.client.get("/rest/v2/domains")).json() == {"domains": []}
