"""Verification for real: the sandbox SMTP/IMAP servers, Dovecot, and the address policy."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from perch.sandbox import Dovecot, SandboxDNS, SandboxIMAP, SandboxSMTP
from perch.server.config import Settings
from perch.server.models.mailbox import Mailbox, MailboxImap
from perch.server.models.mailbox_batch_item import MailboxBatchItem
from perch.server.runtime import Runtime
from tests.fixtures.app import ApiUser
from tests.fixtures.peers import ALICE, ALICE_PASSWORD, BOB, BOB_PASSWORD
from tests.helpers import free_port
from tests.server.integrations.mail_helpers import counting_listener
from tests.server.mailbox.conftest import finished, mailbox, submit
from tests.server.mailbox.test_bulk_validation import SEED_ALL_FIELDS, SEED_REQUIRED_ONLY

CAROL, CAROL_PASSWORD = "carol@example.test", "carol-pw"


def codes(item: dict[str, Any]) -> list[str]:
    return [problem["code"] for problem in item["problems"]]


@pytest.mark.default_policy
async def test_the_seed_examples_fail_with_dns_not_found(user: ApiUser) -> None:
    everything = await finished(user.client, await submit(user.client, SEED_ALL_FIELDS))
    required = await finished(user.client, await submit(user.client, SEED_REQUIRED_ONLY))
    for result in (everything, required):
        assert (result["batch_size"], result["failed_mailboxes_count"]) == (1, 1)
        assert result["connected_mailboxes_count"] == 0
        assert result["conditionally_connected_mailboxes_count"] == 0
        [failed] = result["failed_mailboxes"]
        assert (failed["code"], failed["stage"]) == ("DNS_NOT_FOUND", "dns")
    assert codes(everything["failed_mailboxes"][0]) == [
        "DNS_NOT_FOUND",  # smtp.server.io
        "DNS_NOT_FOUND",  # imap.server.io
        "TRACKING_DOMAIN_NOT_FOUND",
        "TRACKING_DOMAIN_NOT_FOUND",
        "TRACKING_DOMAIN_NOT_FOUND",
    ]
    assert everything["failed_mailboxes"][0]["smtp_email"] == "smtp@mail.com"
    assert everything["failed_mailboxes"][0]["imap_email"] == "imap@mail.com"
    assert (await user.client.get("/rest/v2/mailboxes")).json() == []


async def test_one_batch_connected_conditional_and_failed_each_with_its_code(
    user: ApiUser, smtp_server: SandboxSMTP, imap_server: SandboxIMAP, runtime: Runtime
) -> None:
    smtp_server.add_user(CAROL, CAROL_PASSWORD)
    await imap_server.add_user(CAROL, CAROL_PASSWORD)
    ports = {"smtp_port": smtp_server.starttls_port, "imap_port": imap_server.starttls_port}
    body = {
        "mailboxes": [
            mailbox(ALICE, ALICE_PASSWORD, **ports),  # good
            mailbox(BOB, BOB_PASSWORD, **ports) | {"smtp_password": "wrong"},
            mailbox(CAROL, CAROL_PASSWORD, **ports) | {"imap_password": "wrong"},
            mailbox("dave@example.test", **(ports | {"smtp_port": free_port()})),  # refused
            mailbox("erin@example.test", **(ports | {"smtp_port": smtp_server.implicit_port})),
            mailbox("frank@example.test", **ports) | {"smtp_server": "smtp.nowhere.invalid"},
        ]
    }
    result = await finished(user.client, await submit(user.client, body))

    assert result["connected_mailboxes_count"] == 1
    [conditional] = result["conditionally_connected_mailboxes"]
    assert (conditional["index"], conditional["smtp_email"]) == (2, CAROL)
    assert (conditional["code"], conditional["stage"]) == ("IMAP_AUTH_FAILED", "auth")
    assert conditional["reply"].startswith("[AUTHENTICATIONFAILED]")
    assert conditional["mailbox_id"] is not None
    failed = {item["index"]: item for item in result["failed_mailboxes"]}
    assert {i: (f["code"], f["stage"]) for i, f in failed.items()} == {
        1: ("SMTP_AUTH_FAILED", "auth"),
        3: ("SMTP_CONNECTION_REFUSED", "tcp"),
        4: ("SMTP_TLS_MODE_MISMATCH", "greeting"),
        5: ("DNS_NOT_FOUND", "dns"),
    }
    assert failed[1]["reply"] == "535 5.7.8 Authentication credentials invalid"
    assert "app password" in failed[1]["hint"]
    assert "expects implicit TLS" in failed[4]["hint"]
    assert all(f["mailbox_id"] is None for f in failed.values())

    listed = (await user.client.get("/rest/v2/mailboxes")).json()
    smtp_records = {r["details"]["email"]: r for r in listed if r["type"] == "SMTP"}
    assert set(smtp_records) == {ALICE, CAROL}
    assert smtp_records[ALICE]["details"]["error"] is None
    error = smtp_records[CAROL]["details"]["error"]
    assert error.startswith("Connected conditionally: ") and "IMAP_AUTH_FAILED" in error
    await _passwords_are_encrypted_and_wiped(runtime, listed, result)


async def _passwords_are_encrypted_and_wiped(
    runtime: Runtime, listed: list[dict[str, Any]], summary: dict[str, Any]
) -> None:
    everything_shown = json.dumps(listed) + json.dumps(summary)
    assert ALICE_PASSWORD not in everything_shown and "wrong" not in everything_shown
    async with runtime.session() as session:
        items = (await session.execute(select(MailboxBatchItem))).scalars().all()
        stored = (await session.execute(select(Mailbox))).scalars().all()
        imaps = (await session.execute(select(MailboxImap))).scalars().all()
    assert all(
        i.smtp_password_encrypted is None and i.imap_password_encrypted is None for i in items
    )
    alice = next(m for m in stored if m.email == ALICE)
    assert alice.smtp_password_encrypted != ALICE_PASSWORD
    assert runtime.secrets.decrypt(alice.smtp_password_encrypted or "") == ALICE_PASSWORD
    alice_imap = next(i for i in imaps if i.mailbox_id == alice.id)
    assert runtime.secrets.decrypt(alice_imap.password_encrypted or "") == ALICE_PASSWORD


@pytest.mark.default_policy
async def test_loopback_hosts_are_refused_by_default_and_never_contacted(user: ApiUser) -> None:
    async with counting_listener() as smtp, counting_listener() as imap:
        body = {"mailboxes": [mailbox(host="127.0.0.1", smtp_port=smtp.port, imap_port=imap.port)]}
        result = await finished(user.client, await submit(user.client, body))
    [failed] = result["failed_mailboxes"]
    assert codes(failed) == ["HOST_NOT_ALLOWED", "HOST_NOT_ALLOWED"]
    assert [p["service"] for p in failed["problems"]] == ["SMTP", "IMAP"]
    assert "PERCH_ALLOWED_NETWORKS" in failed["hint"]
    assert (smtp.connections, imap.connections) == (0, 0)


async def test_a_real_dovecot_mailbox_connects(
    user: ApiUser, smtp_server: SandboxSMTP, dovecot: Dovecot
) -> None:
    body = {
        "mailboxes": [mailbox(smtp_port=smtp_server.starttls_port, imap_port=dovecot.imap_port)]
    }
    result = await finished(user.client, await submit(user.client, body))
    assert result["connected_mailboxes_count"] == 1, result


async def test_a_wrong_password_on_dovecot_is_conditional(
    user: ApiUser, smtp_server: SandboxSMTP, dovecot: Dovecot
) -> None:
    entry = mailbox(smtp_port=smtp_server.starttls_port, imap_port=dovecot.imap_port)
    result = await finished(
        user.client, await submit(user.client, {"mailboxes": [entry | {"imap_password": "x"}]})
    )
    [conditional] = result["conditionally_connected_mailboxes"]
    assert conditional["reply"] == "[AUTHENTICATIONFAILED] Authentication failed."


@pytest.fixture
def dns_zone(dns_server: SandboxDNS) -> Iterator[SandboxDNS]:
    dns_server.set_zone(
        "click.example.test. 60 IN CNAME track.example.test.\n"
        "track.example.test. 60 IN A 203.0.113.7\n"
    )
    yield dns_server


@pytest.fixture
def settings(settings: Settings, request: pytest.FixtureRequest) -> Settings:
    if "dns_zone" not in request.fixturenames:
        return settings
    server: SandboxDNS = request.getfixturevalue("dns_zone")
    return settings.model_copy(update={"dns_nameservers": [server.nameserver]})


async def test_tracking_domains_are_looked_up_and_a_missing_one_is_conditional(
    dns_zone: SandboxDNS, user: ApiUser, smtp_server: SandboxSMTP, imap_server: SandboxIMAP
) -> None:
    ports = {"smtp_port": smtp_server.starttls_port, "imap_port": imap_server.starttls_port}
    body = {
        "mailboxes": [
            mailbox(ALICE, ALICE_PASSWORD, **ports, click_tracking_domain="click.example.test"),
            mailbox(BOB, BOB_PASSWORD, **ports, open_tracking_domain="open.example.test"),
        ]
    }
    result = await finished(user.client, await submit(user.client, body))
    assert result["connected_mailboxes_count"] == 1
    [conditional] = result["conditionally_connected_mailboxes"]
    assert (conditional["smtp_email"], conditional["code"]) == (BOB, "TRACKING_DOMAIN_NOT_FOUND")
    assert conditional["problems"][0]["service"] == "TRACKING_DOMAIN"


async def test_no_password_reaches_the_log(
    user: ApiUser,
    smtp_server: SandboxSMTP,
    imap_server: SandboxIMAP,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    ports = {"smtp_port": smtp_server.starttls_port, "imap_port": imap_server.starttls_port}
    secret = "s3cr3t-that-must-not-leak"
    body = {"mailboxes": [mailbox(ALICE, secret, **ports), mailbox(BOB, BOB_PASSWORD, **ports)]}
    await finished(user.client, await submit(user.client, body))
    captured = capsys.readouterr()
    assert "mailbox.verified" in captured.out + captured.err  # the log was captured
    assert secret not in captured.out + captured.err
    assert BOB_PASSWORD not in captured.out + captured.err
