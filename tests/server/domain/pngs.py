"""Hand-built PNG files: any header, any size, valid checksums (for the avatar limits)."""

from __future__ import annotations

import struct
import zlib

SIGNATURE = b"\x89PNG\r\n\x1a\n"


def chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data)
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def png(width: int, height: int, idat: bytes | None = None, pad_to: int | None = None) -> bytes:
    """An RGB PNG claiming ``width`` x ``height``. Without ``idat`` its pixels are real (black);
    ``pad_to`` adds an ancillary chunk so the file is exactly that many bytes."""
    if idat is None:
        idat = zlib.compress(b"".join(b"\0" + b"\0" * 3 * width for _ in range(height)))
    header = chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
    body = SIGNATURE + header + chunk(b"IDAT", idat)
    end = chunk(b"IEND", b"")
    if pad_to is not None:
        filler = pad_to - len(body) - len(end) - 12
        body += chunk(b"pdNg", b"\0" * filler)
    return body + end


def garbage_idat() -> bytes:
    """Compressed data that is not zlib at all: only a pixel decode notices."""
    return b"\x00garbage-not-zlib" * 4
