"""The stack outputs as one typed model: what `pulumi up` exports, and what every reader reads back.

Pure: no Pulumi, no I/O. `mail_app` builds each app's `AppOutputs` and exports `to_wire()`; the CLI's readers
(`exo-oauth exchange`, `verify`, `drift`) turn `pulumi stack output --json` back into a `StackOutputs` with
`StackOutputs.from_wire`, which checks every key and raises one ConfigError naming the source and the key path for a
bad outputs file, or one written by an older version. The per-app field docstrings below are the outputs reference
(docs/reference.md is generated from them); each field's wire key is its name in camelCase.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, is_dataclass
from typing import Any

from .config import (
    APP_NAME,
    CREDENTIAL_TYPES,
    PROTOCOLS,
    At,
    Mailbox,
    guid,
    https_url,
    mailbox_address,
    non_empty_text,
    one_of,
    protocol_list,
)
from .microsoft import CLOUDS, DEFAULT_CLOUD, FLOWS, PROTOCOLS_BY_NAME
from .schema import EXCHANGE_ACCESS

SECURITY = ("tls", "starttls")
"""How a mail endpoint is protected: TLS from the first byte, or STARTTLS after the greeting."""
HIDDEN = "[secret]"
"""How `pulumi stack output --json` shows a secret output saved without `--show-secrets`."""
PERMISSION_KINDS = ("Role", "Scope")
"""Application permission (app role) or delegated permission (scope), as in requiredResourceAccess."""
MAX_OUTPUT_URL = 4096
"""The longest URL output the reader accepts: above any URL this program writes. The longest is `adminConsentUrl`
with the longest redirect URI the stack file allows (256 characters, each percent-encoded to at most 12: 3,072) on
the cloud with the longest login host, about 3,300 characters (tests/test_outputs_model.py builds it)."""
_UPGRADE = ("allowed: the outputs of this exo-oauth version: run `pulumi up`, then save `pulumi stack output --json` "
            "again")


def wire_key(name: str) -> str:
    """Return the camelCase output key of a snake_case field name, e.g. `client_id` -> `clientId`."""
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def _wire(value: Any) -> Any:
    """Return `value` JSON-ready: dataclasses as mappings keyed by `wire_key`, tuples as lists, nested alike."""
    if is_dataclass(value) and not isinstance(value, type):
        return {wire_key(f.name): _wire(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, tuple | list):
        return [_wire(item) for item in value]
    if isinstance(value, Mapping):
        return {key: _wire(item) for key, item in value.items()}
    return value


def _present(at: At, keys: tuple[str, ...]) -> None:
    """Raise for the first key this version writes that the value lacks: the sign of a bad or old outputs file."""
    if not isinstance(at.value, Mapping):
        raise at.fail(f"must be a mapping with keys {', '.join(keys)}; {_UPGRADE}")
    for key in keys:
        if key not in at.value:
            raise at.child(key).fail(f"missing; {_UPGRADE}")


def _text_or_none(at: At) -> str | None:
    return None if at.value is None else non_empty_text(at, max_len=4096)


def _texts(at: At) -> tuple[str, ...]:
    if not isinstance(at.value, list):
        raise at.fail("must be a list of strings")
    return tuple(non_empty_text(item, max_len=4096) for item in at.items())


@dataclass(frozen=True)
class PermissionOutput:
    """One granted permission, as looked up in the tenant."""

    api: str
    """The first-party API: `MicrosoftGraph` or `Office365ExchangeOnline`."""
    name: str
    """The permission's value, e.g. `SMTP.SendAsApp`."""
    kind: str
    """`Role` (application permission) or `Scope` (delegated permission)."""
    id: str
    """The permission's GUID in that API."""

    @classmethod
    def from_wire(cls, at: At) -> PermissionOutput:
        """Return the permission at `at`, or raise naming the key path."""
        _present(at, ("api", "name", "kind", "id"))
        return cls(non_empty_text(at.child("api")), non_empty_text(at.child("name")),
                   one_of(at.child("kind"), PERMISSION_KINDS), guid(at.child("id")))


