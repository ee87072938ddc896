"""ORM models, one file per table. Importing this package registers every model on Base.

Modules are discovered, so a new ``models/<table>.py`` needs no registration here.
"""

import importlib
import pkgutil

from perch.server.models.account import Account
from perch.server.models.api_key import ApiKey
from perch.server.models.base import Base
from perch.server.models.job import Job, JobStatus
from perch.server.models.lease import Lease
from perch.server.models.mailbox import (
    Mailbox,
    MailboxImap,
    MailboxProvider,
    MailboxStatus,
    MailboxTransport,
)

for _module in sorted(m.name for m in pkgutil.iter_modules(__path__)):
    importlib.import_module(f"{__name__}.{_module}")

__all__ = [
    "Account",
    "ApiKey",
    "Base",
    "Job",
    "JobStatus",
    "Lease",
    "Mailbox",
    "MailboxImap",
    "MailboxProvider",
    "MailboxStatus",
    "MailboxTransport",
]
