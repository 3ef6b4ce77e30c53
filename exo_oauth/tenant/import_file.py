"""Read the `pulumi import --file` document that `adopt` writes next to a stack, for the offline plan to show."""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import UsageError


def import_path(stack_file: Path, stack: str) -> Path:
    """Return where adopt writes the stack's import file: stacks/<stack>.import.json."""
    return stack_file.with_name(f"{stack}.import.json")


def read_imports(stack_file: Path, stack: str) -> dict[tuple[str, str], str]:
    """Return the provider id to import by (type, name), or {} when the stack has no import file."""
    path = import_path(stack_file, stack)
    if not path.is_file():
        return {}
    try:
        document = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise UsageError(f"{path.name}: cannot read it as JSON ({error}); allowed: the file `exo-oauth adopt` wrote, "
                         "or delete it after `pulumi import`") from None
    resources = document.get("resources") if isinstance(document, dict) else None
    if not isinstance(resources, list):
        raise UsageError(f"{path.name}: resources: missing or not a list; allowed: a `pulumi import --file` document")
    found: dict[tuple[str, str], str] = {}
    for index, entry in enumerate(resources):
        if not isinstance(entry, dict) or not isinstance(entry.get("type"), str) or not isinstance(
                entry.get("name"), str):
            raise UsageError(f"{path.name}: resources[{index}]: needs text `type` and `name`; allowed: a `pulumi "
                             "import --file` entry")
        if isinstance(entry.get("id"), str):
            found[entry["type"], entry["name"]] = entry["id"]
    return found
