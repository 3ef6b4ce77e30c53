"""MailOAuthApp: one Entra ID app that lets a legacy mail client use OAuth for IMAP, POP or SMTP AUTH."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pulumi
import pulumi_azuread as azuread
import pulumiverse_time as time

from exo_domain.config import (
    APP_NAME,
    AppConfig,
    At,
    Credential,
    Mailbox,
    exchange_access,
    guid,
    one_of,
    protocol_list,
    sign_in_users,
)
from exo_domain.microsoft import DEFAULT_CLOUD, EXCHANGE_ONLINE, FLOWS, MICROSOFT_GRAPH, SINGLE_TENANT, TYPE_TOKENS
from exo_domain.outputs import AppOutputs, CredentialOutput, PermissionOutput, SecretOutput, endpoints_for
from exo_domain.permissions import (
    Permission,
    admin_consent_url,
    by_api,
    permissions_for,
    token_scopes,
)
from exo_domain.rotation import anchor_day, live_secrets, today
from exo_domain.schema import DEFAULT_LIFETIME_DAYS, DEFAULT_ROTATE_BEFORE_DAYS, EXCHANGE_ACCESS

from .first_party import FirstPartyApi, lookup_first_party_apis

TYPE_TOKEN = TYPE_TOKENS["mailOAuthApp"]


@dataclass(frozen=True)
class MailOAuthAppArgs:
    """The inputs of one MailOAuthApp, for this project's program or any other Pulumi program.

    The component checks them as the stack file's validator checks an app (one `ConfigError` line naming the field).
    """

    tenant_id: str
    """The tenant GUID the app registration lives in."""
    flow: str
    """`app-only` (client credentials, for daemons and scanners) or `delegated` (a user signs in)."""
    protocols: Sequence[str]
    """A non-empty subset of `imap`, `pop`, `smtp`: only these protocols' permissions are requested."""
    owners: Sequence[str]
    """Object ids of the users or service principals that own the app registration and its service principal."""
    display_name: str | None = None
    """The name shown in Entra ID; the component's name if None."""
    mailboxes: Sequence[Mailbox] = ()
    """app-only: the mailboxes the app may open (the generated Exchange scripts grant them)."""
    credential: Credential = field(
        default_factory=lambda: Credential("secret", DEFAULT_LIFETIME_DAYS, DEFAULT_ROTATE_BEFORE_DAYS))
    """How the app proves its identity: by default a secret with the stack file's default lifetime and rotation."""
    redirect_uris: Sequence[str] = ()
    """Redirect URIs: HTTPS, or loopback http:// (localhost, 127.0.0.1) on a public client."""
    public_client: bool = False
    """delegated: allow public-client flows such as device code."""
    notes: str = ""
    """Free text stored on the app registration."""
    tags: Sequence[str] = ()
    """Tags stored on the app registration."""
    exchange_access: str = EXCHANGE_ACCESS[0]
    """app-only: `mailbox-permissions` (Entra permissions plus FullAccess and SendAs), or `rbac` for an app whose
    protocols are `smtp` alone (Exchange RBAC for Applications: no Entra permission, no mailbox permission)."""
    sign_in_mailboxes: Sequence[str] = ()
    """delegated: the mailboxes of the users who sign in; the Exchange steps turn the app's protocols on for each."""
    sign_in_group: str | None = None
    """delegated: a mail-enabled group whose member mailboxes the Exchange steps turn the protocols on for."""
    app_role_assignment_required: bool = False
    """Only users and groups assigned to the app may sign in (the service principal's appRoleAssignmentRequired)."""
    cloud: str = DEFAULT_CLOUD
    """The tenant's Microsoft cloud (`global`, `usgov`, `usgov-dod`, `china`): hosts, scopes and the consent URL."""


