"""Domains and their mailboxes (``/rest/v2/domains``), served by the account's Google Workspace.

Ordering a mailbox creates a Workspace user, the profile picture is set on that user, and
deleting the mailbox deletes the user. See ``docs/domains.md``.
"""
