"""The local mail stand-ins start reliably beside other test workers that take ports of their own."""

from __future__ import annotations

import shutil
import socket
import tempfile
from dataclasses import astuple
from pathlib import Path

import pytest

from standins.mailservers import dovecot, pki
from standins.mailservers.token_server import KEY_ID


def test_dovecot_listens_on_new_ports_when_a_probed_one_was_taken_before_it_started(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """free_port() only probes, so a parallel worker can take the port first: Dovecot then starts on fresh ports."""
    folder = Path(tempfile.mkdtemp(prefix="exo-oauth-mail-"))
    folder.chmod(0o711)  # Dovecot's unprivileged processes must pass through, as in the harness
    try:
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            port = taken.getsockname()[1]
            probes = iter([port])
            probe = dovecot.free_port
            monkeypatch.setattr(dovecot, "free_port", lambda: next(probes, None) or probe())
            key = pki.rsa_key()
            server = dovecot.Dovecot(folder / "dovecot", pki.make_server_tls(folder), issuer="https://login.example/",
                                     signing_public_pem=pki.public_pem(key), key_id=KEY_ID, relay_port=probe())
            assert server.ports.imap == port
            try:
                server.start()
                assert port not in astuple(server.ports)
                for listener in astuple(server.ports):
                    socket.create_connection(("127.0.0.1", listener), timeout=5).close()
            finally:
                server.stop()
            assert server.pid is None
    finally:
        shutil.rmtree(folder, ignore_errors=True)
