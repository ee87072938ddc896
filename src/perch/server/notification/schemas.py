"""Shapes of notifications: the in-app list, and delivery facts shown in a batch summary."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class NotificationRead(BaseModel):
    id: int
    type: str = Field(examples=["MAILBOX_BATCH_FINISHED"])
    created: str = Field(examples=["2026-11-21T14:00:00Z"], description="UTC, ISO 8601")
    read: bool
    batch_id: int | None
    message: str


class NotificationList(BaseModel):
    notifications: list[NotificationRead]


class MarkedRead(BaseModel):
    marked: int = Field(description="how many were unread until now")


class MailDeliveryRead(BaseModel):
    """The completion e-mail of a batch."""

    status: Literal["PENDING", "SENT", "NOT_SENT"]
    sent: bool
    recipient: str | None
    reason: str | None = Field(description="why it was not sent (yet)")


class InAppDeliveryRead(BaseModel):
    created: bool
    notification_id: int | None


class BatchNotificationsRead(BaseModel):
    """``null`` for a channel the batch did not ask for."""

    mail: MailDeliveryRead | None = None
    in_app: InAppDeliveryRead | None = None
