"""Sign in to Microsoft Graph for `audit` and `adopt` through the sign-in module, and open a read-only client.

Device code for an admin (a public client, by default Microsoft Graph Command Line Tools), or client credentials
(`--client-id` with `--secret-env VAR` or `--certificate PEM`) for a read-only app. Tokens are not cached: an
admin's Graph token is worth more than the convenience (docs/decisions/0081). The sign-in, device code wait
included, ends by the run's `--deadline`.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping
from pathlib import Path

from exo_domain.config import is_guid

from ..signin.credentials import given_credential
from ..signin.hosts import graph_host, login_host
from ..signin.session import MAX_TIMEOUT, http_session
from ..signin.token import PendingToken, SignIn, acquire_token
from ..util.errors import UsageError
from .graph import GraphClient, GraphError
from .request import MAX_DEADLINE, SignInRequest

GRAPH_COMMAND_LINE_TOOLS = "14d82eec-204b-4c2f-b7e8-296a70dab67e"
"""Microsoft Graph Command Line Tools: Microsoft's public client for admin device-code sign-in to Graph."""
DELEGATED_SCOPES = ("Application.Read.All", "Directory.Read.All")
"""What an admin's device-code sign-in asks for (docs/adopting.md, "Permissions")."""


def graph_sign_in(args: SignInRequest, environ: Mapping[str, str]) -> SignIn:
    """Return the sign-in for a Graph token: client credentials with a credential flag, else device code."""
    if not is_guid(args.tenant):
        raise UsageError("--tenant: not a GUID (the value is not repeated: a misplaced secret must not reach logs); "
                         "allowed: the tenant ID")
    app_only = args.secret_env is not None or args.certificate is not None
    if app_only and args.client_id is None:
        raise UsageError("--secret-env/--certificate: needs --client-id, the read-only app's Application (client) ID")
    if args.client_id is not None and not is_guid(args.client_id):
        raise UsageError("--client-id: not a GUID (the value is not repeated: a misplaced secret must not reach "
                         "logs); allowed: an Application (client) ID")
    for flag, value, low, high in (("--timeout", args.timeout, 0, MAX_TIMEOUT),
                                   ("--deadline", args.deadline, 0, MAX_DEADLINE)):
        if not low < value <= high:
            raise UsageError(f"{flag} {value}: allowed: seconds, more than {low} and at most {high:g}")
    if args.ca_file is not None and not Path(args.ca_file).is_file():
        raise UsageError(f"--ca-file {args.ca_file}: no such file; allowed: a PEM file with the CA certificates")
    graph = graph_host(args.cloud, args.graph_host)
    tenant = args.tenant.lower()
    return SignIn(
        tenant=tenant, client_id=(args.client_id or GRAPH_COMMAND_LINE_TOOLS).lower(),
        authority=f"{login_host(args.cloud, args.authority_host)}/{tenant}",
        scopes=(f"{graph}/.default",) if app_only else tuple(f"{graph}/{s}" for s in DELEGATED_SCOPES),
        credential=given_credential(args.secret_env, args.certificate, args.certificate_passphrase_env, environ),
        ca_file=args.ca_file, timeout=args.timeout, custom_authority=args.authority_host is not None)


def open_graph(args: SignInRequest, environ: Mapping[str, str]) -> GraphClient:
    """Sign in and return a Graph client; raise GraphError (network or refusal) or UsageError (bad flags)."""
    sign_in = graph_sign_in(args, environ)
    graph = graph_host(args.cloud, args.graph_host)
    deadline = time.monotonic() + args.deadline
    outcome = PendingToken(
        lambda: acquire_token(sign_in, lambda message: print(message, file=sys.stderr, flush=True), deadline),
        deadline, f"--deadline {args.deadline:g} s").result()
    if outcome.token is None:
        failure = outcome.failure
        raise GraphError(f"sign-in to {sign_in.authority} failed: {failure.line() if failure else 'no token'}")
    return GraphClient(graph, outcome.token, http_session(graph, args.ca_file, args.timeout, deadline), args.timeout,
                       deadline)

