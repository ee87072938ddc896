"""Faults that a sandbox peer injects into its replies.

Every peer holds one :class:`Faults` object and reads it on each connection and
each reply, so a test may flip a field while the server is running; the change
applies from the next connection (``stall``, ``handshake_delay``) or the next
reply (``latency``, ``fail_auth``).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Faults:
    """What a peer should do wrong.

    Attributes:
        latency: seconds added before every server reply, greeting and each
            handshake step included.
        handshake_delay: extra seconds before the greeting only.
        fail_auth: refuse every login, even with the right password.
        stall: accept the TCP connection and never send anything.
    """

    latency: float = 0.0
    handshake_delay: float = 0.0
    fail_auth: bool = False
    stall: bool = False

    def clear(self) -> None:
        """Back to a well-behaved peer."""
        self.latency = 0.0
        self.handshake_delay = 0.0
        self.fail_auth = False
        self.stall = False
