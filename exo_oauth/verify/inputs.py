"""Turn `verify`'s command line, and the stack's outputs when `--stack` is given, into one checked `Target`.

Precedence: explicit flags (`--imap`, `--mailbox`, ...) over `--cloud` over the stack's outputs (its
`apps.<name>.cloud`, scopes and endpoints) over the global cloud's defaults. The credential comes from the stack's
`clientSecrets` output, `--secret-env VAR` or `--certificate PEM`, never from a command-line value. Every problem
raises UsageError naming the flag or output key.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from email_validator import EmailNotValidError

from components.config import PROTOCOLS, is_domain, is_guid, normalized_mailbox
from components.microsoft import DEFAULT_CLOUD
from components.outputs import HIDDEN, AppOutputs, EndpointOutput

from ..errors import UsageError
from ..files import read_bytes
from .clouds import CLOUDS, SECURITY, Cloud, Endpoint, parse_endpoint
from .request import VerifyRequest
from .secret import Secret
from .token_cache import MODES, cache_dir, cache_file, secret_partition

MAX_TIMEOUT = 300.0
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
"""A portable environment variable name (POSIX: letters, digits and '_', not starting with a digit)."""


@dataclass(frozen=True)
class ClientCredential:
    """The app's own credential for the client-credentials flow."""

    kind: str
    """`secret`, `certificate` or `federated` (a GitHub OIDC token as the client assertion)."""
    source: str
    """Where it came from, for messages (never the value)."""
    value: Secret
    """The client secret, or the private key in PEM."""
    certificate_pem: str | None = None
    """certificate: the public certificate in PEM."""
    passphrase: Secret | None = None
    """certificate: the private key's passphrase, if it is encrypted."""
    thumbprint: str | None = None
    """certificate: SHA-256 thumbprint (hex) of the certificate; federated: SHA-256 of its issuer and subject."""

    def for_msal(self) -> str | dict[str, Any]:
        """Return the `client_credential` argument of msal's ConfidentialClientApplication."""
        if self.kind == "secret":
            return self.value.reveal()
        if self.kind == "federated":
            return {"client_assertion": self.value.reveal}
        credential = {"private_key": self.value.reveal(), "public_certificate": self.certificate_pem or ""}
        if self.passphrase is not None:
            credential["passphrase"] = self.passphrase.reveal()
        return credential

    def cache_partition(self) -> str:
        """Return the token cache partition: the thumbprint (certificate, federated) or a fingerprint of the secret."""
        return secret_partition(self.value.reveal()) if self.kind == "secret" else f"{self.kind[0]}{self.thumbprint}"

    def looks_like_secret_id(self) -> bool:
        """Return True if the secret has the shape of a GUID, which is what a secret's *ID* looks like."""
        return self.kind == "secret" and is_guid(self.value.reveal())


@dataclass(frozen=True)
class Target:
    """Everything one `verify` run needs, checked."""

    description: str
    """Who is verified, for the report header (never a secret)."""
    app: str | None
    """The stack's app name, when `--stack` was given."""
    tenant: str
    client_id: str
    flow: str
    """`app-only` or `delegated`."""
    protocols: tuple[str, ...]
    mailbox: str | None
    """The mailbox to log in to; delegated runs without `--mailbox` use the signed-in user's."""
    notes: tuple[str, ...]
    """Things the user should know about the choices made (which mailbox, which cloud)."""
    scopes: tuple[str, ...]
    cloud: str
    """The cloud checked: `--cloud`, else the stack app's `cloud` output, else `global`."""
    authority: str
    """`<login host>/<tenant>`."""
    custom_authority: bool
    """True with `--authority-host`: msal then skips Microsoft's instance discovery."""
    endpoints: Mapping[str, Endpoint]
    audiences: frozenset[str]
    credential: ClientCredential | None
    ca_file: Path | None
    timeout: float
    send_test_to: str | None
    token_cache: Path | None
    """Where the msal cache is kept (token_cache.py), or None with `--token-cache off`."""
    service_principal_id: str | None = None
    """The service principal's object ID from the stack outputs, for fix texts."""
    consent_url: str | None = None
    """The admin consent URL from the stack outputs, for fix texts."""
    token_cache_mode: str = MODES[0]
    """`--token-cache`: `encrypted` (the OS's secret store, else no cache), `plain` (a 0600 file) or `off`."""


def _mailbox(flag: str, text: str) -> str:
    try:
        return normalized_mailbox(text, ascii_only=True)
    except EmailNotValidError as error:
        raise UsageError(f"{flag} {text!r}: not a mailbox address ({error}); allowed: user@domain") from None


