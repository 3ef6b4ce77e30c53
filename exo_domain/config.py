"""The stack configuration contract: parse and validate one tenant's config into plain, frozen values.

Pure: no Pulumi, no I/O. Both `__main__.py` (under `pulumi up`) and the CLI (before it plans or renders) call
`parse_stack_config`, so a bad stack file fails the same way everywhere, before any resource is registered.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import urlsplit

from cryptography import x509
from email_validator import EmailNotValidError, validate_email

from .errors import ConfigError
from .microsoft import CLOUDS, DEFAULT_CLOUD, FLOWS
from .microsoft import PROTOCOLS as MICROSOFT_PROTOCOLS
from .redirect_uris import ALLOWED as REDIRECT_URIS_ALLOWED
from .redirect_uris import redirect_uri_problem
from .rotation import today
from .schema import (
    DEFAULT_FEDERATED_AUDIENCE,
    DEFAULT_LIFETIME_DAYS,
    DEFAULT_ROTATE_BEFORE_DAYS,
    EXCHANGE_ACCESS,
    MAX_APP_NAME,
    MAX_FEDERATED_NAME,
    MAX_LIFETIME_DAYS,
    MAX_NOTES,
    MAX_PATH,
    MAX_SUBJECT,
    MAX_TEXT,
    MIN_LIFETIME_DAYS,
    MIN_ROTATE_BEFORE_DAYS,
    RBAC,
    SCHEMA,
)

PROJECT = "exo-oauth"
"""The Pulumi project name, which is also the namespace of this project's config keys."""
STACKS_DIR = "stacks"
"""The folder of the stack files, `stacks/Pulumi.<stack>.yaml` (Pulumi.yaml's `stackConfigDir`)."""

PROTOCOLS = tuple(p.name for p in MICROSOFT_PROTOCOLS)
CREDENTIAL_TYPES = ("secret", "certificate", "federated", "none")
TENANT_SMTP_AUTH = ("report", "enable", "disable")

APP_KEYS = ("name", "displayName", "flow", "protocols", "mailboxes", "credential", "redirectUris", "publicClient",
            "owners", "notes", "tags", "exchangeAccess", "signInMailboxes", "signInGroup",
            "appRoleAssignmentRequired")
MAILBOX_KEYS = ("address", "sendAs")
CREDENTIAL_KEYS: dict[str, tuple[str, ...]] = {
    "secret": ("type", "lifetimeDays", "rotateBeforeDays"),
    "certificate": ("type", "publicKeyPem", "lifetimeDays", "rotateBeforeDays"),
    "federated": ("type", "issuer", "subject", "audiences", "name"),
    "none": ("type",),
}
EXCHANGE_KEYS = ("organization", "appId", "certificateThumbprint", "certificateFilePath", "certificatePasswordVariable",
                 "tenantSmtpAuth", "autoApply")


_GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
APP_NAME = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")
"""An app's stable name (use with fullmatch)."""
STACK_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")
"""A stack name as Pulumi allows it, never `.` or `..` (use with fullmatch)."""
_DOMAIN = re.compile(r"(?=.{4,253}\Z)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}")
_THUMBPRINT = re.compile(r"[0-9A-Fa-f]{40}")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

T = TypeVar("T")


@dataclass(frozen=True)
class Mailbox:
    """A mailbox an app-only app may open."""

    address: str
    """The mailbox's SMTP address, normalised by email-validator."""
    send_as: bool = False
    """Also grant SendAs (Add-RecipientPermission), so the app may send as this address."""


@dataclass(frozen=True)
class Credential:
    """How the app proves its identity to Entra ID."""

    type: str
    """One of `secret`, `certificate`, `federated`, or `none` (delegated public clients only)."""
    lifetime_days: int | None = None
    """secret, certificate (required): days from creation until the credential expires in Entra ID."""
    rotate_before_days: int | None = None
    """secret, certificate (required): days before expiry at which the next credential arrives. For a secret it
    is the overlap: the next secret is created this many days before the previous one expires (docs/decisions/0032);
    for a certificate, the first `pulumi up` from this many days before expiry re-registers it."""
    public_key_pem: str | None = None
    """certificate: the PEM-encoded public X.509 certificate."""
    certificate_not_after: datetime | None = None
    """certificate: when the certificate expires (read from the PEM)."""
    issuer: str | None = None
    """federated: the external identity provider's issuer URL."""
    subject: str | None = None
    """federated: the subject of the external workload's tokens."""
    audiences: tuple[str, ...] = ()
    """federated: accepted audiences."""
    name: str | None = None
    """federated: the credential's name in Entra ID; None: `exo-oauth-<app>`. Graph keeps a name for life, so adopt
    writes the existing one (docs/decisions/0120)."""

    def __post_init__(self) -> None:
        if self.type in ("secret", "certificate") and None in (self.lifetime_days, self.rotate_before_days):
            raise ValueError(f"a {self.type} credential needs lifetime_days and rotate_before_days")

    def term(self) -> tuple[int, int]:
        """secret, certificate: return (lifetime_days, rotate_before_days), which such a credential always has."""
        if self.lifetime_days is None or self.rotate_before_days is None:
            raise ValueError(f"a {self.type} credential has no lifetime")
        return self.lifetime_days, self.rotate_before_days


