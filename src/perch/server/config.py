"""Settings: one typed class, read from the environment with the prefix ``PERCH_``.

Every setting is documented in ``docs/configuration.md``. Lists are comma-separated in the
environment (``PERCH_ALLOWED_NETWORKS=10.0.0.0/8,127.0.0.0/8``).
"""

from __future__ import annotations

import ipaddress
import os
from datetime import timedelta
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Annotated

from pydantic import BeforeValidator, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class Environment(StrEnum):
    development = "development"
    production = "production"
    test = "test"


def parse_nameserver(value: str) -> tuple[str, int]:
    """``1.2.3.4``, ``1.2.3.4:5353``, ``::1`` or ``[::1]:5353`` -> (address, port)."""
    host, port = value, "53"
    if value.startswith("["):
        host, _, rest = value[1:].partition("]")
        port = rest.removeprefix(":") or "53"
    elif value.count(":") == 1:
        host, port = value.split(":")
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{value!r}: port must be 1..65535")
    ipaddress.ip_address(host)
    return host, int(port)


_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}


def _duration(value: object) -> object:
    """Seconds (``30``, ``0.5``) or a number with a unit (``500ms``, ``30s``, ``5m``, ``1h``)."""
    if not isinstance(value, str):
        return value
    text = value.strip().lower()
    for unit in sorted(_UNITS, key=len, reverse=True):
        if text.endswith(unit) and _is_number(text[: -len(unit)]):
            return timedelta(seconds=float(text[: -len(unit)]) * _UNITS[unit])
    return timedelta(seconds=float(text)) if _is_number(text) else value


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


Duration = Annotated[timedelta, BeforeValidator(_duration)]


def _split(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PERCH_", extra="ignore")

    env: Environment = Environment.development
    database_url: str = "sqlite+aiosqlite:///./perch.db"
    broker_url: str = "memory://"
    broker_queue: str = "perch"
    secret_keys: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list)
    secret_key_file: Path = Path("perch-secret.key")
    tls_ca_file: Path | None = None
    allowed_networks: Annotated[list[IPNetwork], NoDecode] = Field(default_factory=list)
    dns_nameservers: Annotated[list[str], NoDecode] = Field(default_factory=list)
    microsoft_login_url: str = "https://login.microsoftonline.com"
    microsoft_graph_url: str = "https://graph.microsoft.com/v1.0"
    google_token_url: str = "https://oauth2.googleapis.com/token"
    google_directory_url: str = "https://admin.googleapis.com/admin/directory/v1"
    public_url: str = "http://127.0.0.1:8000"
    inbox_poll_seconds: int = Field(default=60, ge=1)
    inbox_initial_limit: int = Field(default=5000, ge=0)  # newest messages of a first sync
    # worker processes that parse synced mail; 0 parses in a thread (see inbox/parse_pool.py)
    inbox_parse_processes: int = Field(
        default_factory=lambda: 1 if (os.cpu_count() or 1) > 1 else 0, ge=0, le=64
    )
    scheduler_tick: Duration = timedelta(seconds=2)
    job_lease: Duration = timedelta(seconds=60)
    heartbeat_interval: Duration = timedelta(seconds=60)
    log_level: str = "INFO"
    log_json: bool = False

    # Rate limits per API key (see perch.server.ratelimit)
    rate_concurrency: int = Field(default=2, ge=1)  # requests processed at a time
    rate_queue: int = Field(default=6, ge=0)  # requests allowed to wait
    rate_wait: Duration = timedelta(seconds=15)  # longest wait in the queue

    # Mailbox verification and mail transport (SMTP/IMAP)
    mail_timeout: Duration = timedelta(seconds=15)  # each connect / TLS / command step
    verify_concurrency: int = Field(default=50, ge=1)  # mailboxes verified at once per batch
    verify_per_host: int = Field(default=8, ge=1)  # connections at once to one server host
    # Completion e-mails (``MAIL`` notifications): smtps://user:pass@host:465 (implicit TLS) or
    # smtp://user:pass@host:587 (STARTTLS); unset means such mails are not sent.
    notify_smtp_url: SecretStr | None = None
    notify_from: str | None = None

    # Outside HTTP APIs (Microsoft Graph, Google)
    http_max_retries: int = Field(default=4, ge=0)  # for 429 and 5xx, honouring Retry-After

    # deliverability: total time for one DNS question (all nameservers, retries included)
    dns_timeout: Duration = timedelta(seconds=5)

    # domain: Google Workspace mailboxes (GET /rest/v2/domains/providers, ordering)
    google_mailbox_price: float = Field(default=0.0, ge=0)  # shown as email_account_price
    domain_currency: str = "USD"  # shown as the providers' currency
    domain_max_mailboxes: int = Field(default=10, ge=1)  # mailboxes per domain

    @field_validator("secret_keys", "allowed_networks", "dns_nameservers", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        return _split(value)

    @field_validator("dns_nameservers")
    @classmethod
    def _host_port(cls, value: list[str]) -> list[str]:
        for item in value:
            parse_nameserver(item)
        return value

    @cached_property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @cached_property
    def is_memory_broker(self) -> bool:
        return self.broker_url.startswith("memory://")


def get_settings() -> Settings:
    return Settings()
