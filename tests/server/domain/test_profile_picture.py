"""PATCH /rest/v2/domains/{domain_name}/mailboxes/{mailbox_email}/profile_picture (seed 000),
against the sandbox Google Workspace over HTTPS, and the picture served by Perch."""

from __future__ import annotations

import base64
import io
from urllib.parse import urlsplit

import httpx
import pytest
from PIL import Image

from perch.sandbox.google import GoogleWorkspace, ServiceAccount
from perch.server.models.domain import DomainProvider
from perch.server.models.domain_mailbox import DomainMailboxStatus
from perch.server.runtime import Runtime
from tests.fixtures.app import ApiUser
from tests.server.domain.factories import add_domain_mailbox
from tests.server.domain.helpers import (
    DOMAIN,
    RICHARD,
    assert_fields,
    assert_problem,
    b64,
    image,
    mailbox,
    mailbox_path,
    paid_mailbox,
)
from tests.server.domain.pngs import garbage_idat, png

MB5 = 5 * 1024 * 1024
NOT_BASE64 = "must be a valid Base64 encoded file"
TOO_MANY_PIXELS = "must be at most 4096x4096 pixels"
UNREADABLE = "must be a readable PNG or JPEG image"


def picture_path(domain: str = DOMAIN, email: str = RICHARD) -> str:
    return mailbox_path(domain, email) + "/profile_picture"


@pytest.fixture
async def richard(user: ApiUser, service_account: ServiceAccount) -> ApiUser:
    await paid_mailbox(user.client, service_account)
    return user


async def test_seed_example_sets_the_photo_in_workspace(
    richard: ApiUser, workspace: GoogleWorkspace, anonymous: httpx.AsyncClient
) -> None:
    avatar = image("PNG", (64, 48))
    response = await richard.client.patch(picture_path(), json={"avatar": b64(avatar)})
    assert response.status_code == 200
    assert response.json() == {"success": True}

    photo = workspace.photo_of(RICHARD)
    assert photo is not None
    assert "+" not in photo["photoData"] and "/" not in photo["photoData"]
    assert base64.urlsafe_b64decode(photo["photoData"]) == photo["bytes"]
    assert (photo["mimeType"], photo["width"], photo["height"]) == ("image/png", 64, 48)
    with Image.open(io.BytesIO(photo["bytes"])) as sent:
        assert sent.size == (64, 48) and sent.getpixel((0, 0)) == (30, 120, 200)

    url = (await mailbox(richard.client))["profile_picture"]
    assert url.startswith("http://perch.test/media/profile-pictures/") and url.endswith(".png")
    served = await anonymous.get(urlsplit(url).path)  # no API key needed
    assert served.status_code == 200
    assert served.headers["content-type"] == "image/png"
    assert served.content == photo["bytes"]


async def test_upper_case_path_arguments(richard: ApiUser, workspace: GoogleWorkspace) -> None:
    path = picture_path("PIEDPIPER.COM", "Richard@PiedPiper.COM")
    response = await richard.client.patch(path, json={"avatar": b64(image())})
    assert response.json() == {"success": True}
    assert workspace.photo_of(RICHARD) is not None


async def test_large_images_are_scaled_down_and_jpeg_turned_upright(
    richard: ApiUser, workspace: GoogleWorkspace
) -> None:
    await richard.client.patch(picture_path(), json={"avatar": b64(image("PNG", (1000, 500)))})
    photo = workspace.photo_of(RICHARD)
    assert photo is not None and (photo["width"], photo["height"]) == (256, 128)

    out = io.BytesIO()
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees to display
    Image.new("RGB", (40, 20), (250, 250, 0)).save(out, "JPEG", exif=exif)
    response = await richard.client.patch(picture_path(), json={"avatar": b64(out.getvalue())})
    assert response.json() == {"success": True}
    photo = workspace.photo_of(RICHARD)
    assert photo is not None
    assert (photo["mimeType"], photo["width"], photo["height"]) == ("image/jpeg", 20, 40)
    with Image.open(io.BytesIO(photo["bytes"])) as sent:
        assert not sent.getexif()  # metadata dropped
    assert (await mailbox(richard.client))["profile_picture"].endswith(".jpg")


async def test_a_new_picture_gets_a_new_url(richard: ApiUser, anonymous: httpx.AsyncClient) -> None:
    await richard.client.patch(picture_path(), json={"avatar": b64(image())})
    first = (await mailbox(richard.client))["profile_picture"]
    await richard.client.patch(picture_path(), json={"avatar": b64(image("JPEG"))})
    second = (await mailbox(richard.client))["profile_picture"]
    assert first != second
    assert (await anonymous.get(urlsplit(first).path)).status_code == 404
    assert (await anonymous.get(urlsplit(second).path)).headers["content-type"] == "image/jpeg"
    token = urlsplit(second).path.rsplit("/", 1)[1].split(".")[0]
    wrong_extension = await anonymous.get(f"/media/profile-pictures/{token}.png")
    assert wrong_extension.status_code == 404