@dataclass(frozen=True)
class AppConfig:
    """One app registration: who signs in, for which protocols, with which credential."""

    name: str
    """Stable id (a-z, 0-9, '-'); resource names derive from it."""
    display_name: str
    """The name shown in Entra ID."""
    flow: str
    """`app-only` (client credentials) or `delegated` (a user signs in)."""
    protocols: tuple[str, ...]
    """The chosen protocols, in canonical order imap, pop, smtp."""
    mailboxes: tuple[Mailbox, ...]
    """app-only: the mailboxes the app may open."""
    credential: Credential
    """The app's credential."""
    redirect_uris: tuple[str, ...]
    """Redirect URIs: HTTPS, or loopback http:// (localhost, 127.0.0.1) on a public client."""
    public_client: bool
    """delegated: allow public-client flows such as device code."""
    owners: tuple[str, ...]
    """Object ids of the app's owners."""
    notes: str
    """Free text stored on the app registration."""
    tags: tuple[str, ...]
    """Tags stored on the app registration."""
    exchange_access: str = EXCHANGE_ACCESS[0]
    """app-only: `mailbox-permissions`, or `rbac` for an SMTP-only app (EXCHANGE_ACCESS)."""
    sign_in_mailboxes: tuple[str, ...] = ()
    """delegated: the mailboxes of the users who sign in, whose protocol switches the Exchange steps turn on."""
    sign_in_group: str | None = None
    """delegated: a mail-enabled group whose member mailboxes get the same."""
    app_role_assignment_required: bool = False
    """Only users and groups assigned to the app may sign in (the service principal's appRoleAssignmentRequired)."""


@dataclass(frozen=True)
class ExchangeConfig:
    """How the generated Exchange Online scripts connect and what they may change tenant-wide."""

    organization: str | None = None
    """The tenant's initial domain (`*.onmicrosoft.com` in the global cloud) for `Connect-ExchangeOnline
    -Organization`."""
    app_id: str | None = None
    """Client id for certificate app-only auth to Exchange Online PowerShell."""
    certificate_thumbprint: str | None = None
    """Thumbprint of that app's certificate in the local certificate store (Windows only)."""
    certificate_file_path: str | None = None
    """Path of that app's certificate as a PFX file (Linux, macOS and Windows)."""
    certificate_password_variable: str | None = None
    """Name of the environment variable that holds the PFX file's password (never the password itself)."""
    tenant_smtp_auth: str = "report"
    """`report` (default: only report the tenant-wide SMTP AUTH switch), `enable` or `disable`."""
    auto_apply: bool = False
    """Run the apply script with pwsh after `pulumi up` when pwsh is on PATH."""


@dataclass(frozen=True)
class StackConfig:
    """One tenant's validated configuration."""

    source: str
    """The stack file the values came from, for messages."""
    tenant_id: str
    """The tenant GUID (lower case)."""
    apps: tuple[AppConfig, ...]
    """The apps, in file order."""
    exchange: ExchangeConfig
    """Exchange Online script settings."""
    cloud: str = DEFAULT_CLOUD
    """The Microsoft cloud of the tenant (`exo-oauth:cloud`): a key of exo_domain.microsoft.CLOUDS."""
    example: bool = False
    """An example stack (`exo-oauth:example`): planned, but never selected for a workflow by `exo-oauth stacks`."""


@dataclass(frozen=True)
class At:
    """A value together with where it sits: the file (or other source) and the key path, for error messages."""

    source: str
    """The file or other source the value came from, e.g. `stacks/Pulumi.contoso.yaml`."""
    path: str
    """The key path, e.g. `exo-oauth:apps[1].protocols[0]`."""
    value: Any
    """The value itself."""

    def fail(self, problem: str) -> ConfigError:
        """Return the error for this value: source, key path and `problem` (which must say what is allowed)."""
        return ConfigError(self.source, self.path, problem)

    def child(self, key: str) -> At:
        """Return the value under `key` of this mapping (None when absent or when this is not a mapping)."""
        value = self.value.get(key) if isinstance(self.value, Mapping) else None
        return At(self.source, f"{self.path}.{key}", value)

    def items(self) -> list[At]:
        """Return each element of this list with its index in the path."""
        return [At(self.source, f"{self.path}[{i}]", v) for i, v in enumerate(self.value)]


