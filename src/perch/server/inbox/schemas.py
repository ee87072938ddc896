"""Request and response models of the inbox endpoints."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Address(BaseModel):
    email: str | None
    name: str | None


class MessageBody(BaseModel):
    html: str | None
    text: str | None


class MessageMailbox(BaseModel):
    imap_id: int = Field(description="IMAP id of the mailbox the message arrived in")
    smtp_id: int = Field(description="SMTP id of the same mailbox (use it as reply mailbox_id)")
    email: str


class MessageClassification(BaseModel):
    type: str = Field(examples=["HUMAN_REPLY"], description="HUMAN_REPLY, AUTO_REPLY or BOUNCE")
    prospect_status: str = Field(
        examples=["RESPONDED"], description="RESPONDED, AUTOREPLIED or BOUNCED"
    )
    rule: str = Field(
        examples=["header:Auto-Submitted=auto-replied"], description="the rule that decided"
    )


class InboxMessageRead(BaseModel):
    id: int
    subject: str | None
    stamp: str = Field(
        examples=["2026-11-20T09:30:00"], description="when it arrived, UTC, no zone"
    )
    body: MessageBody
    sender: Address = Field(serialization_alias="from")
    reply_to: str | None
    to: str | None
    cc: str | None
    message_id: str | None
    in_reply_to: str | None
    read: bool
    mailbox: MessageMailbox
    mailbox_ids: list[int] = Field(description="IMAP id(s) the message arrived in")
    classification: MessageClassification
    campaign: None = None

    model_config = ConfigDict(populate_by_name=True)


class Pagination(BaseModel):
    next_page_cursor: str | None
    previous_page_cursor: str | None


class InboxPage(BaseModel):
    content: list[InboxMessageRead]
    pagination: Pagination


class ReplyBody(BaseModel):
    html: str


class ReplyCreate(BaseModel):
    """The seed's body. Validated by hand to answer with the seed's exact messages."""

    mailbox_id: int | None = None
    to: str | None = None
    cc: str | None = None
    bcc: str | None = None
    subject: str | None = None
    body: ReplyBody
    quote_original_message: bool = False
