"""verify's diagnosis: Exchange Online's own reply texts (from scripted servers), token claims, AADSTS codes, report."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import replace
from typing import Any

import jwt
import pytest

from exo_domain.permissions import token_scopes
from exo_oauth.signin.credentials import ClientCredential
from exo_oauth.signin.secret import Secret
from exo_oauth.signin.token import TokenFailure, TokenOutcome
from exo_oauth.verify.checks import CheckResult, Login, run_checks, tls_context
from exo_oauth.verify.clouds import CLOUDS, Endpoint
from exo_oauth.verify.diagnosis import CATALOGUE, Diagnosis, diagnose, explain
from exo_oauth.verify.inputs import Target
from exo_oauth.verify.report import exit_status, render_json, render_table
from standins.mailservers.pki import ServerTLS
from standins.mailservers.scripted import scripted_server

TENANT = "11111111-2222-4333-8444-555555555555"
CLIENT = "22222222-3333-4444-8555-666666666666"
SP = "33333333-4444-4555-8666-777777777777"
MAILBOX = "scanner@contoso.example"
ROLES = ["IMAP.AccessAsApp", "POP.AccessAsApp", "SMTP.SendAsApp"]
IMAP_CAPABILITY = ["* CAPABILITY IMAP4 IMAP4rev1 AUTH=PLAIN AUTH=XOAUTH2 SASL-IR UIDPLUS ID UNSELECT CHILDREN IDLE",
                   "{tag} OK CAPABILITY completed."]


def target(**changes: Any) -> Target:
    """Return an app-only Target for the global cloud, with `changes` applied."""
    cloud = CLOUDS["global"]
    base = Target(description="test app", app="scanners", tenant=TENANT, client_id=CLIENT, flow="app-only",
                  protocols=("imap", "pop", "smtp"), mailbox=MAILBOX, notes=(),
                  scopes=token_scopes("app-only", (), cloud.name),
                  cloud="global", authority=f"{cloud.login_host}/{TENANT}", custom_authority=False,
                  endpoints=cloud.endpoints, audiences=cloud.audiences(), credential=None, ca_file=None, timeout=5.0,
                  send_test_to=None, token_cache=None, service_principal_id=SP)
    return replace(base, **changes)


def token(**claims: Any) -> Secret:
    """Return an unsigned-for-real JWT with Entra-like app-only claims plus `claims` (None removes a claim)."""
    now = int(time.time())
    values: dict[str, Any] = {"aud": "https://outlook.office365.com", "iss": f"https://sts.windows.net/{TENANT}/",
                              "tid": TENANT, "appid": CLIENT, "roles": ROLES, "iat": now, "nbf": now,
                              "exp": now + 3600, "sub": SP, "oid": SP}
    values.update(claims)
    return Secret(jwt.encode({k: v for k, v in values.items() if v is not None}, "test-key-of-32-bytes-or-longer!!",
                             algorithm="HS256"))


def ok_token(**claims: Any) -> TokenOutcome:
    """Return a successful token outcome."""
    return TokenOutcome(token(**claims), False, None)


def failed(protocol: str, reply: str, stage: str = "auth", network: bool = False) -> CheckResult:
    """Return a failed check of `protocol` against the global cloud's endpoint."""
    return CheckResult(protocol, CLOUDS["global"].endpoints[protocol], False, stage, reply, network=network)


def passed(protocol: str) -> CheckResult:
    """Return a passed check of `protocol`."""
    return CheckResult(protocol, CLOUDS["global"].endpoints[protocol], True, "done", "OK", "logged in")


def codes(diagnosis: Diagnosis) -> dict[str, list[str]]:
    """Return finding codes per row."""
    return {row.name: [f.code for f in row.findings] for row in diagnosis.rows}