def _type_name(value: Any) -> str:
    if value is None:
        return "nothing"
    return {bool: "a boolean", int: "a number", float: "a number", str: "a string", list: "a list"}.get(
        type(value), "a mapping" if isinstance(value, Mapping) else type(value).__name__
    )


def _require(at: At, allowed: str) -> None:
    """Raise "is required" when the key is absent (or null), rather than a type error about "nothing"."""
    if at.value is None:
        raise at.fail(f"is required; allowed: {allowed}")


def _mapping(at: At, allowed: Sequence[str]) -> Mapping[str, Any]:
    _require(at, f"a mapping with keys {', '.join(allowed)}")
    if not isinstance(at.value, Mapping):
        raise at.fail(f"must be a mapping with keys {', '.join(allowed)}, not {_type_name(at.value)}")
    for key in at.value:
        if key not in allowed:
            raise at.fail(f"unknown key {key!r}; allowed: {', '.join(allowed)}")
    return at.value


def non_empty_text(at: At, *, max_len: int = MAX_TEXT) -> str:
    """Return the value if it is a string with a non-blank character and at most `max_len` long, or raise."""
    _require(at, "a non-empty string")
    if not isinstance(at.value, str):
        raise at.fail(f"must be a non-empty string, not {_type_name(at.value)}")
    if not at.value:
        raise at.fail("is empty; allowed: text with visible characters")
    if not at.value.strip():
        raise at.fail("is only white space (such as a tab or a non-breaking space); allowed: text with visible "
                      "characters")
    if len(at.value) > max_len:
        raise at.fail(f"is {len(at.value)} characters long; allowed: at most {max_len}")
    return at.value


def _bool(at: At, default: bool) -> bool:
    if at.value is None:
        return default
    if not isinstance(at.value, bool):
        raise at.fail(f"must be true or false, not {_type_name(at.value)}")
    return at.value


def _int(at: At, low: int, high: int, *, scope: str = "", note: str = "") -> int:
    """Return the whole number if it is from `low` to `high`; `scope` and `note` explain the range in the message."""
    if isinstance(at.value, bool) or not isinstance(at.value, int):
        raise at.fail(f"must be a whole number from {low} to {high}, not {_type_name(at.value)}")
    if not low <= at.value <= high:
        raise at.fail(f"{at.value} is out of range{scope}; allowed: {low} to {high}{note}")
    return at.value


def one_of(at: At, allowed: Sequence[str]) -> str:
    """Return the value if it is one of `allowed`, or raise naming the key and the allowed values."""
    _require(at, ", ".join(allowed))
    if at.value not in allowed:
        shown = repr(at.value) if isinstance(at.value, str) else _type_name(at.value)
        raise at.fail(f"{shown} is not allowed; allowed: {', '.join(allowed)}")
    return str(at.value)


def is_guid(text: str) -> bool:
    """Return True if `text` is a GUID in its 8-4-4-4-12 hex form (either case)."""
    return _GUID.fullmatch(text) is not None


def is_domain(text: str) -> bool:
    """Return True if `text` is a DNS domain name such as contoso.onmicrosoft.com (either case)."""
    return _DOMAIN.fullmatch(text.lower()) is not None


def normalized_mailbox(text: str, *, ascii_only: bool = False) -> str:
    """Return the address as email-validator normalises it; raise EmailNotValidError saying why it is not one.

    With `ascii_only` (stack config and verify, docs/decisions/0053) refuse non-ASCII addresses: Entra user names
    are ASCII, and XOAUTH2's `user=` and SMTP AUTH carry no other.
    """
    normalized = str(validate_email(text, check_deliverability=False).normalized)
    if ascii_only and not normalized.isascii():
        raise EmailNotValidError("it has non-ASCII characters, which Entra ID user names and XOAUTH2 logins do not "
                                 "carry")
    return normalized


def guid(at: At) -> str:
    """Return the value as a lower-case GUID, or raise naming the key."""
    _require(at, "a GUID, xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx (hex digits)")
    if not isinstance(at.value, str) or not is_guid(at.value):
        shown = repr(at.value) if isinstance(at.value, str) else _type_name(at.value)
        raise at.fail(f"{shown} is not a GUID; allowed: xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx (hex digits)")
    return at.value.lower()


def protocol_list(at: At) -> tuple[str, ...]:
    """Return a non-empty list of distinct protocols in canonical order imap, pop, smtp, or raise naming the key."""
    chosen = _list(at, lambda p: one_of(p, PROTOCOLS), non_empty=True)
    return tuple(p for p in PROTOCOLS if p in chosen)