@dataclass(frozen=True)
class _StackApp:
    """One app's validated stack outputs, its secret output and where they came from."""

    app: AppOutputs
    secret: str | None
    source: str

    @property
    def name(self) -> str:
        """The app's name in the stack."""
        return self.app.name


def _stack_app(args: VerifyRequest, stack: str, project_dir: Path | None) -> _StackApp:
    from ..stack_outputs import load_outputs  # noqa: PLC0415 - runs pulumi; only `--stack` needs it

    if project_dir is None and args.outputs is None:
        raise UsageError(f"--stack {args.stack}: no Pulumi.yaml here or above; allowed: run inside the project, "
                         "--project-dir DIR, or --outputs FILE")
    wants_secret = args.secret_env is None and args.certificate is None
    outputs = args.stack_outputs if args.stack_outputs is not None else load_outputs(
        stack, project_dir or Path.cwd(), args.outputs, show_secrets=wants_secret)
    source = f"--outputs {args.outputs}" if args.outputs else f"stack {args.stack}"
    apps = outputs.apps
    if args.app is None:
        if len(apps) != 1:
            raise UsageError(f"--stack {args.stack}: has apps {', '.join(sorted(apps)) or '(none)'}; allowed: "
                             "--app NAME to choose one")
        name = next(iter(apps))
    elif args.app not in apps:
        raise UsageError(f"--app {args.app!r}: not in {source}; allowed: {', '.join(sorted(apps)) or '(none)'}")
    else:
        name = args.app
    return _StackApp(apps[name], outputs.client_secrets.get(name), source)


def _read_certificate(args: VerifyRequest, pem_file: Path, environ: Mapping[str, str]) -> ClientCredential:
    from cryptography import x509  # noqa: PLC0415 - loads OpenSSL bindings; --help must not
    from cryptography.hazmat.primitives import hashes, serialization  # noqa: PLC0415

    flag = f"--certificate {args.certificate}"
    data = read_bytes(pem_file, flag, "a PEM file with the private key and the certificate")
    passphrase = _env_secret(args.certificate_passphrase_env, "--certificate-passphrase-env", environ)
    try:
        key = serialization.load_pem_private_key(data, passphrase.reveal().encode() if passphrase else None)
    except TypeError:
        raise UsageError(f"{flag}: the private key is encrypted; allowed: --certificate-passphrase-env VAR naming "
                         "the variable that holds its passphrase") from None
    except ValueError:
        raise UsageError(f"{flag}: no readable private key (or a wrong passphrase); allowed: a PEM file with "
                         "-----BEGIN PRIVATE KEY----- and -----BEGIN CERTIFICATE-----") from None
    try:
        certificate = x509.load_pem_x509_certificate(data)
    except ValueError:
        raise UsageError(f"{flag}: no certificate; allowed: a PEM file with the private key and the certificate "
                         "registered on the app") from None
    der, spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    if certificate.public_key().public_bytes(der, spki) != key.public_key().public_bytes(der, spki):
        raise UsageError(f"{flag}: the certificate does not belong to the private key; allowed: a matching pair")
    return ClientCredential(
        kind="certificate", source=flag, value=Secret(data.decode("ascii", errors="replace")),
        certificate_pem=certificate.public_bytes(serialization.Encoding.PEM).decode("ascii"),
        passphrase=passphrase, thumbprint=certificate.fingerprint(hashes.SHA256()).hex(),
    )


def _env_secret(variable: str | None, flag: str, environ: Mapping[str, str]) -> Secret | None:
    """Return the value of the variable `flag` names; errors never repeat the argument, which may be the secret."""
    if variable is None:
        return None
    if not ENV_NAME.fullmatch(variable):
        raise UsageError(f"{flag}: the argument is not a valid variable name (it is not repeated here: it may be the "
                         f"secret itself); allowed: the NAME of a variable that holds the value, such as {flag} "
                         "EXO_SECRET (letters, digits and '_', not starting with a digit)")
    value = environ.get(variable)
    if not value:
        raise UsageError(f"{flag}: the variable it names is {'empty' if value == '' else 'not set'} (the name is not "
                         "repeated here: it may be a secret); allowed: the name of a set variable that holds the value")
    return Secret(value)


