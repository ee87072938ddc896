"""What the Microsoft adapter raises (the tree is drawn in the package docstring)."""

from __future__ import annotations


class MicrosoftError(Exception):
    """Base of everything the Microsoft adapter raises."""


class MicrosoftUnavailable(MicrosoftError):
    """Transient: Microsoft could not be reached or kept answering 429/5xx."""


class MicrosoftRefused(MicrosoftError):
    """Permanent: Microsoft answered and refused; ``code`` is its error code."""

    def __init__(self, status: int, code: str, message: str) -> None:
        self.status, self.code, self.message = status, code, message
        super().__init__(f"{status} {code}: {message}")


class TokenRefused(MicrosoftRefused):
    """The identity platform refused the credential (``code`` is e.g. ``invalid_client``)."""


class GraphForbidden(MicrosoftRefused):
    """403: e.g. ``Authorization_RequestDenied`` or ``ErrorAccessDenied``."""


class GraphNotFound(MicrosoftRefused):
    """404: e.g. ``Request_ResourceNotFound`` or ``MailboxNotEnabledForRESTAPI``."""


def graph_refusal(status: int, body: object) -> MicrosoftRefused:
    """The refusal for a Graph error answer ``{"error": {"code", "message"}}``."""
    error = body.get("error") if isinstance(body, dict) else None
    error = error if isinstance(error, dict) else {}
    code, message = str(error.get("code") or "unknown"), str(error.get("message") or "")
    kind = {403: GraphForbidden, 404: GraphNotFound}.get(status, MicrosoftRefused)
    return kind(status, code, message)