def app_config(name: str, args: MailOAuthAppArgs) -> AppConfig:
    """Return the app `args` describe, checked as the stack file's validator checks an app, or raise ConfigError."""
    def at(key: str, value: Any) -> At:
        return At(f"MailOAuthApp {name!r}", f"args.{key}", value)

    if not APP_NAME.fullmatch(name):
        raise at("name", name).fail(f"{name!r} is not allowed; allowed: a-z, 0-9 and single '-' between them")
    guid(at("tenant_id", args.tenant_id))
    if not args.owners:
        raise at("owners", list(args.owners)).fail("is empty; allowed: one or more owner object ids")
    flow = one_of(at("flow", args.flow), FLOWS)
    protocols = protocol_list(at("protocols", list(args.protocols)))
    mailboxes = tuple(args.mailboxes)
    # An empty list is the default, not a key set on an app-only app: passed as absent.
    sign_in_mailboxes, sign_in_group = sign_in_users(
        at("sign_in_mailboxes", list(args.sign_in_mailboxes) or None), at("sign_in_group", args.sign_in_group), flow)
    return AppConfig(
        name=name,
        display_name=args.display_name or name,
        flow=flow,
        protocols=protocols,
        mailboxes=mailboxes,
        credential=args.credential,
        redirect_uris=tuple(args.redirect_uris),
        public_client=args.public_client,
        owners=tuple(guid(at(f"owners[{i}]", owner)) for i, owner in enumerate(args.owners)),
        notes=args.notes,
        tags=tuple(args.tags),
        exchange_access=exchange_access(at("exchange_access", args.exchange_access),
                                        at("mailboxes", [m.address for m in mailboxes]), flow, protocols, mailboxes),
        sign_in_mailboxes=sign_in_mailboxes,
        sign_in_group=sign_in_group,
        app_role_assignment_required=args.app_role_assignment_required,
    )


class MailOAuthApp(pulumi.ComponentResource):
    """An app registration, its service principal, its mail permissions with admin consent, and its credential.

    The permissions are exactly those the flow needs for the chosen protocols. Children are named `<name>-app`,
    `<name>-sp`, `<name>-role-<protocol>` (app-only) or `<name>-grant-exchange` and `<name>-grant` (delegated, on
    Exchange Online and Microsoft Graph), and `<name>-schedule` with `<name>-secret-a` and `<name>-secret-b`
    (overlapping secret rotation), or `<name>-rotation` with `<name>-cert`, or `<name>-federated`.
    """

    client_id: pulumi.Output[str]
    """The application (client) id that mail clients sign in with."""
    tenant_id: pulumi.Output[str]
    """The tenant GUID."""
    application_object_id: pulumi.Output[str]
    """The app registration's object id (App registrations > Overview). Not for New-ServicePrincipal."""
    service_principal_object_id: pulumi.Output[str]
    """The service principal's object id (Enterprise applications): the `-ObjectId` for New-ServicePrincipal."""
    scopes: pulumi.Output[list[str]]
    """The scopes a client requests in its token request."""
    admin_consent_url: pulumi.Output[str]
    """Microsoft's v2.0 admin consent URL for the app (consent is already granted as code)."""
    client_secret: pulumi.Output[str | None]
    """The newest client secret's value, always a Pulumi secret; None unless the credential type is `secret`."""
    summary: pulumi.Output[dict[str, Any]]
    """Everything above except the secret, as the `apps.<name>` stack output (docs/reference.md "Outputs")."""

    def __init__(
        self,
        name: str,
        args: MailOAuthAppArgs,
        opts: pulumi.ResourceOptions | None = None,
        *,
        service_principal_hooks: pulumi.ResourceHookBinding | None = None,
        first_party: Mapping[str, FirstPartyApi] | None = None,
    ) -> None:
        """Declare the app `name` (a-z, 0-9, '-'; its children's names derive from it) from `args`.

        `service_principal_hooks` run around the service principal (this program writes the Exchange scripts
        there); `first_party` shares one look-up of Microsoft's service principals between many apps of a program
        (looked up here when None).
        """
        app = app_config(name, args)
        tenant_id, cloud = args.tenant_id, args.cloud
        super().__init__(TYPE_TOKEN, name, {}, opts)
        child = pulumi.ResourceOptions(parent=self)
        permissions = permissions_for(app.flow, app.protocols, app.exchange_access)
        apis = first_party if first_party is not None else lookup_first_party_apis(p.api for p in permissions)
        permission_ids = [apis[p.api].permission_id(p.kind, p.name) for p in permissions]
        application = _application(name, app, apis, permissions=permissions, permission_ids=permission_ids,
                                   child=child)

        # The enterprise app (service principal) that consent and Exchange permissions attach to.
        principal = azuread.ServicePrincipal(
            f"{name}-sp",
            client_id=application.client_id,
            owners=list(app.owners),
            app_role_assignment_required=app.app_role_assignment_required,
            # enterprise: listed under Enterprise applications, where admins find the object id New-ServicePrincipal
            # needs; hide: a mail daemon is nothing users should see or launch in My Apps.
            feature_tags=[azuread.ServicePrincipalFeatureTagArgs(enterprise=True, hide=True)],
            opts=pulumi.ResourceOptions(parent=self, hooks=service_principal_hooks),
        )

        # Admin consent as code.
        if app.flow == "app-only":
            _app_role_assignments(name, app, apis, role_ids=permission_ids, principal=principal, child=child)
        else:
            _delegated_grants(name, apis, permissions, principal, child)

        credential = _credential(name, app.credential, application, child)

        self.client_id = application.client_id
        self.tenant_id = pulumi.Output.from_input(tenant_id)
        self.application_object_id = application.object_id
        self.service_principal_object_id = principal.object_id
        scopes = token_scopes(app.flow, app.protocols, cloud)
        self.scopes = pulumi.Output.from_input(list(scopes))
        first_redirect = app.redirect_uris[0] if app.redirect_uris else None
        self.admin_consent_url = application.client_id.apply(
            lambda cid: admin_consent_url(tenant_id, cid, app.flow, first_redirect, cloud)
        )
        self.client_secret = pulumi.Output.secret(credential.value)
        self.summary = pulumi.Output.all(
            application.client_id,
            application.object_id,
            principal.object_id,
            self.admin_consent_url,
            pulumi.Output.all(*permission_ids),
            credential.key_id,
            credential.end_date,
            credential.secrets,
        ).apply(lambda v: _summary(app, tenant_id, cloud, v, permissions=permissions, scopes=scopes))
        self.register_outputs(
            {
                "clientId": self.client_id,
                "tenantId": self.tenant_id,
                "applicationObjectId": self.application_object_id,
                "servicePrincipalObjectId": self.service_principal_object_id,
                "scopes": self.scopes,
                "adminConsentUrl": self.admin_consent_url,
                "clientSecret": self.client_secret,
                "summary": self.summary,
            }
        )


