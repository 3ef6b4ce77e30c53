"""Write a stack's Exchange Online scripts to disk during `pulumi up`, and optionally run the apply script.

Two feeds give the writer each app's deployed IDs: a resource hook on the app's ServicePrincipal (after_create and
after_update, so a new or replaced service principal rewrites the scripts at once), and the `apps` output (so an
unchanged stack still gets its files, and the `exchange` stack output gets the same text). Pulumi is imported only
where a hook is built; everything else is plain Python and testable without the engine.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from exo_domain.config import At, StackConfig, guid
from exo_domain.errors import ConfigError
from exo_domain.exchange_actions import ACTIONS, script_name
from exo_domain.exchange_scripts import ExchangeApp, build_exchange_inputs, render_exchange_scripts
from exo_domain.outputs import AppOutputs

from .exchange_folder import replace_text, write_exchange_folder

if TYPE_CHECKING:
    import pulumi

Runner = Callable[[Path], bool]
"""Runs the apply script at the given path: True when it ran and succeeded, False when it could not be started (for
example pwsh is missing); raises if it ran and failed."""

LAST_RUN_FILE = "exchange-apply.last-run.json"
"""Beside the scripts: which apply script text ran last (its SHA-256), when, and whether it succeeded. No secrets."""

PWSH_TIMEOUT_SECONDS = 1800


class ExchangeScriptWriter:
    """Collects every app's deployed IDs and, once all apps of the stack have them, writes the three scripts.

    The files are `<out_dir>/exchange-apply.ps1`, `exchange-verify.ps1` and `exchange-remove.ps1`, with the module
    they import beside them (exchange_folder); each is replaced atomically and only when its text changed. With
    `out_dir=None` (preview, offline plan) nothing is written or run. When exchange.autoApply is on, `runner`
    (default: `run_apply_with_pwsh`) runs the apply script unless `LAST_RUN_FILE` says this exact text already
    succeeded: a failed or skipped run (say Exchange Online had not yet seen a new service principal) is tried again
    by the next `pulumi up`, at most once per script text per run.
    """

    def __init__(self, stack: str, config: StackConfig, out_dir: Path | None, runner: Runner | None = None) -> None:
        self._stack = stack
        self._config = config
        self._out_dir = out_dir
        self._runner = runner or run_apply_with_pwsh
        self._ids: dict[str, dict[str, Any]] = {}
        self._attempted: set[str] = set()

    def hooks(self, app: str) -> pulumi.ResourceHookBinding:
        """Return the hook binding for `app`'s ServicePrincipal: after_create and after_update record its IDs."""
        import pulumi  # noqa: PLC0415 - only `pulumi up` builds hooks; the CLI imports this module without Pulumi

        def after_service_principal(args: pulumi.ResourceHookArgs) -> None:
            self.on_service_principal(app, args)

        hook = pulumi.ResourceHook(f"exo-oauth-exchange-scripts-{app}", after_service_principal)
        return pulumi.ResourceHookBinding(after_create=[hook], after_update=[hook])

    def on_service_principal(self, app: str, args: pulumi.ResourceHookArgs) -> None:
        """Record the `clientId` and `objectId` the engine reports for `app`'s service principal; write if complete."""
        outputs = args.new_outputs or {}
        source = f"resource hook of {args.name}"
        self.record(
            app,
            client_id=_known_text(outputs, "clientId", source),
            service_principal_object_id=_known_text(outputs, "objectId", source),
        )

    def from_outputs(self, apps: Mapping[str, Any]) -> dict[str, str]:
        """Record every app's IDs from the `apps` stack output; write and return the scripts (the `exchange` output).

        Each app's output is read through the outputs model (exo_domain.outputs.AppOutputs); raises ConfigError
        naming the key path when one is missing or malformed.
        """
        source = f"pulumi up of stack {self._stack}"
        for app in self._config.apps:
            deployed = AppOutputs.from_wire(apps.get(app.name), source, app.name)
            self._remember(app.name, deployed.client_id, deployed.service_principal_object_id)
        return self._flush()

    def record(self, app: str, *, client_id: Any, service_principal_object_id: Any) -> dict[str, str] | None:
        """Remember `app`'s IDs; once every app has them, write the scripts and return them, else return None.

        Raises ConfigError if an ID is not a GUID.
        """
        self._remember(app, client_id, service_principal_object_id)
        return self._flush() if len(self._ids) == len(self._config.apps) else None

    def _remember(self, app: str, client_id: Any, service_principal_object_id: Any) -> None:
        if app not in {a.name for a in self._config.apps}:
            raise ValueError(f"{app!r} is not an app of stack {self._stack}")
        self._ids[app] = {"clientId": client_id, "servicePrincipalObjectId": service_principal_object_id}

    def _flush(self) -> dict[str, str]:
        # The typed config plus the two deployed IDs is all the scripts need: no round trip through the outputs.
        source = f"pulumi up of stack {self._stack}"
        apps = [
            ExchangeApp(app.name, app.display_name, app.flow, app.protocols,
                        client_id=guid(At(source, f"apps.{app.name}.clientId", self._ids[app.name]["clientId"])),
                        service_principal_object_id=guid(At(source, f"apps.{app.name}.servicePrincipalObjectId",
                                                            self._ids[app.name]["servicePrincipalObjectId"])),
                        mailboxes=app.mailboxes, exchange_access=app.exchange_access,
                        sign_in_mailboxes=app.sign_in_mailboxes, sign_in_group=app.sign_in_group)
            for app in self._config.apps
        ]
        inputs = build_exchange_inputs(self._stack, self._config.tenant_id, apps, self._config.exchange, source,
                                       cloud=self._config.cloud)
        scripts = render_exchange_scripts(inputs)
        if self._out_dir is not None:
            self._write(self._out_dir, scripts)
        return scripts

    def _write(self, out_dir: Path, scripts: Mapping[str, str]) -> None:
        changed = write_exchange_folder(out_dir, {script_name(action): scripts[action] for action in ACTIONS})
        if changed:
            _log(f"wrote {', '.join(str(path) for path in changed)}")
        if self._config.exchange.auto_apply:
            self._auto_apply(out_dir, scripts["apply"])

    def _auto_apply(self, out_dir: Path, text: str) -> None:
        apply = out_dir / script_name("apply")
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
        last = _last_run(out_dir / LAST_RUN_FILE)
        if digest in self._attempted or (last.get("script") == digest and last.get("result") == "succeeded"):
            return
        self._attempted.add(digest)
        if last.get("script") == digest:
            _log(f"the last run of {apply} ({last.get('result')}, {last.get('at')}) did not succeed; running it again")
        try:
            ran = self._runner(apply)
        except BaseException:
            _save_last_run(out_dir / LAST_RUN_FILE, digest, "failed")
            raise
        _save_last_run(out_dir / LAST_RUN_FILE, digest, "succeeded" if ran else "not-run")


