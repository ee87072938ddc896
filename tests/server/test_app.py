"""Health and the OpenAPI document."""

from __future__ import annotations

import httpx
from fastapi import FastAPI


async def test_healthz_reports_database_and_broker(anonymous: httpx.AsyncClient) -> None:
    response = await anonymous.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"]["ok"] is True and body["broker"] == {"ok": True, "kind": "memory"}
    assert "x-request-id" in response.headers


async def test_openapi_and_docs_are_served(anonymous: httpx.AsyncClient, app: FastAPI) -> None:
    spec = (await anonymous.get("/openapi.json")).json()
    assert spec["info"]["title"] == "Perch"
    assert "HTTPValidationError" not in str(spec)
    assert (await anonymous.get("/docs")).status_code == 200


async def test_every_rest_operation_declares_401_and_500(anonymous: httpx.AsyncClient) -> None:
    spec = (await anonymous.get("/openapi.json")).json()
    for path, item in spec["paths"].items():
        if not path.startswith("/rest/"):
            continue
        for method, operation in item.items():
            assert {"401", "500"} <= set(operation["responses"]), f"{method} {path}"
