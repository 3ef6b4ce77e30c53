"""Find the Pulumi project, its stack files, and load one stack's validated config."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from exo_domain.config import (
    ARM_ENVIRONMENT,
    AZUREAD_ENVIRONMENT,
    PROJECT,
    STACK_NAME,
    STACKS_DIR,
    StackConfig,
    is_example,
    mistyped,
    parse_stack_config,
)
from exo_domain.errors import ConfigError

from ..util.errors import UsageError
from ..util.files import MAX_DEPTH, check_shape, read_text
from ..util.text import printable

PROGRAM = "__main__.py"
"""The project's Pulumi program, which `plan` runs on the mock monitor."""
STACK_FILE = re.compile(rf"Pulumi\.({STACK_NAME.pattern})\.yaml")


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
        """Return the keys the program reads as the engine hands them over: strings, structured values as JSON.

        Other namespaces' keys (provider settings) are left out, but for the two the program checks (and their
        mistyped spellings, which it names): the offline plan has no provider to read them.
        """
        return {k: v if isinstance(v, str) else json.dumps(v) for k, v in self.raw.items()
                if k.startswith(f"{PROJECT}:") or k in ("azuread:tenantId", AZUREAD_ENVIRONMENT) or mistyped(k)}


def find_project_dir(start: Path | None = None) -> Path:
    """Return the nearest folder at or above `start` (default: the working directory) with a Pulumi.yaml."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "Pulumi.yaml").is_file():
            return folder
    raise UsageError(f"no Pulumi.yaml in {here} or above; allowed: run inside an exo-oauth project, or pass "
                     "--project-dir DIR")


def require_program(project_dir: Path) -> Path:
    """Return the project's program file; raise UsageError when the folder has none (another Pulumi project)."""
    program = project_dir / PROGRAM
    if not program.is_file():
        raise UsageError(f"{project_dir}: no {PROGRAM}, the exo-oauth Pulumi program, so its Pulumi.yaml belongs to "
                         "another project; allowed: run inside your exo-oauth fleet repository, or pass --project-dir "
                         "DIR")
    return program


def stack_path(project_dir: Path, stack: str) -> Path:
    """Return the stack file of `stack`, checking the name first."""
    if not STACK_NAME.fullmatch(stack):
        raise UsageError(f"--stack {stack!r} is not a stack name; allowed: a name of letters, digits, '-', '_' and "
                         f"'.', or its file {STACKS_DIR}/Pulumi.NAME.yaml")
    return project_dir / STACKS_DIR / f"Pulumi.{stack}.yaml"


def _stack_of_file(name: str) -> str | None:
    """Return the stack of file name `Pulumi.<stack>.yaml`; None for other names; raise for an invalid stack name.

    The one place that decides which files are stack files, for the CLI and (through it) the workflows: a file that
    looks like a stack file but whose name is no valid stack name is an error, never silently skipped.
    """
    if not (name.startswith("Pulumi.") and name.endswith(".yaml")):
        return None
    if (match := STACK_FILE.fullmatch(name)) is None:
        raise UsageError(f"{STACKS_DIR}/{printable(name)!r}: not a valid stack file name; allowed: "
                         f"{STACKS_DIR}/Pulumi.<name>.yaml, the name of letters, digits, '-', '_' and '.' "
                         "(rename or remove the file)")
    return match.group(1)


def stack_names(project_dir: Path) -> list[str]:
    """Return the names of the stack files under stacks/, sorted; empty when there are none.

    Raises UsageError for a `Pulumi.*.yaml` file whose name is no valid stack name.
    """
    folder = project_dir / STACKS_DIR
    return sorted(name for p in folder.glob("Pulumi.*.yaml") if (name := _stack_of_file(p.name)) is not None)


def stack_of(path: str) -> str | None:
    """Return the stack whose file is the project-relative `path` (`stacks/Pulumi.<stack>.yaml`), else None.

    Raises UsageError for a stack file whose name is no valid stack name.
    """
    folder, _, name = path.rpartition("/")
    return _stack_of_file(name) if folder == STACKS_DIR else None


def list_stacks(project_dir: Path) -> list[str]:
    """Return the names of all stacks under stacks/, sorted; raise UsageError if there is none."""
    names = stack_names(project_dir)
    if not names:
        raise UsageError(f"no stack files in {project_dir / STACKS_DIR}; allowed: stacks/Pulumi.<tenant>.yaml")
    return names