@pytest.fixture
def exchange(server_tls: ServerTLS) -> Iterator[dict[str, Endpoint]]:
    """Scripted servers with Exchange's replies: IMAP "not connected", POP auth failure, SMTP 5.7.139."""
    imap = {"CAPABILITY": IMAP_CAPABILITY, "AUTHENTICATE": ["+ "], "": ["{tag} OK AUTHENTICATE completed."],
            "EXAMINE": ["{tag} BAD User is authenticated but not connected."],
            "LOGOUT": ["* BYE Microsoft Exchange Server IMAP4 server signing off.", "{tag} OK LOGOUT completed."]}
    pop = {"AUTH": ["+ "], "": ["-ERR Authentication failure: unknown user name or bad password."],
           "QUIT": ["+OK Microsoft Exchange Server POP3 server signing off."]}
    smtp = {"EHLO": ["250-XX.outlook.office365.com Hello [127.0.0.1]", "250-SIZE 157286400", "250-STARTTLS",
                     "250 AUTH LOGIN XOAUTH2"],
            "STARTTLS": ["220 2.0.0 SMTP server ready"], "AUTH": ["334 "],
            "": ["535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant. "
                 "Visit https://aka.ms/smtp_auth_disabled for more information."],
            "QUIT": ["221 2.0.0 Service closing transmission channel"]}
    with ExitStack() as stack:
        ports = {
            "imap": stack.enter_context(scripted_server(server_tls, "* OK The Microsoft Exchange IMAP4 service is "
                                                        "ready.", imap, implicit_tls=True, tagged=True)),
            "pop": stack.enter_context(scripted_server(server_tls, "+OK The Microsoft Exchange POP3 service is "
                                                       "ready.", pop, implicit_tls=True)),
            "smtp": stack.enter_context(scripted_server(server_tls, "220 XX.outlook.office365.com Microsoft ESMTP "
                                                        "MAIL Service ready", smtp, implicit_tls=False)),
        }
        yield {p: Endpoint("127.0.0.1", port) for p, port in ports.items()}


def test_exchange_replies_through_the_real_checks_get_their_exchange_specific_causes(
        exchange: dict[str, Endpoint], server_tls: ServerTLS) -> None:
    """"Authenticated but not connected" fails IMAP as a mailbox permission problem; 5.7.139 is SMTP AUTH disabled."""
    issued = token()
    login = Login(MAILBOX, lambda: issued, tls_context(server_tls.ca_file), timeout=5)
    checks = run_checks(exchange, login)
    imap = checks[0]
    assert (imap.ok, imap.stage) == (False, "mailbox")
    result = diagnose(target(endpoints=exchange), ok_token(), checks, MAILBOX)
    assert codes(result) == {"token": [], "imap": ["not-connected"], "pop": ["protocol-disabled"],
                             "smtp": ["smtp-auth-disabled"]}
    assert exit_status(result) == 1
    imap_fix = result.rows[1].findings[0].fix
    assert f"Add-MailboxPermission -Identity {MAILBOX} -User {SP} -AccessRights FullAccess" in imap_fix


def test_good_token_refused_everywhere_points_at_the_service_principal_object_id() -> None:
    """Exchange's generic refusals on all three protocols with a right token name New-ServicePrincipal's object ID."""
    checks = [failed("imap", "AUTHENTICATE failed."),
              failed("pop", "-ERR Authentication failure: unknown user name or bad password."),
              failed("smtp", "535 5.7.3 Authentication unsuccessful")]
    result = diagnose(target(), ok_token(), checks, MAILBOX)
    assert codes(result)["imap"] == codes(result)["pop"] == codes(result)["smtp"] == ["auth-rejected"]
    assert f"New-ServicePrincipal -AppId {CLIENT} -ObjectId {SP}" in result.rows[1].findings[0].fix


def test_only_smtp_refused_with_5_7_3_suggests_smtp_auth_and_mailbox_permission() -> None:
    """SMTP 535 5.7.3 while IMAP and POP work is SMTP-specific: SMTP AUTH switch first, then mailbox permission."""
    result = diagnose(target(), ok_token(), [passed("imap"), passed("pop"),
                                             failed("smtp", "535 5.7.3 Authentication unsuccessful")], MAILBOX)
    finding = result.rows[3].findings[0]
    assert finding.code == "smtp-rejected"
    assert finding.fix.index("SmtpClientAuthenticationDisabled") < finding.fix.index("Add-MailboxPermission")


@pytest.mark.parametrize(("claims", "code"), [
    ({"aud": "https://graph.microsoft.com"}, "wrong-audience"),
    ({"tid": "99999999-8888-4777-8666-555555555555"}, "wrong-tenant"),
    ({"exp": int(time.time()) - 60, "iat": int(time.time()) - 3700}, "token-expired"),
    ({"roles": None}, "no-roles"),
    ({"roles": ["full_access_as_app", "Mail.Read"]}, "wrong-role"),
])
def test_claim_problems_explain_refused_logins(claims: dict[str, Any], code: str) -> None:
    """The token's audience, tenant, expiry and roles explain why Exchange refused it."""
    checks = [failed(p, "AUTHENTICATE failed.") for p in ("imap", "pop", "smtp")]
    result = diagnose(target(), ok_token(**claims), checks, MAILBOX)
    assert codes(result) == {"token": [], "imap": [code], "pop": [code], "smtp": [code]}


