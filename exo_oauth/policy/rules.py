"""The policy rules every exo-oauth stack must pass, as plain functions of a resource's wire inputs.

Pure: no Pulumi, no pulumi_policy, no I/O. Two callers share the rules: the policy pack in policy/ (through
exo_oauth.policy.pack, under `pulumi preview|up --policy-pack policy`) and the offline plan (`evaluate`).

A rule sees a resource's type token and its camelCase wire inputs, exactly as the engine sends them to a policy
pack and as the mock monitor records them (`signInAudience`, `requiredResourceAccesses`, `claimValues`, ...).
Under the pack, lists and maps arrive wrapped in pulumi_policy's proxies (a Sequence and a Mapping, not list and
dict), and reading a value that is unknown during preview raises the proxy's UnknownValueError; the rules read only
the keys they judge and let that error through, so the engine reports "can't run policy during preview" instead of
a silent pass, and judges the resource again during `pulumi up`, when the value is known.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from exo_domain.errors import ConfigError
from exo_domain.microsoft import EXCHANGE_ONLINE, MICROSOFT_GRAPH, SINGLE_TENANT, TYPE_TOKENS
from exo_domain.permissions import APP_ONLY_ROLES, DELEGATED_SCOPES, SIGN_IN_SCOPES
from exo_domain.redirect_uris import redirect_uri_problem

from ..util.days import day_count, days_until
from ..util.microsoft_ids import API_DISPLAY_NAMES, APP_ROLES, PUBLISHED_APP_IDS, SCOPES, permission_name

APPLICATION = TYPE_TOKENS["application"]
APPLICATION_REGISTRATION = TYPE_TOKENS["applicationRegistration"]
APPLICATION_API_ACCESS = TYPE_TOKENS["applicationApiAccess"]
APPLICATION_REDIRECT_URIS = TYPE_TOKENS["applicationRedirectUris"]
APP_ROLE_ASSIGNMENT = TYPE_TOKENS["appRoleAssignment"]
DELEGATED_GRANT = TYPE_TOKENS["grant"]
APPLICATION_PASSWORD = TYPE_TOKENS["password"]
APPLICATION_CERTIFICATE = TYPE_TOKENS["certificate"]

MANDATORY = "mandatory"
ADVISORY = "advisory"
DISABLED = "disabled"
LEVELS = (MANDATORY, ADVISORY, DISABLED)
"""Enforcement levels a rule can run at; pulumi-policy's `remediate` is not offered, no rule remediates."""

DEFAULT_MAX_CREDENTIAL_DAYS = 180
DEFAULT_EXPIRY_WARNING_DAYS = 30

LEARN_LEGACY_PROTOCOLS = (
    "https://learn.microsoft.com/exchange/client-developer/legacy-protocols/"
    "how-to-authenticate-an-imap-pop-smtp-application-by-using-oauth"
)
LEARN_APP_SECURITY = "https://learn.microsoft.com/entra/identity-platform/security-best-practices-for-app-registration"


def _allowed_permissions() -> dict[tuple[str, str], dict[str, str]]:
    """Return, per (resource app id, `Role` or `Scope`), the allowed permission GUIDs mapped to their names.

    Derived from exo_domain.permissions, so the policy allows exactly what the component requests: the Exchange
    Online app roles for app-only; for delegated, Exchange Online's IMAP, POP and SMTP scopes and Microsoft Graph's
    sign-in scopes (offline_access, openid, profile). Graph's own IMAP, POP and SMTP scopes are refused: consent on
    them does not cover the outlook.office.com scopes mail clients ask for (docs/decisions/0030).
    """
    graph, exchange = PUBLISHED_APP_IDS[MICROSOFT_GRAPH], PUBLISHED_APP_IDS[EXCHANGE_ONLINE]
    return {
        (exchange, "Role"): {APP_ROLES[EXCHANGE_ONLINE][n]: n for n in APP_ONLY_ROLES.values()},
        (exchange, "Scope"): {SCOPES[EXCHANGE_ONLINE][n]: n for n in DELEGATED_SCOPES.values()},
        (graph, "Scope"): {SCOPES[MICROSOFT_GRAPH][n]: n for n in SIGN_IN_SCOPES},
    }