def _list(at: At, item: Callable[[At], T], *, non_empty: bool = False, unique: bool = True) -> tuple[T, ...]:
    if at.value is None and not non_empty:
        return ()
    _require(at, "a non-empty list")
    if not isinstance(at.value, list):
        raise at.fail(f"must be a list, not {_type_name(at.value)}")
    if non_empty and not at.value:
        raise at.fail("must not be empty")
    values = tuple(item(entry) for entry in at.items())
    if unique:
        seen: set[str] = set()
        for entry, value in zip(at.items(), values, strict=True):
            key = str(value).lower()
            if key in seen:
                raise entry.fail(f"{value!r} is listed twice; allowed: each value once")
            seen.add(key)
    return values


def mailbox_address(at: At, *, ascii_only: bool = False) -> str:
    """Return a normalised mailbox address (ASCII only with `ascii_only`), or raise naming the key."""
    _require(at, "a mailbox address, user@domain")
    if not isinstance(at.value, str):
        raise at.fail(f"must be a mailbox address, not {_type_name(at.value)}")
    try:
        return normalized_mailbox(at.value, ascii_only=ascii_only)
    except EmailNotValidError as error:
        raise at.fail(f"{at.value!r} is not a valid mailbox address ({error}); allowed: user@domain") from None


def _mailbox(at: At) -> Mailbox:
    if isinstance(at.value, Mapping):
        _mapping(at, MAILBOX_KEYS)
        return Mailbox(mailbox_address(at.child("address"), ascii_only=True), _bool(at.child("sendAs"), default=False))
    return Mailbox(mailbox_address(at, ascii_only=True))


def https_url(at: At, *, max_len: int = MAX_TEXT) -> str:
    """Return the value if it is an absolute HTTPS URL without a fragment, at most `max_len` long, or raise."""
    text = non_empty_text(at, max_len=max_len)
    parts = urlsplit(text)
    if parts.scheme != "https" or not parts.hostname:
        raise at.fail(f"{text!r} is not an HTTPS URL; allowed: https://host/path")
    if parts.fragment or "#" in text:
        raise at.fail(f"{text!r} has a fragment; allowed: an HTTPS URL without '#'")
    return text


def _redirect_uri(at: At, public_client: bool) -> str:
    text = non_empty_text(at)
    problem = redirect_uri_problem(text, public_client=public_client)
    if problem is not None:
        raise at.fail(f"{text!r} {problem}; allowed: {REDIRECT_URIS_ALLOWED}")
    return text


_PEM_BLOCK = re.compile(r"-----BEGIN ([^\n-]+)-----(.*?)-----END \1-----", re.DOTALL)


