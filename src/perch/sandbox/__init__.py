"""Local protocol peers for development, demos and tests.

Real servers on loopback, started in-process (SMTP, IMAP, DNS) or as a private
instance (Dovecot), all sharing one throw-away CA so clients verify TLS for
real. Nothing here imports ``perch.server``.

* :class:`SandboxCA`: the CA and its leaf certificate
* :class:`SandboxSMTP`: SMTP submission, implicit TLS and STARTTLS, AUTH required
* :class:`SandboxIMAP`: IMAP (pymap), implicit TLS and STARTTLS
* :class:`SandboxDNS`: authoritative DNS (dnslib), UDP and TCP
* :class:`Dovecot`: a real Dovecot 2.3, where installed
* :class:`Faults`: latency, slow greeting, refused logins, stalled connections
* :func:`run_sandbox`: all of the above for ``perch sandbox``
"""

from perch.sandbox.ca import SandboxCA
from perch.sandbox.dns import SandboxDNS
from perch.sandbox.dovecot import Dovecot, DovecotError
from perch.sandbox.faults import Faults
from perch.sandbox.imap import SandboxIMAP
from perch.sandbox.runner import run_sandbox
from perch.sandbox.smtp import ReceivedMessage, SandboxSMTP

__all__ = [
    "Dovecot",
    "DovecotError",
    "Faults",
    "ReceivedMessage",
    "SandboxCA",
    "SandboxDNS",
    "SandboxIMAP",
    "SandboxSMTP",
    "run_sandbox",
]
