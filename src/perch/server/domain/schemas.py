"""Request and response bodies of ``/rest/v2/domains`` (Woodpecker's shapes).

Request fields are optional in the models on purpose: the service checks them and reports
every problem at once in the 422 ``fields`` list, ``value: null`` for a missing one.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from perch.server.models.domain_mailbox import DomainMailboxStatus as Status


class ProviderRead(BaseModel):
    name: str = Field(examples=["GOOGLE"])
    currency: str = Field(examples=["USD"])
    email_account_price: float = Field(examples=[0.0])


class ProvidersRead(BaseModel):
    providers: list[ProviderRead]


class OwnerConfiguration(BaseModel):
    default_domain_redirect_url: str | None = None
    default_email_forward_address: str | None = None


class OwnerWrite(BaseModel):
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    company_name: str | None = None
    address: str | None = None
    city: str | None = None
    state: str | None = None
    country: str | None = None
    zip_code: str | None = None
    phone: str | None = None
    configuration: OwnerConfiguration | None = None


class OwnerContact(BaseModel):
    email: str | None
    first_name: str | None
    last_name: str | None
    company_name: str | None
    address: str | None
    city: str | None
    state: str | None
    country: str | None
    zip_code: str | None
    phone: str | None


class OwnerRead(OwnerContact):
    configuration: OwnerConfiguration


class MailboxOrderItem(BaseModel):
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None


class DomainOrder(BaseModel):
    provider: str | None = Field(default=None, examples=["GOOGLE"])
    domains: list[str] | None = Field(default=None, examples=[["piedpiper.com"]])
    mailboxes: list[MailboxOrderItem] | None = None


class MailboxesOrder(BaseModel):
    mailboxes: list[MailboxOrderItem] | None = None


class DomainListItem(BaseModel):
    domain: str
    mailboxes_count: int
    provider: str
    is_custom_domain: bool
    is_ready: bool
    expires: str | None = Field(description="Always null: Perch does not register domains.")
    created: str = Field(examples=["2027-06-24T10:00:00"])


class DomainsRead(BaseModel):
    domains: list[DomainListItem]


class DomainRead(BaseModel):
    owner: OwnerContact
    email_forward_address: str | None
    domain_redirect_url: str | None
    expires: str | None
    created: str
    is_custom_domain: bool
    is_ready: bool
    provider: str
    mailboxes_count: int
    max_mailboxes: int
    all_mailboxes_are_ready: bool


class DomainMailboxListItem(BaseModel):
    first_name: str
    last_name: str
    email: str
    provider: str
    status: Status


class DomainMailboxesRead(BaseModel):
    mailboxes: list[DomainMailboxListItem]


class DomainMailboxRead(BaseModel):
    first_name: str
    last_name: str
    email: str
    login: str
    provider: str
    status: Status
    authenticator: str | None = Field(description="Always null.")
    smtp_server: str
    smtp_password: str | None = Field(description="Always null: Perch never returns secrets.")
    smtp_port: int
    imap_server: str
    imap_email: str
    imap_password: str | None = Field(description="Always null: Perch never returns secrets.")
    imap_port: int
    created: str
    profile_picture: str | None = Field(description="Where Perch serves the picture.")
    error: str | None = Field(description="Why the last Google Workspace change failed.")


class ProfilePictureUpdate(BaseModel):
    avatar: str | None = Field(
        default=None,
        description="PNG or JPEG as Base64, without a Data URL prefix; at most 5 MB decoded "
        "and 4096x4096 pixels.",
        examples=["iVBORw0KGgoAAAANSUhEUgAA..."],
    )


class SuccessRead(BaseModel):
    success: bool = True
