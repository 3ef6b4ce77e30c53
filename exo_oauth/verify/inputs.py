"""Turn `verify`'s command line, and the stack's outputs when `--stack` is given, into one checked `Target`.

Precedence: explicit flags (`--imap`, `--mailbox`, ...) over `--cloud` over the stack's outputs (its
`apps.<name>.cloud`, scopes and endpoints) over the global cloud's defaults. The credential comes from the stack's
`clientSecrets` output, `--secret-env VAR` or `--certificate PEM`, never from a command-line value. Every problem
raises UsageError naming the flag or output key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from email_validator import EmailNotValidError

from exo_domain.config import PROTOCOLS, is_domain, is_guid, normalized_mailbox
from exo_domain.microsoft import DEFAULT_CLOUD
from exo_domain.outputs import HIDDEN, AppOutputs, EndpointOutput
from exo_domain.permissions import token_scopes
from exo_domain.schema import RBAC

from ..signin.credentials import ClientCredential, given_credential
from ..signin.hosts import login_host
from ..signin.secret import Secret
from ..signin.session import MAX_TIMEOUT
from ..signin.token import SignIn
from ..util.errors import UsageError
from ..util.files import read_bytes
from .clouds import CLOUDS, SECURITY, Cloud, Endpoint, parse_endpoint
from .request import VerifyRequest
from .token_cache import MODES, cache_dir, cache_file, credential_partition


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
    rbac: bool = False
    """The stack app uses Exchange RBAC for Applications (`exchangeAccess: rbac`): its token carries no role."""

    @property
    def sign_in(self) -> SignIn:
        """What the sign-in module is given for this run's token."""
        return SignIn(self.tenant, self.client_id, self.authority, self.scopes, self.credential, self.ca_file,
                      self.timeout, self.custom_authority, self.mailbox)


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
    from ..fleet.stack_outputs import load_outputs  # noqa: PLC0415 - runs pulumi; only `--stack` needs it

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


def _credential(args: VerifyRequest, environ: Mapping[str, str], flow: str, stack: _StackApp | None,
                project_dir: Path | None = None) -> ClientCredential | None:
    if flow == "delegated":
        if args.secret_env is not None or args.certificate is not None:
            raise UsageError("--secret-env/--certificate: a delegated check signs a user in with the device code flow "
                             "as a public client; allowed: no credential (or --flow app-only)")
        return None
    given = given_credential(args.secret_env, args.certificate, args.certificate_passphrase_env, environ)
    if given is not None:
        return given
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
    from ..fleet.project import find_project_dir  # noqa: PLC0415 - loads the config validator; --help must not

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
    scopes = stack.app.scopes if args.cloud is None and stack is not None else token_scopes(flow, protocols, cloud.name)
    authority = f"{login_host(cloud.name, args.authority_host)}/{tenant}"
    token_cache = None
    if args.token_cache != "off":
        partition = credential_partition(credential)
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
        rbac=stack is not None and stack.app.exchange_access == RBAC,
        token_cache_mode=args.token_cache,
        service_principal_id=stack.app.service_principal_object_id if stack else None,
        consent_url=stack.app.admin_consent_url if stack else None,
    )
