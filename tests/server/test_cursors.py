from __future__ import annotations

import pytest

from perch.server.kit.cursors import CursorCodec, InvalidCursor


def test_round_trip_bound_to_its_query() -> None:
    codec = CursorCodec("secret", "inbox")
    cursor = codec.encode({"id": 41}, {"read": True})
    assert codec.decode(cursor, {"read": True}) == {"id": 41}
    with pytest.raises(InvalidCursor):
        codec.decode(cursor, {"read": False})


@pytest.mark.parametrize("bad", ["", "abc", "a.b", "x" * 40, "eyJwIjp7ImlkIjoxfX0.AAAA"])
def test_foreign_or_garbled_cursors_are_refused(bad: str) -> None:
    with pytest.raises(InvalidCursor):
        CursorCodec("secret", "inbox").decode(bad, {})


def test_another_key_or_purpose_does_not_verify() -> None:
    cursor = CursorCodec("secret", "inbox").encode({"id": 1}, {})
    for other in (CursorCodec("other", "inbox"), CursorCodec("secret", "other")):
        with pytest.raises(InvalidCursor):
            other.decode(cursor, {})
    _body, signature = cursor.split(".")
    tampered = CursorCodec("secret", "inbox").encode({"id": 2}, {}).split(".")[0] + "." + signature
    with pytest.raises(InvalidCursor):
        CursorCodec("secret", "inbox").decode(tampered, {})
