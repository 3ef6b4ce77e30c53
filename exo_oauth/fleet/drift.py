"""Drift detection for one stack: Entra (pulumi preview), Exchange (the verify script) and end to end (verify).

Each check runs what this machine has (the pulumi CLI, pwsh, the network) and otherwise says why it could not run.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from components.exchange_folder import write_exchange_folder
from exo_domain.errors import ConfigError
from exo_domain.exchange_actions import result_name, script_name
from exo_domain.exchange_runner import RESULT_FIELDS
from exo_domain.exit_codes import ExitCode
from exo_domain.outputs import StackOutputs

from ..review.markdown import escape
from ..util.errors import UsageError, last_line
from ..util.files import read_json
from ..verify.request import VerifyRequest
from ..verify.service import Verification, verify
from . import rotation_due as rotation

CLEAN, DRIFT, NOT_RUN, SKIPPED = "clean", "drift", "not run", "skipped"
ROTATION_DUE = "rotation due; rotation.yml deploys it"
SHOWN = 5
"""Changes named in a detail; the preview has the rest."""
TIMEOUT_SECONDS = 1800


@dataclass(frozen=True)
class CheckResult:
    """One drift check's outcome."""

    check: str
    """entra, exchange, or e2e:<app>."""
    status: str
    """clean, drift, not run, or skipped."""
    detail: str
    """What was found, or why it could not run."""


