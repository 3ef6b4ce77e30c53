"""Read a deployed stack's outputs: from a saved file, or from `pulumi stack output --json` where the CLI exists.

The outputs are what `__main__.py` exports, modelled by exo_domain.outputs.StackOutputs (docs/reference.md).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from exo_domain.errors import ConfigError
from exo_domain.outputs import StackOutputs

from ..util.errors import UsageError, last_line
from ..util.files import load_json, read_text

PULUMI_TIMEOUT_SECONDS = 120
ALLOWED = "the JSON that `pulumi stack output --json` prints"


def load_outputs(
    stack: str, project_dir: Path, outputs_file: Path | None, *, show_secrets: bool = False
) -> StackOutputs:
    """Return the stack's outputs, checked by the outputs model (one UsageError for a bad or old file).

    With `outputs_file`, read it (the JSON of `pulumi stack output --json`, with or without `--show-secrets`).
    Otherwise ask the pulumi CLI; `show_secrets` adds `--show-secrets`, which only `verify` needs. Raises
    UsageError with what to do when neither source is there.
    """
    if outputs_file is not None:
        label = f"--outputs {outputs_file}"
        return _decode(read_text(outputs_file, label, ALLOWED), label)
    pulumi = shutil.which("pulumi")
    if pulumi is None:
        show = " --show-secrets" if show_secrets else ""
        raise UsageError(
            "the pulumi CLI is not on PATH, so the deployed outputs cannot be read; allowed: install it "
            "(https://www.pulumi.com/docs/install/) or pass --outputs FILE saved with "
            f"`pulumi stack output --json{show} --stack {stack} > FILE`"
            + (" (it holds the client secret: keep it private)" if show_secrets else "")
        )
    argv = [pulumi, "stack", "output", "--json", "--stack", stack, "--non-interactive"]
    if show_secrets:
        argv.append("--show-secrets")
    try:
        done = subprocess.run(argv, cwd=project_dir, capture_output=True, text=True, timeout=PULUMI_TIMEOUT_SECONDS,
                              check=False)
    except subprocess.TimeoutExpired:
        raise UsageError(f"`pulumi stack output --stack {stack}` did not answer in {PULUMI_TIMEOUT_SECONDS} s"
                         ) from None
    if done.returncode != 0:
        raise UsageError(f"`pulumi stack output --stack {stack}` failed: {last_line(done.stderr)}")
    return _decode(done.stdout, f"pulumi stack output --stack {stack}")


def load_previous_outputs(path: Path) -> StackOutputs | None:
    """Return the outputs saved before an update (`--previous`), or None when they are `{}`.

    `pulumi stack output --json` prints `{}` for a stack that was never deployed: there is nothing to revoke.
    """
    label = f"--previous {path}"
    outputs = load_json(read_text(path, label, ALLOWED), label, ALLOWED)
    return None if outputs == {} else _checked(outputs, label)


def _decode(text: str, source: str) -> StackOutputs:
    return _checked(load_json(text, source, ALLOWED), source)


def _checked(outputs: object, source: str) -> StackOutputs:
    try:
        return StackOutputs.from_wire(outputs, source)
    except ConfigError as error:
        raise UsageError(str(error)) from None