def test_older_exchange_audiences_are_accepted() -> None:
    """Tokens for https://ps.outlook.com or Exchange's app ID are Exchange tokens, not a wrong audience."""
    for audience in ("https://ps.outlook.com", "00000002-0000-0ff1-ce00-000000000000", "https://outlook.office.com/"):
        result = diagnose(target(), ok_token(aud=audience), [passed("imap")], MAILBOX)
        assert result.rows[0].warnings == ()


def test_a_tenant_given_as_a_domain_skips_the_tenant_claim_check() -> None:
    """With --tenant contoso.onmicrosoft.com there is no GUID to compare `tid` with, so no wrong-tenant finding."""
    checks = [failed("imap", "AUTHENTICATE failed.")]
    result = diagnose(target(tenant="contoso.onmicrosoft.com", protocols=("imap",)), ok_token(), checks, MAILBOX)
    assert codes(result)["imap"] == ["auth-rejected"]


def test_missing_smtp_role_with_a_working_login_is_a_note_not_a_failure() -> None:
    """Exchange App RBAC lets SMTP work without SMTP.SendAsApp in the token: that passes, with a note."""
    result = diagnose(target(), ok_token(roles=["IMAP.AccessAsApp", "POP.AccessAsApp"]),
                      [passed("imap"), passed("pop"), passed("smtp")], MAILBOX)
    assert exit_status(result) == 0
    assert "App RBAC" in result.rows[3].warnings[0]


def test_delegated_token_without_the_scope_names_the_scope() -> None:
    """A delegated token whose scp lacks POP.AccessAsUser.All explains the refused POP login with that scope."""
    delegated = target(flow="delegated", scopes=token_scopes("delegated", ("imap", "pop")),
                       protocols=("imap", "pop"))
    outcome = ok_token(aud="https://outlook.office.com", roles=None, scp="IMAP.AccessAsUser.All")
    result = diagnose(delegated, outcome, [passed("imap"), failed("pop", "-ERR Authentication failure")], MAILBOX)
    finding = result.rows[2].findings[0]
    assert (finding.code, "POP.AccessAsUser.All" in finding.cause) == ("scope-missing", True)


@pytest.mark.parametrize(("codes_", "code"), [
    ((7000215,), "secret-invalid"), ((7000222,), "secret-expired"), ((700016,), "client-not-found"),
    ((90002,), "tenant-not-found"), ((65001,), "consent-missing"), ((7000218,), "public-client-disabled"),
    ((700027,), "certificate-invalid"), ((500011,), "resource-not-found"), ((70011,), "invalid-scope"),
    ((53003,), "conditional-access"), ((90094,), "admin-approval-required"), ((50058,), "token-error"),
])
def test_aadsts_codes_map_to_their_cause(codes_: tuple[int, ...], code: str) -> None:
    """Each catalogued AADSTS code gets its own cause; an unknown one links to Microsoft's error lookup."""
    outcome = TokenOutcome(None, False, TokenFailure(codes_, "invalid_client", f"AADSTS{codes_[0]}: text"))
    result = diagnose(target(), outcome, [], MAILBOX)
    assert codes(result)["token"] == [code]
    assert [row.status for row in result.rows[1:]] == ["not-run"] * 3
    if code == "token-error":
        assert "https://login.microsoftonline.com/error?code=50058" in result.rows[0].findings[0].fix


def test_consent_findings_point_at_exchange_online_not_graph() -> None:
    """AADSTS65001 and 90094 say the mail scopes need consent on Exchange Online; Graph's copies do not count."""
    for aadsts in (65001, 90094):
        outcome = TokenOutcome(None, False, TokenFailure((aadsts,), "invalid_grant", f"AADSTS{aadsts}: text"))
        finding = diagnose(target(), outcome, [], MAILBOX).rows[0].findings[0]
        assert "Office 365 Exchange Online" in finding.cause + finding.fix
        assert "offline_access, openid" in finding.fix