def _credential(args: VerifyRequest, environ: Mapping[str, str], flow: str, stack: _StackApp | None,
                project_dir: Path | None = None) -> ClientCredential | None:
    if args.secret_env is not None and args.certificate is not None:
        raise UsageError("--secret-env and --certificate: both given; allowed: one credential")
    if flow == "delegated":
        if args.secret_env is not None or args.certificate is not None:
            raise UsageError("--secret-env/--certificate: a delegated check signs a user in with the device code flow "
                             "as a public client; allowed: no credential (or --flow app-only)")
        return None
    if args.certificate is not None:
        return _read_certificate(args, args.certificate, environ)
    secret = _env_secret(args.secret_env, "--secret-env", environ)
    if secret is not None:
        return ClientCredential("secret", "the variable --secret-env names", secret)
    if stack is None:
        raise UsageError("--flow app-only needs a credential; allowed: --secret-env VAR (a variable holding the client "
                         "secret value) or --certificate PEM (private key and certificate)")
    kind = stack.app.credential.type
    if kind == "federated":
        from .federated import github_credential  # noqa: PLC0415 - only federated apps need it

        return github_credential(project_dir, str(args.stack), stack.name, environ)
    if kind != "secret":
        raise UsageError(f"{stack.source}: apps.{stack.name}.credential.type is {kind!r}, so the stack holds no secret "
                         "verify could use; allowed: --certificate PEM with the app's private key, or --secret-env VAR")
    if stack.secret is None or stack.secret == HIDDEN:
        state = "missing" if stack.secret is None else f"hidden ({HIDDEN})"
        raise UsageError(f"{stack.source}: clientSecrets.{stack.name} is {state}; allowed: save the outputs with "
                         "`pulumi stack output --json --show-secrets` (and keep that file private), or pass "
                         "--secret-env VAR")
    return ClientCredential("secret", f"stack output clientSecrets.{stack.name}", Secret(stack.secret))


def _protocols(args: VerifyRequest, available: tuple[str, ...], source: str) -> tuple[str, ...]:
    if args.protocols is None:
        return available
    chosen = [p.strip() for p in args.protocols.split(",") if p.strip()]
    for protocol in chosen:
        if protocol not in available:
            raise UsageError(f"--protocols {args.protocols!r}: {protocol!r} is not allowed; allowed: "
                             f"{', '.join(available)} ({source})")
    if not chosen:
        raise UsageError(f"--protocols {args.protocols!r}: empty; allowed: a comma-separated list of "
                         f"{', '.join(available)}")
    return tuple(p for p in available if p in chosen)


def _stack_endpoint(stack: _StackApp, protocol: str, entry: EndpointOutput) -> Endpoint:
    if entry.security != SECURITY[protocol]:
        raise UsageError(f"{stack.source}: apps.{stack.name}.endpoints.{protocol}.security: {entry.security!r} is not "
                         f"supported; allowed: {SECURITY[protocol]} (Exchange Online's mode)")
    return Endpoint(entry.host, entry.port)


def _endpoints(args: VerifyRequest, cloud: Cloud, stack: _StackApp | None,
               protocols: tuple[str, ...]) -> dict[str, Endpoint]:
    stack_endpoints = stack.app.endpoints if stack and args.cloud is None else None
    endpoints: dict[str, Endpoint] = {}
    for protocol in protocols:
        default = cloud.endpoints[protocol]
        override = getattr(args, protocol)
        if override is not None:
            endpoints[protocol] = parse_endpoint(f"--{protocol}", override)
        elif stack is not None and stack_endpoints is not None and protocol in stack_endpoints:
            endpoints[protocol] = _stack_endpoint(stack, protocol, stack_endpoints[protocol])
        else:
            endpoints[protocol] = default
    return endpoints


def _authority_host(args: VerifyRequest, cloud: Cloud) -> str:
    if args.authority_host is None:
        return cloud.login_host
    try:
        parts = urlsplit(args.authority_host)
        port_ok = parts.port is None or parts.port > 0
    except ValueError:  # an unclosed [IPv6 bracket, or a port that is not a number from 0 to 65535
        parts, port_ok = urlsplit(""), False
    if parts.scheme != "https" or not parts.hostname or not port_ok or parts.path.strip("/") or parts.query:
        raise UsageError(f"--authority-host {args.authority_host!r}: allowed: https://HOST[:PORT] without a path "
                         "(msal only talks to HTTPS authorities)")
    return str(args.authority_host).rstrip("/")


def _identity(args: VerifyRequest, stack: _StackApp | None) -> tuple[str, str, str]:
    if stack is not None:
        if args.tenant is not None or args.client_id is not None or args.flow is not None:
            raise UsageError("--tenant/--client-id/--flow: not allowed with --stack, which supplies them; allowed: "
                             "either --stack NAME or --tenant and --client-id")
        return stack.app.tenant_id, stack.app.client_id, stack.app.flow
    if args.tenant is None or args.client_id is None:
        raise UsageError("--tenant and --client-id: required without --stack; allowed: --stack NAME, or both flags")
    if not (is_guid(args.tenant) or is_domain(args.tenant)):
        raise UsageError("--tenant: not a GUID or a domain (the value is not repeated: a misplaced secret must not "
                         "reach logs); allowed: the tenant ID (a GUID) or a verified domain such as "
                         "contoso.onmicrosoft.com")
    if not is_guid(args.client_id):
        raise UsageError("--client-id: not a GUID (the value is not repeated: a misplaced secret must not reach "
                         "logs); allowed: the app registration's Application (client) ID")
    has_credential = args.secret_env is not None or args.certificate is not None
    return args.tenant.lower(), args.client_id.lower(), args.flow or ("app-only" if has_credential else "delegated")


