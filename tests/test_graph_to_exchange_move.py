"""A delegated stack deployed with its mail scopes on Microsoft Graph moves to Exchange Online in one `pulumi up`.

The base is what the program before docs/decisions/0030 declared (one grant, `<name>-grant`, on Graph holding the
mail scopes and offline_access); it is rebuilt here from the new plan, since that program is gone.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

from exo_oauth.plan import render as plan_render
from exo_oauth.plan.offline import plan_stack
from exo_oauth.review import access_diff
from exo_oauth.util.microsoft_ids import PUBLISHED_APP_IDS, SCOPES
from tests.stack_factory import REPO, app, loaded, raw_config

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
GRAPH = "MicrosoftGraph"


def new_plan() -> dict[str, Any]:
    """Plan a delegated IMAP + SMTP public client with this repo's program."""
    raw = raw_config(app("delegated", ("imap", "smtp"), name="clients", publicClient=True, credential={"type": "none"}))
    return plan_stack(REPO, loaded(raw, "fabrikam"), NOW).to_json()


def old_outputs(new: dict[str, Any]) -> dict[str, Any]:
    """Return the `apps` output of the earlier program: Graph's IMAP.AccessAsUser.All, SMTP.Send, offline_access."""
    apps = copy.deepcopy(new["outputs"]["apps"])
    apps["clients"]["permissions"] = [{"api": GRAPH, "name": n, "kind": "Scope", "id": SCOPES[GRAPH][n]}
                                      for n in ("IMAP.AccessAsUser.All", "SMTP.Send", "offline_access")]
    return dict(apps)


def test_access_diff_of_the_move_names_each_scope_with_its_api() -> None:
    """The diff shows the mail scopes leaving Graph and arriving on Exchange Online, and the new sign-in scopes."""
    new = new_plan()
    entry = access_diff.stack_entry("fabrikam", old_outputs(new), new["outputs"]["apps"])
    assert access_diff.render_text("main", [entry]) == (
        "access diff against main\n"
        "fabrikam (changed)\n"
        "  permission-added         clients: Microsoft Graph openid\n"
        "  permission-added         clients: Microsoft Graph profile\n"
        "  permission-added         clients: Office 365 Exchange Online IMAP.AccessAsUser.All\n"
        "  permission-added         clients: Office 365 Exchange Online SMTP.Send\n"
        "  permission-removed       clients: Microsoft Graph IMAP.AccessAsUser.All\n"
        "  permission-removed       clients: Microsoft Graph SMTP.Send\n"
    )


def test_graph_grant_keeps_its_name_and_resource_so_pulumi_up_updates_it_in_place() -> None:
    """`<name>-grant` stays on Graph's service principal (a replace-forcing input) and only its claims change.

    Entra holds one delegated grant per client, resource and consent type, so a replaced Graph grant would be
    created while the old one still exists and fail; an in-place claims update plus a new Exchange grant cannot.
    """
    new = new_plan()
    graph_sp = next(i["result"]["objectId"] for i in new["invokes"]
                    if i["result"].get("clientId") == PUBLISHED_APP_IDS[GRAPH])
    grants = {r["name"]: r["inputs"] for r in new["resources"] if r["type"].endswith("DelegatedPermissionGrant")}
    assert set(grants) == {"clients-grant", "clients-grant-exchange"}
    assert grants["clients-grant"]["resourceServicePrincipalObjectId"] == graph_sp
    assert grants["clients-grant"]["claimValues"] == ["offline_access", "openid", "profile"]
    assert grants["clients-grant-exchange"]["resourceServicePrincipalObjectId"] != graph_sp
    assert grants["clients-grant-exchange"]["claimValues"] == ["IMAP.AccessAsUser.All", "SMTP.Send"]


def test_plan_shows_both_grants_and_the_exchange_scopes_by_name_and_looked_up_id() -> None:
    """The text plan names each grant's API and lists the Exchange Online scopes with the IDs the tenant gave."""
    new = new_plan() | {"policy": []}
    text = plan_render.render_text([new])
    assert "clients-grant  claims offline_access openid profile on Microsoft Graph" in text
    assert "clients-grant-exchange  claims IMAP.AccessAsUser.All SMTP.Send on Office 365 Exchange Online" in text
    exo = SCOPES["Office365ExchangeOnline"]
    assert (f"permissions: Office 365 Exchange Online: IMAP.AccessAsUser.All ({exo['IMAP.AccessAsUser.All']}), "
            f"SMTP.Send ({exo['SMTP.Send']}); Microsoft Graph: offline_access") in text
    assert "consent: delegated grants for all users on Office 365 Exchange Online and Microsoft Graph" in text
