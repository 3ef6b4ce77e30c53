import hashlib
import json
import os
from dataclasses import replace
from pathlib import Path

import pulumi
import pytest

from components.exchange_hook import LAST_RUN_FILE, ExchangeScriptWriter
from exo_domain.config import ExchangeConfig, StackConfig
from exo_domain.errors import ConfigError
from exo_domain.exchange_actions import ACTIONS, script_name
from exo_domain.exchange_module import MODULE_NAME, module_text
from exo_domain.exchange_scripts import exchange_inputs, render_exchange_scripts
from exo_oauth.fleet.project import load_stack
from tests.exchange_factory import apps_output, standin
from tests.stack_factory import PROJECT

FAKE_SECRET = "Zq8~fake.client-secret_value-42"
SERVICE_PRINCIPAL = "azuread:index/servicePrincipal:ServicePrincipal"


def contoso() -> StackConfig:
    """Return the contoso example stack's config."""
    return load_stack(PROJECT, "contoso").config


def hook_args(app: str, *, object_id: str | None = None, **extra: object) -> pulumi.ResourceHookArgs:
    """Return what the engine passes after creating `app`'s service principal, with extra (secret) outputs."""
    client_id = standin("contoso", app, "clientId")
    sp_id = object_id or standin("contoso", app, "servicePrincipalObjectId")
    outputs = {"clientId": client_id, "objectId": sp_id, "appRoleIds": {}, **extra}
    return pulumi.ResourceHookArgs(urn=f"urn:pulumi:contoso::exo-oauth::{SERVICE_PRINCIPAL}::{app}-sp",
                                   id=sp_id, name=f"{app}-sp", type=SERVICE_PRINCIPAL,
                                   new_inputs={"clientId": client_id}, new_outputs=outputs)


def files(folder: Path) -> dict[str, str]:
    """Return every file in `folder` by name with its text."""
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(folder.iterdir())} if folder.exists() else {}


def expected_files(scripts: dict[str, str]) -> dict[str, str]:
    """Return what the folder holds for `scripts` (by action): the three scripts and the module they import."""
    return {MODULE_NAME: module_text(), **{script_name(a): scripts[a] for a in ACTIONS}}


def expected_scripts(config: StackConfig) -> dict[str, str]:
    """Return the scripts the renderer makes for contoso's stand-in IDs."""
    return render_exchange_scripts(exchange_inputs("contoso", config.tenant_id, apps_output("contoso", config),
                                                   config.exchange))


def test_hook_writes_the_three_scripts_once_every_app_has_reported(tmp_path: Path) -> None:
    """After the first service principal nothing is written; after the last, all three scripts are on disk."""
    config = contoso()
    writer = ExchangeScriptWriter("contoso", config, tmp_path / "out" / "contoso")
    writer.on_service_principal("scanners", hook_args("scanners"))
    assert files(tmp_path / "out" / "contoso") == {}
    writer.on_service_principal("helpdesk", hook_args("helpdesk"))
    expected = expected_scripts(config)
    assert files(tmp_path / "out" / "contoso") == expected_files(expected)


def test_hook_and_outputs_feed_combine_into_one_set_of_files(tmp_path: Path) -> None:
    """IDs from the `apps` output and from a hook are the same data; from_outputs returns what it wrote."""
    config = contoso()
    writer = ExchangeScriptWriter("contoso", config, tmp_path)
    writer.on_service_principal("helpdesk", hook_args("helpdesk"))
    returned = writer.from_outputs(apps_output("contoso", config))
    assert returned == expected_scripts(config)
    assert files(tmp_path) == expected_files(returned)