def _mailbox_choice(args: VerifyRequest, flow: str, stack: _StackApp | None) -> tuple[str | None, list[str]]:
    if args.mailbox is not None:
        mailbox = _mailbox("--mailbox", args.mailbox)
        known = [m.address.lower() for m in (stack.app.mailboxes if stack else ())]
        note = [] if not known or mailbox.lower() in known else [
            f"{mailbox} is not one of the app's mailboxes in the stack; a failure may just mean it was never granted"]
        return mailbox, note
    if flow == "delegated":
        return None, []
    addresses = [m.address for m in (stack.app.mailboxes if stack else ())]
    if not addresses:
        raise UsageError("--mailbox: required for an app-only check; allowed: the address of a mailbox the app "
                         "was granted")
    note = [] if len(addresses) == 1 else [
        f"checking {addresses[0]}, the first of the app's {len(addresses)} mailboxes; choose another with --mailbox"]
    where = f"{stack.source}: apps.{stack.name}.mailboxes[0]" if stack else "--mailbox"
    return _mailbox(where, addresses[0]), note


def _nearest_project() -> Path | None:
    from ..project import find_project_dir  # noqa: PLC0415 - loads the config validator; --help must not

    try:
        return find_project_dir()
    except UsageError:
        return None


def resolve_target(args: VerifyRequest, environ: Mapping[str, str]) -> Target:
    """Return the checked Target for `args`; raise UsageError on the first problem, naming the flag or key."""
    project_dir = args.project_dir.resolve() if args.project_dir else _nearest_project()
    stack = _stack_app(args, args.stack, project_dir) if args.stack is not None else None
    if stack is None and (args.app is not None or args.outputs is not None):
        raise UsageError("--app/--outputs: only with --stack NAME; allowed: --stack NAME [--app NAME] [--outputs FILE]")
    tenant, client_id, flow = _identity(args, stack)
    # Without --cloud, a stack's app is checked in the cloud it was deployed to: login host and token audiences too.
    cloud = CLOUDS[args.cloud or (stack.app.cloud if stack is not None else DEFAULT_CLOUD)]
    available = stack.app.protocols if stack else PROTOCOLS
    protocols = _protocols(args, available, f"the protocols of app {stack.name}" if stack else "imap, pop, smtp")
    mailbox, notes = _mailbox_choice(args, flow, stack)
    if args.send_test_to is not None and "smtp" not in protocols:
        raise UsageError("--send-test-to: needs the smtp check; allowed: only when smtp is among the protocols")
    if not 0 < args.timeout <= MAX_TIMEOUT:
        raise UsageError(f"--timeout {args.timeout}: allowed: seconds, more than 0 and at most {MAX_TIMEOUT:g}")
    credential = _credential(args, environ, flow, stack, project_dir)
    scopes = stack.app.scopes if args.cloud is None and stack is not None else cloud.scopes(flow, protocols)
    authority = f"{_authority_host(args, cloud)}/{tenant}"
    token_cache = None
    if args.token_cache != "off":
        partition = credential.cache_partition() if credential else "public"
        token_cache = cache_file(cache_dir(environ, project_dir), authority, client_id, partition)
    ca_file = args.ca_file
    if ca_file is not None:  # read here for its checks (regular file, size); ssl and requests read it by name
        read_bytes(Path(ca_file), f"--ca-file {ca_file}", "a PEM file with the CA certificates to trust")
    return Target(
        description=(f"app {stack.name} of stack {args.stack}" if stack else f"client {client_id}")
        + f" ({flow}), tenant {tenant}",
        app=stack.name if stack else None,
        tenant=tenant,
        client_id=client_id,
        flow=flow,
        protocols=protocols,
        mailbox=mailbox,
        notes=tuple(notes),
        scopes=scopes,
        cloud=cloud.name,
        authority=authority,
        custom_authority=args.authority_host is not None,
        endpoints=_endpoints(args, cloud, stack, protocols),
        audiences=cloud.audiences(),
        credential=credential,
        ca_file=Path(ca_file) if ca_file else None,
        timeout=float(args.timeout),
        send_test_to=_mailbox("--send-test-to", args.send_test_to) if args.send_test_to else None,
        token_cache=token_cache,
        token_cache_mode=args.token_cache,
        service_principal_id=stack.app.service_principal_object_id if stack else None,
        consent_url=stack.app.admin_consent_url if stack else None,
    )