@dataclass(frozen=True)
class EndpointOutput:
    """One protocol's mail endpoint."""

    host: str
    port: int
    security: str
    """`tls` or `starttls`."""

    @classmethod
    def from_wire(cls, at: At) -> EndpointOutput:
        """Return the endpoint at `at`, or raise naming the key path."""
        _present(at, ("host", "port", "security"))
        port = at.child("port")
        if isinstance(port.value, bool) or not isinstance(port.value, int) or not 0 < port.value < 65536:  # noqa: PLR2004
            raise port.fail("must be a TCP port; allowed: a port from 1 to 65535")
        return cls(non_empty_text(at.child("host")), port.value, one_of(at.child("security"), SECURITY))


@dataclass(frozen=True)
class SecretOutput:
    """One client secret that exists in Entra ID, without its value."""

    name: str
    """The Pulumi resource that holds it, `<app>-secret-a` or `<app>-secret-b` (docs/decisions/0032)."""
    key_id: str
    """The secret's key id in Entra ID."""
    end_date: str
    """When it expires, RFC 3339."""

    @classmethod
    def from_wire(cls, at: At) -> SecretOutput:
        """Return the secret at `at`, or raise naming the key path."""
        _present(at, ("name", "keyId", "endDate"))
        return cls(non_empty_text(at.child("name")), non_empty_text(at.child("keyId")),
                   non_empty_text(at.child("endDate")))


@dataclass(frozen=True)
class CredentialOutput:
    """The app's credential, without any secret."""

    type: str
    """`secret`, `certificate`, `federated` or `none`."""
    key_id: str | None
    """The newest credential's key id in Entra ID; None where it does not apply."""
    end_date: str | None
    """When the newest credential expires, RFC 3339; None where it does not apply."""
    secrets: tuple[SecretOutput, ...] = ()
    """`secret` only: every secret that exists, newest first (two during a rotation's overlap)."""
    lifetime_days: int | None = None
    """`secret` and `certificate`: the stack's `lifetimeDays`; a change replaces the live secret (docs/rotation.md)."""
    rotate_before_days: int | None = None
    """`secret` and `certificate`: the stack's `rotateBeforeDays`, the overlap."""

    @classmethod
    def from_wire(cls, at: At) -> CredentialOutput:
        """Return the credential at `at`, or raise naming the key path.

        `lifetimeDays` and `rotateBeforeDays` may be absent: outputs written before they existed lack them.
        """
        _present(at, ("type", "keyId", "endDate", "secrets"))
        secrets = at.child("secrets")
        if not isinstance(secrets.value, list):
            raise secrets.fail("must be a list of {name, keyId, endDate}")
        days = {key: value if isinstance(value := at.value.get(key), int) and not isinstance(value, bool) else None
                for key in ("lifetimeDays", "rotateBeforeDays")}
        return cls(one_of(at.child("type"), CREDENTIAL_TYPES), _text_or_none(at.child("keyId")),
                   _text_or_none(at.child("endDate")), tuple(SecretOutput.from_wire(i) for i in secrets.items()),
                   days["lifetimeDays"], days["rotateBeforeDays"])


