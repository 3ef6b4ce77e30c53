"""Explain the run: token claims, AADSTS codes and server replies, each mapped to a cause and a fix.

The token's claims are decoded for reading only (never verified, never printed whole), and every explanation comes
from one catalogue (the failures docs/verify.md lists with their sources).

A failed check gets exactly one primary finding, chosen in this order: a reply text only Exchange gives for one
cause, a problem with the whole token (expiry, audience, tenant), a missing role or scope for that protocol, the
pattern across protocols (only SMTP failed, only IMAP failed), and finally "Exchange rejected a good-looking token".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from exo_domain.config import is_guid
from exo_domain.microsoft import CLOUDS as MICROSOFT_CLOUDS
from exo_domain.microsoft import DEFAULT_CLOUD, PROTOCOLS
from exo_domain.permissions import APP_ONLY_ROLES, DELEGATED_SCOPES

from ..signin.secret import Secret
from ..signin.token import TokenFailure, TokenOutcome
from .checks import CheckResult
from .claims import typed_claims
from .clouds import CLOUDS
from .inputs import Target

PROTOCOL_NAMES = {p.name: p.label for p in PROTOCOLS}
ERROR_LOOKUP = f"{MICROSOFT_CLOUDS[DEFAULT_CLOUD].login_host}/error"
"""Microsoft's AADSTS error code lookup page (global; it explains codes of every cloud)."""


@dataclass(frozen=True)
class Finding:
    """One known cause of a failure and what to do about it."""

    code: str
    """Stable identifier, for scripts (docs/verify.md lists them, generated)."""
    cause: str
    fix: str


