"""Write a stack's Exchange Online scripts to disk during `pulumi up`, and optionally run the apply script.

Two feeds give the writer each app's deployed IDs: a resource hook on the app's ServicePrincipal (after_create and
after_update, so a new or replaced service principal rewrites the scripts at once), and the `apps` output (so an
unchanged stack still gets its files, and the `exchange` stack output gets the same text). Pulumi is imported only
where a hook is built; everything else is plain Python and testable without the engine.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .config import At, StackConfig, guid
from .errors import ConfigError
from .exchange_actions import ACTIONS, script_name
from .exchange_scripts import ExchangeApp, build_exchange_inputs, render_exchange_scripts

if TYPE_CHECKING:
    import pulumi

Runner = Callable[[Path], None]
"""Runs the apply script at the given path; raises if it fails."""

PWSH_TIMEOUT_SECONDS = 1800


class ExchangeScriptWriter:
    """Collects every app's deployed IDs and, once all apps of the stack have them, writes the three scripts.

    The files are `<out_dir>/exchange-apply.ps1`, `exchange-verify.ps1` and `exchange-remove.ps1`. Each is replaced
    atomically (a temporary file in the same folder, then a rename) and only when its text changed, so no reader ever
    sees half a script. With `out_dir=None` (preview, offline plan) nothing is written or run. When exchange.autoApply
    is on and the apply script changed, `runner` runs it (default: `run_apply_with_pwsh`).
    """

    def __init__(self, stack: str, config: StackConfig, out_dir: Path | None, runner: Runner | None = None) -> None:
        self._stack = stack
        self._config = config
        self._out_dir = out_dir
        self._runner = runner or run_apply_with_pwsh
        self._ids: dict[str, dict[str, Any]] = {}

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

        Raises ConfigError if an app's `clientId` or `servicePrincipalObjectId` is missing or not a GUID.
        """
        for app in self._config.apps:
            outputs = apps.get(app.name) or {}
            self._remember(app.name, outputs.get("clientId"), outputs.get("servicePrincipalObjectId"))
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
                        mailboxes=app.mailboxes)
            for app in self._config.apps
        ]
        inputs = build_exchange_inputs(self._stack, self._config.tenant_id, apps, self._config.exchange, source)
        scripts = render_exchange_scripts(inputs)
        if self._out_dir is not None:
            self._write(self._out_dir, scripts)
        return scripts

    def _write(self, out_dir: Path, scripts: Mapping[str, str]) -> None:
        out_dir.mkdir(parents=True, exist_ok=True)
        changed = [action for action in ACTIONS if _replace(out_dir / script_name(action), scripts[action])]
        if not changed:
            return
        _log(f"wrote {', '.join(str(out_dir / script_name(a)) for a in changed)}")
        apply = out_dir / script_name("apply")
        if "apply" in changed and self._config.exchange.auto_apply:
            if self._config.exchange.app_id is None:
                # A hook cannot answer an interactive sign-in prompt.
                _log("exchange.autoApply needs certificate app-only sign-in (exchange.appId, certificateThumbprint, "
                     f"organization); run it yourself: pwsh -File {apply}", warn=True)
                return
            self._runner(apply)


def _known_text(outputs: Mapping[str, Any], key: str, source: str) -> str:
    value = outputs.get(key)
    if not isinstance(value, str):
        # Never show the value: an unknown or secret output is a Pulumi object, and a secret must not be printed.
        raise ConfigError(source, key, "is not a known plain string; allowed: the GUID the provider reports")
    return value


def _replace(path: Path, text: str) -> bool:
    """Atomically replace `path` with `text` unless it already holds exactly that; return whether it changed."""
    if path.is_file() and path.read_text(encoding="utf-8") == text:
        return False
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return True


def run_apply_with_pwsh(script: Path) -> None:
    """Run the apply script with pwsh if it is on PATH (else say how to run it); raise if the script fails."""
    pwsh = shutil.which("pwsh")
    if pwsh is None:
        _log(f"exchange.autoApply is on but pwsh is not on PATH; run it yourself: pwsh -File {script}", warn=True)
        return
    argv = [pwsh, "-NoLogo", "-NoProfile", "-NonInteractive", "-File", str(script)]
    try:
        done = subprocess.run(argv, check=False, timeout=PWSH_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"{script} did not finish in {PWSH_TIMEOUT_SECONDS} s; run it yourself: "
                           f"pwsh -File {script}") from None
    if done.returncode != 0:
        raise RuntimeError(f"{script} failed with exit status {done.returncode}; fix the cause it printed and run "
                           f"it again: pwsh -File {script}")


def _log(message: str, *, warn: bool = False) -> None:
    import pulumi  # noqa: PLC0415 - see ExchangeScriptWriter.hooks

    (pulumi.log.warn if warn else pulumi.log.info)(f"exchange scripts: {message}")
