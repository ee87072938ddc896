"""Request and response shapes of the mailbox endpoints.

The bulk request is validated by ``validation.parse_bulk`` (exact Woodpecker messages), which
returns a ``MailboxBulkCreate``; the model here also gives OpenAPI its request schema.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from perch.server.notification.schemas import BatchNotificationsRead

MAX_MAILBOXES = 200


class CompletionNotificationType(StrEnum):
    mail = "MAIL"
    in_app = "IN_APP"


class MailboxSettings(BaseModel):
    """Everything submitted for a mailbox except the addresses and passwords."""

    smtp_login: str | None = Field(default=None, max_length=320)
    smtp_server: str = Field(min_length=1, max_length=255)
    smtp_port: int = Field(ge=1, le=65535)
    smtp_from_name: str | None = Field(default=None, max_length=200)
    imap_server: str = Field(min_length=1, max_length=255)
    imap_port: int = Field(ge=1, le=65535)
    footer: str | None = None
    bcc: str | None = Field(default=None, json_schema_extra={"format": "email"})
    open_tracking_domain: str | None = Field(default=None, max_length=253)
    click_tracking_domain: str | None = Field(default=None, max_length=253)
    unsubscribe_tracking_domain: str | None = Field(default=None, max_length=253)
    sending_wait_time_from: int | None = Field(default=None, ge=10, le=9999)
    sending_wait_time_to: int | None = Field(default=None, ge=20, le=9999)
    daily_sending_limit: int | None = Field(default=None, ge=1, le=5500)


class MailboxBulkItem(MailboxSettings):
    smtp_email: str = Field(max_length=320, json_schema_extra={"format": "email"})
    smtp_password: SecretStr = Field(min_length=1)
    imap_email: str = Field(max_length=320, json_schema_extra={"format": "email"})
    imap_password: SecretStr = Field(min_length=1)

    def settings(self) -> MailboxSettings:
        return MailboxSettings.model_validate(self.model_dump(include=_SETTINGS))


_SETTINGS = set(MailboxSettings.model_fields)


class MailboxBulkCreate(BaseModel):
    mailboxes: list[MailboxBulkItem] = Field(min_length=1, max_length=MAX_MAILBOXES)
    completion_notification_types: list[CompletionNotificationType] = Field(default_factory=list)


class BatchCreated(BaseModel):
    batch_id: int = Field(examples=[123456])


class ProblemRead(BaseModel):
    """One thing that went wrong while verifying a mailbox."""

    service: Literal["SMTP", "IMAP", "TRACKING_DOMAIN", "PERCH"]
    code: str = Field(examples=["SMTP_AUTH_FAILED"])
    stage: str = Field(examples=["auth"])
    server: str | None = Field(examples=["smtp.example.com:465"])
    reply: str | None = Field(description="the server's own reply, when it sent one")
    hint: str | None = Field(description="what a person can do about it")
    message: str
    retryable: bool = Field(description="true when the same check may pass later")


class BatchMailboxRead(BaseModel):
    """A conditionally connected or failed mailbox of a batch; the first problem is repeated
    at the top level (``code``, ``stage``, ``reply``, ``hint``)."""

    index: int = Field(description="position in the request's mailboxes array")
    smtp_email: str
    imap_email: str
    mailbox_id: int | None = Field(description="SMTP id of the stored mailbox, if stored")
    code: str
    stage: str
    reply: str | None
    hint: str | None
    problems: list[ProblemRead]


class BatchSummaryRead(BaseModel):
    processing_finished: bool
    batch_size: int
    pending_mailboxes_count: int
    connected_mailboxes_count: int
    conditionally_connected_mailboxes_count: int
    failed_mailboxes_count: int
    conditionally_connected_mailboxes: list[BatchMailboxRead]
    failed_mailboxes: list[BatchMailboxRead]
    notifications: BatchNotificationsRead


class FreezePeriod(BaseModel):
    from_: str = Field(alias="from")
    to: str


class WarmupData(BaseModel):
    status: str = Field(examples=["DISABLED"])


class SmtpDetails(BaseModel):
    email: str
    provider: str
    login: str | None
    server: str | None
    port: int | None
    from_name: str | None
    error: str | None
    imap_id: int | None
    daily_limit: int | None
    sent_today: int
    frequency_from: int | None = Field(description="milliseconds")
    frequency_to: int | None = Field(description="milliseconds")
    bcc_crm: str | None
    signature: str | None
    open_url: str | None
    click_url: str | None
    unsubscribe_url: str | None
    freeze_account: list[FreezePeriod]
    in_slot: bool
    warmup_data: WarmupData


class ImapDetails(BaseModel):
    email: str
    provider: str
    login: str | None
    server: str | None
    port: int | None
    private: bool
    error: str | None = Field(
        default=None,
        description="Why the last inbox sync failed (retried with backoff); null when fine",
    )
    last_synced: str | None = Field(default=None, description="When the inbox was last synced, UTC")


class SmtpRecord(BaseModel):
    id: int
    type: Literal["SMTP"] = "SMTP"
    details: SmtpDetails


class ImapRecord(BaseModel):
    id: int
    type: Literal["IMAP"] = "IMAP"
    details: ImapDetails


MailboxRecord = Annotated[SmtpRecord | ImapRecord, Field(discriminator="type")]


class MailboxUpdate(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"footer": "<div>Best,</div>"}]})

    footer: str | None = Field(description="HTML signature; null or an empty string removes it")


def request_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON schema with its ``$defs`` inlined, for ``openapi_extra``."""
    schema = model.model_json_schema()
    definitions = schema.pop("$defs", {})
    return _inline(schema, definitions)


def _inline(node: Any, definitions: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            return _inline(definitions[ref.removeprefix("#/$defs/")], definitions)
        return {key: _inline(value, definitions) for key, value in node.items()}
    if isinstance(node, list):
        return [_inline(item, definitions) for item in node]
    return node
