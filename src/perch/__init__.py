"""Perch: a self-hosted mailbox service that speaks the Woodpecker REST API v2."""

__version__ = "0.1.0"