def _certificate(at: At, now: datetime) -> tuple[str, datetime]:
    _require(at, "the public X.509 certificate in PEM (-----BEGIN CERTIFICATE-----)")
    if not isinstance(at.value, str) or not at.value.strip():
        raise at.fail(f"must be a PEM certificate, not {_type_name(at.value)}")
    # Parse the PEM blocks: exactly one, labelled CERTIFICATE, and nothing outside it (a private key in any armour,
    # any case, or none at all would otherwise be sent to Entra ID as part of the "certificate").
    blocks = _PEM_BLOCK.findall(at.value)
    outside = _PEM_BLOCK.sub("", at.value).strip()
    if any("PRIVATE" in label.upper() for label, _ in blocks):
        raise at.fail("contains a private key; allowed: only the public certificate (-----BEGIN CERTIFICATE-----)")
    if not blocks:
        raise at.fail("is not a PEM certificate (bare base64 may be a private key); allowed: text starting with "
                      "-----BEGIN CERTIFICATE-----")
    if len(blocks) != 1 or blocks[0][0] != "CERTIFICATE" or outside:
        found = ", ".join(label for label, _ in blocks) or "no PEM block"
        raise at.fail(f"must be exactly one CERTIFICATE block and nothing else, found {found}"
                      f"{' and other text' if outside else ''}; allowed: one -----BEGIN CERTIFICATE----- block")
    pem = at.value.strip() + "\n"
    try:
        certificate = x509.load_pem_x509_certificate(pem.encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        raise at.fail("is not a valid PEM certificate; allowed: one X.509 certificate in PEM") from None
    not_after = certificate.not_valid_after_utc
    if not_after <= now:
        raise at.fail(f"certificate expired on {not_after:%Y-%m-%d}; allowed: a certificate valid today")
    return pem, not_after


def _credential(at: At, flow: str, public_client: bool, now: datetime) -> Credential:
    if at.value is None:
        return Credential("secret", DEFAULT_LIFETIME_DAYS, DEFAULT_ROTATE_BEFORE_DAYS)
    _mapping(at, tuple(dict.fromkeys(k for keys in CREDENTIAL_KEYS.values() for k in keys)))
    kind = one_of(at.child("type"), CREDENTIAL_TYPES)
    _mapping(at, CREDENTIAL_KEYS[kind])
    if kind in ("secret", "certificate"):
        lifetime = at.child("lifetimeDays")
        # The overlap is at least one rotation cadence and (for a secret) at most half the lifetime: two cadences.
        days = DEFAULT_LIFETIME_DAYS if lifetime.value is None else _int(
            lifetime, MIN_LIFETIME_DAYS, MAX_LIFETIME_DAYS,
            note=f" (rotateBeforeDays needs at least {MIN_ROTATE_BEFORE_DAYS} days: the weekly rotation run)")
        before = at.child("rotateBeforeDays")
        default_before = min(DEFAULT_ROTATE_BEFORE_DAYS, days // 2)
        # At least one cadence: a shorter overlap lets the old credential end before the run that brings the next.
        cadence = f" (at least {MIN_ROTATE_BEFORE_DAYS}: rotation.yml deploys the next one weekly"
        if kind == "secret":
            # A new secret arrives every days - rotate days (docs/decisions/0032): up to half the lifetime keeps
            # two secrets, not three, valid at once.
            rotate = default_before if before.value is None else _int(
                before, MIN_ROTATE_BEFORE_DAYS, days // 2, scope=f" for a secret living {days} days",
                note=f"{cadence}; at most half of lifetimeDays, so at most two secrets overlap)")
            return Credential(kind, days, rotate)
        rotate = default_before if before.value is None else _int(before, MIN_ROTATE_BEFORE_DAYS, days - 1,
                                                                  note=f"{cadence})")
        pem, not_after = _certificate(at.child("publicKeyPem"), now)
        return Credential(kind, days, rotate, public_key_pem=pem, certificate_not_after=not_after)
    if kind == "federated":
        audiences = _list(at.child("audiences"), non_empty_text) or (DEFAULT_FEDERATED_AUDIENCE,)
        subject = non_empty_text(at.child("subject"), max_len=MAX_SUBJECT)
        name = at.child("name")
        return Credential(kind, issuer=https_url(at.child("issuer")), subject=subject, audiences=audiences,
                          name=None if name.value is None else non_empty_text(name, max_len=MAX_FEDERATED_NAME))
    if flow != "delegated" or not public_client:
        raise at.child("type").fail("'none' is only for delegated apps with publicClient: true; allowed: "
                                    "secret, certificate, federated")
    return Credential(kind)


def _app_name(at: At) -> str:
    text = non_empty_text(at, max_len=MAX_APP_NAME)
    if not APP_NAME.fullmatch(text):
        raise at.fail(f"{text!r} is not allowed; allowed: a-z, 0-9 and single '-' between them")
    return text


def _app(at: At, now: datetime) -> AppConfig:
    _mapping(at, APP_KEYS)
    name = _app_name(at.child("name"))
    display = at.child("displayName")
    display_name = name if display.value is None else non_empty_text(display)
    flow = one_of(at.child("flow"), FLOWS)
    protocols = protocol_list(at.child("protocols"))
    boxes = at.child("mailboxes")
    if flow == "delegated" and boxes.value is not None:
        raise boxes.fail("is not allowed on a delegated app (users open their own mailboxes); allowed: only on "
                         "app-only apps")
    mailboxes = _list(boxes, _mailbox, non_empty=flow == "app-only", unique=False)
    _unique_mailboxes(boxes, mailboxes)
    public = at.child("publicClient")
    public_client = _bool(public, default=False)
    if public_client and flow == "app-only":
        raise public.fail("must be false on an app-only app; allowed: true only with flow: delegated")
    notes = at.child("notes")
    access = exchange_access(at.child("exchangeAccess"), at.child("mailboxes"), flow, protocols, mailboxes)
    sign_in_mailboxes, sign_in_group = sign_in_users(at.child("signInMailboxes"), at.child("signInGroup"), flow)
    return AppConfig(
        name=name,
        display_name=display_name,
        flow=flow,
        protocols=protocols,
        mailboxes=mailboxes,
        credential=_credential(at.child("credential"), flow, public_client, now),
        redirect_uris=_list(at.child("redirectUris"), lambda u: _redirect_uri(u, public_client)),
        public_client=public_client,
        owners=_list(at.child("owners"), guid, non_empty=True),
        notes="" if notes.value is None else non_empty_text(notes, max_len=MAX_NOTES),
        tags=_list(at.child("tags"), non_empty_text),
        exchange_access=access,
        sign_in_mailboxes=sign_in_mailboxes,
        sign_in_group=sign_in_group,
        app_role_assignment_required=_bool(at.child("appRoleAssignmentRequired"), default=False),
    )


def sign_in_users(boxes: At, group: At, flow: str) -> tuple[tuple[str, ...], str | None]:
    """Return a delegated app's sign-in mailboxes and group (`signInMailboxes`, `signInGroup`), or raise naming the key.

    Either is refused on an app-only app.
    """
    for key in (boxes, group):
        if key.value is not None and flow != "delegated":
            raise key.fail("is only for delegated apps (the users who sign in); allowed: mailboxes on an app-only app")
    return _list(boxes, mailbox_address), None if group.value is None else mailbox_address(group)


_FILTER_UNSAFE = re.compile(r"['\"`\u2018-\u201f$]")
"""Characters that would end or expand a quoted value in an Exchange recipient filter or a PowerShell string."""


def exchange_access(access: At, mailbox_entries: At, flow: str, protocols: tuple[str, ...],
                    mailboxes: tuple[Mailbox, ...]) -> str:
    """Return how an app-only app reaches its mailboxes (`exchangeAccess`), or raise naming the key.

    `rbac` needs an app-only SMTP app whose `mailboxes` (read from `mailbox_entries`, the same list unparsed) hold no
    `sendAs` and nothing an Exchange recipient filter cannot quote.
    """
    if access.value is None:
        return EXCHANGE_ACCESS[0]
    value = one_of(access, EXCHANGE_ACCESS)
    if value != RBAC:
        return value
    if flow != "app-only" or protocols != ("smtp",):
        raise access.fail("'rbac' is only for app-only apps whose protocols are [smtp] (Exchange RBAC for "
                          "Applications covers SMTP only); allowed: mailbox-permissions")
    for entry, mailbox in zip(mailbox_entries.items(), mailboxes, strict=True):
        if mailbox.send_as:
            raise entry.fail("sendAs: true is not used with exchangeAccess: rbac (its role lets the app send as "
                             "every mailbox in its scope); allowed: the address alone")
        if _FILTER_UNSAFE.search(mailbox.address):
            raise entry.fail(f"{mailbox.address!r} holds a quote or '$', which an Exchange recipient filter cannot "
                             "carry safely; allowed with rbac: an address without them")
    return value


def _unique_mailboxes(at: At, mailboxes: tuple[Mailbox, ...]) -> None:
    seen: set[str] = set()
    for entry, mailbox in zip(at.items() if mailboxes else [], mailboxes, strict=True):
        if mailbox.address.lower() in seen:
            raise entry.fail(f"{mailbox.address!r} is listed twice; allowed: each mailbox once")
        seen.add(mailbox.address.lower())


def _unique_names(apps_at: At, apps: tuple[AppConfig, ...]) -> None:
    """Refuse two apps with one name, or one display name: `prevent_duplicate_names` would stop `pulumi up` halfway."""
    names: dict[str, At] = {}
    displays: dict[str, At] = {}
    for entry, app in zip(apps_at.items(), apps, strict=True):
        name = entry.child("name")
        if app.name in names:
            raise name.fail(f"{app.name!r} is already used by {names[app.name].path}; allowed: a name unique in "
                            "the stack")
        names[app.name] = name
        # An app without displayName is shown under its name, so that is where the display name comes from.
        display = entry.child("displayName") if entry.child("displayName").value is not None else name
        key = app.display_name.casefold()
        if key in displays:
            raise display.fail(f"{app.display_name!r} is already the display name of {displays[key].path}; Entra ID "
                               "refuses a second app with the same display name (prevent_duplicate_names), so "
                               "`pulumi up` would stop halfway; allowed: a displayName unique in the stack")
        displays[key] = display


def _exchange(at: At, cloud: str) -> ExchangeConfig:
    if at.value is None:
        return ExchangeConfig()
    _mapping(at, EXCHANGE_KEYS)
    organization = None
    if at.child("organization").value is not None:
        org = at.child("organization")
        organization = non_empty_text(org).lower()
        suffix = CLOUDS[cloud].initial_domain_suffix
        if not is_domain(organization):
            raise org.fail(f"{org.value!r} is not a domain; allowed: the tenant's domain, e.g. contoso.{suffix}")
        if not organization.endswith(f".{suffix}"):
            # Connect-ExchangeOnline: "You must use the primary .onmicrosoft.com domain of the organization" with a
            # certificate (MicrosoftDocs/office-docs-powershell, Connect-ExchangeOnline.md, -Organization).
            raise org.fail(f"{org.value!r} is not the tenant's initial domain; allowed: its *.{suffix} domain, e.g. "
                           f"contoso.{suffix} (Connect-ExchangeOnline needs it)")
    app_id = None if at.child("appId").value is None else guid(at.child("appId"))
    thumbprint, file_path, password_variable = _exchange_certificate(at)
    has_certificate = thumbprint is not None or file_path is not None
    if app_id is None and has_certificate:
        raise at.child("appId").fail("is required with a certificate; allowed: the client id of the app whose "
                                     "certificate this is")
    if app_id is not None and not has_certificate:
        raise at.child("certificateFilePath").fail("is required with appId, or certificateThumbprint (Windows only); "
                                                   "allowed: a PFX file path (interactive sign-in: neither key)")
    if app_id is not None and organization is None:
        raise at.child("organization").fail("is required for certificate app-only auth; allowed: the tenant's "
                                            f"*.{CLOUDS[cloud].initial_domain_suffix} domain")
    smtp = at.child("tenantSmtpAuth")
    auto_apply = _bool(at.child("autoApply"), default=False)
    if auto_apply and app_id is None:
        raise at.child("autoApply").fail("needs certificate app-only auth, since `pulumi up` cannot answer a sign-in "
                                         "prompt; allowed: true only with appId and a certificate")
    return ExchangeConfig(
        organization=organization,
        app_id=app_id,
        certificate_thumbprint=thumbprint,
        certificate_file_path=file_path,
        certificate_password_variable=password_variable,
        tenant_smtp_auth="report" if smtp.value is None else one_of(smtp, TENANT_SMTP_AUTH),
        auto_apply=auto_apply,
    )


def _exchange_certificate(at: At) -> tuple[str | None, str | None, str | None]:
    """Return (thumbprint, PFX file path, password variable name); at most one certificate source."""
    thumb = at.child("certificateThumbprint")
    thumbprint = None
    if thumb.value is not None:
        thumbprint = non_empty_text(thumb)
        if not _THUMBPRINT.fullmatch(thumbprint):
            raise thumb.fail("is not a certificate thumbprint; allowed: 40 hex digits")
        thumbprint = thumbprint.upper()
    path = at.child("certificateFilePath")
    file_path = None
    if path.value is not None:
        file_path = non_empty_text(path, max_len=MAX_PATH)
        if _CONTROL.search(file_path):
            raise path.fail("holds a control character; allowed: a plain file path")
        if thumbprint is not None:
            raise path.fail("is set together with certificateThumbprint; allowed: one of them")
    variable = at.child("certificatePasswordVariable")
    password_variable = None
    if variable.value is not None:
        password_variable = non_empty_text(variable)
        if not _ENV_NAME.fullmatch(password_variable):
            raise variable.fail("is not an environment variable name; allowed: letters, digits and '_', not "
                                "starting with a digit (the name of the variable, never the password)")
        if file_path is None:
            raise variable.fail("needs certificateFilePath; allowed: the name of the variable that holds that "
                                "PFX file's password")
    return thumbprint, file_path, password_variable


CONFIG_KEYS = tuple(SCHEMA["properties"]["config"]["properties"])
"""The stack file's top-level keys (`azuread:tenantId`, `exo-oauth:apps`, ...): those the schema declares."""
AZUREAD_ENVIRONMENT = "azuread:environment"
"""The azuread provider's cloud; it must agree with `exo-oauth:cloud`."""
ARM_ENVIRONMENT = "ARM_ENVIRONMENT"
"""The environment variable the azuread provider reads its cloud from when `azuread:environment` is not set."""
AZUREAD_METADATA_HOST = "azuread:metadataHost"
"""The azuread provider's custom-cloud metadata host, which exo-oauth refuses (its clouds are a fixed table)."""


def _structured(value: Any) -> Any:
    """Decode a structured value given as JSON text; return anything else unchanged, for the type checks.

    The engine hands structured config to a program as JSON text, and `pulumi config set KEY '<json>'` stores it so.
    """
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        return value


def parse_stack_config(
    raw: Mapping[str, Any], source: str, now: datetime | None = None, *, arm_environment: str | None = None
) -> StackConfig:
    """Validate one stack's config and return it as plain values.

    `raw` maps full config keys (`azuread:tenantId`, `exo-oauth:apps`, ...) to decoded values. Keys of other
    namespaces (for example `azuread:clientId`) are left to their owners. `now` is the clock for certificate
    expiry checks (default: exo_domain.rotation.today(), the clock rotation is decided by). `arm_environment` is the
    ARM_ENVIRONMENT variable, the provider's cloud when `azuread:environment` is not set. Raises ConfigError naming
    `source` and the key path on the first problem found.
    """
    now = now or today()
    for key in raw:
        _check_known(key, source)
    tenant_id = guid(At(source, "azuread:tenantId", raw.get("azuread:tenantId")))
    apps_at = At(source, f"{PROJECT}:apps", _structured(raw.get(f"{PROJECT}:apps")))
    _require(apps_at, "a list of apps (it may be empty)")
    apps = _list(apps_at, lambda a: _app(a, now), unique=False)
    _unique_names(apps_at, apps)
    cloud = _cloud(raw, source, arm_environment)
    exchange = _exchange(At(source, f"{PROJECT}:exchange", _structured(raw.get(f"{PROJECT}:exchange"))), cloud)
    return StackConfig(source=source, tenant_id=tenant_id, apps=apps, exchange=exchange, cloud=cloud,
                       example=is_example(raw, source))


def is_example(raw: Mapping[str, Any], source: str) -> bool:
    """Return `exo-oauth:example` (default false): the one reading of the key, for the program and the CLI alike.

    The engine hands a program a boolean as the text `true` or `false`.
    """
    value = raw.get(f"{PROJECT}:example")
    return _bool(At(source, f"{PROJECT}:example", {"true": True, "false": False}.get(value, value)
                    if isinstance(value, str) else value), False)


def _folded(key: str) -> str:
    """`key` without case and punctuation: `exo_oauth:Apps` and `exo-oauth:apps` fold alike."""
    return re.sub(r"[^a-z0-9]", "", key.lower())


def mistyped(key: str) -> str | None:
    """Return the known key that `key` spells with other case or punctuation (`azuread:tenantID`), else None."""
    if key in CONFIG_KEYS:
        return None
    return next((known for known in CONFIG_KEYS if _folded(known) == _folded(key)), None)


def _check_known(key: str, source: str) -> None:
    """Refuse an unknown `exo-oauth:` key, and any key that is a known key but for case or punctuation.

    Other namespaces' keys (`azuread:clientId`, `pulumi:tags`) belong to their owners and pass.
    """
    if key in CONFIG_KEYS:
        return
    twin = mistyped(key)
    if twin is None and not key.startswith(f"{PROJECT}:"):
        return
    near = twin or next(iter(difflib.get_close_matches(key, CONFIG_KEYS, n=1)), None)
    allowed = ", ".join(k for k in CONFIG_KEYS if k.startswith(PROJECT))
    raise ConfigError(source, key, "unknown key" + (f", did you mean {near}?" if near else "") + f"; allowed: "
                      f"{allowed}, and the azuread provider's keys such as azuread:tenantId")


def _cloud(raw: Mapping[str, Any], source: str, arm_environment: str | None) -> str:
    """Return `exo-oauth:cloud` (default global), refusing a provider environment that names another cloud.

    The azuread provider takes its environment from `azuread:environment`, else from the ARM_ENVIRONMENT variable,
    else the global cloud (`public`); `arm_environment` is that variable's value, which the caller reads.
    """
    at = At(source, f"{PROJECT}:cloud", raw.get(f"{PROJECT}:cloud"))
    cloud = DEFAULT_CLOUD if at.value is None else one_of(at, tuple(CLOUDS))
    if raw.get(AZUREAD_METADATA_HOST) is not None:
        raise ConfigError(source, AZUREAD_METADATA_HOST, f"custom clouds are not supported; allowed: no "
                          f"{AZUREAD_METADATA_HOST}, and {PROJECT}:cloud naming one of {', '.join(CLOUDS)}")
    environment, origin = raw.get(AZUREAD_ENVIRONMENT), AZUREAD_ENVIRONMENT
    if environment is None and arm_environment:
        environment, origin = arm_environment, f"{ARM_ENVIRONMENT} (environment variable; {AZUREAD_ENVIRONMENT} is "\
            "not set)"
    accepted = CLOUDS[cloud].azuread_environments + ((None,) if cloud == DEFAULT_CLOUD else ())
    # The provider lower-cases the name (go-azure-sdk environments.FromName: `switch strings.ToLower(name)`).
    if (environment.lower() if isinstance(environment, str) else environment) not in accepted:
        wanted = CLOUDS[cloud].azuread_environments[0]
        shown = (f"neither {AZUREAD_ENVIRONMENT} nor {ARM_ENVIRONMENT} is set (the provider then uses global)"
                 if environment is None else f"{origin} is {environment!r}")
        raise at.fail(f"{cloud!r} needs {AZUREAD_ENVIRONMENT}: {wanted}, but {shown}; allowed: {PROJECT}:cloud and "
                      f"the provider's environment ({AZUREAD_ENVIRONMENT}, else {ARM_ENVIRONMENT}) naming the same "
                      "cloud")
    return cloud
