"""The stack file's keys, declared once; stack-config.schema.json, and from it the inputs reference, are generated.

`SCHEMA` is the JSON Schema of a stack file, written as Python: each key with its `type`, `default`, limits
(`minimum`, `maximum`, `maxLength`) and `description`. A default or limit the validator (config.py) or adopt also uses
is a named constant below, which they import, so each lives here only. To add a key: add its entry to `SCHEMA` (a
JSON entry pastes in as it is, with True/False for true/false), read its constants from here in config.py, then run
`EXO_OAUTH_UPDATE_DOCS=1 pytest tests/test_docs.py` to write the schema file and the reference, and review the diff.
Standard library only: the CLI's --help may import it.
"""

from __future__ import annotations

import json
from typing import Any

from .microsoft import CLOUDS, DEFAULT_CLOUD
from .rotation import ROTATION_CADENCE_DAYS

DEFAULT_LIFETIME_DAYS = 180
"""secret and certificate: days a new credential lives in Entra ID when the stack does not say."""
MIN_ROTATE_BEFORE_DAYS = ROTATION_CADENCE_DAYS
"""The shortest overlap: one rotation cadence, so the old credential never ends before the run that brings the next."""
MIN_LIFETIME_DAYS = 2 * MIN_ROTATE_BEFORE_DAYS
"""A secret's overlap is at least one rotation cadence and at most half its lifetime: two cadences."""
MAX_LIFETIME_DAYS = 730
"""The longest lifetimeDays accepted: two years, as Entra ID's portal offers at most (docs/decisions/0004)."""
DEFAULT_ROTATE_BEFORE_DAYS = 30
"""Days before expiry a credential is renewed, when the stack does not say (half a lifetime below twice this)."""
DEFAULT_FEDERATED_AUDIENCE = "api://AzureADTokenExchange"
"""The audience Entra ID expects in a federated credential's tokens unless told otherwise."""
MAX_APP_NAME = 40
"""An app's stable name: resource names derive from it, so it stays short."""
MAX_TEXT = 256
"""A display name, or any other free text without a limit of its own."""
MAX_NOTES = 1024
MAX_PATH = 1024
MAX_SUBJECT = 600
"""A federated credential's subject (Entra ID allows 600 characters)."""
MAX_FEDERATED_NAME = 120
"""Graph's limit on a federated identity credential's name (federatedIdentityCredential resource)."""
EXCHANGE_ACCESS = ("mailbox-permissions", "rbac")
"""How an app-only app reaches its mailboxes: Entra permissions plus FullAccess/SendAs (the default), or, for
app-only SMTP, Exchange RBAC for Applications (no Entra permission, no mailbox permission; docs/decisions/0131)."""
RBAC = EXCHANGE_ACCESS[1]

SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://github.com/exo-oauth/exo-oauth/stack-config.schema.json",
    "title": "exo-oauth stack file (stacks/Pulumi.<tenant>.yaml)",
    "description": (
        "One tenant's config. The program enforces every rule here, and more (for example unique app names), before "
        "it registers any resource."
    ),
    "type": "object",
    "properties": {
        "config": {
            "type": "object",
            "required": ["azuread:tenantId", "exo-oauth:apps"],
            "properties": {
                "azuread:tenantId": {
                    "type": "string",
                    "pattern": "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$",
                    "description": (
                        "The tenant GUID (Entra ID > Overview > Tenant ID). Also tells the azuread provider which "
                        "tenant to deploy to."
                    ),
                },
                "exo-oauth:apps": {
                    "type": "array",
                    "items": {
                        "$ref": "#/$defs/app",
                    },
                    "description": "The apps that need OAuth for IMAP, POP or SMTP. May be empty.",
                },
                "exo-oauth:exchange": {
                    "$ref": "#/$defs/exchange",
                },
                "azuread:environment": {
                    "type": "string",
                    "enum": [env for cloud in CLOUDS.values() for env in cloud.azuread_environments],
                    "description": (
                        "The azuread provider's cloud; when absent the provider reads the ARM_ENVIRONMENT variable, "
                        "else uses global. It must name the cloud of exo-oauth:cloud: global or public (global), "
                        "usgovernmentl4 or usgovernment (usgov), usgovernmentl5 or dod (usgov-dod), china (china). "
                        "azuread:metadataHost (custom clouds) is refused."
                    ),
                },
                "exo-oauth:cloud": {
                    "type": "string",
                    "enum": list(CLOUDS),
                    "default": DEFAULT_CLOUD,
                    "description": (
                        "The tenant's Microsoft cloud: global, usgov (GCC High), usgov-dod or china (21Vianet). Sets "
                        "token scopes, mail endpoints, the consent URL host and the Exchange scripts' environment; "
                        "azuread:environment must name the same cloud (usgovernmentl4, usgovernmentl5, china)."
                    ),
                },
                "exo-oauth:example": {
                    "type": "boolean",
                    "default": False,
                    "description": (
                        "true marks an example stack: plan and diff show it, but `exo-oauth stacks` never selects "
                        "it, so no workflow deploys, rotates or drift-checks it (default false). Remove it in a copy "
                        "meant for a tenant."
                    ),
                },
            },
        },
    },
    "$defs": {
        "app": {
            "type": "object",
            "additionalProperties": False,
            "required": ["name", "flow", "protocols", "owners"],
            "properties": {
                "name": {
                    "type": "string",
                    "pattern": "^[a-z0-9]+(-[a-z0-9]+)*$",
                    "maxLength": MAX_APP_NAME,
                    "description": (
                        "Stable id: a-z, 0-9 and single '-', unique in the stack. Resource names derive from it; "
                        "renaming it replaces the app."
                    ),
                },
                "displayName": {
                    "type": "string",
                    "maxLength": MAX_TEXT,
                    "description": "The name shown in Entra ID; defaults to name. Free to change later.",
                },
                "flow": {
                    "enum": ["app-only", "delegated"],
                    "type": "string",
                    "description": "app-only: client credentials for daemons and scanners. delegated: a user signs in.",
                },
                "protocols": {
                    "type": "array",
                    "minItems": 1,
                    "uniqueItems": True,
                    "items": {
                        "enum": ["imap", "pop", "smtp"],
                    },
                    "description": (
                        "Non-empty subset of imap, pop, smtp. Only these protocols' permissions are requested."
                    ),
                },
                "mailboxes": {
                    "type": "array",
                    "items": {
                        "$ref": "#/$defs/mailbox",
                    },
                    "description": (
                        "app-only only, required there: the mailboxes the app may open (FullAccess), each an address "
                        "or {address, sendAs}."
                    ),
                },
                "credential": {
                    "$ref": "#/$defs/credential",
                },
                "redirectUris": {
                    "type": "array",
                    "items": {
                        "type": "string",
                        "pattern": "^(https://|http://(localhost|127\\.0\\.0\\.1)([:/?]|$))",
                    },
                    "description": (
                        "Optional redirect URIs (web, or public client when publicClient is true): HTTPS, or loopback"
                        " http://localhost or http://127.0.0.1 (any port and path) only with publicClient: true. The "
                        "first is used in the admin consent URL."
                    ),
                },
                "publicClient": {
                    "type": "boolean",
                    "default": False,
                    "description": (
                        "delegated only: allow public-client flows such as device code (fallbackPublicClientEnabled)."
                    ),
                },
                "signInMailboxes": {
                    "type": "array",
                    "items": {
                        "type": "string",
                    },
                    "description": (
                        "delegated only: the mailboxes of the users who sign in; the Exchange steps turn the app's "
                        "protocols on for each (Set-CASMailbox) and check them."
                    ),
                },
                "signInGroup": {
                    "type": "string",
                    "description": (
                        "delegated only: a mail-enabled group; the Exchange steps turn the app's protocols on for each "
                        "member mailbox and check them."
                    ),
                },
                "exchangeAccess": {
                    "enum": list(EXCHANGE_ACCESS),
                    "type": "string",
                    "default": EXCHANGE_ACCESS[0],
                    "description": (
                        "app-only only: how the app reaches its mailboxes. mailbox-permissions: Entra permissions plus "
                        "FullAccess (and SendAs). rbac, for an app whose protocols are [smtp]: Exchange RBAC for "
                        "Applications, no Entra permission and no mailbox permission, a management scope of its "
                        "mailboxes."
                    ),
                },
                "owners": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "string",
                        "pattern": "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$",
                    },
                    "description": (
                        "Object ids of the users or service principals that own the app registration and its service "
                        "principal. Required."
                    ),
                },
                "notes": {
                    "type": "string",
                    "maxLength": MAX_NOTES,
                    "description": "Free text stored on the app registration.",
                },
                "tags": {
                    "type": "array",
                    "items": {
                        "type": "string",
                    },
                    "description": "Tags stored on the app registration.",
                },
                "appRoleAssignmentRequired": {
                    "type": "boolean",
                    "default": False,
                    "description": (
                        "Only users and groups assigned to the app (Enterprise applications > Users and groups) may "
                        "sign in: the service principal's appRoleAssignmentRequired. adopt keeps an existing app's "
                        "setting."
                    ),
                },
            },
        },
        "mailbox": {
            "description": "A mailbox address, or {address, sendAs}.",
            "oneOf": [
                {
                    "type": "string",
                    "format": "email",
                },
                {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["address"],
                    "properties": {
                        "address": {
                            "type": "string",
                            "format": "email",
                            "description": "The mailbox's SMTP address.",
                        },
                        "sendAs": {
                            "type": "boolean",
                            "default": False,
                            "description": "Also grant SendAs, to send as this address.",
                        },
                    },
                },
            ],
        },
        "credential": {
            "type": "object",
            "additionalProperties": False,
            "required": ["type"],
            "default": {
                "type": "secret",
                "lifetimeDays": DEFAULT_LIFETIME_DAYS,
            },
            "description": "How the app proves its identity.",
            "properties": {
                "type": {
                    "enum": ["secret", "certificate", "federated", "none"],
                    "type": "string",
                    "description": "secret, certificate, federated, or none (delegated public clients only).",
                },
                "lifetimeDays": {
                    "type": "integer",
                    "minimum": MIN_LIFETIME_DAYS,
                    "maximum": MAX_LIFETIME_DAYS,
                    "default": DEFAULT_LIFETIME_DAYS,
                    "description": (
                        "secret and certificate: days from creation until the credential expires in Entra ID (a "
                        f"certificate never past its own expiry). At least {MIN_LIFETIME_DAYS}: two weekly rotation "
                        "runs."
                    ),
                },
                "rotateBeforeDays": {
                    "type": "integer",
                    "minimum": MIN_ROTATE_BEFORE_DAYS,
                    "default": DEFAULT_ROTATE_BEFORE_DAYS,
                    "description": (
                        f"At least {MIN_ROTATE_BEFORE_DAYS}, the weekly rotation run, so the old credential never "
                        "ends before the run that brings the next. secret: a new secret is created this many days "
                        "before the newest one expires, and both stay valid meanwhile (the overlap; at most half of "
                        "lifetimeDays). certificate: the first pulumi up this many days before expiry re-registers it "
                        "with a new end date (below "
                        f"lifetimeDays). Default {DEFAULT_ROTATE_BEFORE_DAYS}, or half a lifetime under "
                        f"{2 * DEFAULT_ROTATE_BEFORE_DAYS} days."
                    ),
                },
                "publicKeyPem": {
                    "type": "string",
                    "description": "certificate: the public X.509 certificate in PEM, never a private key.",
                },
                "issuer": {
                    "type": "string",
                    "pattern": "^https://",
                    "description": "federated: the external identity provider's issuer URL.",
                },
                "subject": {
                    "type": "string",
                    "maxLength": MAX_SUBJECT,
                    "description": "federated: the subject of the external workload's tokens.",
                },
                "audiences": {
                    "type": "array",
                    "items": {
                        "type": "string",
                    },
                    "default": [DEFAULT_FEDERATED_AUDIENCE],
                    "description": "federated: accepted audiences.",
                },
                "name": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": MAX_FEDERATED_NAME,
                    "description": (
                        "federated: the credential's name in Entra ID, which Graph never changes (default "
                        "exo-oauth-<app name>). adopt writes an existing credential's name here."
                    ),
                },
            },
        },
        "exchange": {
            "type": "object",
            "additionalProperties": False,
            "description": "How the generated Exchange Online scripts connect, and what they may change tenant-wide.",
            "properties": {
                "organization": {
                    "type": "string",
                    "description": (
                        "The tenant's *.onmicrosoft.com domain, for Connect-ExchangeOnline -Organization. Required "
                        "with appId."
                    ),
                },
                "appId": {
                    "type": "string",
                    "pattern": "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$",
                    "description": (
                        "Client id for certificate app-only auth to Exchange Online PowerShell (unattended runs)."
                    ),
                },
                "certificateThumbprint": {
                    "type": "string",
                    "pattern": "^[0-9A-Fa-f]{40}$",
                    "description": (
                        "Thumbprint of that app's certificate in the Windows certificate store (Windows only). With "
                        "appId, this or certificateFilePath."
                    ),
                },
                "certificateFilePath": {
                    "type": "string",
                    "maxLength": MAX_PATH,
                    "description": (
                        "Path of that app's certificate as a PFX file, for Connect-ExchangeOnline "
                        "-CertificateFilePath (Linux, macOS, Windows). With appId, this or certificateThumbprint."
                    ),
                },
                "certificatePasswordVariable": {
                    "type": "string",
                    "pattern": "^[A-Za-z_][A-Za-z0-9_]{0,127}$",
                    "description": (
                        "Name of the environment variable holding the PFX file's password (never the password "
                        "itself). Needs certificateFilePath."
                    ),
                },
                "tenantSmtpAuth": {
                    "enum": ["report", "enable", "disable"],
                    "type": "string",
                    "default": "report",
                    "description": "The tenant-wide SMTP AUTH switch (Set-TransportConfig): report only, or change it.",
                },
                "autoApply": {
                    "type": "boolean",
                    "default": False,
                    "description": (
                        "Run the apply script with pwsh after pulumi up, when pwsh is on PATH, until a run succeeds. "
                        "Needs appId and a certificate."
                    ),
                },
            },
        },
    },
}
"""The stack file's JSON Schema (draft 2020-12)."""


def schema_text() -> str:
    """Return stack-config.schema.json as it must be on disk: the schema as JSON, two-space indents, a final newline."""
    return json.dumps(SCHEMA, indent=2, ensure_ascii=False) + "\n"
