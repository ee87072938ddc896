"""A private Dovecot 2.3 instance for conformance tests against a real IMAP server.

Everything lives in one temporary directory (config, users file, TLS files,
maildirs, logs) that :meth:`Dovecot.stop` removes. Dovecot listens on two free
loopback ports: ``imap_port`` (STARTTLS, like 143) and ``imaps_port``
(implicit TLS, like 993). When run as root it drops to ``nobody`` through
``setpriv``; otherwise it runs as the current user.

Errors::

    DovecotError        dovecot is missing, exited, or did not listen in time

Loopback counts as "secured" for Dovecot: plaintext ``LOGIN`` on the STARTTLS
port works from 127.0.0.1 even without upgrading. A wrong password is answered
in about 0.5 s (``auth_failure_delay = 0`` and no anvil auth penalty).
``imap-login`` runs as one long-lived process (``service_count = 0``): with
Dovecot's default of one login process per connection, a SIGTERM that lands
while such a process winds down takes about 6 s instead of 1 s.
"""

from __future__ import annotations

import grp
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterable
from contextlib import suppress
from pathlib import Path
from string import Template

from perch.sandbox.ca import SandboxCA

_START_TIMEOUT = 10.0
_STOP_GRACE = 3.0
_SEARCH_PATH = "/usr/sbin:/usr/local/sbin:/sbin"
_APPENDUID = re.compile(rb"APPENDUID \d+ (\d+)")

_CONFIG = Template(
    """\
protocols = imap
listen = $host
base_dir = $dir/run
state_dir = $dir/state
log_path = $dir/dovecot.log
info_log_path = $dir/dovecot.log
instance_name = perch-dovecot-$imap_port
default_internal_user = $user
default_internal_group = $group
default_login_user = $user
ssl = yes
ssl_cert = <$dir/cert.pem
ssl_key = <$dir/key.pem
ssl_min_protocol = TLSv1.2
disable_plaintext_auth = yes
auth_mechanisms = plain login
auth_failure_delay = 0
login_trusted_networks = 127.0.0.0/8
stats_writer_socket_path =
mail_location = maildir:~/Maildir
namespace inbox {
  inbox = yes
  separator = /
  mailbox Sent {
    special_use = \\Sent
    auto = subscribe
  }
  mailbox Drafts {
    special_use = \\Drafts
    auto = subscribe
  }
  mailbox Trash {
    special_use = \\Trash
    auto = subscribe
  }
}
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $dir/users
}
userdb {
  driver = passwd-file
  args = username_format=%u $dir/users
}
service imap-login {
  chroot =
  service_count = 0
  process_min_avail = 1
  inet_listener imap {
    address = $host
    port = $imap_port
  }
  inet_listener imaps {
    address = $host
    port = $imaps_port
    ssl = yes
  }
}
service anvil {
  chroot =
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}
service stats {
  chroot =
}
service auth {
  user = $user
}
service auth-worker {
  user = $user
}
"""
)


class DovecotError(RuntimeError):
    """Dovecot could not be started."""


def _dovecot_binary() -> str | None:
    path = os.environ.get("PATH", "") + os.pathsep + _SEARCH_PATH
    return shutil.which("dovecot", path=path)


def _free_port(host: str) -> int:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def _run_as() -> tuple[str, str, int, int]:
    """User and group names and ids Dovecot runs as: ``nobody`` when we are root."""
    uid, gid = os.getuid(), os.getgid()
    if uid == 0:
        entry = pwd.getpwnam("nobody")
        uid, gid = entry.pw_uid, entry.pw_gid
    return pwd.getpwuid(uid).pw_name, grp.getgrgid(gid).gr_name, uid, gid