ALLOWED_PERMISSIONS = _allowed_permissions()
ALLOWED_ROLE_IDS = frozenset(g for (_, kind), ids in ALLOWED_PERMISSIONS.items() if kind == "Role" for g in ids)
ALLOWED_CLAIMS = frozenset(n for (_, kind), ids in ALLOWED_PERMISSIONS.items() if kind == "Scope" for n in ids.values())
_ALLOWED_TEXT = (
    f"{', '.join(APP_ONLY_ROLES.values())} ({API_DISPLAY_NAMES[EXCHANGE_ONLINE]} application permissions), "
    f"{', '.join(DELEGATED_SCOPES.values())} ({API_DISPLAY_NAMES[EXCHANGE_ONLINE]} delegated permissions) and "
    f"{', '.join(SIGN_IN_SCOPES)} ({API_DISPLAY_NAMES[MICROSOFT_GRAPH]} delegated permissions)"
)


@dataclass(frozen=True)
class PolicyConfig:
    """The values a user can tune, with the same meaning in the pack's config and in the offline plan."""

    max_credential_days: int = DEFAULT_MAX_CREDENTIAL_DAYS
    """credential-max-lifetime: a secret or certificate may live (endDate - startDate) at most this many days."""
    expiry_warning_days: int = DEFAULT_EXPIRY_WARNING_DAYS
    """credential-expires-soon: warn when a secret or certificate ends within this many days."""
    levels: Mapping[str, str] = field(default_factory=dict)
    """Enforcement level per rule name, overriding the rule's own (`mandatory`, `advisory` or `disabled`)."""


@dataclass(frozen=True)
class Violation:
    """One rule that one resource breaks."""

    policy: str
    """The rule's kebab-case name."""
    level: str
    """`mandatory` (blocks `pulumi up`; the plan exits with POLICY) or `advisory` (reported only)."""
    urn: str
    """The resource's URN."""
    message: str
    """What is wrong, how to fix it, and where Microsoft Learn explains it."""
    key: str | None = None
    """The stack file and key path to change (`stacks/Pulumi.x.yaml: exo-oauth:apps[0]...`), when one decides it."""
    app: str | None = None
    """The app whose resource breaks the rule, when the resource belongs to one."""
    resource: str | None = None
    """The resource's name (the last part of its URN)."""

    def to_json(self) -> dict[str, str | None]:
        """Return the violation as a JSON object with keys policy, level, urn, message, key, app and resource."""
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class Setting:
    """One tunable value of a rule: its key in the pack's config and the PolicyConfig field it sets."""

    key: str
    """The camelCase key in the policy pack config (`--policy-pack-config FILE`), e.g. `maxDays`."""
    attribute: str
    """The PolicyConfig attribute it sets."""
    description: str
    """One sentence for the pack's config schema."""
    minimum: int
    maximum: int


Check = Callable[[str, Mapping[str, Any], PolicyConfig, datetime], Iterator[str]]
"""A rule's check: (type token, wire inputs, config, now) -> "what is wrong; how to fix" sentences."""


@dataclass(frozen=True)
class Rule:
    """A named policy: which resource types it judges, how strictly, and the check itself."""

    name: str
    """kebab-case, unique in the pack."""
    description: str
    """One sentence: what the rule requires."""
    level: str
    """The default enforcement level."""
    types: frozenset[str]
    """The resource type tokens the rule judges; it ignores every other type."""
    url: str
    """The Microsoft Learn page each message points to."""
    check: Check
    settings: tuple[Setting, ...] = ()

    def run(self, resource_type: str, props: Mapping[str, Any], config: PolicyConfig, now: datetime) -> list[str]:
        """Return this rule's violation messages for one resource; empty when it passes or is not judged."""
        if resource_type not in self.types:
            return []
        return [f"{problem} See {self.url}" for problem in self.check(resource_type, props, config, _utc(now))]