async def test_seed_422_example_invalid_base64(richard: ApiUser) -> None:
    response = await richard.client.patch(picture_path(), json={"avatar": "not base64 at all!"})
    assert_fields(response, ("avatar", NOT_BASE64, None))


@pytest.mark.parametrize(
    ("body", "issue", "value"),
    [
        ({}, "is required", None),
        ({"avatar": None}, "is required", None),
        ({"avatar": ""}, NOT_BASE64, None),
        ({"avatar": "iVBORw0KGgo"}, NOT_BASE64, None),  # padding missing
        (
            {"avatar": "data:image/png;base64," + b64(image())},
            "must not include a Data URL prefix such as data:image/png;base64,",
            "data:image/png;base64,",
        ),
        ({"avatar": b64(image("GIF"))}, "must be a PNG or JPEG image", None),
        ({"avatar": b64(image("BMP"))}, "must be a PNG or JPEG image", None),
        ({"avatar": b64(image()[:-20])}, UNREADABLE, None),  # truncated: checksums fail
    ],
)
async def test_avatar_problems(
    richard: ApiUser, workspace: GoogleWorkspace, body: dict[str, str], issue: str, value: str
) -> None:
    response = await richard.client.patch(picture_path(), json=body)
    assert_fields(response, ("avatar", issue, value))
    assert workspace.photo_of(RICHARD) is None


async def test_five_megabytes_exactly_pass_one_byte_more_does_not(
    richard: ApiUser, workspace: GoogleWorkspace
) -> None:
    at_limit = png(64, 48, pad_to=MB5)
    assert len(at_limit) == MB5
    response = await richard.client.patch(picture_path(), json={"avatar": b64(at_limit)})
    assert response.json() == {"success": True}

    over = png(64, 48, pad_to=MB5 + 1)
    response = await richard.client.patch(picture_path(), json={"avatar": b64(over)})
    assert_fields(response, ("avatar", "must be at most 5 MB when decoded", None))
    far_over = b64(png(64, 48, pad_to=8 * 1024 * 1024))  # refused by its length alone
    response = await richard.client.patch(picture_path(), json={"avatar": far_over})
    assert_fields(response, ("avatar", "must be at most 5 MB when decoded", None))


async def test_too_many_pixels_refused_from_the_header(richard: ApiUser) -> None:
    """The pixel data is garbage: a decode would fail as unreadable, so the right issue
    proves that only the header was read."""
    for size in ((4097, 1), (1, 4097)):
        wide = png(*size, idat=garbage_idat())
        response = await richard.client.patch(picture_path(), json={"avatar": b64(wide)})
        assert_fields(response, ("avatar", TOO_MANY_PIXELS, None))
    small = png(64, 64, idat=garbage_idat())
    response = await richard.client.patch(picture_path(), json={"avatar": b64(small)})
    assert_fields(response, ("avatar", UNREADABLE, None))  # this one was decoded
    at_limit = png(4096, 1)
    response = await richard.client.patch(picture_path(), json={"avatar": b64(at_limit)})
    assert response.json() == {"success": True}


async def test_decompression_bomb_refused_without_decoding(richard: ApiUser) -> None:
    bomb = png(100_000, 100_000, idat=garbage_idat())  # 10^10 pixels claimed
    response = await richard.client.patch(picture_path(), json={"avatar": b64(bomb)})
    assert_fields(response, ("avatar", TOO_MANY_PIXELS, None))
    jpeg = io.BytesIO()
    Image.new("RGB", (4097, 8)).save(jpeg, "JPEG")
    response = await richard.client.patch(picture_path(), json={"avatar": b64(jpeg.getvalue())})
    assert_fields(response, ("avatar", TOO_MANY_PIXELS, None))


async def test_mailbox_not_in_the_domain(richard: ApiUser) -> None:
    path = picture_path(DOMAIN, "richard@other-domain.com")
    response = await richard.client.patch(path, json={"avatar": b64(image())})
    assert_fields(response, ("mailbox_email", "domain_mismatch", "richard@other-domain.com"))


async def test_path_and_avatar_problems_together(richard: ApiUser) -> None:
    path = picture_path(DOMAIN, "Richard@Other-Domain.com")
    response = await richard.client.patch(path, json={"avatar": "data:,x"})
    assert_fields(
        response,
        ("mailbox_email", "domain_mismatch", "Richard@Other-Domain.com"),
        ("avatar", "must not include a Data URL prefix such as data:image/png;base64,", "data:,"),
    )


async def test_unknown_domain_and_mailbox(richard: ApiUser) -> None:
    response = await richard.client.patch(
        picture_path("nope.com", "a@nope.com"), json={"avatar": b64(image())}
    )
    assert_fields(response, ("domain_name", "not_found", "nope.com"))
    response = await richard.client.patch(
        picture_path(DOMAIN, "Jared@piedpiper.com"), json={"avatar": b64(image())}
    )
    assert_fields(response, ("mailbox_email", "not_found", "Jared@piedpiper.com"))
    response = await richard.client.patch(
        picture_path(DOMAIN, "no-at-sign"), json={"avatar": b64(image())}
    )
    assert_fields(response, ("mailbox_email", "must be a valid email address", "no-at-sign"))