def all_summaries(apps: Mapping[str, MailOAuthApp]) -> pulumi.Output[dict[str, dict[str, Any]]]:
    """Return one output of every app's `summary` by name: the value `Output.all(**summaries)` gives.

    `Output.all` lifts every list and dict nested in each value into an output of its own (a summary holds about
    fifty, most of an offline plan's outputs); applying one summary after the other joins them as they are. Known,
    the join has Output.all's dependencies and secrecy; an unknown summary (a preview of a new app) leaves it unknown,
    as Output.all is.
    """
    joined: pulumi.Output[dict[str, dict[str, Any]]] = pulumi.Output.from_input({})
    for name, app in apps.items():
        joined = joined.apply(functools.partial(_join, name=name, summary=app.summary))
    return joined


def _join(
    done: dict[str, dict[str, Any]], name: str, summary: pulumi.Output[dict[str, Any]],
) -> pulumi.Output[dict[str, dict[str, Any]]]:
    return summary.apply(lambda value: {**done, name: value})


def _application(
    name: str,
    app: AppConfig,
    apis: Mapping[str, FirstPartyApi],
    *,
    permissions: Sequence[Permission],
    permission_ids: Sequence[pulumi.Output[str]],
    child: pulumi.ResourceOptions,
) -> azuread.Application:
    """Declare the app registration: single tenant, requesting exactly the chosen protocols' permissions."""
    ids = dict(zip(permissions, permission_ids, strict=True))
    return azuread.Application(
        f"{name}-app",
        display_name=app.display_name,
        sign_in_audience=SINGLE_TENANT,
        owners=list(app.owners),
        notes=app.notes or None,
        tags=list(app.tags) or None,
        prevent_duplicate_names=True,
        required_resource_accesses=[
            azuread.ApplicationRequiredResourceAccessArgs(
                resource_app_id=apis[api].client_id,
                resource_accesses=[
                    azuread.ApplicationRequiredResourceAccessResourceAccessArgs(id=ids[p], type=p.kind) for p in group
                ],
            )
            for api, group in by_api(permissions).items()
        ],
        web=azuread.ApplicationWebArgs(redirect_uris=list(app.redirect_uris))
        if app.redirect_uris and not app.public_client
        else None,
        public_client=azuread.ApplicationPublicClientArgs(redirect_uris=list(app.redirect_uris))
        if app.redirect_uris and app.public_client
        else None,
        fallback_public_client_enabled=app.public_client,
        opts=child,
    )


