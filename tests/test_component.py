"""The Pulumi program on the SDK's mock monitor: exactly the Entra objects Microsoft's procedure creates."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pulumi
import pytest

from components.first_party import lookup_first_party_apis
from components.mail_app import MailOAuthApp
from components.pulumi_config import app_args
from exo_domain.exchange_module import MODULE_NAME, module_text
from exo_domain.permissions import APP_ONLY_ROLES, DELEGATED_SCOPES
from exo_oauth.fleet.project import LoadedStack
from exo_oauth.plan.mocks import STANDIN_SECRET, PlanMocks
from exo_oauth.plan.offline import StackPlan, plan_stack
from exo_oauth.util.microsoft_ids import PUBLISHED_APP_IDS
from tests.certificates import make_certificate_pem
from tests.stack_factory import REPO, app, loaded, raw_config

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
T = {
    "app": "azuread:index/application:Application",
    "sp": "azuread:index/servicePrincipal:ServicePrincipal",
    "role": "azuread:index/appRoleAssignment:AppRoleAssignment",
    "grant": "azuread:index/servicePrincipalDelegatedPermissionGrant:ServicePrincipalDelegatedPermissionGrant",
    "password": "azuread:index/applicationPassword:ApplicationPassword",
    "cert": "azuread:index/applicationCertificate:ApplicationCertificate",
    "federated": "azuread:index/applicationFederatedIdentityCredential:ApplicationFederatedIdentityCredential",
    "rotation": "time:index/rotating:Rotating",
    "static": "time:index/static:Static",
    "component": "exo-oauth:index:MailOAuthApp",
}
SUBSETS = [c for n in (1, 2, 3) for c in itertools.combinations(("imap", "pop", "smtp"), n)]


class FreshTenantMocks(PlanMocks):
    """A tenant whose first-party service principals publish random permission ids, unknown to the code."""

    def __init__(self, stack: str, now: datetime) -> None:
        super().__init__(stack, now)
        self.ids: dict[str, dict[str, str]] = {}

    def _first_party_principal(self, client_id: str) -> dict[str, Any]:
        answer = super()._first_party_principal(client_id)
        for table in ("appRoleIds", "oauth2PermissionScopeIds"):
            answer[table] = {name: str(uuid.uuid4()) for name in answer[table]}
            self.ids.setdefault(client_id, {}).update(answer[table])
        answer["objectId"] = str(uuid.uuid4())
        self.ids[client_id]["objectId"] = answer["objectId"]
        return answer


def run(stack: LoadedStack, mocks: PlanMocks | None = None) -> StackPlan:
    """Plan `stack` with this repo's program at a fixed clock."""
    return plan_stack(REPO, stack, NOW, mocks)


def by_name(plan: StackPlan) -> dict[str, dict[str, Any]]:
    """Index a plan's resources by name."""
    return {r["name"]: r for r in plan.resources}


@pytest.mark.parametrize("protocols", SUBSETS, ids=["+".join(s) for s in SUBSETS])
@pytest.mark.parametrize("flow", ["app-only", "delegated"])
def test_resource_set_is_exactly_what_the_flow_and_protocols_need(flow: str, protocols: tuple[str, ...]) -> None:
    """Each flow and protocol subset registers exactly the app, SP, consent objects and secret it needs."""
    plan = run(loaded(raw_config(app(flow, protocols, name="mail"))))
    got = {(r["type"], r["name"]) for r in plan.resources}
    expected = {(T["component"], "mail"), (T["app"], "mail-app"), (T["sp"], "mail-sp"), (T["static"], "mail-schedule")}
    if flow == "app-only":
        expected |= {(T["role"], f"mail-role-{p}") for p in protocols}
    else:
        expected |= {(T["grant"], "mail-grant"), (T["grant"], "mail-grant-exchange")}
    secrets = {name for kind, name in got if kind == T["password"]}
    assert got - {(T["password"], n) for n in secrets} == expected
    assert "mail-secret-a" in secrets or "mail-secret-b" in secrets
    assert secrets <= {"mail-secret-a", "mail-secret-b"}


