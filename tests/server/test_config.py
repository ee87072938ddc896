from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from perch.server.config import Environment, Settings, parse_nameserver
from perch.server.kit.crypto import SecretBox, SecretUnreadable, generate_key
from perch.server.runtime import ConfigError, resolve_secret_keys


def test_lists_and_durations_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PERCH_ALLOWED_NETWORKS", "127.0.0.0/8, ::1/128")
    monkeypatch.setenv("PERCH_DNS_NAMESERVERS", "127.0.0.1:5353,[::1]:53,10.0.0.1")
    monkeypatch.setenv("PERCH_JOB_LEASE", "90s")
    settings = Settings()
    assert [str(n) for n in settings.allowed_networks] == ["127.0.0.0/8", "::1/128"]
    assert [parse_nameserver(n) for n in settings.dns_nameservers] == [
        ("127.0.0.1", 5353),
        ("::1", 53),
        ("10.0.0.1", 53),
    ]
    assert settings.job_lease == timedelta(seconds=90)


def test_bad_values_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PERCH_DNS_NAMESERVERS", "dns.example.com:53")
    with pytest.raises(ValidationError):
        Settings()


def test_embedded_default_generates_and_keeps_a_key(tmp_path: Path) -> None:
    settings = Settings(env=Environment.development, secret_key_file=tmp_path / "k")
    first = resolve_secret_keys(settings)
    assert resolve_secret_keys(settings) == first
    assert oct((tmp_path / "k").stat().st_mode & 0o777) == "0o600"


def test_refuses_to_run_without_keys_outside_development(tmp_path: Path) -> None:
    for settings in (
        Settings(env=Environment.production, secret_key_file=tmp_path / "k"),
        Settings(database_url="postgresql+asyncpg://db/perch", secret_key_file=tmp_path / "k"),
    ):
        with pytest.raises(ConfigError, match="PERCH_SECRET_KEYS is required"):
            resolve_secret_keys(settings)
    assert not (tmp_path / "k").exists()


def test_secret_box_first_key_encrypts_any_key_decrypts() -> None:
    old, new = generate_key(), generate_key()
    token = SecretBox([old]).encrypt("hunter2")
    assert "hunter2" not in token
    both = SecretBox([new, old])
    assert both.decrypt(token) == "hunter2"
    rotated = both.rotate(token)
    assert SecretBox([new]).decrypt(rotated) == "hunter2"
    with pytest.raises(SecretUnreadable):
        SecretBox([new]).decrypt(token)
