"""The ``avatar`` of ``PATCH .../profile_picture``: checked cheaply and safely, then prepared.

    image = inspect(text)      # InvalidAvatar(issue, value): nothing but headers was decoded
    photo = prepare(image)     # decoded, at most PHOTO_SIDE pixels a side, re-encoded

``inspect`` refuses in order of cost: a missing value, a Data URL prefix, Base64 text longer
than 5 MB can encode (before decoding anything), text that is not strict Base64, more than 5 MB
decoded, a file that does not start like a PNG or a JPEG, and dimensions above 4096x4096 read
from the header alone (a decompression bomb is refused there without decoding a pixel). PNG
chunk checksums are verified without decompressing.

``prepare`` decodes the pixels (bounded by the checks above), applies the EXIF orientation,
scales the image down to fit PHOTO_SIDE x PHOTO_SIDE (Google stores 96x96 whatever it gets) and
re-encodes it in its own format, which drops all metadata (EXIF location included).
"""

from __future__ import annotations

import base64
import binascii
import io
import struct
import warnings
from dataclasses import dataclass, field

from PIL import Image, ImageOps

from perch.server.integrations.google import Photo

MAX_BYTES = 5 * 1024 * 1024
MAX_SIDE = 4096
MAX_BASE64 = 4 * -(-MAX_BYTES // 3)  # the longest Base64 text of MAX_BYTES bytes
PHOTO_SIDE = 256
_MAGIC = {b"\x89PNG\r\n\x1a\n": "PNG", b"\xff\xd8\xff": "JPEG"}
_MIME = {"PNG": "image/png", "JPEG": "image/jpeg"}
EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg"}

REQUIRED = "is required"
DATA_URL = "must not include a Data URL prefix such as data:image/png;base64,"
NOT_BASE64 = "must be a valid Base64 encoded file"
TOO_LARGE = "must be at most 5 MB when decoded"
NOT_IMAGE = "must be a PNG or JPEG image"
TOO_MANY_PIXELS = "must be at most 4096x4096 pixels"
UNREADABLE = "must be a readable PNG or JPEG image"
_IMAGE_ERRORS = (OSError, SyntaxError, ValueError, struct.error, Image.DecompressionBombError)


class InvalidAvatar(Exception):
    """``issue`` is the 422 issue; ``value`` what may be echoed (never the image itself)."""

    def __init__(self, issue: str, value: str | None = None) -> None:
        super().__init__(issue)
        self.issue, self.value = issue, value


@dataclass(frozen=True)
class Inspected:
    data: bytes = field(repr=False)
    format: str  # PNG or JPEG
    width: int
    height: int


def inspect(text: str | None) -> Inspected:
    if text is None:
        raise InvalidAvatar(REQUIRED)
    if text[:5].lower() == "data:":
        raise InvalidAvatar(DATA_URL, text.partition(",")[0][:64] + ",")
    if len(text) > MAX_BASE64:
        raise InvalidAvatar(TOO_LARGE)
    data = _decode(text)
    if len(data) > MAX_BYTES:
        raise InvalidAvatar(TOO_LARGE)
    kind = next((k for magic, k in _MAGIC.items() if data.startswith(magic)), None)
    if kind is None:
        raise InvalidAvatar(NOT_IMAGE)
    width, height = _header_size(data, kind)
    return Inspected(data, kind, width, height)


def _decode(text: str) -> bytes:
    if not text:
        raise InvalidAvatar(NOT_BASE64)
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as e:
        raise InvalidAvatar(NOT_BASE64) from e


def _header_size(data: bytes, kind: str) -> tuple[int, int]:
    """Width and height from the header; PNG checksums verified; no pixel decoded."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=[kind]) as image:
                width, height = image.size
                if width > MAX_SIDE or height > MAX_SIDE:
                    raise InvalidAvatar(TOO_MANY_PIXELS)
                image.verify()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise InvalidAvatar(TOO_MANY_PIXELS) from e
    except _IMAGE_ERRORS as e:
        raise InvalidAvatar(UNREADABLE) from e
    return width, height


def prepare(image: Inspected) -> Photo:
    """The photo to send to Google and to serve: upright, at most PHOTO_SIDE a side."""
    try:
        with Image.open(io.BytesIO(image.data), formats=[image.format]) as opened:
            if image.format == "JPEG":
                opened.draft("RGB", (PHOTO_SIDE, PHOTO_SIDE))  # decode at a reduced scale
            upright = ImageOps.exif_transpose(opened)
            upright.thumbnail((PHOTO_SIDE, PHOTO_SIDE))
            return _encode(upright, image.format)
    except _IMAGE_ERRORS as e:
        raise InvalidAvatar(UNREADABLE) from e


def _encode(image: Image.Image, kind: str) -> Photo:
    out = io.BytesIO()
    if kind == "JPEG":
        image = image if image.mode in ("RGB", "L") else image.convert("RGB")
        image.save(out, "JPEG", quality=90)
    else:
        image = image if image.mode in ("RGB", "RGBA", "L", "LA", "P") else image.convert("RGBA")
        image.save(out, "PNG")
    return Photo(out.getvalue(), _MIME[kind], image.width, image.height)