def test_app_only_role_ids_come_from_the_tenant_lookup() -> None:
    """The role IDs sent to Entra are the ones Exchange Online's service principal publishes, not constants."""
    mocks = FreshTenantMocks("test", NOW)
    resources = by_name(run(loaded(raw_config(app("app-only", name="mail"))), mocks))
    exo = mocks.ids[PUBLISHED_APP_IDS["Office365ExchangeOnline"]]
    names = list(APP_ONLY_ROLES.values())
    access = resources["mail-app"]["inputs"]["requiredResourceAccesses"]
    assert [a["resourceAppId"] for a in access] == [PUBLISHED_APP_IDS["Office365ExchangeOnline"]]
    assert [(r["id"], r["type"]) for r in access[0]["resourceAccesses"]] == [(exo[n], "Role") for n in names]
    assigned = [resources[f"mail-role-{p}"]["inputs"] for p in ("imap", "pop", "smtp")]
    assert [a["appRoleId"] for a in assigned] == [exo[n] for n in names]
    assert {a["resourceObjectId"] for a in assigned} == {exo["objectId"]}


def test_delegated_mail_scopes_are_exchange_onlines_and_sign_in_scopes_graphs() -> None:
    """A delegated app requests and is granted the mail scopes on Exchange Online, the sign-in scopes on Graph.

    Clients ask for outlook.office.com/<scope>, whose resource is Exchange Online; a grant on Graph's scopes of the
    same names would not cover it (docs/decisions/0030).
    """
    mocks = FreshTenantMocks("test", NOW)
    resources = by_name(run(loaded(raw_config(app("delegated", name="mail"))), mocks))
    exo_app, graph_app = PUBLISHED_APP_IDS["Office365ExchangeOnline"], PUBLISHED_APP_IDS["MicrosoftGraph"]
    exo, graph = mocks.ids[exo_app], mocks.ids[graph_app]
    mail, sign_in = list(DELEGATED_SCOPES.values()), ["offline_access", "openid", "profile"]
    access = resources["mail-app"]["inputs"]["requiredResourceAccesses"]
    assert [(a["resourceAppId"], [(r["id"], r["type"]) for r in a["resourceAccesses"]]) for a in access] == [
        (exo_app, [(exo[n], "Scope") for n in mail]), (graph_app, [(graph[n], "Scope") for n in sign_in])]
    exchange_grant, graph_grant = resources["mail-grant-exchange"]["inputs"], resources["mail-grant"]["inputs"]
    assert (exchange_grant["claimValues"], exchange_grant["resourceServicePrincipalObjectId"]) == (
        mail, exo["objectId"])
    assert (graph_grant["claimValues"], graph_grant["resourceServicePrincipalObjectId"]) == (
        sign_in, graph["objectId"])
    assert "userObjectId" not in exchange_grant
    assert "userObjectId" not in graph_grant


def test_consent_is_wired_to_the_apps_own_service_principal_and_credential_to_the_app() -> None:
    """Grants name our SP's object id as principal, the SP uses the app's client id, the secret the app's id."""
    plan = run(loaded(raw_config(app("app-only", name="a"), app("delegated", name="d"))))
    r = by_name(plan)
    for name in ("a", "d"):
        application, principal = r[f"{name}-app"], r[f"{name}-sp"]
        assert principal["inputs"]["clientId"] == plan.outputs["apps"][name]["clientId"]
        secrets = [x for n, x in r.items() if n.startswith(f"{name}-secret-")]
        assert {x["inputs"]["applicationId"] for x in secrets} == {application["id"]}
        assert application["id"] == f"/applications/{plan.outputs['apps'][name]['applicationObjectId']}"
        assert principal["id"] == plan.outputs["apps"][name]["servicePrincipalObjectId"]
    assert {r[f"a-role-{p}"]["inputs"]["principalObjectId"] for p in ("imap", "pop", "smtp")} == {r["a-sp"]["id"]}
    assert {r[f"d-{g}"]["inputs"]["servicePrincipalObjectId"] for g in ("grant", "grant-exchange")} == {r["d-sp"]["id"]}
    assert r["a-sp"]["id"] != plan.outputs["apps"]["a"]["applicationObjectId"]


