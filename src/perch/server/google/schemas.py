"""Request and response bodies of ``/rest/v2/domains/google/connection``."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class GoogleConnectionUpdate(BaseModel):
    service_account_key: dict[str, Any] | str = Field(
        description="The service account's JSON key file: the object, or its text."
    )
    admin_email: str = Field(
        description="A Workspace administrator the service account acts as (domain-wide "
        "delegation).",
        examples=["admin@piedpiper.com"],
    )


class GoogleConnectionRead(BaseModel):
    """The connection without its key."""

    client_email: str = Field(examples=["perch@project.iam.gserviceaccount.com"])
    client_id: str | None = Field(description="For the domain-wide delegation entry.")
    private_key_id: str
    project_id: str | None
    admin_email: str
    scopes: list[str] = Field(description="The scopes to grant to client_id by delegation.")
    created: str = Field(examples=["2027-06-24T10:00:00"])
    updated: str = Field(examples=["2027-06-24T10:00:00"])
