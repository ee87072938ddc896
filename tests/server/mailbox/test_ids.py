"""SMTP and IMAP ids never share a number, so GET /rest/v2/mailboxes/{id} is never ambiguous."""

from __future__ import annotations

from perch.server.runtime import Runtime
from tests.fixtures.app import ApiUser
from tests.server.mailbox import factories


async def test_every_record_is_reachable_by_its_own_id(user: ApiUser, runtime: Runtime) -> None:
    pairs = [
        await factories.custom_mailbox(runtime, user.account.id, f"m{n}@example.com")
        for n in range(3)
    ]
    smtp_ids = {smtp for smtp, _ in pairs}
    imap_ids = {imap for _, imap in pairs}
    assert not smtp_ids & imap_ids
    for smtp_id, imap_id in pairs:
        smtp = (await user.client.get(f"/rest/v2/mailboxes/{smtp_id}")).json()
        imap = (await user.client.get(f"/rest/v2/mailboxes/{imap_id}")).json()
        assert (smtp["type"], smtp["details"]["imap_id"]) == ("SMTP", imap_id)
        assert (imap["type"], imap["id"]) == ("IMAP", imap_id)
    listed = (await user.client.get("/rest/v2/mailboxes")).json()
    assert len({record["id"] for record in listed}) == len(listed) == 6
