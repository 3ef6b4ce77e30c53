"""Overlapping secret rotation over two years, day by day: the real program where it matters, the schedule elsewhere.

The tenant stand-in does what the engine and Entra would: a password whose inputs are unchanged keeps its key id
(every ApplicationPassword input forces a replacement), a changed one is created anew and the old one deleted, a
password the program no longer declares is deleted, and the schedule's anchor (a `time` Static with ignoreChanges
on `rfc3339`) keeps the value it was created with (https://www.pulumi.com/docs/iac/concepts/options/ignorechanges/:
"Uses the serialized value from the stack state for any later previews or updates").

Speed: the program declares exactly the terms of the pure schedule (`live_secrets`, checked on every run below), and
an unchanged declaration is a no-op for the engine. So every day is judged with the pure schedule, and the program
runs only on the first deploy and on days where some app's schedule changes (a secret starts or ends); a sample of
the other days runs it too and must change nothing.
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
from components.pulumi_config import app_args
from exo_domain.rotation import ROTATION_CADENCE_DAYS, SecretTerm, anchor_day, fixed_clock, live_secrets
from exo_domain.schema import MIN_LIFETIME_DAYS
from exo_oauth.plan.mocks import PlanMocks
from exo_oauth.plan.offline import plan_stack
from exo_oauth.policy.rules import DEFAULT_MAX_CREDENTIAL_DAYS, evaluate
from exo_oauth.policy.verdicts import in_stack
from tests.stack_factory import REPO, app, loaded, raw_config

PASSWORD = "azuread:index/applicationPassword:ApplicationPassword"
STATIC = "time:index/static:Static"
START = datetime(2026, 11, 28, 9, 30, tzinfo=UTC)
DAYS = 2 * 365
APPS = {"scanners": (180, 30), "printers": (90, 7)}
"""App name -> (lifetimeDays, rotateBeforeDays) for the program runs: the default, and the shortest overlap allowed."""
TERMS = [(days, before) for days in (MIN_LIFETIME_DAYS, 15, 30, 90, 180, 181, 365, 730)
         for before in sorted({ROTATION_CADENCE_DAYS, min(30, days // 2), days // 2})]
"""Lifetimes and overlaps for the schedule-only checks: every allowed extreme, and the defaults."""


@dataclass
class Secret:
    """One password as Entra holds it."""

    app: str
    key_id: str
    created: datetime
    end: datetime
    deleted: datetime | None = None


class TenantWithState(PlanMocks):
    """Plan mocks that remember each password and each schedule anchor between runs, as the engine's state would."""

    def __init__(self, stack: str, now: datetime) -> None:
        super().__init__(stack, now)
        self.state: dict[str, tuple[dict[str, Any], Secret]] = {}
        self.anchors: dict[str, dict[str, Any]] = {}
        self.declared: set[str] = set()
        self.secrets: list[Secret] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        """Keep an anchor and an unchanged password; create a changed or new password (deleting its predecessor)."""
        if args.typ == STATIC:
            kept = self.anchors.setdefault(args.name, dict(args.inputs))  # ignoreChanges: the state's value wins
            self.inputs[args.typ, args.name] = kept
            return str(kept["rfc3339"]), dict(kept)
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

    def up(self, day: datetime, apps: dict[str, tuple[int, int]] = APPS) -> dict[str, Any]:
        """Run `pulumi up` on `day`: plan the program, then delete what it no longer declares; return the outputs."""
        self.now, self.declared = day, set()
        outputs = plan_stack(REPO, secret_stack(apps), day, self).outputs
        for name in set(self.state) - self.declared:
            self.state.pop(name)[1].deleted = day
        return outputs

    def live(self, app_name: str, day: datetime) -> list[Secret]:
        """Return the app's secrets that exist in Entra and are valid on `day`, newest first."""
        return sorted((s for s in self.secrets if s.app == app_name and s.deleted is None and s.end > day),
                      key=lambda s: s.end, reverse=True)

    def anchor(self, app_name: str) -> datetime:
        """Return the app's schedule anchor as the state keeps it."""
        return datetime.fromisoformat(self.anchors[f"{app_name}-schedule"]["rfc3339"])


def secret_stack(apps: dict[str, tuple[int, int]]) -> Any:
    """Return a loaded stack with one app-only app per entry, each with a secret of that lifetime and overlap."""
    return loaded(raw_config(*(app(name=n, credential={"type": "secret", "lifetimeDays": days,
                                                       "rotateBeforeDays": before})
                               for n, (days, before) in apps.items())), "contoso")


def schedule(tenant: TenantWithState, name: str, day: datetime) -> tuple[SecretTerm, ...]:
    """Return the pure schedule of an app already deployed in `tenant`, on `day`."""
    days, before = APPS[name]
    return live_secrets(day, days, before, tenant.anchor(name))


def run_days(cadence: int) -> list[int]:
    """Return the day numbers with a `pulumi up`: every `cadence` days, starting with the first deploy on day 0."""
    return list(range(0, DAYS, cadence))


