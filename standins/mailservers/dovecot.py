"""Run Dovecot in the foreground for the tests: render dovecot.conf.in into a private folder, start, wait, stop.

Every path (base_dir, state, log, mail) lives in that folder, listeners are on 127.0.0.1 high ports, and `stop()`
waits until the master and its children are gone. As root, Dovecot's login and mail processes run as its own
`dovenull`/`dovecot` users (it refuses root); otherwise everything runs as the current user.
"""

from __future__ import annotations

import getpass
import grp
import os
import pwd
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from string import Template

from .pki import ServerTLS

TEMPLATE = Path(__file__).with_name("dovecot.conf.in")
AUDIENCES = {"app": "https://outlook.office365.com", "user": "https://outlook.office.com"}
SERVICES = ("imap", "pop3", "submission")
START_TIMEOUT = 15.0
STOP_TIMEOUT = 15.0
START_ATTEMPTS = 3
"""free_port() only probes: another process (a parallel test worker) can take a port before Dovecot binds it."""
PORT_TAKEN = "Address already in use"
STARTED = "starting up"
"""What Dovecot's master logs once it has bound every listener: never when a port was taken. Until then a connection
that succeeds may reach whoever took the port."""


def free_port() -> int:
    """Return a currently free TCP port on 127.0.0.1."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass(frozen=True)
class Ports:
    """Where Dovecot listens."""

    imap: int
    pop: int
    smtp: int


class Dovecot:
    """One Dovecot instance with IMAPS, POP3S and submission, trusting tokens signed by `signing_public_pem`."""

    def __init__(self, folder: Path, tls: ServerTLS, *, signing_public_pem: bytes, key_id: str, issuer: str,
                 relay_port: int) -> None:
        self.folder = folder
        self.log_file = folder / "dovecot.log"
        self.config_file = folder / "dovecot.conf"
        self._process: subprocess.Popen[bytes] | None = None
        self._tls, self._relay_port = tls, relay_port
        self._write_keys_and_auth(signing_public_pem=signing_public_pem, key_id=key_id, issuer=issuer)
        self._listen_on_free_ports()

    def _users(self) -> dict[str, str]:
        if os.geteuid() == 0:
            return {"internal_user": "dovecot", "internal_group": "dovecot", "login_user": "dovenull",
                    "mail_uid": "dovecot", "mail_gid": "dovecot"}
        user, group = getpass.getuser(), grp.getgrgid(os.getgid()).gr_name
        return {"internal_user": user, "internal_group": group, "login_user": user, "mail_uid": user,
                "mail_gid": group}

    def _write_keys_and_auth(self, *, signing_public_pem: bytes, key_id: str, issuer: str) -> None:
        keys = self.folder / "keys" / "default" / "RS256"
        keys.mkdir(parents=True)
        (keys / key_id).write_bytes(signing_public_pem)
        mail = self.folder / "mail"
        mail.mkdir()
        if os.geteuid() == 0:
            users = self._users()
            os.chown(mail, pwd.getpwnam(users["mail_uid"]).pw_uid, grp.getgrnam(users["mail_gid"]).gr_gid)
        for service in SERVICES:
            for kind, audience in AUDIENCES.items():
                (self.folder / f"oauth2-{service}-{kind}.conf").write_text(
                    "introspection_mode = local\n"
                    f"local_validation_key_dict = fs:posix:prefix={self.folder / 'keys'}/\n"
                    f"issuers = {issuer}\n"
                    f"username_attribute = {service}_mailbox\n"
                    f"client_id = {audience}\n", encoding="utf-8")
        # Dovecot's unprivileged processes must reach the keys and the mail folder.
        self.folder.chmod(0o711)
        (self.folder / "keys").chmod(0o755)

    def _listen_on_free_ports(self) -> None:
        """Pick three free ports and write the configuration that listens on them."""
        self.ports = Ports(free_port(), free_port(), free_port())
        config = Template(TEMPLATE.read_text(encoding="utf-8")).substitute(
            base_dir=self.folder / "run", state_dir=self.folder / "state", log_file=self.log_file,
            instance=self.folder.name, cert_file=self._tls.cert_file, key_file=self._tls.key_file,
            mail_dir=self.folder / "mail", relay_port=self._relay_port, config_dir=self.folder,
            imap_port=self.ports.imap, pop_port=self.ports.pop, smtp_port=self.ports.smtp, **self._users())
        self.config_file.write_text(config, encoding="utf-8")

    @property
    def pid(self) -> int | None:
        """The master process's ID while it runs (bench/verify_bench.py adds up its processes' CPU time)."""
        return self._process.pid if self._process is not None and self._process.poll() is None else None

    def start(self) -> None:
        """Start Dovecot and return once all three listeners accept connections; new ports if one was taken."""
        for attempt in range(1, START_ATTEMPTS + 1):
            try:
                self._start_once()
                return
            except RuntimeError:
                if attempt == START_ATTEMPTS or PORT_TAKEN not in self.log_tail():
                    raise
            self.log_file.unlink(missing_ok=True)
            self._listen_on_free_ports()

    def _start_once(self) -> None:
        dovecot = shutil.which("dovecot") or "/usr/sbin/dovecot"
        with (self.folder / "stderr.log").open("wb") as stderr:
            self._process = subprocess.Popen([dovecot, "-F", "-c", str(self.config_file)],
                                             stdout=subprocess.DEVNULL, stderr=stderr)
        deadline = time.monotonic() + START_TIMEOUT
        waiting = [self.ports.imap, self.ports.pop, self.ports.smtp]
        bound = False
        while waiting:
            if self._process.poll() is not None:
                raise RuntimeError(f"dovecot exited with {self._process.returncode}: {self.log_tail()}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"dovecot did not listen within {START_TIMEOUT:g} s: {self.log_tail()}")
            bound = bound or STARTED in self.log_tail()
            if not bound:
                time.sleep(0.02)
                continue
            try:
                socket.create_connection(("127.0.0.1", waiting[0]), timeout=1).close()
                waiting.pop(0)
            except OSError:
                time.sleep(0.02)

    def stop(self) -> None:
        """Stop the master (which stops its children) and wait until it is gone."""
        if self._process is None or self._process.poll() is not None:
            return
        self._process.terminate()
        try:
            self._process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait(STOP_TIMEOUT)

    def log_tail(self, lines: int = 20) -> str:
        """Return the end of Dovecot's log and stderr, for failure messages."""
        text = "".join(p.read_text(encoding="utf-8", errors="replace") for p in (self.log_file,
                       self.folder / "stderr.log") if p.exists())
        return "\n".join(text.splitlines()[-lines:])
