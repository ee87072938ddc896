"""The profile picture's avatar checks against the work they cannot avoid, in one process.

* ``avatar.inspect_5mb``: ``avatar.inspect`` of a 5 MB PNG (Base64 text) vs decoding that Base64
  alone: the cost of the checks beyond reading the bytes.
* ``avatar.refuse_bomb``: refusing a PNG that claims 100000x100000 pixels vs decoding its Base64.
* ``avatar.prepare``: decoding, scaling to 256 px and re-encoding vs a plain full pixel decode of
  the same image with Pillow.
"""

from __future__ import annotations

import base64
import contextlib
import io
import os
import struct
import zlib
from collections.abc import Callable
from typing import Any

from PIL import Image

from bench.common import Result, timed
from perch.server.domain import avatar

REPEAT = 5


def _noise_png(side: int) -> bytes:
    image = Image.frombytes("RGB", (side, side), os.urandom(side * side * 3))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def _bomb() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\0" * 1024)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    )


async def _many(fn: Callable[[Any], object], argument: object, times: int = 10) -> None:
    for _ in range(times):
        with contextlib.suppress(avatar.InvalidAvatar):
            fn(argument)


def _full_decode(data: bytes) -> None:
    with Image.open(io.BytesIO(data)) as image:
        image.load()


async def run() -> list[Result]:
    big = _noise_png(1290)  # about 5 MB, below the limit
    assert len(big) <= avatar.MAX_BYTES
    text, bomb_text = base64.b64encode(big).decode(), base64.b64encode(_bomb()).decode()
    decode = lambda t: base64.b64decode(t, validate=True)  # noqa: E731
    inspect = await timed(lambda: _many(avatar.inspect, text), repeat=REPEAT)
    baseline = await timed(lambda: _many(decode, text), repeat=REPEAT)
    bomb = await timed(lambda: _many(avatar.inspect, bomb_text, 1000), repeat=REPEAT)
    bomb_base = await timed(lambda: _many(decode, bomb_text, 1000), repeat=REPEAT)
    inspected = avatar.inspect(text)
    prepare = await timed(lambda: _many(avatar.prepare, inspected, 3), repeat=REPEAT)
    full = await timed(lambda: _many(_full_decode, big, 3), repeat=REPEAT)
    notes = {"bytes": len(big)}
    return [
        Result("avatar.inspect_5mb", inspect / 10, baseline / 10, notes=notes),
        Result("avatar.refuse_bomb", bomb * 1000, bomb_base * 1000, unit="µs"),
        Result("avatar.prepare", prepare / 3, full / 3, notes={"pixels": "1290x1290"}),
    ]
