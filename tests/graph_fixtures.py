"""The local Graph stand-in and token server as pytest fixtures, signed in as an auditor app (audit, adopt)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from standins.graph import GraphData, GraphStandin
from standins.graph_tenant import TENANT, planted
from standins.mailservers import pki
from standins.mailservers.token_server import App, TokenServer

SECRET_VAR = "EXO_OAUTH_TEST_AUDITOR_SECRET"


@dataclass
class Graph:
    """The running token server and Graph stand-in, and the auditor app's sign-in flags."""

    tokens: TokenServer
    graph: GraphStandin
    tls: pki.ServerTLS
    auditor: App

    def args(self) -> list[str]:
        """Return the flags that sign in as the auditor and point at the stand-ins."""
        return ["--tenant", TENANT, "--client-id", self.auditor.client_id, "--secret-env", SECRET_VAR,
                "--authority-host", self.tokens.url, "--graph-host", self.graph.url, "--ca-file",
                str(self.tls.ca_file), "--timeout", "10", "--deadline", "60"]


@pytest.fixture(scope="module", name="tls")
def tls_fixture(tmp_path_factory: pytest.TempPathFactory) -> pki.ServerTLS:
    """Return a test CA and server certificate for the module."""
    return pki.make_server_tls(tmp_path_factory.mktemp("graph-tls"))


@pytest.fixture(scope="module", name="tokens")
def tokens_fixture(tls: pki.ServerTLS) -> Iterator[TokenServer]:
    """Run the token server for the module."""
    server = TokenServer(tls, pki.rsa_key())
    server.start()
    yield server
    server.stop()


def start(tls: pki.ServerTLS, tokens: TokenServer, data: GraphData, page_size: int = 2) -> GraphStandin:
    """Register an auditor app with a secret and start a Graph stand-in serving `data`."""
    auditor = tokens.register(App(client_id=str(uuid.uuid4()), tenant_id=TENANT, secret=f"s3cr3t~{uuid.uuid4().hex}"))
    standin = GraphStandin(tls, tokens, data, page_size=page_size)
    standin.auditor = auditor  # type: ignore[attr-defined]
    return standin


@pytest.fixture(name="graph")
def graph_fixture(tls: pki.ServerTLS, tokens: TokenServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[Graph]:
    """Serve the planted tenant; put the auditor's secret in the environment."""
    standin = start(tls, tokens, planted(datetime.now(UTC)))
    auditor = standin.auditor  # type: ignore[attr-defined]
    monkeypatch.setenv(SECRET_VAR, auditor.secret)
    yield Graph(tokens, standin, tls, auditor)
    standin.stop()