def test_service_principal_is_an_enterprise_app_hidden_from_users() -> None:
    """The SP shows under Enterprise applications (where admins copy its object id) and not in users' My Apps."""
    r = by_name(run(loaded(raw_config(app(name="a")))))
    assert r["a-sp"]["inputs"]["featureTags"] == [{"enterprise": True, "hide": True}]
    assert r["a-sp"]["inputs"]["owners"] == r["a-app"]["inputs"]["owners"]


def test_first_party_apis_are_looked_up_once_per_stack_not_per_app() -> None:
    """Three apps of both flows cause one published-ids lookup and one service principal lookup per API."""
    plan = run(loaded(raw_config(app("app-only", name="a"), app("app-only", name="b"), app("delegated", name="c"))))
    tokens = [i["token"].rsplit(":", 1)[-1] for i in plan.invokes]
    assert sorted(tokens) == ["getApplicationPublishedAppIds", "getServicePrincipal", "getServicePrincipal"]
    assert sorted(i["args"]["clientId"] for i in plan.invokes if "clientId" in i["args"]) == sorted(
        PUBLISHED_APP_IDS.values())


def test_look_ups_are_listed_in_one_order_whichever_finished_first() -> None:
    """The look-ups run on the SDK's threads; the plan lists them by token, then by args, every time."""
    stack = loaded(raw_config(app("app-only", name="a"), app("delegated", name="c")))
    for _ in range(3):
        listed = [(i["token"].rsplit(":", 1)[-1], i["args"].get("clientId")) for i in run(stack).invokes]
        assert listed == [("getApplicationPublishedAppIds", None),
                          ("getServicePrincipal", PUBLISHED_APP_IDS["Office365ExchangeOnline"]),
                          ("getServicePrincipal", PUBLISHED_APP_IDS["MicrosoftGraph"])]


def test_app_is_single_tenant_with_only_mail_permissions() -> None:
    """The app registration is AzureADMyOrg and requests nothing beyond the chosen protocols."""
    plan = run(loaded(raw_config(app("app-only", ("smtp",), name="s"))))
    inputs = by_name(plan)["s-app"]["inputs"]
    assert inputs["signInAudience"] == "AzureADMyOrg"
    assert [a["id"] for a in inputs["requiredResourceAccesses"][0]["resourceAccesses"]] == [
        "7146a1f0-8703-45b3-9eae-527a64c00995"]
    assert inputs["fallbackPublicClientEnabled"] is False


def test_secret_value_is_a_secret_in_outputs_and_never_in_the_plan() -> None:
    """The password value is only in the secret clientSecrets output; the plan shows [secret] and no value."""
    plan = run(loaded(raw_config(app(name="s"))))
    assert plan.outputs["clientSecrets"] == "[secret]"
    assert STANDIN_SECRET not in repr(plan.to_json())
    credential = plan.outputs["apps"]["s"]["credential"]
    assert credential["type"] == "secret"
    newest = by_name(plan)[credential["secrets"][0]["name"]]
    assert credential["endDate"] == credential["secrets"][0]["endDate"] == newest["inputs"]["endDate"]
    assert credential["keyId"] == credential["secrets"][0]["keyId"] == newest["id"]


