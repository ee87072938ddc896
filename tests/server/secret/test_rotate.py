"""``perch secrets rotate``: every *_encrypted column ends up under the first key."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from perch.server.kit.crypto import SecretBox, generate_key
from perch.server.models import Account
from perch.server.models.mailbox import Mailbox, MailboxImap
from perch.server.models.microsoft_credential import MicrosoftCredential
from perch.server.runtime import Runtime
from perch.server.secret import repository, service


def test_every_encrypted_column_is_found() -> None:
    names = {f"{table.name}.{column.name}" for table, column in repository.encrypted_columns()}
    assert {
        "mailbox.smtp_password_encrypted",
        "mailbox_imap.password_encrypted",
        "microsoft_credential.client_secret_encrypted",
    } <= names


async def test_rotation_moves_every_secret_to_the_new_key(runtime: Runtime, settings) -> None:  # type: ignore[no-untyped-def]
    old_key = settings.secret_keys[0].get_secret_value()
    old = SecretBox([old_key])
    async with runtime.session() as session:
        account = Account(name="acme")
        session.add(account)
        await session.flush()
        for n in range(250):  # more than one batch
            mailbox = Mailbox(
                account_id=account.id,
                email=f"m{n}@example.com",
                smtp_password_encrypted=old.encrypt(f"smtp-{n}"),
            )
            session.add(mailbox)
            await session.flush()
            session.add(
                MailboxImap(
                    account_id=account.id,
                    mailbox_id=mailbox.id,
                    email=mailbox.email,
                    password_encrypted=old.encrypt(f"imap-{n}"),
                )
            )
        session.add(
            MicrosoftCredential(
                account_id=account.id,
                name="c",
                tenant_id="t",
                client_id="c",
                client_secret_encrypted=old.encrypt("graph"),
                secret_expires_at=datetime(2030, 1, 1, tzinfo=UTC),
            )
        )

    new_key = generate_key()
    rotated_settings = settings.model_copy(
        update={"secret_keys": [type(settings.secret_keys[0])(new_key), settings.secret_keys[0]]}
    )
    rotating = Runtime(rotated_settings)
    try:
        reports = await service.rotate_all(rotating, lambda report: None)
    finally:
        await rotating.close()
    counts = {r.column: r.rotated for r in reports}
    assert counts["mailbox.smtp_password_encrypted"] == 250
    assert counts["mailbox_imap.password_encrypted"] == 250
    assert counts["microsoft_credential.client_secret_encrypted"] == 1

    only_new = SecretBox([new_key])
    async with runtime.session() as session:
        tokens = (
            (await session.execute(select(Mailbox.smtp_password_encrypted).order_by(Mailbox.id)))
            .scalars()
            .all()
        )
        secret = (
            await session.execute(select(MicrosoftCredential.client_secret_encrypted))
        ).scalar_one()
    assert [only_new.decrypt(t) for t in tokens if t] == [f"smtp-{n}" for n in range(250)]
    assert only_new.decrypt(secret) == "graph"
