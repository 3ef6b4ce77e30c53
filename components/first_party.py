"""Look up Microsoft's first-party APIs (Microsoft Graph, Office 365 Exchange Online) in the tenant, once per stack.

Their service principals are read with data sources, never adopted as resources: `ServicePrincipal(use_existing=True)`
would try to delete Microsoft's own service principal on `pulumi destroy`.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import pulumi
import pulumi_azuread as azuread


@dataclass(frozen=True)
class FirstPartyApi:
    """One first-party API as the tenant publishes it."""

    key: str
    """The API's key in getApplicationPublishedAppIds, e.g. `Office365ExchangeOnline`."""
    client_id: pulumi.Output[str]
    """The API's application (client) id, the same in every tenant."""
    object_id: pulumi.Output[str]
    """The object id of the API's service principal in this tenant."""
    app_role_ids: pulumi.Output[Mapping[str, str]]
    """App role (application permission) ids by value."""
    scope_ids: pulumi.Output[Mapping[str, str]]
    """OAuth2 permission scope (delegated permission) ids by value."""

    def permission_id(self, kind: str, name: str) -> pulumi.Output[str]:
        """Return the id of the `Role` or `Scope` called `name`; fail the deployment naming it if the API lacks it."""
        table = self.app_role_ids if kind == "Role" else self.scope_ids

        def pick(ids: Mapping[str, str]) -> str:
            if name not in ids:
                raise pulumi.RunError(f"{self.key} publishes no {kind.lower()} {name!r} in this tenant")
            return ids[name]

        return table.apply(pick)


def lookup_first_party_apis(
    keys: Iterable[str], opts: pulumi.InvokeOutputOptions | None = None
) -> dict[str, FirstPartyApi]:
    """Look up each API named by `keys` (MICROSOFT_GRAPH, EXCHANGE_ONLINE); one published-ids call in all."""
    wanted = sorted(set(keys))
    if not wanted:
        return {}
    published = azuread.get_application_published_app_ids_output(opts=opts)
    apis = {}
    for key in wanted:
        client_id = published.result.apply(functools.partial(_published_id, key=key))
        principal = azuread.get_service_principal_output(client_id=client_id, opts=opts)
        apis[key] = FirstPartyApi(
            key=key,
            client_id=principal.client_id,
            object_id=principal.object_id,
            app_role_ids=principal.app_role_ids,
            scope_ids=principal.oauth2_permission_scope_ids,
        )
    return apis


def _published_id(ids: Mapping[str, str], key: str) -> str:
    if key not in ids:
        raise pulumi.RunError(f"azuread's published app ids have no {key!r}")
    return ids[key]
