"""`exo-oauth --help` and each command's --help stay fast: they load no heavy library and not the config validator."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from exo_oauth.cli import COMMANDS, build_parser
from exo_oauth.policy.rules import DEFAULT_EXPIRY_WARNING_DAYS, DEFAULT_MAX_CREDENTIAL_DAYS
from tests.stack_factory import PROJECT, REPO

HEAVY = ("pulumi", "pulumi_azuread", "pulumiverse_time", "pulumi_policy", "cryptography", "email_validator", "msal",
         "msal_extensions", "requests", "jwt", "yaml", "grpc", "exo_domain.config")
"""What --help must not import: the Pulumi SDK and providers, crypto, msal, HTTP, YAML and the config validator."""

_LOADED = """
import json, sys
from exo_oauth.cli import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
print(json.dumps(sorted(sys.modules)))
"""


def _heavy_loaded(*argv: str) -> list[str]:
    """Return the heavy modules a fresh interpreter has loaded after `exo-oauth argv`."""
    done = subprocess.run([sys.executable, "-c", _LOADED, *argv], cwd=REPO, capture_output=True, text=True, check=True,
                          timeout=60)
    loaded = json.loads(done.stdout.splitlines()[-1])
    return [m for m in loaded if any(m == heavy or m.startswith(f"{heavy}.") for heavy in HEAVY)]


@pytest.mark.parametrize("argv", [["--help"], *([name, "--help"] for name in COMMANDS)], ids=" ".join)
def test_help_loads_no_heavy_module(argv: list[str]) -> None:
    """Printing help imports only the command layer and light facts; the heavy work is imported where it runs."""
    assert _heavy_loaded(*argv) == []


def test_the_help_guard_sees_a_heavy_import() -> None:
    """The guard is not blind: a command that runs (here `plan`, which plans) loads Pulumi and is seen doing so."""
    assert "pulumi" in _heavy_loaded("plan", "--stack", "contoso", "--project-dir", str(PROJECT))


def test_audit_help_gives_the_policy_defaults() -> None:
    """Audit's --warn-days and --max-days name the policy's own defaults, not copies of them."""
    audit = next(a for a in build_parser()._actions if a.dest == "command").choices["audit"]
    helps = " ".join(" ".join((action.help or "").split()) for action in audit._actions)
    assert f"(default: the policy's, {DEFAULT_EXPIRY_WARNING_DAYS})" in helps
    assert f"(default: the policy's, {DEFAULT_MAX_CREDENTIAL_DAYS})" in helps