class Dovecot:
    """A Dovecot instance with the given ``login -> password`` users.

    Use it as ``with Dovecot(ca, users) as dovecot:`` (or ``async with``), or
    call :meth:`start` and :meth:`stop`. Both are blocking: start takes tens of
    milliseconds, stop about one second (SIGKILL if Dovecot lingers past three).
    """

    def __init__(self, ca: SandboxCA, users: dict[str, str], host: str = "127.0.0.1") -> None:
        self.ca = ca
        self.users = dict(users)
        self.host = host
        self.imap_port = 0
        self.imaps_port = 0
        self._dir: Path | None = None
        self._process: subprocess.Popen[bytes] | None = None

    @staticmethod
    def available() -> bool:
        """True if a ``dovecot`` binary is installed."""
        return _dovecot_binary() is not None

    @property
    def directory(self) -> Path | None:
        """The instance's temporary directory while it runs."""
        return self._dir

    @property
    def log_text(self) -> str:
        """Dovecot's log so far (handy in assertion messages)."""
        log = self._dir / "dovecot.log" if self._dir else None
        return log.read_text(errors="replace") if log and log.exists() else ""

    def start(self) -> None:
        """Write the instance files, start Dovecot and wait until both ports listen."""
        binary = _dovecot_binary()
        if binary is None:
            raise DovecotError("dovecot is not installed")
        self.imap_port, self.imaps_port = _free_port(self.host), _free_port(self.host)
        self._dir = self._write_instance()
        command = [*self._privileges(), binary, "-F", "-c", str(self._dir / "dovecot.conf")]
        with (self._dir / "stderr.log").open("wb") as stderr:
            self._process = subprocess.Popen(
                command,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                start_new_session=True,  # its own process group, killed as one in stop()
            )
        try:
            self._wait_listening()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop Dovecot (SIGTERM, then SIGKILL after a grace period) and delete its files."""
        process, self._process = self._process, None
        if process is not None:
            _terminate(process)
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    def append(self, login: str, mailbox: str, message: bytes, flags: Iterable[str] = ()) -> int:
        """Log in as ``login`` over implicit TLS and APPEND ``message``; return its UID.

        Blocking (imapclient): from async code call it through ``asyncio.to_thread``.
        """
        from imapclient import IMAPClient

        with IMAPClient(
            self.host, self.imaps_port, ssl=True, ssl_context=self.ca.client_context(), timeout=10
        ) as client:
            client.login(login, self.users[login])
            response = client.append(mailbox, message, flags=tuple(flags))
        match = _APPENDUID.search(response)
        if match is None:
            raise DovecotError(f"no APPENDUID in {response!r}")
        return int(match.group(1))

    def __enter__(self) -> Dovecot:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    async def __aenter__(self) -> Dovecot:
        return self.__enter__()

    async def __aexit__(self, *exc_info: object) -> None:
        self.stop()

    def _privileges(self) -> list[str]:
        if os.getuid() != 0:
            return []
        user, group, _, _ = _run_as()
        return ["setpriv", f"--reuid={user}", f"--regid={group}", "--clear-groups"]

    def _write_instance(self) -> Path:
        root = Path(tempfile.mkdtemp(prefix="perch-dovecot-"))
        root.chmod(0o755)  # the unprivileged user must traverse it
        user, group, uid, gid = _run_as()
        values = {"dir": root, "host": self.host, "user": user, "group": group}
        values |= {"imap_port": self.imap_port, "imaps_port": self.imaps_port}
        (root / "dovecot.conf").write_text(_CONFIG.substitute(values))
        (root / "users").write_text(self._users_file(root, uid, gid))
        self.ca.write_leaf(root / "cert.pem", root / "key.pem")
        _chown_tree(root, uid, gid)
        return root

    def _users_file(self, root: Path, uid: int, gid: int) -> str:
        lines = []
        for login, password in self.users.items():
            if ":" in login or ":" in password or "\n" in login + password:
                raise ValueError(f"':' and newlines are not allowed in Dovecot users ({login})")
            home = root / "home" / login
            lines.append(f"{login}:{{PLAIN}}{password}:{uid}:{gid}::{home}::\n")
        return "".join(lines)

    def _wait_listening(self) -> None:
        deadline = time.monotonic() + _START_TIMEOUT
        pending = [self.imap_port, self.imaps_port]
        while pending:
            if self._process is None or self._process.poll() is not None:
                raise DovecotError(f"dovecot exited early:\n{self._failure_text()}")
            if time.monotonic() > deadline:
                raise DovecotError(f"dovecot did not listen in time:\n{self._failure_text()}")
            pending = [port for port in pending if not _listening(self.host, port)]
            if pending:
                time.sleep(0.01)
        if not _greets(self.host, self.imap_port):
            raise DovecotError(f"dovecot did not greet:\n{self._failure_text()}")

    def _failure_text(self) -> str:
        stderr = self._dir / "stderr.log" if self._dir else None
        text = stderr.read_text(errors="replace") if stderr and stderr.exists() else ""
        return text + self.log_text


def _greets(host: str, port: int) -> bool:
    """True once the plaintext port answers with an IMAP greeting (auth is ready then)."""
    try:
        with socket.create_connection((host, port), timeout=1.0) as sock:
            return sock.recv(64).startswith(b"* OK")
    except OSError:
        return False


def _listening(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


def _terminate(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the master; after the grace period SIGKILL whatever is left of its group.

    The master is reaped only at the end, so its process-group id cannot have
    been reused by then.
    """
    if process.returncode is not None:
        return
    with suppress(ProcessLookupError):
        os.kill(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + _STOP_GRACE
    while not _exited(process.pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def _exited(pid: int) -> bool:
    """True once ``pid`` has exited, without reaping it."""
    flags = os.WEXITED | os.WNOHANG | os.WNOWAIT
    return os.waitid(os.P_PID, pid, flags) is not None


def _chown_tree(root: Path, uid: int, gid: int) -> None:
    if os.getuid() != 0:
        return
    for path in [root, *root.rglob("*")]:
        os.chown(path, uid, gid)