@pytest.mark.parametrize(
    ("status", "provider", "issue"),
    [
        (
            DomainMailboxStatus.paid,
            DomainProvider.microsoft,
            "profile_picture_not_supported_for_provider",
        ),
        (DomainMailboxStatus.ordered, DomainProvider.google, "mailbox_not_ready"),
        (DomainMailboxStatus.failed, DomainProvider.google, "mailbox_not_ready"),
        (DomainMailboxStatus.deleting, DomainProvider.google, "mailbox_being_deleted"),
    ],
)
async def test_mailboxes_that_cannot_take_a_picture(
    richard: ApiUser,
    runtime: Runtime,
    status: DomainMailboxStatus,
    provider: DomainProvider,
    issue: str,
) -> None:
    email = "dinesh@piedpiper.com" if provider == DomainProvider.google else "dinesh@hooli.com"
    await add_domain_mailbox(runtime, richard.account, email, provider=provider, status=status)
    domain = email.rpartition("@")[2]
    response = await richard.client.patch(
        picture_path(domain, email), json={"avatar": b64(image())}
    )
    assert_fields(response, ("mailbox_email", issue, email))


async def test_user_gone_from_workspace(richard: ApiUser, workspace: GoogleWorkspace) -> None:
    workspace.users.pop(RICHARD)
    response = await richard.client.patch(picture_path(), json={"avatar": b64(image())})
    assert_fields(response, ("mailbox_email", "not_found_in_google_workspace", RICHARD))


async def test_not_connected(richard: ApiUser) -> None:
    assert (await richard.client.delete("/rest/v2/domains/google/connection")).status_code == 204
    response = await richard.client.patch(picture_path(), json={"avatar": b64(image())})
    assert_fields(response, ("domain_name", "google_workspace_not_connected", DOMAIN))


async def test_google_down_is_503_and_nothing_is_recorded(
    richard: ApiUser, workspace: GoogleWorkspace
) -> None:
    await richard.client.patch(picture_path(), json={"avatar": b64(image())})
    before = (await mailbox(richard.client))["profile_picture"]
    workspace.photos.clear()
    workspace.fail(503, retry_after=0, path="/photos")

    response = await richard.client.patch(picture_path(), json={"avatar": b64(image("JPEG"))})
    details = assert_problem(response, 503, "Service Unavailable")
    assert "Google Workspace could not be reached" in details
    statuses = [r.status for r in workspace.served("PUT", "/photos")]
    assert statuses == [200, 503, 503]  # the first picture; then tried, retried once
    assert workspace.photo_of(RICHARD) is None
    assert (await mailbox(richard.client))["profile_picture"] == before

    workspace.clear_outages()
    response = await richard.client.patch(picture_path(), json={"avatar": b64(image("JPEG"))})
    assert response.json() == {"success": True}
    assert (await mailbox(richard.client))["profile_picture"] != before


async def test_a_dropped_connection_is_retried(
    richard: ApiUser, workspace: GoogleWorkspace
) -> None:
    workspace.fail(0, times=1, path="/photos")  # 0: the connection is cut mid-answer
    response = await richard.client.patch(picture_path(), json={"avatar": b64(image())})
    assert response.json() == {"success": True}


async def test_credentials_refused_is_503_with_googles_reason(
    richard: ApiUser, workspace: GoogleWorkspace, service_account: ServiceAccount
) -> None:
    workspace.delegation[service_account.client_id] = set()
    workspace.revoke_tokens()
    response = await richard.client.patch(picture_path(), json={"avatar": b64(image())})
    details = assert_problem(response, 503, "Service Unavailable")
    assert "unauthorized_client" in details
    assert (await mailbox(richard.client))["profile_picture"] is None


async def test_malformed_json_and_no_key(richard: ApiUser, anonymous: httpx.AsyncClient) -> None:
    response = await richard.client.patch(
        picture_path(), content=b"{nope", headers={"content-type": "application/json"}
    )
    assert_problem(response, 400, "Bad Request")
    unauthorized = await anonymous.patch(picture_path(), json={"avatar": b64(image())})
    assert assert_problem(unauthorized, 401, "Unauthorized") == "Invalid api key"


async def test_unknown_picture_files(anonymous: httpx.AsyncClient) -> None:
    for name in ("nothing.png", "nothing", ".png"):
        assert (await anonymous.get(f"/media/profile-pictures/{name}")).status_code == 404


async def test_photo_refused_by_google_is_an_avatar_issue(
    richard: ApiUser, workspace: GoogleWorkspace
) -> None:
    workspace.fail(
        400, times=1, path="/photos"
    )  # the fake answers {"error": {... "Sandbox outage"}}
    response = await richard.client.patch(picture_path(), json={"avatar": b64(image())})
    assert_fields(response, ("avatar", "refused by Google: Sandbox outage", None))
    assert (await mailbox(richard.client))["profile_picture"] is None
