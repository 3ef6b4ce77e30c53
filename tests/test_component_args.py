"""MailOAuthApp in someone else's Pulumi program: typed, documented args of its own, checked like the stack file."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime
from typing import Any

import pulumi
import pytest

from components.mail_app import MailOAuthApp, MailOAuthAppArgs, app_config
from components.pulumi_config import app_args
from exo_domain.config import Mailbox
from exo_domain.errors import ConfigError
from exo_domain.schema import DEFAULT_LIFETIME_DAYS
from exo_oauth.plan.mocks import PlanMocks
from tests.docs_tables import field_docs
from tests.stack_factory import REPO, app, loaded, raw_config

NOW = datetime(2026, 6, 1, tzinfo=UTC)
TENANT, OWNER = str(uuid.uuid4()), str(uuid.uuid4())


def _summary(name: str, args: MailOAuthAppArgs) -> dict[str, Any]:
    """Declare one MailOAuthApp from `args` alone on the mock monitor (it looks up Microsoft's APIs itself)."""
    pulumi.runtime.set_mocks(PlanMocks("t", NOW), project="someone-else", stack="t", preview=False)
    seen: list[dict[str, Any]] = []

    @pulumi.runtime.test
    def declare() -> pulumi.Output[Any]:
        return MailOAuthApp(name, args).summary.apply(seen.append)

    declare()
    return seen[0]


def test_another_program_declares_an_app_from_args_alone() -> None:
    """No stack file, no AppConfig and no pre-resolved APIs: the args are enough, defaults filled in."""
    args = MailOAuthAppArgs(tenant_id=TENANT, flow="app-only", protocols=["smtp", "imap"], owners=[OWNER],
                            mailboxes=[Mailbox("scanner@contoso.com")])
    summary = _summary("scanner", args)
    assert summary["name"] == summary["displayName"] == "scanner"
    assert summary["protocols"] == ["imap", "smtp"]
    assert summary["tenantId"] == TENANT
    assert summary["cloud"] == "global"
    assert summary["credential"]["type"] == "secret"
    assert {p["name"] for p in summary["permissions"]} == {"IMAP.AccessAsApp", "SMTP.SendAsApp"}
    assert args.credential.lifetime_days == DEFAULT_LIFETIME_DAYS


@pytest.mark.parametrize(("change", "where"), [
    ({"flow": "daemon"}, "args.flow"),
    ({"protocols": []}, "args.protocols"),
    ({"protocols": ["imap", "ews"]}, "args.protocols[1]"),
    ({"tenant_id": "contoso"}, "args.tenant_id"),
    ({"owners": []}, "args.owners"),
    ({"owners": ["me"]}, "args.owners[0]"),
    ({"exchange_access": "graph"}, "args.exchange_access"),
    ({"exchange_access": "rbac"}, "args.exchange_access"),
    ({"sign_in_mailboxes": ["nobody"]}, "args.sign_in_mailboxes[0]"),
    ({"sign_in_group": "readers"}, "args.sign_in_group"),
])
def test_bad_args_stop_before_any_resource_with_one_line_naming_the_field(change: dict[str, Any], where: str) -> None:
    """A wrong field raises ConfigError: one line naming the component and the field, as the stack file's do."""
    args = dataclasses.replace(
        MailOAuthAppArgs(tenant_id=TENANT, flow="delegated", protocols=["imap"], owners=[OWNER]), **change)
    with pytest.raises(ConfigError) as raised:
        _summary("reader", args)
    message = str(raised.value)
    assert "MailOAuthApp 'reader'" in message
    assert where in message
    assert "\n" not in message


def test_an_app_only_app_is_refused_sign_in_users_and_rbac_beside_mailbox_rights() -> None:
    """Sign-in mailboxes are for delegated apps, and rbac for SMTP-only apps without sendAs, as in the stack file."""
    base = MailOAuthAppArgs(tenant_id=TENANT, flow="app-only", protocols=["smtp"], owners=[OWNER],
                            mailboxes=[Mailbox("a@contoso.com", send_as=True)])
    with pytest.raises(ConfigError, match=r"args\.sign_in_mailboxes: is only for delegated apps"):
        _summary("sender", dataclasses.replace(base, sign_in_mailboxes=["u@contoso.com"]))
    with pytest.raises(ConfigError, match=r"args\.mailboxes\[0\]: sendAs: true is not used with exchangeAccess: rbac"):
        _summary("sender", dataclasses.replace(base, exchange_access="rbac"))


def test_rbac_args_declare_an_app_without_entra_permissions() -> None:
    """exchange_access rbac reaches the component: no Exchange Online app role is requested or granted."""
    args = MailOAuthAppArgs(tenant_id=TENANT, flow="app-only", protocols=["smtp"], owners=[OWNER],
                            mailboxes=[Mailbox("a@contoso.com")], exchange_access="rbac")
    summary = _summary("sender", args)
    assert summary["permissions"] == []
    assert summary["exchangeAccess"] == "rbac"


def test_the_program_passes_every_key_of_a_stack_app_on_to_the_component() -> None:
    """app_args maps each AppConfig field: the app the component checks out of its args is the stack file's app."""
    stack = loaded(raw_config(
        app(name="sender", protocols=["smtp"], mailboxes=["a@contoso.com"], exchangeAccess="rbac",
            appRoleAssignmentRequired=True, tags=["mail"], notes="the copier"),
        app("delegated", name="reader", protocols=["imap"], signInMailboxes=["u@contoso.com"],
            signInGroup="readers@contoso.com", redirectUris=["https://contoso.com/cb"],
            credential={"type": "federated", "issuer": "https://token.actions.githubusercontent.com",
                        "subject": "repo:contoso/mail:ref:refs/heads/main", "name": "kept-from-adopt"}),
    ))
    for stack_app in stack.config.apps:
        assert app_config(stack_app.name, app_args(stack_app, stack.config)) == stack_app


def test_a_bad_component_name_is_refused() -> None:
    """Children's names derive from the component's name, so it follows the stack file's name rule."""
    with pytest.raises(ConfigError, match="allowed: a-z, 0-9"):
        _summary("Mail App", MailOAuthAppArgs(tenant_id=TENANT, flow="delegated", protocols=["pop"], owners=[OWNER]))


def test_every_arg_is_documented() -> None:
    """Each field of MailOAuthAppArgs has its own docstring, as Pulumi's component args do."""
    documented = field_docs(REPO / "components" / "mail_app.py", "MailOAuthAppArgs")
    assert set(documented) == {f.name for f in dataclasses.fields(MailOAuthAppArgs)}
    assert all(documented.values())