@dataclass(frozen=True)
class AppOutputs:
    """One app's outputs: `apps.<name>` of the stack outputs."""

    name: str
    """the app's stable id from the stack file"""
    display_name: str
    """the name shown in Entra ID"""
    flow: str
    """`app-only` or `delegated`"""
    protocols: tuple[str, ...]
    """the chosen protocols, in the order imap, pop, smtp"""
    tenant_id: str
    """the tenant GUID"""
    cloud: str
    """the Microsoft cloud of the tenant (`exo-oauth:cloud`): `global`, `usgov`, `usgov-dod` or `china`"""
    client_id: str
    """the application (client) id that mail clients sign in with"""
    application_object_id: str
    """the app registration's object id (App registrations > Overview); **not** for New-ServicePrincipal"""
    service_principal_object_id: str
    """the enterprise app's (service principal's) object id: the `-ObjectId` of New-ServicePrincipal"""
    permissions: tuple[PermissionOutput, ...]
    """each granted permission: `api`, `name`, `kind` (Role or Scope) and `id` as looked up in the tenant"""
    scopes: tuple[str, ...]
    """the scopes a client requests, for the stack's cloud: in the global cloud
    `https://outlook.office365.com/.default` app-only; `https://outlook.office.com/<scope>` and `offline_access`
    delegated"""
    admin_consent_url: str
    """Microsoft's v2.0 admin consent URL for the app (consent is already granted as code; this is the manual
    fallback)"""
    endpoints: Mapping[str, EndpointOutput]
    """`host`, `port` and `security` per chosen protocol, for the stack's cloud: in the global cloud
    outlook.office365.com 993 and 995 (`tls`), smtp.office365.com 587 (`starttls`)"""
    mailboxes: tuple[Mailbox, ...]
    """app-only: each `address` with `sendAs`; `[]` for delegated apps"""
    credential: CredentialOutput
    """`type`, the newest credential's `keyId` and `endDate` (RFC 3339; `null` where it does not apply), and for
    secrets `secrets`: every live secret, newest first, with `name`, `keyId` and `endDate` (docs/rotation.md); for
    secrets and certificates `lifetimeDays` and `rotateBeforeDays` as the stack file sets them (else `null`)"""
    exchange_access: str = EXCHANGE_ACCESS[0]
    """`mailbox-permissions`, or `rbac` (Exchange RBAC for Applications, app-only SMTP); outputs saved by a version
    without this key read as `mailbox-permissions`, which is what that version deployed"""
    sign_in_mailboxes: tuple[str, ...] = ()
    """delegated: the mailboxes whose protocol switches the Exchange steps turn on (`[]` when none, and read so
    from older outputs)"""
    sign_in_group: str | None = None
    """delegated: the mail-enabled group whose members' switches they turn on, or `null`"""

    def to_wire(self) -> dict[str, Any]:
        """Return the JSON-ready output: camelCase keys, lists for tuples (the `apps.<name>` output)."""
        wire: dict[str, Any] = _wire(self)
        return wire

    @classmethod
    def from_wire(cls, data: Any, source: str, name: Any) -> AppOutputs:
        """Return app `name`'s outputs from their JSON form; raise ConfigError naming `source` and the key path."""
        at = At(source, f"apps.{name}", data)
        if not isinstance(name, str) or not APP_NAME.fullmatch(name):
            raise At(source, "apps", data).fail(f"{name!r} is not an app name; allowed: a-z, 0-9 and single '-'")
        _present(at, tuple(wire_key(f.name) for f in fields(cls) if f.name not in _ADDED_LATER))
        non_empty_text(at.child("name"))  # the key is the app's name; a saved file may have been re-keyed
        flow = one_of(at.child("flow"), FLOWS)
        protocols = protocol_list(at.child("protocols"))
        endpoints = at.child("endpoints")
        if not isinstance(endpoints.value, Mapping):
            raise endpoints.fail("must be a mapping of protocol to {host, port, security}")
        for protocol in endpoints.value:
            one_of(At(source, f"{endpoints.path} key", protocol), PROTOCOLS)
        mailboxes = at.child("mailboxes")
        if not isinstance(mailboxes.value, list):
            raise mailboxes.fail("must be a list of {address, sendAs}")
        if flow == "delegated" and mailboxes.value:
            raise mailboxes.fail("must be empty for a delegated app (users open their own mailboxes)")
        permissions = at.child("permissions")
        if not isinstance(permissions.value, list):
            raise permissions.fail("must be a list of {api, name, kind, id}")
        return cls(
            name=name,
            display_name=non_empty_text(at.child("displayName")),
            flow=flow,
            protocols=protocols,
            tenant_id=guid(at.child("tenantId")),
            cloud=one_of(at.child("cloud"), tuple(CLOUDS)),
            client_id=guid(at.child("clientId")),
            application_object_id=guid(at.child("applicationObjectId")),
            service_principal_object_id=guid(at.child("servicePrincipalObjectId")),
            permissions=tuple(PermissionOutput.from_wire(item) for item in permissions.items()),
            scopes=_texts(at.child("scopes")),
            admin_consent_url=https_url(at.child("adminConsentUrl"), max_len=MAX_OUTPUT_URL),
            endpoints={p: EndpointOutput.from_wire(endpoints.child(p)) for p in PROTOCOLS if p in endpoints.value},
            mailboxes=tuple(_mailbox(item) for item in mailboxes.items()),
            credential=CredentialOutput.from_wire(at.child("credential")),
            exchange_access=(EXCHANGE_ACCESS[0] if at.child("exchangeAccess").value is None
                             else one_of(at.child("exchangeAccess"), EXCHANGE_ACCESS)),
            sign_in_mailboxes=tuple(mailbox_address(i) for i in _list_or_empty(at.child("signInMailboxes"))),
            sign_in_group=(None if at.child("signInGroup").value is None
                           else mailbox_address(at.child("signInGroup"))),
        )