@pytest.mark.parametrize("flow", ["app-only", "delegated"])
def test_component_client_secret_output_is_marked_secret(flow: str) -> None:
    """MailOAuthApp.client_secret is a Pulumi secret, whatever the credential type."""
    secrets: list[bool] = []
    pulumi.runtime.set_mocks(PlanMocks("t", NOW), project="exo-oauth", stack="t", preview=False)
    stack = loaded(raw_config(app(flow, name="x")))

    @pulumi.runtime.test
    def check() -> pulumi.Output[Any]:
        apis = lookup_first_party_apis(["Office365ExchangeOnline", "MicrosoftGraph"])
        component = MailOAuthApp("x", app_args(stack.config.apps[0], stack.config), first_party=apis)

        async def record() -> None:
            secrets.append(await component.client_secret.is_secret())

        return pulumi.Output.from_input(record())

    check()
    assert secrets == [True]


def test_certificate_credential_registers_a_pem_certificate_and_its_expiry() -> None:
    """A certificate credential registers an AsymmetricX509Cert in PEM, masked in the plan, ending at lifetimeDays."""
    not_after = (NOW + timedelta(days=400)).replace(microsecond=0)
    raw = raw_config(app(name="c", credential={"type": "certificate", "publicKeyPem": make_certificate_pem(not_after),
                                               "lifetimeDays": 90}))
    plan = run(loaded(raw))
    cert = by_name(plan)["c-cert"]["inputs"]
    assert (cert["type"], cert["encoding"]) == ("AsymmetricX509Cert", "pem")
    assert cert["value"] == "[secret]"  # the provider treats every certificate value as a secret input
    assert cert["endDate"] == "2027-02-26T12:00:00Z"
    assert "c-secret" not in by_name(plan)
    assert plan.outputs["apps"]["c"]["credential"]["endDate"] == "2027-02-26T12:00:00Z"


def test_certificate_end_date_never_passes_the_certificates_own_expiry() -> None:
    """A certificate that expires before lifetimeDays is registered until its own expiry, not beyond."""
    not_after = (NOW + timedelta(days=20)).replace(microsecond=0)
    raw = raw_config(app(name="c", credential={"type": "certificate", "publicKeyPem": make_certificate_pem(not_after)}))
    assert by_name(run(loaded(raw)))["c-cert"]["inputs"]["endDate"] == "2026-12-18T12:00:00Z"


def test_federated_credential_registers_issuer_subject_and_default_audience() -> None:
    """A federated credential trusts exactly the configured issuer and subject, for the Entra token exchange."""
    credential = {"type": "federated", "issuer": "https://token.actions.githubusercontent.com",
                  "subject": "repo:contoso/mail:environment:prod"}
    plan = run(loaded(raw_config(app(name="f", credential=credential))))
    inputs = by_name(plan)["f-federated"]["inputs"]
    assert (inputs["issuer"], inputs["subject"]) == (credential["issuer"], credential["subject"])
    assert inputs["audiences"] == ["api://AzureADTokenExchange"]


def test_public_client_app_has_no_credential_and_allows_public_flows() -> None:
    """A delegated public client with credential none gets no secret and fallbackPublicClientEnabled."""
    raw = raw_config(app("delegated", name="p", publicClient=True, credential={"type": "none"},
                         redirectUris=["https://localhost/"]))
    plan = run(loaded(raw))
    r = by_name(plan)
    assert {x["name"] for x in plan.resources} == {"p", "p-app", "p-sp", "p-grant", "p-grant-exchange"}
    assert r["p-app"]["inputs"]["fallbackPublicClientEnabled"] is True
    assert r["p-app"]["inputs"]["publicClient"] == {"redirectUris": ["https://localhost/"]}
    assert plan.outputs["apps"]["p"]["credential"] == {"type": "none", "keyId": None, "endDate": None, "secrets": [],
                                                       "lifetimeDays": None, "rotateBeforeDays": None}


