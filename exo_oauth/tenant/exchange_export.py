"""Exchange Online's side of a tenant: the read-only export script, and the JSON file it writes.

The script uses only Get-* cmdlets. It lists Exchange's service principals (Get-ServicePrincipal) and, for every
mailbox (Get-EXOMailbox), the non-inherited permissions held by one of them (Get-EXOMailboxPermission,
Get-RecipientPermission), with a progress bar per mailbox.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from email_validator import EmailNotValidError

from exo_domain.config import is_guid, normalized_mailbox
from exo_domain.exchange_module import import_lines
from exo_domain.powershell import ps_literal

from ..util.errors import UsageError
from ..util.files import read_json

EXPORT_FILE = "exo-oauth-exchange-export.json"
EXPORT_SCRIPT = "exo-oauth-exchange-export.ps1"
"""The export script's file name, beside the module it imports (`audit --export-script DIR`)."""
FORMAT = "exo-oauth-exchange-export/1"
MAX_EXPORT_ITEMS = 100_000
"""Most entries in one list of the export: a 10,000-mailbox tenant lists a service principal per app and a permission
per mailbox an app holds, past files.MAX_ITEMS (5,000); the 4 MiB file limit binds first (about 30,000 entries)."""


@dataclass(frozen=True)
class ExchangePrincipal:
    """A service principal as Exchange Online registered it (New-ServicePrincipal)."""

    app_id: str
    object_id: str
    display_name: str


@dataclass(frozen=True)
class MailboxPermission:
    """A permission on one mailbox held by an Exchange service principal."""

    mailbox: str
    principal_object_id: str
    rights: tuple[str, ...]
    """FullAccess (Add-MailboxPermission) and/or SendAs (Add-RecipientPermission)."""


@dataclass(frozen=True)
class ExchangeExport:
    """What the export script found."""

    source: str
    principals: tuple[ExchangePrincipal, ...]
    permissions: tuple[MailboxPermission, ...]


def export_script() -> str:
    """Return the read-only PowerShell export script: the module's export function, called with quoted literals."""
    return (_EXPORT_HEADER + f"$ErrorActionPreference = {ps_literal('Stop')}\n\n" + import_lines()
            + f"Export-ExoOAuthExchangeState -Format {ps_literal(FORMAT)} -Path {ps_literal(EXPORT_FILE)}\n")


_EXPORT_HEADER = """\
# exo-oauth: read-only export of Exchange Online's service principals and their mailbox permissions.
# In PowerShell 7, Connect-ExchangeOnline first (any role that may run Get-ServicePrincipal and
# Get-MailboxPermission, e.g. View-Only Organization Management), then run this file; it changes nothing.
# A customer's tenant managed through GDAP or CSP: Connect-ExchangeOnline -DelegatedOrganization
# <customer>.onmicrosoft.com first. Progress shows per mailbox.
"""


def _guid(entry: Mapping[str, Any], key: str, where: str) -> str:
    value = _text(entry, key, where)
    if not is_guid(value):
        raise UsageError(f"{where}.{key}: {value!r} is not a GUID; allowed: the JSON the export script writes")
    return value.lower()


def _mailbox(entry: Mapping[str, Any], where: str) -> str:
    value = _text(entry, "mailbox", where)
    try:
        return normalized_mailbox(value)
    except EmailNotValidError as error:
        raise UsageError(f"{where}.mailbox: {value!r} is not a mailbox address ({error}); allowed: the primary SMTP "
                         "address the export script writes") from None


def _text(entry: Mapping[str, Any], key: str, where: str) -> str:
    value = entry.get(key)
    if not isinstance(value, str):
        raise UsageError(f"{where}.{key}: missing or not text; allowed: the JSON the export script "
                         "(`exo-oauth audit --export-script DIR`) writes")
    return value.strip()


def load_export(path: Path) -> ExchangeExport:
    """Read the export script's JSON; raise UsageError naming the file and the key path on bad input."""
    source = f"--exchange-export {path}"
    data = read_json(path, source, "the JSON the export script writes, as UTF-8 or UTF-16", max_items=MAX_EXPORT_ITEMS)
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise UsageError(f"{source}: not an exo-oauth Exchange export (format {FORMAT}); allowed: the JSON the "
                         "export script writes, as UTF-8 or UTF-16")
    principals = []
    for i, entry in enumerate(_entries(data, "servicePrincipals", source)):
        where = f"{source}: servicePrincipals[{i}]"
        principals.append(ExchangePrincipal(_guid(entry, "appId", where), _guid(entry, "objectId", where),
                                            _text(entry, "displayName", where)))
    permissions = []
    for i, entry in enumerate(_entries(data, "mailboxPermissions", source)):
        where = f"{source}: mailboxPermissions[{i}]"
        rights = entry.get("rights")
        if not isinstance(rights, list) or not all(isinstance(r, str) for r in rights):
            raise UsageError(f"{where}.rights: not a list of text; allowed: e.g. [\"FullAccess\"]")
        permissions.append(MailboxPermission(_mailbox(entry, where),
                                             _guid(entry, "principalObjectId", where),
                                             tuple(r.strip() for r in rights)))
    return ExchangeExport(source, tuple(principals), tuple(permissions))


def _entries(data: Mapping[str, Any], key: str, source: str) -> list[Mapping[str, Any]]:
    value = data.get(key) or []
    if isinstance(value, Mapping):  # ConvertTo-Json writes a one-element array as the element itself
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
        raise UsageError(f"{source}: {key}: not a list of objects; allowed: the JSON the export script writes")
    return value