def _run(argv: Sequence[str], cwd: Path) -> subprocess.CompletedProcess[str] | str:
    """Run a command; return its result, or a one-line reason if it could not start or finish."""
    try:
        return subprocess.run(list(argv), cwd=cwd, capture_output=True, text=True, check=False,
                              timeout=TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        return f"{Path(argv[0]).name} did not finish in {TIMEOUT_SECONDS} s"
    except OSError as error:
        return f"{Path(argv[0]).name} could not start ({error.strerror})"


def entra_check(stack: str, project_dir: Path, policy_pack: Path | None = None,
                now: datetime | None = None) -> CheckResult:
    """Refresh the stack and preview it (with the policy pack, if given): a change other than due rotation is drift.

    Credential rotation on its schedule (exo_oauth/fleet/rotation_due.py, judged as of `now`, default the current UTC
    time) shows as a change from a period's start until rotation.yml deploys it: that is clean, with a note.
    """
    pulumi = shutil.which("pulumi")
    if pulumi is None:
        return CheckResult("entra", NOT_RUN, "the pulumi CLI is not on PATH")
    argv = [pulumi, "preview", "--refresh", "--json", "--non-interactive", "--stack", stack]
    done = _run([*argv, "--policy-pack", str(policy_pack)] if policy_pack else argv, project_dir)
    if isinstance(done, str):
        return CheckResult("entra", NOT_RUN, done)
    now = now or datetime.now(UTC)
    judged = _preview_verdict(done, now)
    if isinstance(judged, str):
        return CheckResult("entra", NOT_RUN, judged)
    steps, verdict = judged
    if verdict.status == rotation.NONE:
        return CheckResult("entra", CLEAN, "pulumi preview --refresh proposes no change")
    if verdict.status == rotation.DUE:
        return CheckResult("entra", CLEAN, f"{ROTATION_DUE}: {_named(verdict.rotation)}")
    # A rotation waiting behind other changes is reported every day until a reviewed deploy lets it run.
    waiting = "".join(f"{b.describe(SHOWN)}; " for b in rotation.blocked(steps, verdict, now))
    return CheckResult("entra", DRIFT, f"{waiting}pulumi preview --refresh proposes changes: {_named(verdict.other)}; "
                       "run it with --diff to see them, then `pulumi up` to restore the declared state")


def _preview_verdict(done: subprocess.CompletedProcess[str],
                     now: datetime) -> tuple[list[rotation.Step], rotation.Verdict] | str:
    """Judge the preview's JSON; return its steps and verdict, or why not when the preview failed."""
    failed = f"pulumi preview failed: {last_line(done.stderr or done.stdout)}"
    try:
        document = json.loads(done.stdout)
    except ValueError:
        return failed
    try:
        steps = rotation.read_preview(document)
    except ValueError as error:
        return f"pulumi preview --json: {error}"
    return (steps, rotation.judge(steps, now)) if done.returncode == 0 else failed


def _named(steps: Sequence[rotation.Step]) -> str:
    more = f" and {len(steps) - SHOWN} more" if len(steps) > SHOWN else ""
    return ", ".join(s.describe() for s in steps[:SHOWN]) + more


def exchange_check(stack: str, project_dir: Path, verify_script: Callable[[], str] | None, unattended: bool,
                   script_args: Sequence[str] = ()) -> CheckResult:
    """Run the stack's Exchange verify script with pwsh (`script_args` after it): exit `ExitCode.DRIFT` means drift.

    `verify_script` renders it with this exo-oauth from the deployed outputs (None without them), only once the check
    can run; it runs from a temporary folder beside the module it imports.
    """
    pwsh = shutil.which("pwsh")
    if pwsh is None:
        reason = "pwsh (PowerShell 7) is not on PATH"
    elif verify_script is None:
        reason = "the stack outputs are not available; pass --outputs FILE or install the pulumi CLI"
    elif not unattended:
        reason = ("the script would ask for an interactive sign-in; set exo-oauth:exchange.appId and a certificate "
                  "for certificate app-only sign-in")
    else:
        try:
            text = verify_script()
        except (UsageError, ConfigError) as error:
            # Outputs the script cannot be rendered from cost this check, not the stack's other checks.
            return CheckResult("exchange", NOT_RUN, f"the verify script could not be rendered: {error}")
        with tempfile.TemporaryDirectory(prefix="exo-oauth-drift-") as folder:
            path = Path(folder) / script_name("verify")
            write_exchange_folder(Path(folder), {path.name: text})
            done = _run([pwsh, "-NoLogo", "-NoProfile", "-NonInteractive", "-File", str(path), *script_args],
                        project_dir)
        if isinstance(done, str):
            return CheckResult("exchange", NOT_RUN, done)
        return _exchange_result(stack, done.returncode, last_line(done.stdout), last_line(done.stderr))
    return CheckResult("exchange", NOT_RUN, reason)


RESULTS_ALLOWED = "the JSON an Exchange runner writes (`exo-oauth exchange --out DIR --runners N`)"


def exchange_result_check(stack: str, folder: Path) -> CheckResult:
    """Judge how the stack's verify script ended under a runner (exo_domain.exchange_runner), from the result it wrote.

    A missing or unreadable result is `not run`, naming the file: the runner did not get to the stack, or failed.
    """
    path = folder / stack / result_name("verify")
    if not path.is_file():
        return CheckResult("exchange", NOT_RUN, f"{path}: no result; the Exchange runner did not run this stack "
                           "(see its log)")
    try:
        document = read_json(path, str(path), RESULTS_ALLOWED)
    except UsageError as error:
        return CheckResult("exchange", NOT_RUN, str(error))
    name, status, line = (document.get(key) if isinstance(document, Mapping) else None for key in RESULT_FIELDS)
    if name != stack or not isinstance(status, int) or isinstance(status, bool) or not isinstance(line, str):
        return CheckResult("exchange", NOT_RUN, f"{path}: not this stack's {', '.join(RESULT_FIELDS)}; allowed: "
                           f"{RESULTS_ALLOWED}")
    return _exchange_result(stack, status, line, line)


def _exchange_result(stack: str, status: int, drift_line: str, error_line: str) -> CheckResult:
    """Judge the verify script's exit status; `drift_line` is its last output line, `error_line` its last error."""
    if status == 0:
        return CheckResult("exchange", CLEAN, "every Exchange item is as apply left it")
    if status == ExitCode.DRIFT:
        return CheckResult("exchange", DRIFT, f"the verify script found drift: {drift_line}; run "
                           f"`exo-oauth exchange --stack {stack} --action apply --out DIR`, then DIR's "
                           "exchange-apply.ps1, to restore it")
    return CheckResult("exchange", NOT_RUN, f"the verify script failed ({status}): {error_line}")


def e2e_checks(stack: str, project_dir: Path, outputs: StackOutputs | None, overrides: Mapping[str, Any],
               outputs_file: Path | None, *, certificate: Mapping[str, Any] | None = None) -> list[CheckResult]:
    """Run verify in-process per app-only app on the `outputs` read once; delegated apps are skipped (a person).

    `overrides` are VerifyRequest fields handed on as they are (cloud, authority_host, imap, pop, smtp, ca_file).
    Secret apps use the stack's secret output, federated apps GitHub's OIDC token (verify/federated.py), and
    certificate apps `certificate` (the VerifyRequest fields `certificate` and `certificate_passphrase_env`),
    without which they are not run.
    """
    if outputs is None:
        return [CheckResult("e2e", NOT_RUN, "the stack outputs are not available; pass --outputs FILE or install "
                            "the pulumi CLI")]
    results = []
    for name, app in sorted(outputs.apps.items()):
        check = f"e2e:{name}"
        if app.flow != "app-only":
            results.append(CheckResult(check, SKIPPED, "a delegated app needs a user to sign in; run "
                                       f"`exo-oauth verify --stack {stack} --app {name}` yourself"))
            continue
        kind = app.credential.type
        if kind == "certificate" and not certificate:
            results.append(CheckResult(check, NOT_RUN, "a certificate app: pass --certificate PEM (its private key)"))
            continue
        request = VerifyRequest(stack=stack, app=name, project_dir=project_dir, outputs=outputs_file,
                                stack_outputs=outputs, **overrides,
                                **(certificate if kind == "certificate" and certificate else {}))
        try:
            result = verify(request, os.environ, prompt=lambda message: print(message, file=sys.stderr, flush=True))
        except (UsageError, ConfigError) as error:
            results.append(CheckResult(check, NOT_RUN, f"exo-oauth verify could not check: {error}"))
            continue
        if result.exit_status == ExitCode.OK:
            results.append(CheckResult(check, CLEAN, "token, IMAP/POP/SMTP logins as declared all work"))
        elif result.exit_status == ExitCode.FAILED:
            results.append(CheckResult(check, DRIFT, _verify_summary(result)))
        else:
            results.append(CheckResult(check, NOT_RUN, f"exo-oauth verify could not check: {_verify_summary(result)}"))
    return results


def _verify_summary(result: Verification) -> str:
    """Summarise the failed rows as `check: cause` pairs (the first finding's cause, else the row's summary)."""
    failed = [f"{row.name}: {row.findings[0].cause if row.findings else row.summary}"
              for row in result.diagnosis.rows if row.status == "failed"]
    return result.scrub("; ".join(failed) or "failed")


def exit_status(results: Sequence[CheckResult]) -> ExitCode:
    """DRIFT when anything drifted, else NOT_RUN when a check could not run, else OK (skipped checks do not count)."""
    if any(r.status == DRIFT for r in results):
        return ExitCode.DRIFT
    if any(r.status == NOT_RUN for r in results):
        return ExitCode.NOT_RUN
    return ExitCode.OK


def merge_reports(documents: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Return one `drift --format json` report from several reports of the same stack.

    It holds all their checks, in order, and the worst exit status: DRIFT, else the first that is not OK, else OK.
    """
    statuses = [document["exitStatus"] for document in documents]
    worst = ExitCode.DRIFT if ExitCode.DRIFT in statuses else next((s for s in statuses if s != ExitCode.OK),
                                                                    ExitCode.OK)
    return {"stack": documents[0]["stack"], "exitStatus": int(worst),
            "checks": [check for document in documents for check in document["checks"]]}


def render_text(stack: str, results: Sequence[CheckResult]) -> str:
    """Return one line per check."""
    lines = [f"drift check of stack {stack}"]
    lines += [f"  {r.check:<24} {r.status:<8} {r.detail}" for r in results]
    return "\n".join(lines) + "\n"


def render_json(stack: str, results: Sequence[CheckResult]) -> str:
    """Return {"stack", "exitStatus", "checks": [{"check", "status", "detail"}]}."""
    document = {"stack": stack, "exitStatus": exit_status(results), "checks": [asdict(r) for r in results]}
    return json.dumps(document, indent=2) + "\n"


def issue_title(stack: str) -> str:
    """Return the title of the stack's drift issue (one open issue per drifted stack)."""
    return f"Drift: stack {stack}"


def render_markdown(document: Mapping[str, Any], run_url: str | None) -> str:
    """Return the drift issue's text for a `drift --format json` report: a table of checks and what to do."""
    stack = escape(document.get("stack", "?"))
    status = document.get("exitStatus")
    where = f"[this run]({run_url})" if run_url else "this run"
    headline = {int(ExitCode.OK): f"No drift on stack {stack} in {where}.",
                int(ExitCode.DRIFT): f"Drift on stack {stack}, found by {where}."}.get(
        status if isinstance(status, int) else -1, f"Some drift checks of stack {stack} could not run in {where}.")
    lines = [headline, "", "| check | result | detail |", "| --- | --- | --- |"]
    for check in document.get("checks") or []:
        cells = (escape(check.get(key, "")) for key in ("check", "status", "detail"))
        lines.append("| {} | {} | {} |".format(*cells))
    if status == ExitCode.DRIFT:
        lines += ["", f"To restore the declared state of stack {stack}, review the findings, then run the deploy "
                  "workflow by hand for it (or `pulumi up --stack NAME`); Exchange items: "
                  "`exo-oauth exchange --stack NAME --action apply`."]
    elif status != ExitCode.OK:
        lines += ["", "A check that could not run is not drift: the detail says what it needs (a tool, a credential, "
                  "the network)."]
    return "\n".join(lines) + "\n"