@pytest.mark.parametrize("cadence", [1, ROTATION_CADENCE_DAYS], ids=["daily", "weekly"])
def test_two_years_a_device_that_moves_within_the_window_never_fails(cadence: int) -> None:
    """A device moves to the newest secret on the last day its old one is valid, and signs in every day for two years.

    `pulumi up` runs daily or weekly (rotation.yml's cadence). Also: the outputs list exactly the live secrets, newest
    first; no secret is deleted before its end date or lives longer than lifetimeDays; and rotation really happened.
    """
    tenant = TenantWithState("contoso", START)
    outputs = tenant.up(START)
    device = {name: tenant.live(name, START)[0] for name in APPS}
    declared = {name: schedule(tenant, name, START) for name in APPS}
    runs = set(run_days(cadence))
    program_days = 0
    for number in range(DAYS):
        day = START + timedelta(days=number)
        terms = {name: schedule(tenant, name, day) for name in APPS}
        if number in runs and (terms != declared or number % 181 == 0):
            before = {s.key_id for s in tenant.secrets if s.deleted is None}
            outputs = tenant.up(day)
            program_days += 1
            if terms == declared:  # a sampled day without a schedule change: the run changes nothing
                assert {s.key_id for s in tenant.secrets if s.deleted is None} == before, day
            declared = terms
        for name, (_, overlap) in APPS.items():
            live = tenant.live(name, day)
            credential = outputs["apps"][name]["credential"]
            if number in runs:
                assert [(s["keyId"], s["endDate"]) for s in credential["secrets"]] == [
                    (s.key_id, s.end.isoformat().replace("+00:00", "Z")) for s in live], (name, day)
                assert [s.end for s in live] == [t.end_date for t in declared[name]], (name, day)
            newest = live[0]
            # The device moves on the last day its secret is valid: the window is never shorter than a day.
            if device[name] is not newest and device[name].end - day <= timedelta(days=1):
                device[name] = newest
            assert device[name].deleted is None, (name, day, cadence)
            assert device[name].end > day, (name, day, cadence)
            assert newest.end - day >= timedelta(days=overlap - cadence + 1), (name, day)
    assert program_days < DAYS // 3 if cadence == 1 else program_days <= len(runs)
    for secret in tenant.secrets:
        assert secret.deleted is None or secret.deleted >= secret.end, secret
        assert secret.end - secret.created <= timedelta(days=APPS[secret.app][0]), secret
    for name, (lifetime, overlap) in APPS.items():
        made = sum(1 for s in tenant.secrets if s.app == name)
        assert DAYS // (lifetime - overlap) <= made <= DAYS // (lifetime - overlap) + 1, name


@pytest.mark.parametrize("cadence", [1, ROTATION_CADENCE_DAYS], ids=["daily", "weekly"])
@pytest.mark.parametrize(("days", "before"), TERMS)
def test_two_years_of_the_schedule_a_device_that_moves_within_the_window_never_fails(
    days: int, before: int, cadence: int
) -> None:
    """For every lifetime and overlap allowed: the same device, with what each run declares standing till the next.

    A run creates the secrets it declares and deletes those it no longer declares (the program declares exactly the
    schedule's terms, as the test above checks on the real program).
    """
    anchor = anchor_day(START)
    existing: dict[datetime, SecretTerm] = {}
    device: SecretTerm | None = None
    for number in range(DAYS):
        day = START + timedelta(days=number)
        if number % cadence == 0:
            declared = live_secrets(day, days, before, anchor)
            assert all(t.start in existing or t.start + timedelta(days=cadence) > day for t in declared), day
            for start in set(existing) - {t.start for t in declared}:
                assert existing.pop(start).end_date <= day, (day, start)  # only an ended secret is deleted
            existing |= {t.start: t for t in declared}
        newest = existing[max(existing)]
        if device is None or (device is not newest and device.end_date - day <= timedelta(days=1)):
            device = newest
        assert device.start in existing, (day, days, before, cadence)
        assert device.end_date > day, (day, days, before, cadence)


@pytest.mark.parametrize(("days", "before"), TERMS)
def test_no_first_deploy_on_any_day_creates_a_secret_ending_within_the_overlap(days: int, before: int) -> None:
    """Whatever the day and the time of a first deploy, it creates one secret, living the whole lifetime but hours."""
    for number in range(DAYS):
        for hour in (0, 23):
            now = START.replace(hour=hour, minute=59) + timedelta(days=number)
            (term,) = live_secrets(now, days, before, anchor_day(now))
            assert term.end_date - now > timedelta(days=days - 1) > timedelta(days=before), (now, days, before)


MANY = {f"{kind}-{days}-{before}": (days, before)
        for kind, (days, before) in zip(("scanners", "hr-printers", "helpdesk", "archive-2", "a", "x-1-y"),
                                        TERMS[::3], strict=False)}
"""Several app names, each with a lifetime and overlap of TERMS, for first deploys of the real program."""