def _last_run(path: Path) -> dict[str, Any]:
    """Return the recorded last run, or {} when there is none or it cannot be read (then the script runs again)."""
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


def _save_last_run(path: Path, digest: str, result: str) -> None:
    at = datetime.now(UTC).isoformat(timespec="seconds")
    replace_text(path, json.dumps({"script": digest, "result": result, "at": at}, indent=2) + "\n")


def _known_text(outputs: Mapping[str, Any], key: str, source: str) -> str:
    value = outputs.get(key)
    if not isinstance(value, str):
        # Never show the value: an unknown or secret output is a Pulumi object, and a secret must not be printed.
        raise ConfigError(source, key, "is not a known plain string; allowed: the GUID the provider reports")
    return value


def run_apply_with_pwsh(script: Path) -> bool:
    """Run the apply script with pwsh; return whether it ran, and raise if it failed.

    Without pwsh on PATH it says how to run the script and returns False.
    """
    pwsh = shutil.which("pwsh")
    if pwsh is None:
        _log(f"exchange.autoApply is on but pwsh is not on PATH; run it yourself: pwsh -File {script}", warn=True)
        return False
    argv = [pwsh, "-NoLogo", "-NoProfile", "-NonInteractive", "-File", str(script)]
    try:
        done = subprocess.run(argv, check=False, timeout=PWSH_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"{script} did not finish in {PWSH_TIMEOUT_SECONDS} s; run it yourself: "
                           f"pwsh -File {script}") from None
    if done.returncode != 0:
        raise RuntimeError(f"{script} failed with exit status {done.returncode}; fix the cause it printed, then "
                           f"run it yourself (pwsh -File {script}) or let the next pulumi up run it again")
    return True


def _log(message: str, *, warn: bool = False) -> None:
    import pulumi  # noqa: PLC0415 - see ExchangeScriptWriter.hooks

    (pulumi.log.warn if warn else pulumi.log.info)(f"exchange scripts: {message}")