def _app_role_assignments(
    name: str,
    app: AppConfig,
    apis: Mapping[str, FirstPartyApi],
    *,
    role_ids: Sequence[pulumi.Output[str]],
    principal: azuread.ServicePrincipal,
    child: pulumi.ResourceOptions,
) -> None:
    """Admin-consent the app-only roles: one assignment per protocol on Exchange Online (none with rbac)."""
    for protocol, role_id in zip(app.protocols if role_ids else (), role_ids, strict=True):
        azuread.AppRoleAssignment(
            f"{name}-role-{protocol}",
            app_role_id=role_id,
            principal_object_id=principal.object_id,
            resource_object_id=apis[EXCHANGE_ONLINE].object_id,
            opts=child,
        )


GRANT_SUFFIXES = {MICROSOFT_GRAPH: "grant", EXCHANGE_ONLINE: "grant-exchange"}
"""Delegated grants by API. The Graph grant keeps the name it had when it also held the mail scopes, so a stack
deployed then moves with an in-place update of its claims plus one new grant (docs/decisions/0030): replacing it
would create the new Graph grant while the old one still exists, which Entra refuses (one grant per client,
resource and consent type)."""


def _delegated_grants(
    name: str,
    apis: Mapping[str, FirstPartyApi],
    permissions: Sequence[Permission],
    principal: azuread.ServicePrincipal,
    child: pulumi.ResourceOptions,
) -> None:
    """Admin-consent the delegated scopes for all users: one grant per API whose scopes the app requests."""
    for api, group in by_api(permissions).items():
        azuread.ServicePrincipalDelegatedPermissionGrant(
            f"{name}-{GRANT_SUFFIXES[api]}",
            service_principal_object_id=principal.object_id,
            resource_service_principal_object_id=apis[api].object_id,
            claim_values=[p.name for p in group],
            opts=child,
        )


@dataclass(frozen=True)
class CredentialOutputs:
    """What the app's credential resources return, for the component's outputs."""

    key_id: pulumi.Output[str | None]
    """The newest credential's key id (None without a credential)."""
    end_date: pulumi.Output[str | None]
    """The newest credential's end date (None for federated and none)."""
    value: pulumi.Output[str | None]
    """The newest secret's value (None unless the type is `secret`)."""
    secrets: pulumi.Output[list[SecretOutput]]
    """Every secret that exists, newest first (empty unless the type is `secret`)."""


def _credential(
    name: str, credential: Credential, application: azuread.Application, child: pulumi.ResourceOptions,
) -> CredentialOutputs:
    """Declare the app's credential and return its outputs."""
    none: pulumi.Output[str | None] = pulumi.Output.from_input(None)
    no_secrets: pulumi.Output[list[SecretOutput]] = pulumi.Output.from_input([])
    if credential.type == "secret":
        return _secrets(name, credential, application, child)
    if credential.type == "certificate":
        lifetime, before = credential.term()
        not_after = credential.certificate_not_after
        # The rotation clock is state, not code: its start time is fixed when it is created, so the end date is
        # stable across runs, and the first `pulumi up` from `rotateBeforeDays` before expiry re-registers it.
        rotation = time.Rotating(
            f"{name}-rotation",
            rotation_days=lifetime - before,
            opts=child,
        )
        end_date = rotation.rfc3339.apply(lambda start: _end_date(start, lifetime, not_after))
        # A new end date re-registers the same certificate: the device keeps its key, Entra gets a fresh expiry.
        certificate = azuread.ApplicationCertificate(
            f"{name}-cert",
            application_id=application.id,
            type="AsymmetricX509Cert",
            encoding="pem",
            value=credential.public_key_pem,
            # The policy pack judges the lifetime as endDate - startDate, whatever day it runs (docs/decisions/0140).
            start_date=rotation.rfc3339,
            end_date=end_date,
            opts=child,
        )
        return CredentialOutputs(certificate.key_id, certificate.end_date, none, no_secrets)
    if credential.type == "federated":
        federated = azuread.ApplicationFederatedIdentityCredential(
            f"{name}-federated",
            application_id=application.id,
            display_name=credential.name or f"exo-oauth-{name}",
            issuer=credential.issuer,
            subject=credential.subject,
            audiences=list(credential.audiences),
            opts=child,
        )
        return CredentialOutputs(federated.credential_id, none, none, no_secrets)
    return CredentialOutputs(none, none, none, no_secrets)


