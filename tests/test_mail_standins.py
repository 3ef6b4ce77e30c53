"""The local Dovecot stand-in starts beside other test workers that take ports of their own."""

from __future__ import annotations

import shutil
import socket
import ssl
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
    relay_port = dovecot.free_port()
    try:
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            port = taken.getsockname()[1]
            probes = iter([port])
            probe = dovecot.free_port
            monkeypatch.setattr(dovecot, "free_port", lambda: next(probes, None) or probe())
            tls = pki.make_server_tls(folder)
            server = dovecot.Dovecot(folder / "dovecot", tls, issuer="https://login.example/", key_id=KEY_ID,
                                     signing_public_pem=pki.public_pem(pki.rsa_key()), relay_port=relay_port)
            assert server.ports.imap == port
            try:
                server.start()
                assert port not in astuple(server.ports)
                context = ssl.create_default_context(cafile=str(tls.ca_file))
                with (socket.create_connection(("127.0.0.1", server.ports.imap), timeout=10) as raw,
                      context.wrap_socket(raw, server_hostname="127.0.0.1") as imap):
                    assert imap.recv(256).startswith(b"* OK"), "Dovecot greets on the new IMAPS port"
            finally:
                server.stop()
            assert server.pid is None
    finally:
        shutil.rmtree(folder, ignore_errors=True)
