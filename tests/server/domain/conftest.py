"""The domain tests run against the sandbox Google Workspace over real HTTPS."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from perch.sandbox import SandboxCA
from perch.sandbox.google import GoogleWorkspace, ServiceAccount
from perch.server.config import Settings
from tests.server.domain.helpers import new_workspace


@pytest.fixture
def workspace(sandbox_ca: SandboxCA) -> Iterator[GoogleWorkspace]:
    workspace = new_workspace()
    with workspace.serve(sandbox_ca):
        yield workspace


@pytest.fixture
def service_account(workspace: GoogleWorkspace) -> ServiceAccount:
    return workspace.add_service_account()


@pytest.fixture
def settings(settings: Settings, workspace: GoogleWorkspace, ca_bundle: Path) -> Settings:
    return settings.model_copy(
        update={
            "google_token_url": workspace.token_url,
            "google_directory_url": workspace.directory_url,
            "tls_ca_file": ca_bundle,
            "http_max_retries": 1,
        }
    )