CATALOGUE: Mapping[str, tuple[str, str]] = {
    # Token endpoint (AADSTS codes).
    "tenant-not-found": (
        "Entra ID does not know tenant {tenant} at {authority}: a wrong tenant ID, or the tenant is in another "
        "Microsoft cloud.",
        "Use the Directory (tenant) ID from the Entra admin center; for US Government or China tenants pass "
        "--cloud usgov, usgov-dod or china."),
    "client-not-found": (
        "Entra ID has no app with client ID {client_id} in tenant {tenant} (AADSTS700016): a wrong client ID (the "
        "object ID or an address instead of the Application (client) ID), or the app lives in another tenant.",
        "Use the Application (client) ID of the app registration (stack output {app_ref}.clientId) with the tenant "
        "it was created in."),
    "secret-invalid": (
        "Entra ID rejected the client secret from {credential_source} (AADSTS7000215). The usual reason is the "
        "secret's ID was used instead of its value.{secret_id_hint}",
        "Use the secret's Value (shown once when it is created; with a stack, the output "
        "clientSecrets.{app_name}), not its Secret ID."),
    "secret-expired": (
        "The client secret from {credential_source} has expired (AADSTS7000222).",
        "Use the newest secret: `pulumi up` creates the next one credential.rotateBeforeDays before the newest ends "
        "and keeps both valid meanwhile; give the clients stack output clientSecrets.<app> (docs/rotation.md)."),
    "certificate-invalid": (
        "Entra ID rejected the certificate assertion (AADSTS700027): the certificate is not registered on app "
        "{client_id}, or the private key does not match it.",
        "Register the certificate (credential.publicKeyPem in the stack config, then `pulumi up`) and pass its "
        "private key with --certificate."),
    "consent-missing": (
        "Nobody has granted consent for the app's permissions in tenant {tenant} (AADSTS65001). Delegated mail "
        "scopes need consent on Office 365 Exchange Online, the resource of https://outlook.office.com/<scope>; "
        "consent on Microsoft Graph's IMAP.AccessAsUser.All, POP.AccessAsUser.All or SMTP.Send does not count.",
        "Run `pulumi up` (the stack grants admin consent as code on Exchange Online, and offline_access, openid "
        "and profile on Microsoft Graph; a stack deployed with Graph grants moves in that one run), or grant it by "
        "hand: {consent}."),
    "admin-approval-required": (
        "The sign-in needs an administrator's approval (AADSTS90094): users of tenant {tenant} may not consent to "
        "the app's permissions themselves, and no admin consent covers what was asked for.",
        "Run `pulumi up`, which grants admin consent as code on Office 365 Exchange Online (the mail scopes) and "
        "Microsoft Graph (offline_access, openid, profile), or have an administrator open {consent}."),
    "public-client-disabled": (
        "Device code sign-in is a public-client flow, and app {client_id} does not allow public-client flows "
        "(AADSTS7000218).",
        "Set publicClient: true on this delegated app in the stack config and run `pulumi up` (portal: "
        "Authentication > Allow public client flows = Yes)."),
    "resource-not-found": (
        "Entra ID does not know the resource of scope {scopes} in this tenant (AADSTS500011): the tenant has no "
        "Exchange Online service principal, or the scope belongs to another cloud.",
        "Check that the tenant has Exchange Online; for national clouds pass --cloud."),
    "invalid-scope": (
        "Entra ID rejected the requested scope {scopes} (AADSTS70011).",
        "Request exactly {expected_scopes}: app-only asks for Exchange Online's <resource>/.default, delegated for "
        "<resource>/IMAP.AccessAsUser.All, .../POP.AccessAsUser.All or .../SMTP.Send, with the resource of the "
        "tenant's cloud (--cloud)."),
    "conditional-access": (
        "A Conditional Access policy blocked the token (AADSTS53003).",
        "Find the sign-in in the Entra sign-in logs and adjust the policy for this app, user or location."),
    "token-error": (
        "Entra ID refused the token request: {error_description}",
        f"Look the code up at {ERROR_LOOKUP}?code={{error_code}}."),
    "login-unreachable": (
        "Could not reach the login host {authority}: {error_description}",
        "Check DNS, the proxy (HTTPS_PROXY) and that outbound HTTPS to the login host is allowed."),
    "login-tls": (
        "TLS to the login host failed: {error_description}",
        "Behind TLS inspection pass the inspecting CA with --ca-file; verify never skips certificate checks."),
    "login-redirect": (
        "The login host answered the token request with a redirect, which verify never follows, so the credential "
        "went nowhere else: {error_description}",
        "Point --authority-host (or --cloud) at the real login host; a proxy or TLS inspection box that redirects "
        "login traffic must let it through unchanged."),
    "login-insecure": (
        "A request was refused before it was sent: {error_description}",
        "Credentials go only to the configured authority over verified HTTPS; check --authority-host and the login "
        "host's discovery document."),
    "login-bad-reply": (
        "The login host {authority} sent a reply that is no valid token response ({error_description}).",
        "Something other than Entra ID may be answering, such as a proxy's HTTP 500 or 502 page; check HTTPS_PROXY "
        "and --authority-host."),
    "login-timeout": (
        "The login host {authority} did not answer in time: {error_description}",
        "Check the network path and the proxy (HTTPS_PROXY), or raise --timeout."),
    # Token claims.
    "token-expired": (
        "The access token expired at {expires} (this machine's clock says {now}).",
        "Check this machine's clock (NTP) and run again."),
    "wrong-audience": (
        "The token is for {audience}, not Exchange Online ({expected_audience}); a Microsoft Graph token does not "
        "work for IMAP, POP or SMTP.",
        "Request {expected_scopes}."),
    "wrong-tenant": (
        "The token was issued by tenant {token_tenant}, not by {tenant} where the mailbox lives.",
        "Use the tenant-specific authority {authority}, not /common or the app's home tenant; a multi-tenant app "
        "needs admin consent in the mailbox's tenant."),
    "rbac-not-authorized": (
        "Exchange refused {protocol_name} for an app that uses Exchange RBAC for Applications (exchangeAccess: "
        "rbac): its token rightly carries no role, so the mailbox is probably outside the app's management scope, "
        "or its role assignment is missing.",
        "Run exchange-verify.ps1 (it calls Test-ServicePrincipalAuthorization per mailbox), then exchange-apply.ps1 "
        "to fix the scope or the assignment."),
    "no-roles": (
        "The token carries no application roles: admin consent for the app's Exchange Online permissions is "
        "missing, so {protocol_name} is refused.",
        "Run `pulumi up` (it grants admin consent as code), or grant it by hand: {consent}."),
    "wrong-role": (
        "The token's roles ({roles}) do not include {role}, which {protocol_name} needs; permissions such as "
        "full_access_as_app (EWS) or Microsoft Graph Mail.* do not cover {protocol_name}.",
        "Add {protocol} to the app's protocols in the stack config and run `pulumi up`, which requests "
        "{role} of Office 365 Exchange Online and grants admin consent."),
    "role-missing": (
        "The token has no {role} role, which {protocol_name} needs for app-only access.",
        "Add {protocol} to the app's protocols in the stack config and run `pulumi up`, which requests "
        "{role} of Office 365 Exchange Online and grants admin consent."),
    "scope-missing": (
        "The token's scopes ({token_scopes}) do not include {scope}, which {protocol_name} needs.",
        "Add {protocol} to the app's protocols in the stack config, run `pulumi up`, and sign in again."),
    # Mail servers.
    "unreachable": (
        "Could not connect to {endpoint}.",
        "Check DNS and that outbound TCP {port} to {host} is allowed."),
    "timeout": (
        "{endpoint} did not answer within {timeout:g} s.",
        "Check the network path, or raise --timeout."),
    "stalled": (
        "{endpoint} kept verify waiting: {reply}.",
        "A slow, overloaded or misbehaving server, or a middlebox, on the path to {endpoint}; check that --{protocol} "
        "points at Exchange Online, or raise --timeout for a slow link."),
    "bad-reply": (
        "{endpoint} sent a reply verify does not accept: {reply}.",
        "Check that --{protocol} points at Exchange Online's {protocol_name} endpoint; something else, such as a "
        "proxy or another service, may be answering."),
    "tls-failed": (
        "TLS to {endpoint} failed: the server's certificate is not trusted here or does not name the host.",
        "Check the host name; behind TLS inspection pass the inspecting CA with --ca-file."),
    "starttls-missing": (
        "{endpoint} did not offer STARTTLS, so verify did not send the token.",
        "Point --smtp at Exchange Online's submission endpoint ({default_smtp}); something on the path may be "
        "stripping STARTTLS."),
    "smtp-auth-disabled": (
        "Exchange says SMTP AUTH is disabled for mailbox {mailbox} or for the whole tenant.",
        "Set-CASMailbox -Identity {mailbox} -SmtpClientAuthenticationDisabled $false (per mailbox, which the "
        "stack's exchange-apply.ps1 does for app-only mailboxes; the tenant-wide value: Get-TransportConfig | fl "
        "SmtpClientAuthenticationDisabled)."),
    "smtp-rejected": (
        "The same token logged in to the other protocols, but SMTP AUTH was refused for {mailbox}: SMTP AUTH is "
        "disabled for the mailbox or tenant, or the service principal may not send as it.",
        "Set-CASMailbox -Identity {mailbox} -SmtpClientAuthenticationDisabled $false; if that is already so and "
        "the app is app-only, Add-MailboxPermission -Identity {mailbox} -User {sp} -AccessRights FullAccess."),
    "protocol-disabled": (
        "The same token logged in to the other protocols, but {protocol_name} was refused for {mailbox}: "
        "{protocol_name} is probably disabled for the mailbox.",
        "Set-CASMailbox -Identity {mailbox} -{cas_switch} $true (Get-CASMailbox {mailbox} shows the switches)."),
    "auth-rejected": (
        "Exchange rejected a token whose audience, tenant and roles are right. Most often New-ServicePrincipal "
        "was run with the app registration's object ID instead of the enterprise application's (service "
        "principal's), or not at all; or the service principal has no FullAccess on {mailbox}.",
        "Remove-ServicePrincipal, then New-ServicePrincipal -AppId {client_id} -ObjectId {sp} and "
        "Add-MailboxPermission -Identity {mailbox} -User {sp} -AccessRights FullAccess (the stack's "
        "exchange-apply.ps1 does both); check with Test-ServicePrincipalAuthorization -Identity {sp} "
        "-Resource {mailbox}."),
    "auth-rejected-user": (
        "Exchange rejected the user's token for {mailbox}: the signed-in user has no rights on that mailbox, "
        "{protocol_name} is disabled for it, or another user signed in.",
        "Sign in as the mailbox's user, or give the user FullAccess on the shared mailbox "
        "(Add-MailboxPermission -Identity {mailbox} -User <user> -AccessRights FullAccess); Get-CASMailbox "
        "{mailbox} shows the protocol switches."),
    "not-connected": (
        "The login worked, but the principal may not open mailbox {mailbox} (Exchange: \"User is authenticated "
        "but not connected\").",
        "App-only: Add-MailboxPermission -Identity {mailbox} -User {sp} -AccessRights FullAccess (the stack's "
        "exchange-apply.ps1 does this). Delegated: give the user rights on the mailbox, or sign in as it."),
    "mailbox-failed": (
        "The login worked, but opening the mailbox failed.",
        "Check that {mailbox} exists and has an Exchange Online licence (Get-Mailbox {mailbox})."),
    "send-failed": (
        "The login worked, but sending the test message to {send_test_to} failed.",
        "To send as another address the service principal needs SendAs (Add-RecipientPermission -Identity "
        "<address> -Trustee {sp} -AccessRights SendAs)."),
}
"""code -> (cause, fix) templates; `explain` fills them from the run's context."""

