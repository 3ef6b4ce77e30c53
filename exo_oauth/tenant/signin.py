"""Sign in to Microsoft Graph for `audit` and `adopt`, with verify's msal plumbing, and open a read-only client.

Device code for an admin (a public client, by default Microsoft Graph Command Line Tools), or client credentials
(`--client-id` with `--secret-env VAR` or `--certificate PEM`) for a read-only app. Tokens are not cached: an
admin's Graph token is worth more than the convenience (docs/decisions/0081).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlsplit

from components.config import is_guid
from components.microsoft import CLOUDS as MICROSOFT_CLOUDS
from components.microsoft import DEFAULT_CLOUD

from ..errors import UsageError
from ..verify.clouds import CLOUDS
from ..verify.inputs import MAX_TIMEOUT, Target, _authority_host, _credential
from ..verify.request import VerifyRequest
from ..verify.tokens import _session, acquire_token
from .graph import GraphClient, GraphError
from .request import MAX_DEADLINE, SignInRequest

GRAPH_COMMAND_LINE_TOOLS = "14d82eec-204b-4c2f-b7e8-296a70dab67e"
"""Microsoft Graph Command Line Tools: Microsoft's public client for admin device-code sign-in to Graph."""
DELEGATED_SCOPES = ("Application.Read.All", "Directory.Read.All")
"""What an admin's device-code sign-in asks for (docs/adopting.md, "Permissions")."""


def _graph_root(args: SignInRequest) -> str:
    if args.graph_host is None:
        return MICROSOFT_CLOUDS[args.cloud or DEFAULT_CLOUD].graph_host
    parts = urlsplit(args.graph_host)
    if parts.scheme != "https" or not parts.hostname or parts.path.strip("/") or parts.query:
        raise UsageError(f"--graph-host {args.graph_host!r}: allowed: https://HOST[:PORT] without a path")
    return str(args.graph_host).rstrip("/")


def signin_target(args: SignInRequest, environ: Mapping[str, str]) -> Target:
    """Return verify's Target for a Graph token: client credentials with a credential flag, else device code."""
    if not is_guid(args.tenant):
        raise UsageError(f"--tenant {args.tenant!r}: not a GUID; allowed: the tenant ID")
    app_only = args.secret_env is not None or args.certificate is not None
    if app_only and args.client_id is None:
        raise UsageError("--secret-env/--certificate: needs --client-id, the read-only app's Application (client) ID")
    if args.client_id is not None and not is_guid(args.client_id):
        raise UsageError(f"--client-id {args.client_id!r}: not a GUID; allowed: an Application (client) ID")
    for flag, value, low, high in (("--timeout", args.timeout, 0, MAX_TIMEOUT),
                                   ("--deadline", args.deadline, 0, MAX_DEADLINE)):
        if not low < value <= high:
            raise UsageError(f"{flag} {value}: allowed: seconds, more than {low} and at most {high:g}")
    if args.ca_file is not None and not Path(args.ca_file).is_file():
        raise UsageError(f"--ca-file {args.ca_file}: no such file; allowed: a PEM file with the CA certificates")
    flow = "app-only" if app_only else "delegated"
    cloud = CLOUDS[args.cloud or DEFAULT_CLOUD]
    graph = _graph_root(args)
    scopes = (f"{graph}/.default",) if app_only else tuple(f"{graph}/{s}" for s in DELEGATED_SCOPES)
    credential_args = VerifyRequest(secret_env=args.secret_env, certificate=args.certificate,
                                    certificate_passphrase_env=args.certificate_passphrase_env,
                                    authority_host=args.authority_host)
    return Target(
        description=f"Microsoft Graph, tenant {args.tenant}", app=None, tenant=args.tenant.lower(),
        client_id=(args.client_id or GRAPH_COMMAND_LINE_TOOLS).lower(), flow=flow, protocols=(), mailbox=None,
        notes=(), scopes=scopes, cloud=cloud.name,
        authority=f"{_authority_host(credential_args, cloud)}/{args.tenant.lower()}",
        custom_authority=args.authority_host is not None, endpoints={}, audiences=frozenset(),
        credential=_credential(credential_args, environ, flow, None), ca_file=args.ca_file, timeout=args.timeout,
        send_test_to=None, token_cache=None, token_cache_mode="off",  # noqa: S106 - a mode, not a password
    )


def open_graph(args: SignInRequest, environ: Mapping[str, str]) -> GraphClient:
    """Sign in and return a Graph client; raise GraphError (network or refusal) or UsageError (bad flags)."""
    target = signin_target(args, environ)
    started = time.monotonic()
    outcome = acquire_token(target, prompt=lambda message: print(message, file=sys.stderr, flush=True))
    if outcome.token is None:
        failure = outcome.failure
        codes = "".join(f" AADSTS{c}" for c in failure.codes) if failure else ""
        raise GraphError(f"sign-in to {target.authority} failed:{codes} "
                         f"{failure.error + ': ' + failure.description if failure else 'no token'}")
    deadline = started + args.deadline
    # Graph's own session: the only body it may send is a JSON batch of GETs, and only to the Graph host.
    graph = _graph_root(args)
    return GraphClient(graph, outcome.token, _session(replace(target, authority=f"{graph}/"), deadline), args.timeout,
                       deadline)
