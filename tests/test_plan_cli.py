"""`exo-oauth plan`: every fixture stack plans offline, in three formats, with exit codes a CI job can act on."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from exo_oauth.cli import main
from exo_oauth.fleet.project import list_stacks, load_stack
from exo_oauth.plan.mocks import STANDIN_SECRET
from exo_oauth.plan.offline import plan_stacks
from tests.certificates import make_certificate_pem
from tests.stack_factory import PROJECT, app, project, raw_config


def plan_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any]]:
    """Run `exo-oauth plan ... --format json`; return the exit status and the parsed plan."""
    status = main(["plan", *argv, "--format", "json"])
    return status, json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("stack", list_stacks(PROJECT))
def test_every_fixture_stack_plans_and_passes_policy(stack: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Each file under stacks/ plans offline with apps, resources and look-ups, and exits 0."""
    status, plan = plan_json(capsys, "--project-dir", str(PROJECT), "--stack", stack)
    assert status == 0
    [only] = plan["stacks"]
    assert only["stack"] == stack
    assert only["outputs"]["apps"]
    assert {r["type"] for r in only["resources"]} >= {"azuread:index/application:Application",
                                                       "azuread:index/servicePrincipal:ServicePrincipal"}
    assert [v for v in only["policy"] if v["level"] == "mandatory"] == []


def test_json_plan_has_the_documented_shape(capsys: pytest.CaptureFixture[str]) -> None:
    """--format json gives stacks with resources (type, name, urn, parent, id, inputs), invokes and outputs."""
    _, plan = plan_json(capsys, "--project-dir", str(PROJECT), "--all")
    assert [s["stack"] for s in plan["stacks"]] == list_stacks(PROJECT)
    for stack in plan["stacks"]:
        assert set(stack) >= {"stack", "tenantId", "resources", "invokes", "outputs", "policy"}
        for resource in stack["resources"]:
            assert set(resource) == {"type", "name", "urn", "parent", "id", "inputs"}
        for invoke in stack["invokes"]:
            assert set(invoke) == {"token", "args", "result"}


@pytest.mark.parametrize("fmt", ["text", "markdown", "json"])
def test_no_format_ever_shows_a_secret_value(fmt: str, capsys: pytest.CaptureFixture[str]) -> None:
    """The plan shows [secret] where a secret is, in every format, so it is safe to post publicly."""
    assert main(["plan", "--project-dir", str(PROJECT), "--all", "--format", fmt]) == 0
    out = capsys.readouterr().out
    assert STANDIN_SECRET not in out
    assert "[secret]" in out or fmt != "json"


