"""Sign in as an app with a federated credential from a GitHub Actions job: GitHub's OIDC token is the assertion.

Entra ID accepts a client assertion from an external identity provider when the app has a federated credential
with the token's issuer, subject and audience (Learn: workload identity federation). In a job with `permissions:
id-token: write`, GitHub hands out such a token at ACTIONS_ID_TOKEN_REQUEST_URL. Anywhere else (another issuer, or
not in such a job) verify cannot be the workload, and says so in one line.
"""

from __future__ import annotations

import hashlib
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..signin.credentials import ClientCredential
from ..signin.secret import Secret
from ..util.errors import UsageError
from ..util.text import printable

GITHUB_ISSUER = "https://token.actions.githubusercontent.com"
DEFAULT_AUDIENCE = "api://AzureADTokenExchange"
REQUEST_URL, REQUEST_TOKEN = "ACTIONS_ID_TOKEN_REQUEST_URL", "ACTIONS_ID_TOKEN_REQUEST_TOKEN"
TIMEOUT_SECONDS = 30
MAX_ANSWER_BYTES = 64 * 1024
"""GitHub's answer is one JWT in a small JSON object: far below this."""
READ_CHUNK = 4096
JWT_PARTS = 3


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is refused: urllib would send the request's bearer token on to wherever it points."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def _github_token(url: str, bearer: str, audience: str) -> str:
    """Fetch the job's OIDC token for `audience`; raise UsageError with the reason when GitHub does not give one.

    The bearer token goes only to the https URL GitHub set (no redirect is followed); the answer is read for at most
    TIMEOUT_SECONDS (plus one read) and MAX_ANSWER_BYTES.
    """
    if urllib.parse.urlsplit(url).scheme != "https":
        raise UsageError(f"{REQUEST_URL}: not an https URL; allowed: the URL GitHub Actions sets")
    separator = "&" if urllib.parse.urlsplit(url).query else "?"
    request = urllib.request.Request(  # noqa: S310 - https only, checked above
        f"{url}{separator}audience={urllib.parse.quote(audience, safe='')}",
        headers={"Authorization": f"bearer {bearer}", "Accept": "application/json"})
    try:
        with urllib.request.build_opener(_NoRedirect).open(request, timeout=TIMEOUT_SECONDS) as response:
            body = _read_bounded(response)
        document = json.loads(body.decode("utf-8"))
    except urllib.error.HTTPError as error:
        if 300 <= error.code < 400:  # noqa: PLR2004 - the HTTP redirect range
            raise UsageError(f"{REQUEST_URL}: GitHub answered with a redirect (HTTP {error.code}), which is not "
                             "followed; allowed: the URL GitHub Actions sets") from None
        raise UsageError(f"{REQUEST_URL}: GitHub refused the OIDC token request (HTTP {error.code}); allowed: a job "
                         "with `permissions: id-token: write`") from None
    except (urllib.error.URLError, OSError, ValueError) as error:
        raise UsageError(f"{REQUEST_URL}: no OIDC token from GitHub ({printable(str(error))[:200]}); allowed: a "
                         "GitHub Actions job with `permissions: id-token: write`") from None
    value = document.get("value") if isinstance(document, dict) else None
    if not isinstance(value, str) or len(value.split(".")) != JWT_PARTS:
        raise UsageError(f"{REQUEST_URL}: the answer holds no token; allowed: GitHub's OIDC token endpoint")
    return value


def _read_bounded(response: Any) -> bytes:
    """Read the answer within TIMEOUT_SECONDS overall (each read is also bounded) and MAX_ANSWER_BYTES."""
    deadline = time.monotonic() + TIMEOUT_SECONDS
    chunks: list[bytes] = []
    size = 0
    while chunk := response.read(READ_CHUNK):
        size += len(chunk)
        if size > MAX_ANSWER_BYTES:
            raise ValueError(f"the answer is over {MAX_ANSWER_BYTES} bytes")
        if time.monotonic() > deadline:
            raise TimeoutError(f"the answer took over {TIMEOUT_SECONDS} s")
        chunks.append(chunk)
    return b"".join(chunks)


def _subject(token: str) -> str:
    import jwt  # noqa: PLC0415 - only federated runs read a token

    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise UsageError(f"{REQUEST_URL}: GitHub's answer is not a JWT") from None
    return str(claims.get("sub", ""))


def github_credential(project_dir: Path | None, stack_name: str, app: str,
                      environ: Mapping[str, str]) -> ClientCredential:
    """Return GitHub's OIDC token as the client assertion of `app`'s federated credential, or raise UsageError.

    The issuer and subject come from the stack file `stack_name` in `project_dir` (the outputs do not hold them); the
    token's subject is compared with the credential's first, so a job Entra would refuse (AADSTS700213) is named
    before msal runs.
    """
    from ..fleet.project import load_stack  # noqa: PLC0415

    if project_dir is None:
        raise UsageError(f"apps.{app}.credential: a federated credential is read from the stack file of {stack_name}, "
                         "and no Pulumi.yaml is above here; allowed: --project-dir DIR")
    stack = load_stack(project_dir, stack_name)
    credential = next((a.credential for a in stack.config.apps if a.name == app), None)
    where = f"{stack.config.source}: apps[{app}].credential"
    if credential is None or credential.type != "federated":
        raise UsageError(f"{where}: not a federated credential in the stack file; allowed: the stack the outputs "
                         "came from")
    if credential.issuer != GITHUB_ISSUER:
        raise UsageError(f"{where}.issuer is {credential.issuer!r}: verify can present only GitHub's OIDC token "
                         f"({GITHUB_ISSUER}); allowed: run the check on that workload itself, or --certificate/"
                         "--secret-env with another credential of the app")
    url, bearer = environ.get(REQUEST_URL), environ.get(REQUEST_TOKEN)
    if not url or not bearer:
        raise UsageError(f"{where}: a GitHub federated credential, but {REQUEST_URL} and {REQUEST_TOKEN} are not "
                         "set; allowed: run in a GitHub Actions job with `permissions: id-token: write`")
    audience = credential.audiences[0] if credential.audiences else DEFAULT_AUDIENCE
    token = _github_token(url, bearer, audience)
    subject = _subject(token)
    if subject != credential.subject:
        raise UsageError(f"{where}.subject is {credential.subject!r} but this job's token is for {subject!r}, so "
                         "Entra ID would refuse it (AADSTS700213); allowed: run in the job the credential names")
    fingerprint = hashlib.sha256(f"{credential.issuer}\n{credential.subject}".encode()).hexdigest()
    return ClientCredential("federated", f"GitHub OIDC token for {subject}", Secret(token), thumbprint=fingerprint)