# libyaml's parser when PyYAML was built with it (its wheels are): parsing is most of the time of loading a fleet.
_SafeLoader = yaml.CSafeLoader if yaml.__with_libyaml__ else yaml.SafeLoader


class _StrictLoader(_SafeLoader):  # type: ignore[valid-type,misc]  # one of two loader classes, chosen above
    """PyYAML's safe loader, refusing duplicate and unhashable keys (which it would resolve silently or crash on)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if not isinstance(key, Hashable) or isinstance(key, (list, dict)):
                raise yaml.constructor.ConstructorError(None, None, "a key that is a list or mapping",
                                                        key_node.start_mark)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark)
            seen.add(key)
        mapping: dict[Any, Any] = super().construct_mapping(node, deep=deep)
        return mapping


def _yaml(text: str, source: str) -> Any:
    try:
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or "syntax error"
        raise ConfigError(source, "(file)", f"is not valid YAML{where} ({printable(str(problem))}); allowed: a "
                          "Pulumi stack file, each key once") from None
    except RecursionError:
        raise ConfigError(source, "(file)", f"is nested too deeply to read; allowed: at most {MAX_DEPTH} "
                          "levels") from None
    except ValueError as error:  # an integer over Python's 4,300-digit limit
        raise ConfigError(source, "(file)", f"has a value out of range ({str(error).split(';')[0]}); allowed: "
                          "numbers a stack file needs (days, counts)") from None


def _check_json_text(raw: Mapping[str, Any], source: str) -> None:
    """Hold a structured key given as JSON text (as `pulumi config set` stores it) to the YAML's limits."""
    for key, value in raw.items():
        if isinstance(value, str) and value.lstrip()[:1] in ("[", "{"):
            try:
                decoded = json.loads(value)
            except json.JSONDecodeError:
                continue  # not JSON after all: the config's own checks name the type
            check_shape(decoded, f"{source}: {key}")



def _config_mapping(text: str, source: str) -> dict[str, Any]:
    """Parse a stack file's text and return its `config:` mapping, checked for shape and string keys."""
    document = _yaml(text, source)
    if not isinstance(document, dict) or not isinstance(document.get("config"), dict):
        raise ConfigError(source, "config", "is missing or not a mapping; allowed: a `config:` mapping of keys")
    check_shape(document, source)
    for key in document["config"]:
        if not isinstance(key, str):
            raise ConfigError(source, "config", f"has the key {key!r}, which is not a string (YAML reads `1:`, "
                              "`~:` and `true:` as a number, null and true); allowed: keys such as "
                              f"{PROJECT}:apps")
    raw: dict[str, Any] = document["config"]
    return raw


def read_stack_text(text: str, source: str) -> tuple[dict[str, Any], StackConfig]:
    """Parse a stack file's text and validate its config; `source` names it in errors."""
    raw = _config_mapping(text, source)
    try:
        _check_json_text(raw, source)
        return raw, parse_stack_config(raw, source, arm_environment=os.environ.get(ARM_ENVIRONMENT))
    except ConfigError:
        raise
    except RecursionError:
        raise ConfigError(source, "config", f"holds JSON text nested too deeply to read; allowed: at most "
                          f"{MAX_DEPTH} levels") from None
    except ValueError as error:  # JSON text in a structured key with an integer over the 4,300-digit limit
        raise ConfigError(source, "config", f"holds JSON text with a value out of range "
                          f"({str(error).split(';')[0]}); allowed: numbers a stack file needs") from None


def is_example_stack(project_dir: Path, name: str) -> bool:
    """Return whether stack `name` is marked `exo-oauth:example: true`, reading only that key of its file.

    The rest of the file is not validated here: the plan and the deploy do that.
    """
    path = stack_path(project_dir, name)
    source = f"{STACKS_DIR}/{path.name}"
    return is_example(_config_mapping(read_text(path, source, "a Pulumi stack file (YAML)"), source), source)


def load_stack(project_dir: Path, name: str) -> LoadedStack:
    """Read and validate one stack file; raise UsageError if it is missing or unreadable, ConfigError if wrong."""
    path = stack_path(project_dir, name)
    source = f"{STACKS_DIR}/{path.name}"
    if not path.exists() and not path.is_symlink():
        raise UsageError(f"--stack {name!r}: no file {source}; allowed: {', '.join(list_stacks(project_dir))}")
    text = read_text(path, source, "a Pulumi stack file (YAML)")
    raw, config = read_stack_text(text, source)
    return LoadedStack(name, path, raw, config)