AADSTS_CODES: Mapping[int, str] = {
    90002: "tenant-not-found", 700016: "client-not-found", 7000215: "secret-invalid", 7000222: "secret-expired",
    700027: "certificate-invalid", 65001: "consent-missing", 90094: "admin-approval-required",
    7000218: "public-client-disabled",
    500011: "resource-not-found", 70011: "invalid-scope", 53003: "conditional-access",
}
LOGIN_FAILURES: Mapping[str, str] = {
    "unreachable": "login-unreachable", "tls": "login-tls", "redirect": "login-redirect",
    "insecure": "login-insecure", "bad-reply": "login-bad-reply", "timeout": "login-timeout",
}
"""TokenFailure.error values that mean the login host gave no OAuth answer, and their catalogue codes."""
REPLY_PATTERNS: tuple[tuple[str, str], ...] = (
    ("smtpclientauthentication is disabled", "smtp-auth-disabled"),
    ("user is authenticated but not connected", "not-connected"),
)
"""Reply texts only Exchange Online gives, for exactly one cause (lower case)."""
CAS_SWITCHES = {p.name: p.cas_switch for p in PROTOCOLS}


@dataclass(frozen=True)
class Row:
    """One line of the report: the token, or one protocol."""

    name: str
    status: str
    """`ok`, `failed`, or `not-run` (no token)."""
    summary: str
    findings: tuple[Finding, ...] = ()
    warnings: tuple[str, ...] = ()
    network: bool = False
    transcript: tuple[str, ...] = ()