def _utc(moment: datetime) -> datetime:
    """Return `moment` in UTC; a time without an offset is taken as UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _items(value: Any) -> Sequence[Any]:
    """Return a wire list (a list, or pulumi_policy's list proxy) as a sequence; anything else as empty."""
    return value if isinstance(value, Sequence) and not isinstance(value, str) else ()


def _fields(value: Any) -> Mapping[str, Any]:
    """Return a wire object (a dict, or pulumi_policy's map proxy) as a mapping; anything else as empty."""
    return value if isinstance(value, Mapping) else {}


def _single_tenant(_type: str, props: Mapping[str, Any], _config: PolicyConfig, _now: datetime) -> Iterator[str]:
    # Absent means the provider default, which is AzureADMyOrg.
    audience = props.get("signInAudience")
    if audience not in (None, SINGLE_TENANT):
        yield (f"signInAudience is {audience!r}, so accounts outside this tenant could sign in; set it to "
               f"{SINGLE_TENANT!r} (exo-oauth declares one app per tenant).")


def _requested(api_app_id: str, kind: str, permission_id: str) -> Iterator[str]:
    """Judge one requested permission (resource app id, `Role` or `Scope`, GUID)."""
    if permission_id.lower() in ALLOWED_PERMISSIONS.get((api_app_id.lower(), kind), {}):
        return
    what = "application permission" if kind == "Role" else "delegated permission"
    yield (f"requests {permission_name(api_app_id, permission_id)} ({what}), which mail over IMAP, POP or SMTP "
           f"does not need; remove it. Allowed: {_ALLOWED_TEXT}.")


def _role_name(role_id: str) -> str:
    """Name an app role GUID of any first-party API, such as `Office 365 Exchange Online full_access_as_app`."""
    for api, roles in APP_ROLES.items():
        if role_id.lower() in roles.values():
            return permission_name(PUBLISHED_APP_IDS[api], role_id)
    return f"app role {role_id}"


def _mail_permissions(resource_type: str, props: Mapping[str, Any], _config: PolicyConfig,
                      _now: datetime) -> Iterator[str]:
    if resource_type == APPLICATION:
        for access in _items(props.get("requiredResourceAccesses")):
            api = str(_fields(access).get("resourceAppId", ""))
            for entry in _items(_fields(access).get("resourceAccesses")):
                yield from _requested(api, str(_fields(entry).get("type", "")), str(_fields(entry).get("id", "")))
    elif resource_type == APPLICATION_API_ACCESS:
        api = str(props.get("apiClientId", ""))
        for kind, key in (("Role", "roleIds"), ("Scope", "scopeIds")):
            for permission_id in _items(props.get(key)):
                yield from _requested(api, kind, str(permission_id))
    elif resource_type == APP_ROLE_ASSIGNMENT:
        # The assignment names its API only by resourceObjectId, a per-tenant service principal id, so the role
        # is judged by its GUID alone: app role GUIDs are unique, and only the Exchange Online mail roles pass.
        role_id = str(props.get("appRoleId", ""))
        if role_id.lower() not in ALLOWED_ROLE_IDS:
            yield (f"assigns (admin-consents) {_role_name(role_id)}, which mail over IMAP, POP or SMTP does not "
                   f"need; remove the assignment. Allowed app roles: {', '.join(APP_ONLY_ROLES.values())}.")
    elif resource_type == DELEGATED_GRANT:
        for claim in _items(props.get("claimValues")):
            if claim not in ALLOWED_CLAIMS:
                yield (f"grants (admin-consents) the delegated permission {claim!r}, which mail over IMAP, POP or "
                       f"SMTP does not need; remove it from claimValues. Allowed: "
                       f"{', '.join(sorted(ALLOWED_CLAIMS))}.")


def _https_redirect_uris(resource_type: str, props: Mapping[str, Any], _config: PolicyConfig,
                         _now: datetime) -> Iterator[str]:
    # (where, URIs, registered on the public-client platform): loopback http:// is allowed only there.
    if resource_type == APPLICATION:
        lists = [(f"{platform}.redirectUris", _fields(props.get(platform)).get("redirectUris"),
                  platform == "publicClient")
                 for platform in ("web", "publicClient", "singlePageApplication")]
    else:
        kind = props.get("type")
        lists = [(f"redirectUris ({kind})", props.get("redirectUris"), kind == "PublicClient")]
    for where, uris, public_client in lists:
        for uri in _items(uris):
            problem = redirect_uri_problem(str(uri), public_client=public_client)
            if problem is not None:
                yield f"{where} has {uri!r}, which {problem}."


def _owners_set(_type: str, props: Mapping[str, Any], _config: PolicyConfig, _now: datetime) -> Iterator[str]:
    if not _items(props.get("owners")):
        yield ("has no owners, so nobody is accountable for its credentials and permissions; list at least one "
               "owner object id under owners in the stack file.")


def _moment(props: Mapping[str, Any], key: str) -> tuple[datetime | None, str | None]:
    """Return (the RFC 3339 time at `key`, None), (None, None) when absent, or (None, why it cannot be judged)."""
    text = props.get(key)
    if not text:
        return None, None
    try:
        return _utc(datetime.fromisoformat(str(text))), None
    except ValueError:
        return None, f"has {key} {text!r}, which is not an RFC 3339 time"


def _end_date(props: Mapping[str, Any]) -> tuple[datetime | None, str | None]:
    """Return (end date, None), or (None, why it cannot be judged)."""
    end, problem = _moment(props, "endDate")
    if end is None and problem is None:
        return None, "sets no endDate, so the credential lives as long as Entra ID or the certificate allows"
    return end, problem


def _credential_max_lifetime(_type: str, props: Mapping[str, Any], config: PolicyConfig,
                             now: datetime) -> Iterator[str]:
    # The lifetime is endDate - startDate (docs/decisions/0140), so the verdict is the same on every day the pack
    # runs; a credential without a startDate starts when it is created, which is now.
    end, problem = _end_date(props)
    start, start_problem = _moment(props, "startDate")
    problem = problem or start_problem
    start = start or now
    # By UTC calendar day: an end date computed at `pulumi up` time may fall a few hours after this check.
    if problem is None and end is not None and (end.date() - start.date()).days > config.max_credential_days:
        days = day_count((end.date() - start.date()).days)
        problem = (f"lives {days}, {start:%Y-%m-%d} to {end:%Y-%m-%d} (by UTC day), longer than the allowed "
                   f"{config.max_credential_days} days")
    if problem is not None:
        yield (f"{problem}; lower credential.lifetimeDays of this app in the stack file to at most "
               f"{config.max_credential_days}, or raise the policy's maxDays (`--policy-pack-config FILE`, FILE "
               'holding {"credential-max-lifetime": {"maxDays": N}}).')


def _credential_expires_soon(_type: str, props: Mapping[str, Any], config: PolicyConfig,
                             now: datetime) -> Iterator[str]:
    end, _problem = _end_date(props)
    if end is None or end - now > timedelta(days=config.expiry_warning_days):
        return
    left = day_count(days_until(end, now))
    when = f"expired on {end:%Y-%m-%d}" if end <= now else f"expires on {end:%Y-%m-%d}, in {left}"
    yield (f"{when}; mail clients using it will fail to sign in. For a secret, `pulumi up` creates the next one "
           "rotateBeforeDays before the newest ends and keeps both valid meanwhile: move the mail clients to the "
           "newest (stack output clientSecrets.<app>, docs/rotation.md). For a certificate, put a renewed one in "
           "the stack file.")


CREDENTIAL_TYPES = frozenset({APPLICATION_PASSWORD, APPLICATION_CERTIFICATE})

RULES: tuple[Rule, ...] = (
    Rule(
        name="single-tenant-app",
        description="Mail apps are single tenant: signInAudience is AzureADMyOrg.",
        level=MANDATORY,
        types=frozenset({APPLICATION, APPLICATION_REGISTRATION}),
        url="https://learn.microsoft.com/entra/identity-platform/single-and-multi-tenant-apps",
        check=_single_tenant,
    ),
    Rule(
        name="mail-permissions-only",
        description="Apps request, and are consented to, only the IMAP, POP and SMTP permissions of Exchange Online "
        "(plus offline_access, openid and profile of Microsoft Graph for delegated sign-in).",
        level=MANDATORY,
        types=frozenset({APPLICATION, APPLICATION_API_ACCESS, APP_ROLE_ASSIGNMENT, DELEGATED_GRANT}),
        url=LEARN_LEGACY_PROTOCOLS,
        check=_mail_permissions,
    ),
    Rule(
        name="https-redirect-uris",
        description="Every redirect URI of a mail app is an HTTPS URL, or a loopback http:// URL (localhost, "
        "127.0.0.1) on the public-client platform.",
        level=MANDATORY,
        types=frozenset({APPLICATION, APPLICATION_REDIRECT_URIS}),
        url="https://learn.microsoft.com/entra/identity-platform/reply-url",
        check=_https_redirect_uris,
    ),
    Rule(
        name="app-owners-set",
        description="Every mail app registration has at least one owner.",
        level=MANDATORY,
        types=frozenset({APPLICATION}),
        url=LEARN_APP_SECURITY,
        check=_owners_set,
    ),
    Rule(
        name="credential-max-lifetime",
        description="Client secrets and certificates live (endDate - startDate) at most the configured number of "
        "days.",
        level=MANDATORY,
        types=CREDENTIAL_TYPES,
        url=LEARN_APP_SECURITY,
        check=_credential_max_lifetime,
        settings=(Setting("maxDays", "max_credential_days",
                          "Longest allowed lifetime of a secret or certificate (endDate - startDate), in days.",
                          1, 3650),),
    ),
    Rule(
        name="credential-expires-soon",
        description="Warns when a client secret or certificate ends within the configured number of days.",
        level=ADVISORY,
        types=CREDENTIAL_TYPES,
        url=LEARN_APP_SECURITY,
        check=_credential_expires_soon,
        settings=(Setting("warnDays", "expiry_warning_days",
                          "Warn when a secret or certificate ends within this many days.", 1, 365),),
    ),
)
"""Every rule, in the order the pack lists them and messages are reported."""

RULES_BY_NAME = {rule.name: rule for rule in RULES}


def evaluate(resources: Sequence[Mapping[str, Any]], now: datetime,
             config: PolicyConfig | None = None) -> list[Violation]:
    """Run every enabled rule on every resource, as `pulumi preview --policy-pack policy` would.

    Each resource is a mapping with keys `type` (the type token), `name`, `urn` and `inputs` (its camelCase wire
    inputs). `now` is the clock for credential end dates (a time without offset is taken as UTC). Returns the
    violations in resource order, then rule order; a rule at level `disabled` in `config` does not run.
    """
    config = config or PolicyConfig()
    violations = []
    for resource in resources:
        for rule in RULES:
            level = config.levels.get(rule.name, rule.level)
            if level == DISABLED:
                continue
            for message in rule.run(resource["type"], _fields(resource.get("inputs")), config, now):
                violations.append(Violation(rule.name, level, resource["urn"], message))
    return violations


def config_from_pack(rule: Rule, values: Mapping[str, Any], base: PolicyConfig | None = None) -> PolicyConfig:
    """Return `base` (default: the defaults) with `rule`'s settings taken from the pack's config for that rule.

    The engine has already checked the values against the rule's config schema; JSON numbers arrive as floats.
    """
    changes: dict[str, Any] = {s.attribute: int(values[s.key]) for s in rule.settings if values.get(s.key) is not None}
    return dataclasses.replace(base or PolicyConfig(), **changes)


def load_policy_config(document: Any, source: str) -> PolicyConfig:
    """Read a policy pack config in the JSON shape of `pulumi preview --policy-pack-config FILE`.

    Top-level keys are `all` (an enforcement level for every rule) and rule names, each mapped to an enforcement
    level or to an object with an optional `enforcementLevel` and the rule's settings. A rule's own entry wins over
    `all`. Raises ConfigError naming `source` and the key path on the first problem.
    """
    if not isinstance(document, Mapping):
        raise ConfigError(source, "(file)", "is not a JSON object; allowed: an object keyed by `all` or policy names")
    levels: dict[str, str] = {}
    values = PolicyConfig()
    if "all" in document:
        level = _level(document["all"], source, "all")
        levels = dict.fromkeys(RULES_BY_NAME, level)
    for key, entry in document.items():
        if key == "all":
            continue
        rule = RULES_BY_NAME.get(key)
        if rule is None:
            raise ConfigError(source, key, f"unknown policy; allowed: all, {', '.join(RULES_BY_NAME)}")
        if not isinstance(entry, Mapping):
            levels[key] = _level(entry, source, key)
            continue
        allowed = ("enforcementLevel", *(s.key for s in rule.settings))
        for name in entry:
            if name not in allowed:
                raise ConfigError(source, f"{key}.{name}", f"unknown key; allowed: {', '.join(allowed)}")
        if "enforcementLevel" in entry:
            levels[key] = _level(entry["enforcementLevel"], source, f"{key}.enforcementLevel")
        for setting in rule.settings:
            _whole_number(entry.get(setting.key), setting, source, f"{key}.{setting.key}")
        values = config_from_pack(rule, entry, values)
    return dataclasses.replace(values, levels=levels)


def _level(value: Any, source: str, key_path: str) -> str:
    if value not in LEVELS:
        shown = repr(value) if isinstance(value, str) else type(value).__name__
        raise ConfigError(source, key_path, f"{shown} is not an enforcement level; allowed: {', '.join(LEVELS)}")
    return str(value)


def _whole_number(value: Any, setting: Setting, source: str, key_path: str) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        raise ConfigError(source, key_path,
                          f"{value!r} is not a whole number; allowed: {setting.minimum} to {setting.maximum}")
    if not setting.minimum <= value <= setting.maximum:
        raise ConfigError(source, key_path,
                          f"{int(value)} is out of range; allowed: {setting.minimum} to {setting.maximum}")