def test_first_deploys_of_the_program_create_what_the_schedule_says() -> None:
    """First deploys of many apps, on sampled days over two years: one secret each, outliving the overlap."""
    for number in range(0, DAYS, 146):
        day = START.replace(hour=number % 24) + timedelta(days=number)
        tenant = TenantWithState("contoso", day)
        tenant.up(day, MANY)
        for name, (days, before) in MANY.items():
            [secret] = tenant.live(name, day)
            assert secret.end - day > timedelta(days=days - 1) > timedelta(days=before), (name, day)
            assert tenant.anchor(name) == anchor_day(day)


@pytest.mark.parametrize(("days", "before"), TERMS)
def test_lifetime_verdict_on_every_secret_of_the_schedule_does_not_depend_on_the_date(days: int, before: int) -> None:
    """Each secret the schedule declares, judged on every day it exists, fails the cap iff its lifetime does."""
    anchor = anchor_day(START)
    verdicts = set()
    for number in range(DAYS):
        now = START + timedelta(days=number)
        resources = [{"type": PASSWORD, "name": f"x-secret-{t.slot}", "urn": f"urn:x-secret-{t.slot}",
                      "inputs": {"startDate": t.start.isoformat(), "endDate": t.end_date.isoformat()}}
                     for t in live_secrets(now, days, before, anchor)]
        verdicts |= {v.policy for v in evaluate(resources, now) if v.level == "mandatory"} or {"pass"}
    assert verdicts == ({"credential-max-lifetime"} if days > DEFAULT_MAX_CREDENTIAL_DAYS else {"pass"})


def test_the_plans_lifetime_verdict_is_the_same_on_every_sampled_date() -> None:
    """The offline plan of one file fails the cap for the 181- and 365-day apps, and only them, on every date."""
    apps = {"ok": (180, 30), "over": (181, 30), "year": (365, 30)}
    stack = secret_stack(apps)
    seen = set()
    for number in range(0, DAYS, 83):
        now = START + timedelta(days=number)
        plan = plan_stack(REPO, stack, now)
        found = in_stack(evaluate(plan.resources, now), plan.resources, stack.config)
        seen.add(tuple(sorted((v.key or v.urn, v.level) for v in found if v.policy == "credential-max-lifetime")))
    assert seen == {(("stacks/Pulumi.contoso.yaml: exo-oauth:apps[1].credential.lifetimeDays", "mandatory"),
                     ("stacks/Pulumi.contoso.yaml: exo-oauth:apps[2].credential.lifetimeDays", "mandatory"))}


def test_after_a_missed_month_the_next_run_still_never_deletes_a_valid_secret() -> None:
    """Runs stop for 40 days; the runs after create the current period's secret and delete only expired ones."""
    tenant = TenantWithState("contoso", START)
    for number in [*range(0, 10, 3), *range(50, 60, 3)]:
        tenant.up(START + timedelta(days=number))
    for secret in tenant.secrets:
        assert secret.deleted is None or secret.deleted >= secret.end, secret


@pytest.mark.parametrize("day", [0, 1, 29, 30, 31, 149, 150, 151, 179, 180, 300, 330])
def test_schedule_holds_at_most_two_secrets_and_the_newest_first(day: int) -> None:
    """On any day: one or two secrets, newest first, in different slots, the newest with more than the overlap left."""
    anchor = datetime(2030, 1, 1, tzinfo=UTC)
    now = anchor + timedelta(days=day)
    terms = live_secrets(now, 180, 30, anchor)
    assert 1 <= len(terms) <= 2
    assert terms[0].end_date - now > timedelta(days=30)
    assert [t.start for t in terms] == sorted((t.start for t in terms), reverse=True)
    assert len({t.slot for t in terms}) == len(terms)
    assert all(t.start >= anchor for t in terms)


def test_client_secret_is_the_newest_secrets_value() -> None:
    """While two secrets overlap, MailOAuthApp.client_secret (clientSecrets.<app>) is the newer one's value."""
    stack = loaded(raw_config(app(name="x", credential={"type": "secret", "lifetimeDays": 30, "rotateBeforeDays": 15})))
    tenant = TenantWithState("t", START)
    tenant.anchors["x-schedule"] = {"rfc3339": anchor_day(START).isoformat().replace("+00:00", "Z")}
    moment = next(START + timedelta(days=d) for d in range(30)
                  if len(live_secrets(START + timedelta(days=d), 30, 15, anchor_day(START))) == 2)
    tenant.now = moment
    pulumi.runtime.set_mocks(tenant, project="exo-oauth", stack="t", preview=False)
    seen: list[tuple[str | None, str | None]] = []

    @pulumi.runtime.test
    def check() -> pulumi.Output[Any]:
        apis = lookup_first_party_apis(["Office365ExchangeOnline", "MicrosoftGraph"])
        component = MailOAuthApp("x", app_args(stack.config.apps[0], stack.config), first_party=apis)
        return pulumi.Output.all(component.client_secret, component.summary).apply(
            lambda v: seen.append((v[0], v[1]["credential"]["keyId"])))

    with fixed_clock(moment):
        check()
    [(value, key_id)] = seen
    newest = max(tenant.secrets, key=lambda s: s.end)
    assert len(tenant.secrets) == 2
    assert (value, key_id) == (f"value-{newest.key_id}", newest.key_id)