_ADDED_LATER = ("exchange_access", "sign_in_mailboxes", "sign_in_group")
"""Fields an older version did not write: their absence means their default. The outputs saved before an update
(`exo-oauth exchange --previous`) come from the version that deployed them, so they must still read."""


def _list_or_empty(at: At) -> list[At]:
    if at.value is None:
        return []
    if not isinstance(at.value, list):
        raise at.fail("must be a list of mailbox addresses")
    return at.items()


def _mailbox(at: At) -> Mailbox:
    _present(at, ("address", "sendAs"))
    send_as = at.child("sendAs")
    if not isinstance(send_as.value, bool):
        raise send_as.fail("must be true or false")
    return Mailbox(mailbox_address(at.child("address")), send_as.value)


@dataclass(frozen=True)
class StackOutputs:
    """A deployed stack's outputs (`pulumi stack output --json`)."""

    tenant_id: str
    """the tenant GUID"""
    apps: Mapping[str, AppOutputs]
    """per app name, the app's outputs"""
    client_secrets: Mapping[str, str]
    """per app with a `secret` credential, the secret value, or `[secret]` when saved without `--show-secrets`"""
    exchange: Mapping[str, str]
    """the generated Exchange Online scripts: `apply`, `verify`, `remove`"""

    @staticmethod
    def exports(*, tenant_id: Any, apps: Any, client_secrets: Any, exchange: Any) -> dict[str, Any]:
        """Return the top-level outputs keyed by their wire names, for `__main__.py` to `pulumi.export` each.

        Values may be Pulumi outputs; `from_wire` reads the same keys back.
        """
        values = {"tenant_id": tenant_id, "apps": apps, "client_secrets": client_secrets, "exchange": exchange}
        return {wire_key(f.name): values[f.name] for f in fields(StackOutputs)}

    @classmethod
    def from_wire(cls, data: Any, source: str) -> StackOutputs:
        """Return the outputs from their JSON form; raise one ConfigError naming `source` and the key path.

        `clientSecrets` and `exchange` may be absent (a stack without secrets; outputs saved by hand).
        """
        key = {f.name: wire_key(f.name) for f in fields(cls)}
        _present(At(source, "outputs", data), (key["tenant_id"], key["apps"]))
        apps = At(source, key["apps"], data[key["apps"]])
        if not isinstance(apps.value, Mapping):
            raise apps.fail(f"must be a mapping of app name to the app's outputs; {_UPGRADE}")
        secrets = At(source, key["client_secrets"], data.get(key["client_secrets"]))
        return cls(
            tenant_id=guid(At(source, key["tenant_id"], data[key["tenant_id"]])),
            apps={str(name): AppOutputs.from_wire(value, source, name) for name, value in apps.value.items()},
            # Saved without --show-secrets, the whole secret output reads `[secret]`: every app's secret is hidden.
            client_secrets=(dict.fromkeys(apps.value, HIDDEN) if secrets.value == HIDDEN else _strings(secrets)),
            exchange=_strings(At(source, key["exchange"], data.get(key["exchange"]))),
        )


def _strings(at: At) -> Mapping[str, str]:
    if at.value is None:
        return {}
    if not isinstance(at.value, Mapping) or not all(isinstance(v, str) for v in at.value.values()):
        # Never show the value: this may be the clientSecrets output.
        raise at.fail("must be a mapping of names to strings")
    return dict(at.value)


def endpoints_for(protocols: Sequence[str], cloud: str = DEFAULT_CLOUD) -> dict[str, EndpointOutput]:
    """Return the mail endpoints of the chosen protocols in `cloud`."""
    where = CLOUDS[cloud]
    return {p: EndpointOutput(where.mail_host(p), PROTOCOLS_BY_NAME[p].port, PROTOCOLS_BY_NAME[p].security)
            for p in protocols}