def test_no_written_file_returned_script_or_message_contains_a_secret(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Secret values among the engine's outputs reach no file, no `exchange` output text and no log line."""
    config = contoso()
    writer = ExchangeScriptWriter("contoso", config, tmp_path)
    for app in ("scanners", "helpdesk"):
        writer.on_service_principal(app, hook_args(app, clientSecret=FAKE_SECRET, passwords=[{"value": FAKE_SECRET}]))
    apps = apps_output("contoso", config)
    apps["scanners"]["clientSecret"] = FAKE_SECRET
    returned = writer.from_outputs(apps)
    captured = capsys.readouterr()
    assert len(files(tmp_path)) == 4
    for where in [*files(tmp_path).values(), *returned.values(), captured.out, captured.err]:
        assert FAKE_SECRET not in where


def test_hook_rejects_an_unknown_or_secret_id_without_showing_its_value(tmp_path: Path) -> None:
    """An ID that is not a plain string (unknown, or a secret object) stops the hook; the message omits the value."""
    writer = ExchangeScriptWriter("contoso", contoso(), tmp_path)
    with pytest.raises(ConfigError, match=r"^resource hook of scanners-sp: objectId: is not a known plain string") as e:
        writer.on_service_principal("scanners", hook_args("scanners", objectId={"secret": FAKE_SECRET}))
    assert FAKE_SECRET not in str(e.value)


def test_application_object_id_in_place_of_the_service_principal_id_is_rejected_when_not_a_guid(
        tmp_path: Path) -> None:
    """A non-GUID object id from the engine fails naming the app's key path, and nothing is written."""
    writer = ExchangeScriptWriter("contoso", contoso(), tmp_path)
    writer.on_service_principal("helpdesk", hook_args("helpdesk"))
    with pytest.raises(ConfigError, match=r"apps\.scanners\.servicePrincipalObjectId: '/applications/x'"):
        writer.on_service_principal("scanners", hook_args("scanners", object_id="/applications/x"))
    assert files(tmp_path) == {}


def test_without_out_dir_nothing_is_written_but_the_scripts_are_returned(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With out_dir=None (preview, offline plan) the writer renders for the `exchange` output and writes no file."""
    monkeypatch.chdir(tmp_path)
    config = contoso()
    writer = ExchangeScriptWriter("contoso", config, None)
    assert writer.from_outputs(apps_output("contoso", config)) == expected_scripts(config)
    assert list(tmp_path.iterdir()) == []


def test_unchanged_scripts_are_not_rewritten_and_changed_ones_replace_the_file(tmp_path: Path) -> None:
    """The same IDs again leave the files untouched; a new service principal id replaces them, leaving no temp file."""
    writer = ExchangeScriptWriter("contoso", contoso(), tmp_path)
    for app in ("scanners", "helpdesk"):
        writer.on_service_principal(app, hook_args(app))
    apply = tmp_path / script_name("apply")
    before = apply.stat().st_ino
    writer.on_service_principal("scanners", hook_args("scanners"))
    assert apply.stat().st_ino == before
    new_id = "0f0f0f0f-0000-4000-8000-000000000001"
    writer.on_service_principal("scanners", hook_args("scanners", object_id=new_id))
    assert apply.stat().st_ino != before
    assert f"-ObjectId '{new_id}'" in apply.read_text(encoding="utf-8")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([MODULE_NAME, *(script_name(a) for a in ACTIONS)])


def test_a_failed_write_leaves_the_previous_script_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """If the rename fails, the old file keeps its full text and the temporary file is removed."""
    writer = ExchangeScriptWriter("contoso", contoso(), tmp_path)
    for app in ("scanners", "helpdesk"):
        writer.on_service_principal(app, hook_args(app))
    before = files(tmp_path)

    def broken_replace(source: str, target: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        writer.on_service_principal("scanners", hook_args("scanners", object_id="0f0f0f0f-0000-4000-8000-00000000000f"))
    assert files(tmp_path) == before


def _auto(config: StackConfig, **exchange: object) -> StackConfig:
    settings = {"auto_apply": True, **exchange}
    return replace(config, exchange=replace(config.exchange, **settings))  # type: ignore[arg-type]


CERTIFICATE = {"app_id": "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee",
               "certificate_thumbprint": "0123456789ABCDEF0123456789ABCDEF01234567"}


class Runner:
    """Stands in for pwsh: records each run and fails the runs listed in `fail_at` (0 = the first run)."""

    def __init__(self, *fail_at: int, started: bool = True) -> None:
        self.ran: list[Path] = []
        self.fail_at = set(fail_at)
        self.started = started

    def __call__(self, script: Path) -> bool:
        """Run `script` (record it), or raise as a failed pwsh run does."""
        self.ran.append(script)
        if len(self.ran) - 1 in self.fail_at:
            raise RuntimeError(f"{script} failed with exit status 1")
        return self.started


def up(tmp_path: Path, runner: Runner) -> None:
    """One `pulumi up`: a new writer (as a new program run) and both service principals' hooks."""
    writer = ExchangeScriptWriter("contoso", _auto(contoso(), **CERTIFICATE), tmp_path, runner=runner)
    for app in ("scanners", "helpdesk", "scanners"):
        writer.on_service_principal(app, hook_args(app))


def last_run(folder: Path) -> dict[str, object]:
    """Return the recorded last run of the apply script."""
    record: dict[str, object] = json.loads((folder / LAST_RUN_FILE).read_text(encoding="utf-8"))
    return record


def test_auto_apply_runs_the_apply_script_once_per_up_and_not_again_after_success(tmp_path: Path) -> None:
    """With autoApply and certificate sign-in, a new apply script runs once; the next up does not run it again."""
    runner = Runner()
    up(tmp_path, runner)
    assert runner.ran == [tmp_path / script_name("apply")]
    assert last_run(tmp_path)["result"] == "succeeded"
    up(tmp_path, runner)
    assert len(runner.ran) == 1


def test_auto_apply_runs_again_on_the_next_up_after_a_failure_until_one_succeeds(tmp_path: Path) -> None:
    """A failed run fails that up and is recorded; the next ups run the same, unchanged script until it succeeds."""
    runner = Runner(0, 1)
    for attempt in range(2):
        with pytest.raises(RuntimeError, match="failed with exit status 1"):
            up(tmp_path, runner)
        assert len(runner.ran) == attempt + 1
        assert last_run(tmp_path)["result"] == "failed"
    up(tmp_path, runner)
    assert len(runner.ran) == 3
    assert last_run(tmp_path)["result"] == "succeeded"
    up(tmp_path, runner)
    assert len(runner.ran) == 3


def test_auto_apply_runs_again_when_pwsh_could_not_be_started(tmp_path: Path) -> None:
    """A run that never started (pwsh missing) is recorded as not-run, so the next up tries again."""
    runner = Runner(started=False)
    up(tmp_path, runner)
    assert last_run(tmp_path)["result"] == "not-run"
    runner.started = True
    up(tmp_path, runner)
    assert len(runner.ran) == 2
    assert last_run(tmp_path)["result"] == "succeeded"


def test_a_changed_apply_script_runs_even_after_the_old_one_succeeded(tmp_path: Path) -> None:
    """The record is per script text: new IDs give a new script, which runs."""
    runner = Runner()
    up(tmp_path, runner)
    writer = ExchangeScriptWriter("contoso", _auto(contoso(), **CERTIFICATE), tmp_path, runner=runner)
    writer.on_service_principal("helpdesk", hook_args("helpdesk"))
    writer.on_service_principal("scanners", hook_args("scanners", object_id="0f0f0f0f-0000-4000-8000-000000000001"))
    assert len(runner.ran) == 2


def test_an_unreadable_last_run_record_means_run_again(tmp_path: Path) -> None:
    """A damaged record (hand-edited, truncated) is not trusted: the apply script runs again."""
    runner = Runner()
    up(tmp_path, runner)
    (tmp_path / LAST_RUN_FILE).write_text("{not json", encoding="utf-8")
    up(tmp_path, runner)
    assert len(runner.ran) == 2


def test_last_run_record_holds_no_secret_or_script_text(tmp_path: Path) -> None:
    """The record has exactly the script's hash, the result and the time."""
    up(tmp_path, Runner())
    record = last_run(tmp_path)
    assert sorted(record) == ["at", "result", "script"]
    apply = (tmp_path / script_name("apply")).read_bytes()
    assert record["script"] == hashlib.sha256(apply).hexdigest()


@pytest.mark.parametrize(("config_change", "writes"), [({"auto_apply": False, **CERTIFICATE}, True),
                                                        (CERTIFICATE, False)])
def test_apply_script_is_not_run_without_autoapply_or_an_out_dir(
        tmp_path: Path, config_change: dict[str, object], writes: bool) -> None:
    """With autoApply off, or no out_dir (preview, offline plan), the apply script never runs.

    autoApply without certificate sign-in never reaches the hook: the config refuses it (test_config_validation).
    """
    runner = Runner()
    writer = ExchangeScriptWriter("contoso", _auto(contoso(), **config_change), tmp_path if writes else None,
                                  runner=runner)
    for app in ("scanners", "helpdesk"):
        writer.on_service_principal(app, hook_args(app))
    assert runner.ran == []


def test_record_refuses_an_app_the_stack_does_not_have(tmp_path: Path) -> None:
    """Recording IDs for an unknown app name is a wiring mistake and fails loudly."""
    writer = ExchangeScriptWriter("contoso", contoso(), tmp_path)
    with pytest.raises(ValueError, match="'printers' is not an app of stack contoso"):
        writer.record("printers", client_id=standin("contoso", "printers", "clientId"),
                      service_principal_object_id=standin("contoso", "printers", "servicePrincipalObjectId"))


class NoResources(pulumi.runtime.Mocks):
    """A mock engine for building hooks; no resource is registered."""

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, object]]:
        """Fail: the test registers no resource."""
        raise AssertionError(args.name)

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, object], None]:
        """Fail: the test invokes nothing."""
        raise AssertionError(args.token)