def test_every_app_output_is_always_set() -> None:
    """Every documented per-app output key is present for both flows, including empty mailboxes."""
    plan = run(loaded(raw_config(app("app-only", name="a"), app("delegated", name="d"))))
    keys = {"name", "displayName", "flow", "protocols", "tenantId", "cloud", "clientId", "applicationObjectId",
            "servicePrincipalObjectId", "permissions", "scopes", "adminConsentUrl", "endpoints", "mailboxes",
            "credential", "exchangeAccess", "signInMailboxes", "signInGroup"}
    assert {name: set(out) for name, out in plan.outputs["apps"].items()} == {"a": keys, "d": keys}
    assert plan.outputs["apps"]["d"]["mailboxes"] == []


def test_token_scopes_and_consent_url_match_microsofts_procedure() -> None:
    """App-only asks outlook.office365.com/.default; delegated asks outlook.office.com/<scope> plus offline_access."""
    raw = raw_config(app("app-only", ("imap",), name="a"),
                     app("delegated", ("pop", "smtp"), name="d", redirectUris=["https://mail.contoso.com/cb"]))
    apps = run(loaded(raw)).outputs["apps"]
    assert apps["a"]["scopes"] == ["https://outlook.office365.com/.default"]
    assert apps["d"]["scopes"] == ["https://outlook.office.com/POP.AccessAsUser.All",
                                   "https://outlook.office.com/SMTP.Send", "offline_access"]
    tenant = "11111111-2222-4333-8444-555555555555"
    assert apps["d"]["adminConsentUrl"] == (
        f"https://login.microsoftonline.com/{tenant}/v2.0/adminconsent?client_id={apps['d']['clientId']}"
        "&redirect_uri=https%3A%2F%2Fmail.contoso.com%2Fcb&scope=https%3A%2F%2Foutlook.office.com%2F.default")
    assert apps["a"]["endpoints"] == {"imap": {"host": "outlook.office365.com", "port": 993, "security": "tls"}}


def test_pulumi_up_binds_script_hooks_and_writes_scripts_but_preview_does_neither(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under `pulumi up` each app's SP carries the script hook and out/<stack>/ gets the scripts; a preview has none."""
    monkeypatch.chdir(tmp_path)
    stack = loaded(raw_config(app(name="a"), app("delegated", name="d")))
    preview = plan_stack(REPO, stack, NOW)
    assert preview.hooks == {}
    assert not (tmp_path / "out").exists()
    up = plan_stack(REPO, stack, NOW, preview=False)
    assert up.hooks == {"a-sp": ["exo-oauth-exchange-scripts-a"], "d-sp": ["exo-oauth-exchange-scripts-d"]}
    written = {p.name: p.read_text(encoding="utf-8") for p in (tmp_path / "out" / "test").iterdir()}
    assert written == {MODULE_NAME: module_text(),
                       **{f"exchange-{action}.ps1": text for action, text in up.outputs["exchange"].items()}}
    assert all(STANDIN_SECRET not in text for text in written.values())


def test_program_names_a_mistyped_key_not_a_missing_one() -> None:
    """`pulumi up` with `azuread:tenantID`: the program's one line says unknown key and the key it should be."""
    good = loaded(raw_config(app(name="a")))
    raw = {"azuread:tenantID" if k == "azuread:tenantId" else k: v for k, v in good.raw.items()}
    with pytest.raises(pulumi.RunError, match=r"azuread:tenantID: unknown key, did you mean azuread:tenantId\?"):
        run(LoadedStack(good.name, good.path, raw, good.config), PlanMocks("test", NOW))


def test_program_stops_on_bad_config_before_registering_anything() -> None:
    """Under `pulumi up` the program itself validates: bad config raises RunError naming file and key path."""
    good = loaded(raw_config(app(name="a")))
    bad_raw = raw_config(app(name="a", protocols=["imap4"]))
    mocks = PlanMocks("test", NOW)
    with pytest.raises(pulumi.RunError, match=r"stacks/Pulumi.test.yaml: exo-oauth:apps\[0\].protocols\[0\]"):
        run(LoadedStack(good.name, good.path, bad_raw, good.config), mocks)
    assert mocks.invokes == []
