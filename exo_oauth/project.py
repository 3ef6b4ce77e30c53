"""Find the Pulumi project, its stack files, and load one stack's validated config."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from components.config import StackConfig, parse_stack_config
from components.errors import ConfigError

from .errors import UsageError

STACK_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
STACK_FILE = re.compile(r"^Pulumi\.([A-Za-z0-9][A-Za-z0-9_.-]{0,99})\.yaml$")
STACKS_DIR = "stacks"


@dataclass(frozen=True)
class LoadedStack:
    """A stack file read and validated."""

    name: str
    """The stack name (the `<tenant>` of `Pulumi.<tenant>.yaml`)."""
    path: Path
    """The stack file."""
    raw: dict[str, Any]
    """The file's `config:` mapping, decoded."""
    config: StackConfig
    """The validated config."""

    def pulumi_config(self) -> dict[str, str]:
        """Return the config as the engine hands it to a program: strings, structured values as JSON."""
        return {k: v if isinstance(v, str) else json.dumps(v) for k, v in self.raw.items()}


def find_project_dir(start: Path | None = None) -> Path:
    """Return the nearest folder at or above `start` (default: the working directory) with a Pulumi.yaml."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "Pulumi.yaml").is_file():
            return folder
    raise UsageError(f"no Pulumi.yaml in {here} or above; allowed: run inside an exo-oauth project, or pass "
                     "--project-dir DIR")


def stack_path(project_dir: Path, stack: str) -> Path:
    """Return the stack file of `stack`, checking the name first."""
    if not STACK_NAME.fullmatch(stack):
        raise UsageError(f"--stack {stack!r} is not a stack name; allowed: letters, digits, '-', '_' and '.'")
    return project_dir / STACKS_DIR / f"Pulumi.{stack}.yaml"


def list_stacks(project_dir: Path) -> list[str]:
    """Return the names of all stacks under stacks/, sorted."""
    folder = project_dir / STACKS_DIR
    names = [m.group(1) for p in folder.glob("Pulumi.*.yaml") if (m := STACK_FILE.fullmatch(p.name))]
    if not names:
        raise UsageError(f"no stack files in {folder}; allowed: stacks/Pulumi.<tenant>.yaml")
    return sorted(names)


def read_stack_text(name: str, text: str, source: str) -> tuple[dict[str, Any], StackConfig]:
    """Parse a stack file's text and validate its config; `source` names it in errors."""
    import yaml  # noqa: PLC0415 - PyYAML's C loader is not needed by `exo-oauth --help`

    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(source, "(file)", f"is not valid YAML{where}; allowed: a Pulumi stack file") from None
    if not isinstance(document, dict) or not isinstance(document.get("config"), dict):
        raise ConfigError(source, "config", "is missing or not a mapping; allowed: a `config:` mapping of keys")
    raw = {str(k): v for k, v in document["config"].items()}
    return raw, parse_stack_config(raw, source)


def load_stack(project_dir: Path, name: str) -> LoadedStack:
    """Read and validate one stack file; raise UsageError if it is missing, ConfigError if it is wrong."""
    path = stack_path(project_dir, name)
    if not path.is_file():
        raise UsageError(f"--stack {name!r}: no file {path.relative_to(project_dir)}; allowed: "
                         f"{', '.join(list_stacks(project_dir))}")
    source = str(path.relative_to(project_dir))
    raw, config = read_stack_text(name, path.read_text(encoding="utf-8"), source)
    return LoadedStack(name, path, raw, config)