def test_hook_binding_calls_the_writer_after_create_and_after_update(tmp_path: Path) -> None:
    """hooks(app) binds one ResourceHook to after_create and after_update, and it records that app's IDs."""
    pulumi.runtime.set_mocks(NoResources(), project="exo-oauth", stack="contoso")
    config = replace(contoso(), exchange=ExchangeConfig())
    writer = ExchangeScriptWriter("contoso", config, tmp_path)
    binding = writer.hooks("scanners")
    assert binding.after_create == binding.after_update
    (hook,) = binding.after_create or []
    assert isinstance(hook, pulumi.ResourceHook)
    hook(hook_args("scanners"))
    writer.on_service_principal("helpdesk", hook_args("helpdesk"))
    assert f"-Trustee '{standin('contoso', 'scanners', 'servicePrincipalObjectId')}'" in files(tmp_path)[
        script_name("apply")]


def test_the_apps_output_is_read_through_the_outputs_model(tmp_path: Path) -> None:
    """A malformed app output stops the writer with the model's message and key path, and writes nothing."""
    config = contoso()
    apps = apps_output("contoso", config)
    apps["helpdesk"]["servicePrincipalObjectId"] = "helpdesk-sp"
    with pytest.raises(ConfigError, match=r"^pulumi up of stack contoso: apps\.helpdesk\.servicePrincipalObjectId: "):
        ExchangeScriptWriter("contoso", config, tmp_path).from_outputs(apps)
    assert list(tmp_path.iterdir()) == []