def test_secret_id_hint_only_for_guid_shaped_secrets() -> None:
    """AADSTS7000215 mentions the Secret ID only when the value given looks like one."""
    outcome = TokenOutcome(None, False, TokenFailure((7000215,), "invalid_client", "AADSTS7000215: Invalid"))
    causes = []
    for value in ("c1a7f3e0-5b2d-4e8f-9a6c-0d1e2f3a4b5c", "Abc8Q~longRandomSecretValue"):
        credential = ClientCredential("secret", "environment variable X", Secret(value))
        causes.append(diagnose(target(credential=credential), outcome, [], MAILBOX).rows[0].findings[0].cause)
    assert ["shape of a GUID" in cause for cause in causes] == [True, False]


def test_network_only_failures_exit_4_and_mixed_failures_exit_1() -> None:
    """Unreachable servers alone give exit 4 (could not look); any real failure next to them gives 1."""
    unreachable = failed("imap", "[Errno 111] Connection refused", stage="connect", network=True)
    alone = diagnose(target(protocols=("imap",)), ok_token(), [unreachable], MAILBOX)
    mixed = diagnose(target(protocols=("imap", "pop")), ok_token(),
                     [unreachable, failed("pop", "-ERR Authentication failure")], MAILBOX)
    assert (exit_status(alone), codes(alone)["imap"], exit_status(mixed)) == (4, ["unreachable"], 1)


def test_every_catalogue_entry_renders_without_unfilled_placeholders() -> None:
    """Filled with a full run context, no cause or fix shows a `{placeholder}`."""
    context = {"tenant": TENANT, "client_id": CLIENT, "authority": "https://login.microsoftonline.com/t",
               "mailbox": MAILBOX, "scopes": "s", "sp": SP, "consent": "url", "app_ref": "apps.a", "app_name": "a",
               "credential_source": "env", "secret_id_hint": "", "expected_audience": "a", "expected_scopes": "s",
               "default_smtp": "smtp:587", "error_description": "d", "error_code": 1, "expires": "e", "now": "n",
               "audience": "a", "token_tenant": "t", "protocol": "imap", "protocol_name": "IMAP", "role": "r",
               "roles": "r", "scope": "s", "token_scopes": "s", "endpoint": "h:1", "host": "h", "port": 1,
               "reply": "r", "timeout": 5.0, "cas_switch": "ImapEnabled", "send_test_to": "x@y.example"}
    for code in CATALOGUE:
        finding = explain(code, context)
        assert not re.search(r"\{\w+(:[^}]*)?\}", finding.cause + finding.fix), code


def test_table_and_json_carry_the_same_findings() -> None:
    """The JSON report has the same rows, statuses and finding codes as the table, plus the exit status."""
    checks = [passed("imap"), passed("pop"), failed("smtp", "535 5.7.139 SmtpClientAuthentication is disabled")]
    result = diagnose(target(), ok_token(), checks, MAILBOX)
    document = json.loads(render_json(target(), result, verbose=False))
    table = render_table(target(), result, verbose=False)
    assert [(c["name"], c["status"]) for c in document["checks"]] == [
        ("token", "ok"), ("imap", "ok"), ("pop", "ok"), ("smtp", "failed")]
    assert document["checks"][3]["findings"][0]["code"] == "smtp-auth-disabled"
    assert (document["exitStatus"], document["ok"]) == (1, False)
    assert all(words in table for words in ("smtp   FAILED", "Set-CASMailbox", "(exit 1)\n"))


def test_secret_never_shows_itself() -> None:
    """str, repr and f-strings of a Secret show a placeholder; scrub removes the value from text."""
    secret = Secret("hunter2~value")
    assert "hunter2" not in f"{secret} {secret!r} {[secret]}"
    assert secret.scrub("x hunter2~value y") == "x [hidden] y"



def test_an_rbac_app_without_roles_is_explained_by_its_scope_and_its_working_login_gets_no_note() -> None:
    """exchangeAccess: rbac tokens carry no role by design: a refusal points at the scope, a success is quiet."""
    rbac = target(protocols=("smtp",), rbac=True)
    refused = diagnose(rbac, ok_token(roles=None), [failed("smtp", "535 5.7.3 Authentication unsuccessful")], MAILBOX)
    assert codes(refused)["smtp"] == ["rbac-not-authorized"]
    accepted = diagnose(rbac, ok_token(roles=None), [passed("smtp")], MAILBOX)
    assert [row.warnings for row in accepted.rows] == [(), ()]
    classic = diagnose(target(protocols=("smtp",)), ok_token(roles=None), [passed("smtp")], MAILBOX)
    assert classic.rows[1].warnings != ()
