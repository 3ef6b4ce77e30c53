"""MailOAuthApp: one Entra ID app that lets a legacy mail client use OAuth for IMAP, POP or SMTP AUTH."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, cast

import pulumi
import pulumi_azuread as azuread
import pulumiverse_time as time

from .config import AppConfig, Credential
from .first_party import FirstPartyApi
from .outputs import AppOutputs, CredentialOutput, EndpointOutput, PermissionOutput
from .permissions import admin_consent_url, endpoints_for, permissions_for, token_scopes

TYPE_TOKEN = "exo-oauth:index:MailOAuthApp"
SINGLE_TENANT = "AzureADMyOrg"


class MailOAuthApp(pulumi.ComponentResource):
    """An app registration, its service principal, its mail permissions with admin consent, and its credential.

    The permissions are exactly those the flow needs for the chosen protocols. Children are named `<name>-app`,
    `<name>-sp`, `<name>-role-<protocol>` (app-only) or `<name>-grant` (delegated), and `<name>-rotation` with
    `<name>-secret` or `<name>-cert`, or `<name>-federated`.
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
    """The client secret value, always a Pulumi secret; None unless the credential type is `secret`."""
    summary: pulumi.Output[dict[str, Any]]
    """Everything above except the secret, as the `apps.<name>` stack output (docs/reference.md "Outputs")."""

    def __init__(
        self,
        name: str,
        app: AppConfig,
        tenant_id: str,
        apis: dict[str, FirstPartyApi],
        *,
        opts: pulumi.ResourceOptions | None = None,
        service_principal_hooks: pulumi.ResourceHookBinding | None = None,
    ) -> None:
        super().__init__(TYPE_TOKEN, name, {}, opts)
        child = pulumi.ResourceOptions(parent=self)
        permissions = permissions_for(app.flow, app.protocols)
        api = apis[permissions[0].api]
        permission_ids = [api.permission_id(p.kind, p.name) for p in permissions]

        # The app registration: single tenant, requesting exactly the chosen protocols' permissions.
        application = azuread.Application(
            f"{name}-app",
            display_name=app.display_name,
            sign_in_audience=SINGLE_TENANT,
            owners=list(app.owners),
            notes=app.notes or None,
            tags=list(app.tags) or None,
            prevent_duplicate_names=True,
            required_resource_accesses=[
                azuread.ApplicationRequiredResourceAccessArgs(
                    resource_app_id=api.client_id,
                    resource_accesses=[
                        azuread.ApplicationRequiredResourceAccessResourceAccessArgs(id=pid, type=p.kind)
                        for p, pid in zip(permissions, permission_ids, strict=True)
                    ],
                )
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

        # The enterprise app (service principal) that consent and Exchange permissions attach to.
        principal = azuread.ServicePrincipal(
            f"{name}-sp",
            client_id=application.client_id,
            owners=list(app.owners),
            app_role_assignment_required=False,
            # enterprise: listed under Enterprise applications, where admins find the object id New-ServicePrincipal
            # needs; hide: a mail daemon is nothing users should see or launch in My Apps.
            feature_tags=[azuread.ServicePrincipalFeatureTagArgs(enterprise=True, hide=True)],
            opts=pulumi.ResourceOptions(parent=self, hooks=service_principal_hooks),
        )

        # Admin consent as code.
        if app.flow == "app-only":
            for protocol, permission_id in zip(app.protocols, permission_ids, strict=True):
                azuread.AppRoleAssignment(
                    f"{name}-role-{protocol}",
                    app_role_id=permission_id,
                    principal_object_id=principal.object_id,
                    resource_object_id=api.object_id,
                    opts=child,
                )
        else:
            azuread.ServicePrincipalDelegatedPermissionGrant(
                f"{name}-grant",
                service_principal_object_id=principal.object_id,
                resource_service_principal_object_id=api.object_id,
                claim_values=[p.name for p in permissions],
                opts=child,
            )

        key_id, end_date, secret_value = _credential(name, app.credential, application, child)

        self.client_id = application.client_id
        self.tenant_id = pulumi.Output.from_input(tenant_id)
        self.application_object_id = application.object_id
        self.service_principal_object_id = principal.object_id
        self.scopes = pulumi.Output.from_input(list(token_scopes(app.flow, app.protocols)))
        first_redirect = app.redirect_uris[0] if app.redirect_uris else None
        self.admin_consent_url = application.client_id.apply(
            lambda cid: admin_consent_url(tenant_id, cid, app.flow, first_redirect)
        )
        self.client_secret = pulumi.Output.secret(secret_value)
        self.summary = pulumi.Output.all(
            application.client_id,
            application.object_id,
            principal.object_id,
            self.admin_consent_url,
            pulumi.Output.all(*permission_ids),
            key_id,
            end_date,
        ).apply(lambda v: _summary(app, tenant_id, v))
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


def _credential(
    name: str, credential: Credential, application: azuread.Application, child: pulumi.ResourceOptions
) -> tuple[pulumi.Output[str | None], pulumi.Output[str | None], pulumi.Output[str | None]]:
    """Declare the app's credential; return its key id, end date and secret value (each None where not applicable)."""
    none: pulumi.Output[str | None] = pulumi.Output.from_input(None)
    if credential.type in ("secret", "certificate"):
        lifetime = credential.lifetime_days or 0
        not_after = credential.certificate_not_after
        # The rotation clock is state, not code: its start time is fixed when it is created, so the end date is
        # stable across runs, and the first `pulumi up` from `rotateBeforeDays` before expiry replaces the credential.
        rotation = time.Rotating(
            f"{name}-rotation",
            rotation_days=lifetime - (credential.rotate_before_days or 0),
            opts=child,
        )
        end_date = rotation.rfc3339.apply(lambda start: _end_date(start, lifetime, not_after))
        if credential.type == "secret":
            password = azuread.ApplicationPassword(
                f"{name}-secret",
                application_id=application.id,
                display_name=f"exo-oauth {name}",
                end_date=end_date,
                rotate_when_changed={"rotation": rotation.id},
                opts=child,
            )
            return password.key_id, password.end_date, password.value
        # A new end date re-registers the same certificate: the device keeps its key, Entra gets a fresh expiry.
        certificate = azuread.ApplicationCertificate(
            f"{name}-cert",
            application_id=application.id,
            type="AsymmetricX509Cert",
            encoding="pem",
            value=credential.public_key_pem,
            end_date=end_date,
            opts=child,
        )
        return certificate.key_id, certificate.end_date, none
    if credential.type == "federated":
        federated = azuread.ApplicationFederatedIdentityCredential(
            f"{name}-federated",
            application_id=application.id,
            display_name=f"exo-oauth-{name}",
            issuer=credential.issuer,
            subject=credential.subject,
            audiences=list(credential.audiences),
            opts=child,
        )
        return federated.credential_id, none, none
    return none, none, none


def _end_date(rfc3339: str, days: int, not_after: datetime | None) -> str:
    """Return `days` after the RFC 3339 start, but never after the certificate's own expiry."""
    end = datetime.fromisoformat(rfc3339.replace("Z", "+00:00")) + timedelta(days=days)
    if not_after is not None:
        end = min(end, not_after)
    return end.isoformat().replace("+00:00", "Z")


def _summary(app: AppConfig, tenant_id: str, values: list[Any]) -> dict[str, Any]:
    client_id, object_id, sp_object_id, consent_url, permission_ids, key_id, end_date = values
    permissions = permissions_for(app.flow, app.protocols)
    return AppOutputs(
        name=app.name,
        display_name=app.display_name,
        flow=app.flow,
        protocols=app.protocols,
        tenant_id=tenant_id,
        client_id=client_id,
        application_object_id=object_id,
        service_principal_object_id=sp_object_id,
        permissions=tuple(PermissionOutput(p.api, p.name, p.kind, pid)
                          for p, pid in zip(permissions, permission_ids, strict=True)),
        scopes=token_scopes(app.flow, app.protocols),
        admin_consent_url=consent_url,
        endpoints={p: EndpointOutput(**cast("dict[str, Any]", e)) for p, e in endpoints_for(app.protocols).items()},
        mailboxes=app.mailboxes,
        credential=CredentialOutput(app.credential.type, key_id, end_date),
    ).to_wire()
