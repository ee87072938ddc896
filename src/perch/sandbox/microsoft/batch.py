"""JSON batching (``POST /v1.0/$batch``): the inner requests as ASGI scopes, the answers back."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from starlette.requests import Request
from starlette.responses import Response


async def batch_items(request: Request) -> list[dict[str, Any]] | None:
    try:
        body = await request.json()
    except ValueError:
        return None
    items = body.get("requests") if isinstance(body, dict) else None
    if not isinstance(items, list) or not items:
        return None
    fields = ("id", "method", "url")
    return (
        items if all(isinstance(i, dict) and all(f in i for f in fields) for i in items) else None
    )


def inner_scope(item: dict[str, Any], authorization: str) -> tuple[dict[str, Any], Any]:
    """The ASGI scope (and body) of one request inside a ``$batch``."""
    url = urlsplit(str(item["url"]))
    path = "/v1.0/" + unquote(url.path).lstrip("/")
    body = json.dumps(item["body"]).encode() if "body" in item else b""
    headers = [(b"authorization", authorization.encode())]
    if body:
        headers.append((b"content-type", b"application/json"))
    scope = {
        "type": "http",
        "method": str(item["method"]).upper(),
        "path": path,
        "raw_path": quote(path).encode(),
        "root_path": "",
        "scheme": "https",
        "query_string": url.query.encode(),
        "headers": headers,
        "server": ("graph.sandbox", 443),
        "client": ("127.0.0.1", 0),
    }

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    return scope, receive


def inner_answer(item_id: str, response: Response) -> dict[str, Any]:
    kept = {"retry-after": "Retry-After", "content-type": "Content-Type"}
    headers = {kept[k]: v for k, v in response.headers.items() if k in kept}
    body = json.loads(bytes(response.body)) if response.body else None
    return {"id": item_id, "status": response.status_code, "headers": headers, "body": body}
