"""`exo-oauth verify` of a federated app from a GitHub Actions job: GitHub's OIDC token is the client assertion.

Against the stand-in token server (which checks the assertion's issuer, audience, signature and subject as Entra ID
does for a federated credential) and a stand-in of GitHub's OIDC token endpoint, both HTTPS on 127.0.0.1.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest

from exo_oauth.cli import main
from exo_oauth.verify.federated import DEFAULT_AUDIENCE, GITHUB_ISSUER, REQUEST_TOKEN, REQUEST_URL
from standins.mailservers import pki
from standins.mailservers.harness import MailServers
from standins.mailservers.https import HttpsServer, JsonHandler
from tests.outputs_factory import deployed_outputs
from tests.stack_factory import SCANNERS_SECRET, federated_credential, project_with

SUBJECT = "repo:contoso/mail:environment:drift"
BEARER = "job-request-token"


class GitHubOIDC:
    """GitHub's token request endpoint: answers a job's bearer with a signed token for the asked audience."""

    def __init__(self, tls: pki.ServerTLS, subject: str) -> None:
        self.key = pki.rsa_key()
        owner = self

        class Handler(JsonHandler):
            def do_GET(self) -> None:
                """Answer the token request."""
                if self.headers.get("Authorization") != f"bearer {BEARER}":
                    self.send_response(401)
                    self.end_headers()
                    return
                audience = parse_qs(urlsplit(self.path).query)["audience"][0]
                now = int(time.time())
                token = jwt.encode({"iss": GITHUB_ISSUER, "sub": subject, "aud": audience, "iat": now,
                                    "nbf": now, "exp": now + 300}, owner.key, algorithm="RS256")
                self.send_json(200, {"count": 1, "value": token})

        self.server = HttpsServer(tls, Handler, None, "github-oidc")
        self.url = f"{self.server.origin}/_apis/token?api-version=2.0"
        self.server.start()

    def stop(self) -> None:
        """Stop serving."""
        self.server.stop()


@pytest.fixture
def job(mail_servers: MailServers, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[GitHubOIDC]:
    """Run a GitHub OIDC stand-in whose tokens are for SUBJECT, with the job's variables set."""
    github = GitHubOIDC(mail_servers.tls, SUBJECT)
    monkeypatch.setenv(REQUEST_URL, github.url)
    monkeypatch.setenv(REQUEST_TOKEN, BEARER)
    monkeypatch.setenv("SSL_CERT_FILE", str(mail_servers.tls.ca_file))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    yield github
    github.stop()


def federated_stack(tmp_path: Path, mail_servers: MailServers, github: GitHubOIDC, subject: str) -> list[str]:
    """Write a project whose scanners app has a GitHub federated credential for `subject`; return verify's args."""
    app = mail_servers.app(secret=None, federated=(GITHUB_ISSUER, subject, DEFAULT_AUDIENCE, github.key.public_key()))
    project = project_with(tmp_path / "project", SCANNERS_SECRET, federated_credential(GITHUB_ISSUER, subject))
    scanners = deployed_outputs("contoso")["apps"]["scanners"] | {
        "tenantId": app.tenant_id, "cloud": "global", "clientId": app.client_id, "protocols": ["imap", "pop", "smtp"],
        "mailboxes": [{"address": app.mailbox, "sendAs": False}],
        "credential": {"type": "federated", "keyId": None, "endDate": None, "secrets": []}}
    saved = tmp_path / "outputs.json"
    saved.write_text(json.dumps({"tenantId": app.tenant_id, "apps": {"scanners": scanners}}), encoding="utf-8")
    return ["verify", "--stack", "contoso", "--app", "scanners", "--outputs", str(saved), "--project-dir",
            str(project), "--format", "json", "--token-cache", "off", *mail_servers.server_args()]


def test_federated_app_signs_in_with_the_jobs_oidc_token(
    tmp_path: Path, mail_servers: MailServers, job: GitHubOIDC, capsys: pytest.CaptureFixture[str]
) -> None:
    """In a job whose token matches the credential, the token and every login pass; the token is never shown."""
    status = main(federated_stack(tmp_path, mail_servers, job, SUBJECT))
    out = capsys.readouterr().out
    assert status == 0, out
    assert all(c["status"] == "ok" for c in json.loads(out)["checks"])
    assert "eyJ" not in out  # no JWT (GitHub's or Entra's) in the report


def test_a_job_whose_subject_the_credential_does_not_name_is_refused_before_sign_in(
    tmp_path: Path, mail_servers: MailServers, job: GitHubOIDC, capsys: pytest.CaptureFixture[str]
) -> None:
    """The credential names another job: exit 2, one line with both subjects and Entra's AADSTS700213."""
    argv = federated_stack(tmp_path, mail_servers, job, "repo:contoso/mail:environment:production")
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "repo:contoso/mail:environment:production" in err
    assert SUBJECT in err
    assert "AADSTS700213" in err
    client_id = json.loads(Path(argv[6]).read_text(encoding="utf-8"))["apps"]["scanners"]["clientId"]
    assert mail_servers.tokens.token_requests(client_id) == 0


def test_a_federated_app_without_a_project_folder_is_one_line_naming_the_flag() -> None:
    """The stack file holds the issuer and subject: without a project folder verify says which flag finds it."""
    from exo_oauth.util.errors import UsageError  # noqa: PLC0415
    from exo_oauth.verify.federated import github_credential  # noqa: PLC0415

    with pytest.raises(UsageError, match=r"^apps\.scanners\.credential: .* no Pulumi\.yaml .*; allowed: --project-dir"):
        github_credential(None, "contoso", "scanners", {REQUEST_URL: "https://x", REQUEST_TOKEN: "t"})
