"""Shared fixtures."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from standins.mailservers.harness import MailServers
    from standins.mailservers.pki import ServerTLS


@pytest.fixture(scope="session")
def mail_servers() -> Iterator[MailServers]:
    """Start the token stand-in, Dovecot and an SMTP sink once per session; stop them all at the end."""
    from standins.mailservers.harness import running_mail_servers  # noqa: PLC0415 - only sessions that use it pay

    # A missing server fails rather than skips: a skipped integration test would let CI pass without it.
    if shutil.which("dovecot") is None and shutil.which("dovecot", path="/usr/sbin") is None:
        pytest.fail("dovecot is not installed; run `bash .ci/run`, which installs dovecot-core, -imapd, -pop3d "
                    "and -submissiond")
    with running_mail_servers() as servers:
        yield servers


@pytest.fixture
def two_workers_from_ten_stacks(monkeypatch: pytest.MonkeyPatch) -> int:
    """Let plan_stacks use its worker processes for a small fleet; return the fleet size that gets two workers.

    plan_stacks starts a worker per MIN_STACKS_PER_WORKER stacks and splits the fleet into PROGRESS_CHUNKS_PER_WORKER
    chunks per worker: at their defaults a test plans a fleet of dozens of stacks only to reach the pool. With 2 and
    2, ten stacks take the same path: two workers, four interleaved chunks of two or three stacks each.
    """
    from exo_oauth.plan import offline  # noqa: PLC0415 - Pulumi loads only for the tests that plan

    monkeypatch.setattr(offline, "MIN_STACKS_PER_WORKER", 2)
    monkeypatch.setattr(offline, "PROGRESS_CHUNKS_PER_WORKER", 2)
    return 10


@pytest.fixture(scope="session")
def server_tls(tmp_path_factory: pytest.TempPathFactory) -> ServerTLS:
    """Return a throwaway test CA and a 127.0.0.1 server certificate, for scripted servers."""
    from standins.mailservers.pki import make_server_tls  # noqa: PLC0415

    return make_server_tls(tmp_path_factory.mktemp("tls"))
