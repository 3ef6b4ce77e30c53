"""Sign in as an app with a federated credential from a GitHub Actions job: GitHub's OIDC token is the assertion.

Entra ID accepts a client assertion from an external identity provider when the app has a federated credential
with the token's issuer, subject and audience (Learn: workload identity federation). In a job with `permissions:
id-token: write`, GitHub hands out such a token at ACTIONS_ID_TOKEN_REQUEST_URL. Anywhere else (another issuer, or
not in such a job) verify cannot be the workload, and says so in one line.
"""

from __future__ import annotations

import hashlib
import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from pathlib import Path

from ..errors import UsageError
from .inputs import ClientCredential
from .request import VerifyRequest
from .secret import Secret

GITHUB_ISSUER = "https://token.actions.githubusercontent.com"
DEFAULT_AUDIENCE = "api://AzureADTokenExchange"
REQUEST_URL, REQUEST_TOKEN = "ACTIONS_ID_TOKEN_REQUEST_URL", "ACTIONS_ID_TOKEN_REQUEST_TOKEN"
TIMEOUT_SECONDS = 30
JWT_PARTS = 3


def _github_token(url: str, bearer: str, audience: str) -> str:
    """Fetch the job's OIDC token for `audience`; raise UsageError with the reason when GitHub does not give one."""
    if urllib.parse.urlsplit(url).scheme != "https":
        raise UsageError(f"{REQUEST_URL}: not an https URL; allowed: the URL GitHub Actions sets")
    separator = "&" if urllib.parse.urlsplit(url).query else "?"
    request = urllib.request.Request(  # noqa: S310 - https only, checked above
        f"{url}{separator}audience={urllib.parse.quote(audience, safe='')}",
        headers={"Authorization": f"bearer {bearer}", "Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310 - GitHub's URL
            value = json.loads(response.read().decode("utf-8")).get("value")
    except urllib.error.HTTPError as error:
        raise UsageError(f"{REQUEST_URL}: GitHub refused the OIDC token request (HTTP {error.code}); allowed: a job "
                         "with `permissions: id-token: write`") from None
    except (urllib.error.URLError, OSError, ValueError) as error:
        raise UsageError(f"{REQUEST_URL}: no OIDC token from GitHub ({error}); allowed: a GitHub Actions job with "
                         "`permissions: id-token: write`") from None
    if not isinstance(value, str) or len(value.split(".")) != JWT_PARTS:
        raise UsageError(f"{REQUEST_URL}: the answer holds no token; allowed: GitHub's OIDC token endpoint")
    return value


def _subject(token: str) -> str:
    import jwt  # noqa: PLC0415 - only federated runs read a token

    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise UsageError(f"{REQUEST_URL}: GitHub's answer is not a JWT") from None
    return str(claims.get("sub", ""))


def github_credential(args: VerifyRequest, app: str, environ: Mapping[str, str]) -> ClientCredential:
    """Return GitHub's OIDC token as the client assertion of `app`'s federated credential, or raise UsageError.

    The issuer and subject come from the stack file (the outputs do not hold them); the token's subject is
    compared with the credential's first, so a job Entra would refuse (AADSTS700213) is named before msal runs.
    """
    from ..project import find_project_dir, load_stack  # noqa: PLC0415

    if args.stack is None:
        raise UsageError("a federated credential is read from the stack file; allowed: --stack NAME")
    project_dir = Path(args.project_dir).resolve() if args.project_dir else find_project_dir()
    stack = load_stack(project_dir, args.stack)
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