@dataclass(frozen=True)
class Diagnosis:
    """The whole run, explained."""

    rows: tuple[Row, ...]
    claims: Mapping[str, Any] | None = None
    """The token's non-secret claims worth showing (aud, tid, appid, roles, scp, exp), or None."""
    mailbox: str | None = None
    """The mailbox that was checked."""
    notes: tuple[str, ...] = ()


def read_claims(token: Secret) -> dict[str, Any] | None:
    """Return the token's claims decoded for reading only (no signature check), or None if it is not a JWT.

    Only claims of the right type are kept (claims.typed_claims): every claim is untrusted input.
    """
    import jwt  # noqa: PLC0415 - PyJWT is only needed once a token exists

    try:
        claims: dict[str, Any] = jwt.decode(token.reveal(), options={"verify_signature": False})
    except jwt.PyJWTError:
        return None
    return typed_claims(claims) if isinstance(claims, dict) else None


def _time(value: Any) -> str:
    return datetime.fromtimestamp(int(value), UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if value is not None else "?"


def claim_summary(claims: Mapping[str, Any]) -> dict[str, Any]:
    """Return the claims worth showing, all of which are safe to print (no signature, no token)."""
    summary = {key: claims[key] for key in ("aud", "tid", "appid", "azp", "roles", "scp", "upn") if key in claims}
    if "exp" in claims:
        summary["exp"] = _time(claims["exp"])
    return summary


class _Context(dict[str, Any]):
    """Template values; a key a template does not get is shown as itself rather than failing."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def _context(target: Target, **extra: Any) -> _Context:
    return _Context(
        tenant=target.tenant, client_id=target.client_id, authority=target.authority,
        mailbox=target.mailbox or "the mailbox", scopes=" ".join(target.scopes),
        sp=target.service_principal_id or "<the enterprise application's object ID>",
        consent=target.consent_url or "Entra admin center > App registrations > the app > API permissions > "
        "Grant admin consent",
        app_ref=f"apps.{target.app}" if target.app else "apps.<app>", app_name=target.app or "<app>",
        credential_source=target.credential.source if target.credential else "the app", secret_id_hint="",
        expected_audience=", ".join(sorted(target.audiences)), expected_scopes=" ".join(target.scopes),
        default_smtp=str(CLOUDS[target.cloud].endpoints["smtp"]), **extra,
    )


def explain(code: str, context: Mapping[str, Any]) -> Finding:
    """Return the catalogue's finding for `code`, filled in from `context`."""
    cause, fix = CATALOGUE[code]
    values = _Context(context)
    return Finding(code, cause.format_map(values), fix.format_map(values))


def _token_failure(target: Target, failure: TokenFailure) -> Finding:
    context = _context(target, error_description=failure.description or failure.error,
                       error_code=failure.codes[0] if failure.codes else "")
    if failure.error in LOGIN_FAILURES:
        return explain(LOGIN_FAILURES[failure.error], context)
    code = next((AADSTS_CODES[c] for c in failure.codes if c in AADSTS_CODES), "token-error")
    if code == "secret-invalid" and target.credential is not None and target.credential.looks_like_secret_id():
        context["secret_id_hint"] = " The value given has the shape of a GUID, which is what a Secret ID looks like."
    return explain(code, context)


@dataclass(frozen=True)
class _TokenFacts:
    """What the claims say: problems with the whole token, and per protocol."""

    whole: tuple[Finding, ...]
    per_protocol: Mapping[str, Finding]


def _token_facts(target: Target, claims: Mapping[str, Any] | None, now: datetime) -> _TokenFacts:
    if claims is None:
        return _TokenFacts((), {})
    context = _context(target)
    whole: list[Finding] = []
    if "exp" in claims and int(claims["exp"]) <= now.timestamp():
        whole.append(explain("token-expired", {**context, "expires": _time(claims["exp"]),
                                               "now": now.strftime("%Y-%m-%d %H:%M:%S UTC")}))
    audience = claims.get("aud")
    audiences = [audience] if isinstance(audience, str) else list(audience or [])
    if not any(str(a).rstrip("/") in target.audiences for a in audiences):
        whole.append(explain("wrong-audience", {**context, "audience": ", ".join(map(str, audiences)) or "nothing"}))
    token_tenant = claims.get("tid")
    if token_tenant and is_guid(target.tenant) and str(token_tenant).lower() != target.tenant:
        whole.append(explain("wrong-tenant", {**context, "token_tenant": token_tenant}))
    return _TokenFacts(tuple(whole), _per_protocol(target, claims, context))


def _per_protocol(target: Target, claims: Mapping[str, Any], context: _Context) -> dict[str, Finding]:
    missing: dict[str, Finding] = {}
    roles = [str(r) for r in claims.get("roles") or []]
    scopes = str(claims.get("scp") or "").split()
    for protocol in target.protocols:
        values = {**context, "protocol": protocol, "protocol_name": PROTOCOL_NAMES[protocol]}
        if target.flow == "app-only":
            role = APP_ONLY_ROLES[protocol]
            if target.rbac or role in roles:
                # With rbac no role is expected: Exchange RBAC authorizes the app (docs/decisions/0131).
                continue
            code = "no-roles" if not roles else "wrong-role" if not set(roles) & set(APP_ONLY_ROLES.values()) \
                else "role-missing"
            missing[protocol] = explain(code, {**values, "role": role, "roles": ", ".join(roles)})
        elif DELEGATED_SCOPES[protocol] not in scopes:
            missing[protocol] = explain("scope-missing", {**values, "scope": DELEGATED_SCOPES[protocol],
                                                          "token_scopes": " ".join(scopes) or "none"})
    return missing


def _explain_check(check: CheckResult, target: Target, facts: _TokenFacts,
                   others_logged_in: bool, context: _Context) -> Finding:
    values = _Context({**context, "protocol": check.protocol, "protocol_name": PROTOCOL_NAMES[check.protocol],
                       "endpoint": str(check.endpoint), "host": check.endpoint.host, "port": check.endpoint.port,
                       "reply": check.reply, "timeout": target.timeout, "cas_switch": CAS_SWITCHES[check.protocol],
                       "send_test_to": target.send_test_to or ""})
    reply = check.reply.lower()
    rules = (
        (check.cause == "stalled", "timeout" if check.stage == "connect" else "stalled"),
        (check.cause == "bad-reply", "bad-reply"),
        (check.network, "timeout" if "timeout" in reply else "unreachable"),
        (check.stage in ("connect", "tls"), "starttls-missing" if "starttls" in reply else "tls-failed"),
        *((pattern in reply, code) for pattern, code in REPLY_PATTERNS),
        (check.stage == "mailbox", "mailbox-failed"),
        (check.stage == "send", "send-failed"),
    )
    code = next((code for hit, code in rules if hit), None)
    if code is not None:
        return explain(code, values)
    if facts.whole:
        return facts.whole[0]
    if check.protocol in facts.per_protocol:
        return facts.per_protocol[check.protocol]
    if others_logged_in:
        return explain("smtp-rejected" if check.protocol == "smtp" else "protocol-disabled", values)
    if target.rbac:
        return explain("rbac-not-authorized", values)
    return explain("auth-rejected" if target.flow == "app-only" else "auth-rejected-user", values)


def _token_row(target: Target, outcome: TokenOutcome, claims: Mapping[str, Any] | None,
               facts: _TokenFacts) -> Row:
    if outcome.failure is not None:
        return Row("token", "failed", f"no token from {target.authority}", (_token_failure(target, outcome.failure),),
                   network=outcome.failure.error in ("unreachable", "timeout"))
    how = "from the token cache, no request" if outcome.from_cache else f"1 request to {target.authority}"
    granted = ""
    if claims is not None:
        granted = ", roles: " + (", ".join(claims.get("roles") or []) or "none") if target.flow == "app-only" \
            else ", scopes: " + (str(claims.get("scp") or "") or "none")
    warnings = [] if claims is not None else ["the token is not a JWT, so its claims were not checked"]
    return Row("token", "ok", how + granted, warnings=tuple(warnings + [f.cause for f in facts.whole]))


def diagnose(target: Target, outcome: TokenOutcome, checks: Sequence[CheckResult], mailbox: str | None,
             now: datetime | None = None) -> Diagnosis:
    """Explain the run: one row for the token, one per requested protocol, each failure with one finding."""
    now = now or datetime.now(UTC)
    claims = read_claims(outcome.token) if outcome.token is not None else None
    facts = _token_facts(target, claims, now)
    rows = [_token_row(target, outcome, claims, facts)]
    if outcome.failure is not None:
        rows += [Row(p, "not-run", f"{target.endpoints[p]}: not checked without a token") for p in target.protocols]
        return Diagnosis(tuple(rows), None, mailbox, target.notes)
    context = _context(target)
    if mailbox:
        context["mailbox"] = mailbox
    logged_in = {c.protocol for c in checks if c.ok or c.stage in ("mailbox", "send")}
    for check in checks:
        if check.ok:
            warning = facts.per_protocol.get(check.protocol)
            note = () if warning is None else (f"{warning.cause} The server accepted the login anyway (for SMTP, "
                                               "Exchange App RBAC grants sending without a role).",)
            rows.append(Row(check.protocol, "ok", f"{check.endpoint}: {check.detail}", warnings=note,
                            transcript=check.transcript))
            continue
        finding = _explain_check(check, target, facts, bool(logged_in - {check.protocol}), context)
        rows.append(Row(check.protocol, "failed", f"{check.endpoint}: {check.reply}", (finding,),
                        network=check.network, transcript=check.transcript))
    return Diagnosis(tuple(rows), claim_summary(claims) if claims else None, mailbox, target.notes)