def test_markdown_has_a_table_per_tenant_and_escapes_display_text(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Markdown gives one table per tenant; names with markup cannot break the table or inject HTML."""
    hostile = app(name="evil", displayName="x | <img src=x onerror=alert(1)> `y`")
    folder = project(tmp_path, one=raw_config(hostile), two=raw_config(app(name="plain")))
    assert main(["plan", "--project-dir", str(folder), "--all", "--format", "markdown"]) == 0
    out = capsys.readouterr().out
    assert out.count("| App | Flow | Protocols | Permissions | Consent | Mailboxes | Credential expiry |") == 2
    row = next(line for line in out.splitlines() if line.startswith("| evil "))
    assert row.count(" | ") == 6
    assert "<img" not in out


def test_text_plan_lists_each_resource_with_permission_names(capsys: pytest.CaptureFixture[str]) -> None:
    """The readable plan names every resource and the permission each role assignment grants."""
    assert main(["plan", "--project-dir", str(PROJECT), "--stack", "contoso"]) == 0
    out = capsys.readouterr().out
    assert "scanners-role-smtp  Office 365 Exchange Online SMTP.SendAsApp (7146a1f0-8703-45b3-9eae-527a64c00995)" in out
    assert "helpdesk-role-imap" in out
    assert "frontdesk@contoso.com (FullAccess, SendAs)" in out


def test_mandatory_policy_violation_exits_3(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A secret that outlives the policy's maximum is a mandatory violation: the plan prints it and exits 3."""
    long_lived = app(name="long", credential={"type": "secret", "lifetimeDays": 365})
    folder = project(tmp_path, t=raw_config(long_lived))
    status, plan = plan_json(capsys, "--project-dir", str(folder), "--all")
    assert status == 3
    assert any(v["level"] == "mandatory" for v in plan["stacks"][0]["policy"])


def test_policy_failure_names_stack_file_key_limit_and_how_to_raise_it_on_stderr(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A lifetimeDays of 365 over the 180-day policy: stderr names the file, the key, 365, 180 and --policy-config."""
    folder = project(tmp_path, t=raw_config(app(name="ok"), app(name="long", credential={
        "type": "secret", "lifetimeDays": 365, "rotateBeforeDays": 30})))
    assert main(["plan", "--project-dir", str(folder), "--all"]) == 3
    captured = capsys.readouterr()
    [line] = captured.err.splitlines()
    assert line.startswith("exo-oauth plan: policy credential-max-lifetime: stacks/Pulumi.t.yaml: "
                           "exo-oauth:apps[1].credential.lifetimeDays is 365, more than the 180 days the policy "
                           "allows; set it to at most 180, or raise the limit with `exo-oauth plan --policy-config "
                           'FILE`'), line
    assert '{"credential-max-lifetime": {"maxDays": 365}}' in line
    assert "exo-oauth:apps[1].credential.lifetimeDays is 365" in captured.out


def test_policy_config_raises_the_maximum_lifetime(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--policy-config with a higher maxDays lets a 365-day secret pass; a bad policy file exits 2 naming the key."""
    folder = project(tmp_path, t=raw_config(app(name="long", credential={"type": "secret", "lifetimeDays": 365})))
    settings = tmp_path / "policy.json"
    settings.write_text(json.dumps({"credential-max-lifetime": {"maxDays": 400}}), encoding="utf-8")
    status, _ = plan_json(capsys, "--project-dir", str(folder), "--all", "--policy-config", str(settings))
    assert status == 0
    settings.write_text(json.dumps({"credential-max-lifetime": {"maxdays": 400}}), encoding="utf-8")
    assert main(["plan", "--project-dir", str(folder), "--all", "--policy-config", str(settings)]) == 2
    assert f"--policy-config {settings}: credential-max-lifetime.maxdays: unknown key" in capsys.readouterr().err


def test_certificate_app_passes_policy(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A certificate valid for years is registered for lifetimeDays only, so the lifetime policy passes."""
    pem = make_certificate_pem(datetime.now(UTC) + timedelta(days=1000))
    folder = project(tmp_path, t=raw_config(app(name="c", credential={"type": "certificate", "publicKeyPem": pem})))
    status, plan = plan_json(capsys, "--project-dir", str(folder), "--all")
    assert status == 0
    assert plan["stacks"][0]["policy"] == []


def test_public_client_with_loopback_redirect_plans_cleanly_and_confidential_one_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """http://localhost plans with every rule passing on a public client; on a confidential client it exits 2."""
    public = app("delegated", name="desktop", publicClient=True, credential={"type": "none"},
                 redirectUris=["http://localhost"])
    folder = project(tmp_path, t=raw_config(public))
    status, plan = plan_json(capsys, "--project-dir", str(folder), "--all")
    assert status == 0
    assert plan["stacks"][0]["policy"] == []
    [application] = [r for r in plan["stacks"][0]["resources"] if r["name"] == "desktop-app"]
    assert application["inputs"]["publicClient"] == {"redirectUris": ["http://localhost"]}
    confidential = app("delegated", name="web", redirectUris=["http://localhost"])
    (folder / "stacks" / "Pulumi.t.yaml").write_text(yaml.safe_dump({"config": raw_config(confidential)}),
                                                       encoding="utf-8")
    assert main(["plan", "--project-dir", str(folder), "--all"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("exo-oauth plan: stacks/Pulumi.t.yaml: exo-oauth:apps[0].redirectUris[0]: "
                                   "'http://localhost' is a loopback http:// URI on a confidential client")


def test_bad_stack_exits_2_with_one_line_and_nothing_on_stdout(tmp_path: Path) -> None:
    """A bad stack file gives exit 2, one stderr line naming file and key path, no traceback, no partial plan."""
    folder = project(tmp_path, good=raw_config(app(name="ok")), bad=raw_config(app(name="x", protocols=["imap4"])))
    done = subprocess.run([sys.executable, "-m", "exo_oauth.cli", "plan", "--all"], cwd=folder,
                          capture_output=True, text=True, check=False)
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.strip().splitlines() == [
        "exo-oauth plan: stacks/Pulumi.bad.yaml: exo-oauth:apps[0].protocols[0]: 'imap4' is not allowed; "
        "allowed: imap, pop, smtp"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--stack", "nope"], "--stack 'nope': no file stacks/Pulumi.nope.yaml; allowed: good"),
        (["--stack", "../etc"], "--stack '../etc' is not a stack name"),
        (["--all", "--jobs", "0"], "--jobs 0: allowed: a whole number of at least 1"),
    ],
)
def test_bad_arguments_exit_2_with_what_is_allowed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    """Unknown or malformed stack names and bad flags exit 2 with a line saying what is allowed."""
    folder = project(tmp_path, good=raw_config(app(name="ok")))
    assert main(["plan", "--project-dir", str(folder), *argv]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert message in captured.err


def test_yaml_syntax_error_names_the_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A stack file that is not YAML is reported with its line number, not a parser traceback."""
    folder = project(tmp_path)
    (folder / "stacks" / "Pulumi.broken.yaml").write_text("config:\n  azuread:tenantId: [unclosed\n", encoding="utf-8")
    assert main(["plan", "--project-dir", str(folder), "--all"]) == 2
    assert "stacks/Pulumi.broken.yaml: (file): is not valid YAML at line 3" in capsys.readouterr().err


def test_duplicate_yaml_key_is_refused_not_silently_overridden(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two `protocols:` keys in one app would silently keep the last; the plan refuses the file, naming the line."""
    folder = project(tmp_path)
    (folder / "stacks" / "Pulumi.dup.yaml").write_text(
        "config:\n  azuread:tenantId: 11111111-2222-4333-8444-555555555555\n  exo-oauth:apps:\n"
        "    - name: a\n      flow: app-only\n      protocols: [smtp]\n      protocols: [imap, pop, smtp]\n",
        encoding="utf-8")
    assert main(["plan", "--project-dir", str(folder), "--all"]) == 2
    assert "stacks/Pulumi.dup.yaml: (file): is not valid YAML at line 7 (duplicate key 'protocols')" in (
        capsys.readouterr().err)


def test_alias_bomb_under_a_foreign_key_does_not_blow_up_the_plan(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Keys the program does not read (here a nested YAML alias bomb) are not expanded into the plan's config."""
    lines = ["config:", "  azuread:tenantId: 11111111-2222-4333-8444-555555555555", "  exo-oauth:apps: []",
             "  other:bomb0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"  other:bomb{i}: &a{i} [*a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, "
              f"*a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}]" for i in range(1, 9)]
    folder = project(tmp_path)
    (folder / "stacks" / "Pulumi.bomb.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert main(["plan", "--project-dir", str(folder), "--all", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["stacks"][0]["resources"] == []


def test_parallel_plan_gives_the_same_result_as_one_process(tmp_path: Path, two_workers_from_ten_stacks: int) -> None:
    """Planning a fleet over two worker processes returns the same plans, in stack order, as one process."""
    count = two_workers_from_ten_stacks
    folder = project(tmp_path, **{f"t{i:02d}": raw_config(app(name=f"a{i}")) for i in range(count)})
    stacks = [load_stack(folder, name) for name in list_stacks(folder)]
    now = datetime(2026, 11, 28, tzinfo=UTC)
    serial = [p.to_json() for p in plan_stacks(folder, stacks, now, jobs=1)]
    parallel = [p.to_json() for p in plan_stacks(folder, stacks, now, jobs=2)]
    assert parallel == serial