def _secrets(
    name: str, credential: Credential, application: azuread.Application, child: pulumi.ResourceOptions,
) -> CredentialOutputs:
    """Declare the secrets the rotation schedule holds today (one or two, docs/decisions/0032), newest first.

    The schedule counts from the app's anchor, the day of its first `pulumi up` (docs/decisions/0140): a `time`
    Static created with today's date, whose date the engine keeps from then on (ignoreChanges). Its value is known
    in a preview too (the program's own input on a create, the state's afterwards), so the secrets declared from it
    show in `pulumi preview`.
    """
    lifetime, before = credential.term()
    anchor = time.Static(
        f"{name}-schedule",
        rfc3339=_rfc3339(anchor_day(today())),
        opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(ignore_changes=["rfc3339"])),
    )

    def declare(anchor_text: str) -> list[tuple[str, azuread.ApplicationPassword]]:
        first_day = datetime.fromisoformat(anchor_text.replace("Z", "+00:00"))
        return [
            (f"{name}-secret-{term.slot}", azuread.ApplicationPassword(
                f"{name}-secret-{term.slot}",
                application_id=application.id,
                # Every input forces a replacement, so these change only when the slot's next period starts.
                display_name=f"exo-oauth {name} {term.start:%Y-%m-%d}",
                start_date=_rfc3339(term.start),
                end_date=_rfc3339(term.end_date),
                opts=child,
            ))
            for term in live_secrets(today(), lifetime, before, first_day)
        ]

    def secrets(made: list[tuple[str, azuread.ApplicationPassword]]) -> pulumi.Output[list[SecretOutput]]:
        return pulumi.Output.all(*(pulumi.Output.all(p.key_id, p.end_date) for _, p in made)).apply(
            lambda pairs: [SecretOutput(n, k, e) for (n, _), (k, e) in zip(made, pairs, strict=True)])

    passwords = anchor.rfc3339.apply(declare)
    listed: pulumi.Output[list[SecretOutput]] = passwords.apply(secrets)
    return CredentialOutputs(passwords.apply(lambda made: made[0][1].key_id),
                             passwords.apply(lambda made: made[0][1].end_date),
                             passwords.apply(lambda made: made[0][1].value), listed)


def _rfc3339(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _end_date(rfc3339: str, days: int, not_after: datetime | None) -> str:
    """Return `days` after the RFC 3339 start, but never after the certificate's own expiry."""
    end = datetime.fromisoformat(rfc3339.replace("Z", "+00:00")) + timedelta(days=days)
    if not_after is not None:
        end = min(end, not_after)
    return _rfc3339(end)


def _summary(
    app: AppConfig, tenant_id: str, cloud: str, values: list[Any], *, permissions: Sequence[Permission],
    scopes: tuple[str, ...],
) -> dict[str, Any]:
    client_id, object_id, sp_object_id, consent_url, permission_ids, key_id, end_date, secrets = values
    return AppOutputs(
        name=app.name,
        display_name=app.display_name,
        flow=app.flow,
        protocols=app.protocols,
        tenant_id=tenant_id,
        cloud=cloud,
        client_id=client_id,
        application_object_id=object_id,
        service_principal_object_id=sp_object_id,
        permissions=tuple(PermissionOutput(p.api, p.name, p.kind, pid)
                          for p, pid in zip(permissions, permission_ids, strict=True)),
        scopes=scopes,
        admin_consent_url=consent_url,
        endpoints=endpoints_for(app.protocols, cloud),
        mailboxes=app.mailboxes,
        credential=CredentialOutput(app.credential.type, key_id, end_date, tuple(secrets),
                                    app.credential.lifetime_days, app.credential.rotate_before_days),
        exchange_access=app.exchange_access,
        sign_in_mailboxes=app.sign_in_mailboxes,
        sign_in_group=app.sign_in_group,
    ).to_wire()
