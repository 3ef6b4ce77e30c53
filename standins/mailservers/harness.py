"""Start the token stand-in, an SMTP sink and Dovecot together, hand them out, and stop them all afterwards.

Used by the `mail_servers` fixture (tests/conftest.py) and by bench/verify_bench.py.
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from . import pki
from .dovecot import Dovecot, free_port
from .token_server import KEY_ID, App, TokenServer

TENANT = "11111111-2222-4333-8444-555555555555"
"""The stand-in tenant whose tokens Dovecot accepts."""
OTHER_TENANT = "99999999-8888-4777-8666-555555555555"
"""A second tenant that issues tokens Dovecot rejects (wrong issuer)."""


@dataclass
class Sink:
    """An aiosmtpd handler that keeps every message Dovecot's submission service relays to it."""

    messages: list[Envelope] = field(default_factory=list)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        """Accept and keep the message."""
        self.messages.append(envelope)
        return "250 OK: kept by the test sink"


@dataclass
class MailServers:
    """The running stand-ins and what a `verify` command line needs to use them."""

    folder: Path
    tls: pki.ServerTLS
    tokens: TokenServer
    dovecot: Dovecot
    sink: Sink
    sink_port: int

    def server_args(self) -> list[str]:
        """Return the `verify` flags that point it at these servers and trust their CA."""
        ports = self.dovecot.ports
        return ["--authority-host", self.tokens.url, "--imap", f"127.0.0.1:{ports.imap}",
                "--pop", f"127.0.0.1:{ports.pop}", "--smtp", f"127.0.0.1:{ports.smtp}",
                "--ca-file", str(self.tls.ca_file)]

    def app(self, **fields: Any) -> App:
        """Register and return an app in TENANT with a fresh client ID, a secret and one mailbox, plus `fields`."""
        client_id = str(uuid.uuid4())
        values: dict[str, Any] = {"client_id": client_id, "tenant_id": TENANT, "secret": f"s3cr3t~{uuid.uuid4().hex}",
                                  "secret_id": str(uuid.uuid4()), "mailbox": f"box-{client_id[:8]}@contoso.example",
                                  "roles": ("IMAP.AccessAsApp", "POP.AccessAsApp", "SMTP.SendAsApp")}
        values.update(fields)
        return self.tokens.register(App(**values))


@contextmanager
def running_mail_servers() -> Iterator[MailServers]:
    """Start everything in a fresh private folder; stop everything and delete the folder on exit."""
    folder = Path(tempfile.mkdtemp(prefix="exo-oauth-mail-"))
    folder.chmod(0o711)  # Dovecot's unprivileged processes must pass through
    try:
        with ExitStack() as stack:
            tls = pki.make_server_tls(folder)
            signing_key = pki.rsa_key()
            tokens = TokenServer(tls, signing_key)
            tokens.add_tenant(TENANT)
            tokens.add_tenant(OTHER_TENANT)
            tokens.start()
            stack.callback(tokens.stop)
            sink, sink_port = Sink(), free_port()
            controller = Controller(sink, hostname="127.0.0.1", port=sink_port)
            controller.start()
            stack.callback(controller.stop)
            dovecot = Dovecot(folder / "dovecot", tls, signing_public_pem=pki.public_pem(signing_key), key_id=KEY_ID,
                              issuer=tokens.issuer(TENANT), relay_port=sink_port)
            stack.callback(dovecot.stop)
            dovecot.start()
            yield MailServers(folder, tls, tokens, dovecot, sink, sink_port)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
