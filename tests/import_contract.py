"""What the azuread provider's importers and `pulumi import --file` accept, ported from their own source.

These are the contract adopt's import file must meet; they are written from the code named below, not from our
reading of the documentation (docs/decisions/0082, 0120-0122).

- [TF] hashicorp/terraform-provider-azuread v3.9.0 at f0169e0: each resource's `Importer:`, which calls
  `stable.Validate<X>ID` (vendor/github.com/hashicorp/go-azure-sdk/microsoft-graph/common-types/stable/id_*.go,
  parsed by vendor/github.com/hashicorp/go-azure-helpers/resourcemanager/resourceids/parse.go `Parser.Parse`) or
  `parse.CertificateID` / `parse.FederatedIdentityCredentialID` (internal/services/applications/parse/credentials.go,
  over `ObjectSubResourceID` in parse/object.go).
- [PUL] pulumi/pulumi at 0354637: pkg/cmd/pulumi/operations/import.go `parseImportFile`, and
  sdk/go/common/resource/urn/urn.go `New` and `QualifiedType`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

USER = None
"""A user-specified segment of a Graph resource id (resourceids.UserSpecifiedSegment)."""
_GO_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
"""hashicorp/go-uuid ParseUUID: 36 characters, '-' at 8, 13, 18 and 23, the rest hex (either case)."""


def graph_id(value: str, segments: Sequence[str | None]) -> bool:
    """Return whether `Parser.Parse(value, false)` [TF] accepts `value` for these static and user segments.

    A port of its non-scope path: one leading '/' is trimmed, the rest split on '/'; each static segment must match
    exactly (case-sensitively), each user segment must be non-empty, and nothing may be left over.
    """
    if not value:
        return False
    uri = value.removeprefix("/")
    split = uri.split("/")
    if len(split) < len(segments):
        return False
    for segment, raw in zip(segments, split, strict=False):
        if not raw or (segment is not USER and raw != segment):
            return False
        uri = uri.removeprefix(raw).removeprefix("/")
    return uri == ""


def object_sub_resource_id(value: str, kind: str) -> bool:
    """Return whether `ObjectSubResourceID(value, kind)` [TF parse/object.go] accepts `value`."""
    parts = value.split("/")
    return len(parts) == 3 and bool(_GO_UUID.fullmatch(parts[0])) and parts[1] == kind and bool(
        _GO_UUID.fullmatch(parts[2]))


IMPORTERS: Mapping[str, Callable[[str], bool]] = {
    # id_application.go: /applications/{applicationId}
    "azuread:index/application:Application": lambda v: graph_id(v, ("applications", USER)),
    # id_serviceprincipal.go: /servicePrincipals/{servicePrincipalId}
    "azuread:index/servicePrincipal:ServicePrincipal": lambda v: graph_id(v, ("servicePrincipals", USER)),
    # id_serviceprincipalidapproleassignedto.go
    "azuread:index/appRoleAssignment:AppRoleAssignment":
        lambda v: graph_id(v, ("servicePrincipals", USER, "appRoleAssignedTo", USER)),
    # id_oauth2permissiongrant.go
    "azuread:index/servicePrincipalDelegatedPermissionGrant:ServicePrincipalDelegatedPermissionGrant":
        lambda v: graph_id(v, ("oauth2PermissionGrants", USER)),
    # parse/credentials.go CertificateID, FederatedIdentityCredentialID
    "azuread:index/applicationCertificate:ApplicationCertificate":
        lambda v: object_sub_resource_id(v, "certificate"),
    "azuread:index/applicationFederatedIdentityCredential:ApplicationFederatedIdentityCredential":
        lambda v: object_sub_resource_id(v, "federatedIdentityCredential"),
}
"""Every importable type the program declares, with its importer's check. ApplicationPassword is not importable."""


class ImportFileError(ValueError):
    """What `pulumi import` would abort with."""


def new_urn(stack: str, project: str, parent_type: str, base_type: str, name: str) -> str:
    """Port of urn.New [PUL]: the parent's qualified type joins the type with '$', except the root stack's."""
    typ = f"{parent_type}${base_type}" if parent_type and parent_type != "pulumi:pulumi:Stack" else base_type
    return f"urn:pulumi:{stack}::{project}::{typ}::{name}"


def _qualified_type(urn: str) -> str:
    return urn.split("::")[2]


def import_urns(document: Mapping[str, Any], stack: str, project: str) -> dict[str, str]:
    """Return each entry's URN as `parseImportFile` [PUL] builds it, or raise ImportFileError with its message.

    Ported rules: `name` and `logicalName` default to each other; every entry has a type and a name; an entry has an
    `id` unless it is a component, and a component none; a parent named by two entries is ambiguous; a parent must
    be an entry or a `nameTable` key; two entries with one URN are ambiguous.
    """
    table: Mapping[str, str] = document.get("nameTable") or {}
    specs = _specs(document["resources"])
    errors: list[str] = []
    names = [s["name"] for s in specs]
    ambiguous = {n for n in names if names.count(n) > 1}
    urns: dict[str, str] = dict(table)
    taken = set(table.values())
    pending = list(specs)
    while pending:
        progressed = False
        for spec in list(pending):
            parent_type = ""
            parent = spec.get("parent")
            if parent:
                if parent in ambiguous:
                    errors.append(f"resource '{spec['name']}' has an ambiguous parent")
                if parent not in table and parent not in names:
                    errors.append(f"the parent '{parent}' for resource '{spec['name']}' has no entry in 'nameTable'")
                elif parent not in urns:
                    continue
                else:
                    parent_type = _qualified_type(urns[parent])
            urn = new_urn(stack, project, parent_type, spec["type"], spec["logicalName"])
            if urn in taken:
                errors.append(f"resource '{spec['name']}' has an ambiguous URN, set name (or logical name) to be "
                              "unique")
            urns[spec["name"]] = urn
            taken.add(urn)
            pending.remove(spec)
            progressed = True
        if errors:
            raise ImportFileError("; ".join(errors))
        if not progressed:
            raise ImportFileError(f"parents never resolve: {[s['name'] for s in pending]}")
    return {s["name"]: urns[s["name"]] for s in specs}


def _specs(resources: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Return the entries with `name` and `logicalName` defaulted to each other, or raise on a missing field."""
    specs = [dict(e) for e in resources]
    errors: list[str] = []
    for spec in specs:
        spec["logicalName"] = spec.get("logicalName") or spec.get("name", "")
        spec["name"] = spec.get("name") or spec["logicalName"]
        described = f"resource '{spec['name']}'"
        if not spec.get("type"):
            errors.append(f"{described} has no type")
        if not spec["name"]:
            errors.append(f"{described} has no name")
        if not spec.get("component") and not spec.get("id"):
            errors.append(f"{described} has no ID")
        elif spec.get("component") and spec.get("id"):
            errors.append(f"{described} has an ID, but is marked as a component")
    if errors:
        raise ImportFileError("; ".join(errors))
    return specs
