"""The Microsoft Graph sign-in, host and time-limit flags `audit` and `adopt` share, and the request they make.

Not a subcommand: a helper of the two commands. Light, since `exo-oauth --help` loads it.
"""

from __future__ import annotations

import argparse

from ..tenant.request import DEFAULT_DEADLINE, DEFAULT_TIMEOUT, AuditRequest, SignInRequest
from .flags import add_certificate, add_cloud_and_hosts, add_secret_env


def add_signin_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the sign-in, host and time-limit flags that `audit` and `adopt` share."""
    group = parser.add_argument_group("sign-in to Microsoft Graph (read-only)")
    group.add_argument("--client-id", metavar="ID", help="the app to sign in as; with --secret-env or --certificate "
                       "a read-only app (client credentials), else a public client for device code (default: "
                       "Microsoft Graph Command Line Tools)")
    add_secret_env(group)
    add_certificate(group)
    hosts = parser.add_argument_group("clouds and hosts")
    add_cloud_and_hosts(hosts)
    hosts.add_argument("--graph-host", metavar="URL", help="override Microsoft Graph's host (https://HOST[:PORT])")
    hosts.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, metavar="SECONDS",
                       help=f"per request (default: {DEFAULT_TIMEOUT:g})")
    hosts.add_argument("--deadline", type=float, default=DEFAULT_DEADLINE, metavar="SECONDS",
                       help=f"for the whole run, throttling waits included (default: {DEFAULT_DEADLINE:g})")


def audit_request(args: argparse.Namespace, *, warn_days: int | None = None, max_days: int | None = None
                  ) -> AuditRequest:
    """Return the read that the sign-in flags and `--tenant`, `--exchange-export` ask for, with the policy limits."""
    sign_in = SignInRequest(
        tenant=args.tenant, client_id=args.client_id, secret_env=args.secret_env, certificate=args.certificate,
        certificate_passphrase_env=args.certificate_passphrase_env, cloud=args.cloud,
        authority_host=args.authority_host, graph_host=args.graph_host, ca_file=args.ca_file, timeout=args.timeout,
        deadline=args.deadline)
    return AuditRequest(sign_in, exchange_export=args.exchange_export, warn_days=warn_days,
                        max_days=max_days)
