"""Overlapping secret rotation: two years of daily `pulumi up`, with the real program and a tenant that keeps state.

The tenant stand-in does what the engine and Entra would: a password whose inputs are unchanged keeps its key id
(every ApplicationPassword input forces a replacement), a changed one is created anew and the old one deleted, and
a password the program no longer declares is deleted. The clock is the plan's, one run per day.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pulumi
import pytest

from components.first_party import lookup_first_party_apis
from components.mail_app import MailOAuthApp
from components.rotation import fixed_clock, live_secrets, schedule_offset_days
from exo_oauth.plan import plan_stack
from exo_oauth.plan_mocks import PlanMocks
from tests.stack_factory import REPO, app, loaded, raw_config

PASSWORD = "azuread:index/applicationPassword:ApplicationPassword"
START = datetime(2026, 11, 28, 9, 30, tzinfo=UTC)
APPS = {"scanners": (180, 30), "fortnightly": (14, 7)}
"""App name -> (lifetimeDays, rotateBeforeDays): the default; and many rotations with the largest overlap allowed."""


@dataclass
class Secret:
    """One password as Entra holds it."""

    app: str
    key_id: str
    created: datetime
    end: datetime
    deleted: datetime | None = None


class TenantWithState(PlanMocks):
    """Plan mocks that remember each password between runs, as the engine's state and Entra would."""

    def __init__(self, stack: str, now: datetime) -> None:
        super().__init__(stack, now)
        self.state: dict[str, tuple[dict[str, Any], Secret]] = {}
        self.declared: set[str] = set()
        self.secrets: list[Secret] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        """Keep an unchanged password; create a changed or new one (its predecessor is deleted after the run)."""
        if args.typ != PASSWORD:
            return super().new_resource(args)
        self.inputs[args.typ, args.name] = args.inputs
        self.declared.add(args.name)
        known = self.state.get(args.name)
        if known is None or known[0] != args.inputs:
            if known is not None:
                known[1].deleted = self.now
            secret = Secret(args.name.rsplit("-secret-", 1)[0], str(uuid.uuid4()), self.now,
                            datetime.fromisoformat(args.inputs["endDate"]))
            self.secrets.append(secret)
            self.state[args.name] = (dict(args.inputs), secret)
        secret = self.state[args.name][1]
        return secret.key_id, dict(args.inputs) | {"keyId": secret.key_id, "value": f"value-{secret.key_id}"}

    def up(self, day: datetime) -> dict[str, Any]:
        """Run `pulumi up` on `day`: plan the program, then delete what it no longer declares; return the outputs."""
        self.now, self.declared = day, set()
        stack = loaded(raw_config(*(app(name=n, credential={"type": "secret", "lifetimeDays": days,
                                                            "rotateBeforeDays": before})
                                    for n, (days, before) in APPS.items())), "contoso")
        outputs = plan_stack(REPO, stack, day, self).outputs
        for name in set(self.state) - self.declared:
            self.state.pop(name)[1].deleted = day
        return outputs

    def live(self, app_name: str, day: datetime) -> list[Secret]:
        """Return the app's secrets that exist in Entra and are valid on `day`, newest first."""
        return sorted((s for s in self.secrets if s.app == app_name and s.deleted is None and s.end > day),
                      key=lambda s: s.end, reverse=True)


def test_two_years_of_daily_runs_always_keep_a_valid_secret_and_never_cut_one_short() -> None:
    """Daily for two years, a secret with the overlap left exists and yesterday's newest lives until it ends.

    Also: no secret is deleted before its end date or lives longer than lifetimeDays, and the outputs name the
    newest secret first and every live one with its key id and end date.
    """
    tenant = TenantWithState("contoso", START)
    newest_yesterday: dict[str, Secret] = {}
    for number in range(2 * 365):
        day = START + timedelta(days=number)
        outputs = tenant.up(day)
        for name, (_, overlap) in APPS.items():
            live = tenant.live(name, day)
            assert live[0].end - day >= timedelta(days=overlap), (name, day)
            before = newest_yesterday.get(name)
            if before is not None and before.end > day:
                assert before.deleted is None, (name, day)
            credential = outputs["apps"][name]["credential"]
            assert credential["keyId"] == live[0].key_id
            assert [(s["keyId"], s["endDate"]) for s in credential["secrets"]] == [
                (s.key_id, s.end.isoformat().replace("+00:00", "Z")) for s in live]
            newest_yesterday[name] = live[0]
    for secret in tenant.secrets:
        assert secret.deleted is None or secret.deleted >= secret.end, secret
        assert secret.end - secret.created <= timedelta(days=APPS[secret.app][0]), secret
    # Rotation really happened: a secret every lifetime - overlap days (and one at the start).
    for name, (lifetime, overlap) in APPS.items():
        made = sum(1 for s in tenant.secrets if s.app == name)
        assert 2 * 365 // (lifetime - overlap) <= made <= 2 * 365 // (lifetime - overlap) + 2


def test_after_a_missed_month_the_next_run_still_never_deletes_a_valid_secret() -> None:
    """Runs stop for 40 days; the runs after create the current period's secret and delete only expired ones."""
    tenant = TenantWithState("contoso", START)
    for number in [*range(10), *range(50, 60)]:
        tenant.up(START + timedelta(days=number))
    for secret in tenant.secrets:
        assert secret.deleted is None or secret.deleted >= secret.end, secret


@pytest.mark.parametrize("day", [0, 1, 29, 30, 31, 149, 150, 151, 179, 180])
def test_schedule_holds_at_most_two_secrets_and_the_newest_first(day: int) -> None:
    """On any day: one or two secrets, newest first, in different slots, the newest with more than the overlap left."""
    now = datetime(2030, 1, 1, tzinfo=UTC) + timedelta(days=day)
    terms = live_secrets(now, 180, 30, offset_days=0)
    assert 1 <= len(terms) <= 2
    assert terms[0].end_date - now > timedelta(days=30)
    assert [t.start for t in terms] == sorted((t.start for t in terms), reverse=True)
    assert len({t.slot for t in terms}) == len(terms)


def test_client_secret_is_the_newest_secrets_value() -> None:
    """While two secrets overlap, MailOAuthApp.client_secret (clientSecrets.<app>) is the newer one's value."""
    stack = loaded(raw_config(app(name="x", credential={"type": "secret", "lifetimeDays": 30, "rotateBeforeDays": 15})))
    tenant = TenantWithState("t", START)
    moment = next(START + timedelta(days=d) for d in range(30) if len(
        live_secrets(START + timedelta(days=d), 30, 15, schedule_offset_days(f"{stack.config.tenant_id}/x", 15))) == 2)
    tenant.now = moment
    pulumi.runtime.set_mocks(tenant, project="exo-oauth", stack="t", preview=False)
    seen: list[tuple[str | None, str | None]] = []

    @pulumi.runtime.test
    def check() -> pulumi.Output[Any]:
        with fixed_clock(moment):
            apis = lookup_first_party_apis(["Office365ExchangeOnline", "MicrosoftGraph"])
            component = MailOAuthApp("x", stack.config.apps[0], stack.config.tenant_id, apis)
        return pulumi.Output.all(component.client_secret, component.summary).apply(
            lambda v: seen.append((v[0], v[1]["credential"]["keyId"])))

    check()
    [(value, key_id)] = seen
    newest = max(tenant.secrets, key=lambda s: s.end)
    assert len(tenant.secrets) == 2
    assert (value, key_id) == (f"value-{newest.key_id}", newest.key_id)

