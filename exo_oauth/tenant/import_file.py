"""Read the `pulumi import --file` document that `adopt` writes next to a stack, for the offline plan to show."""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import UsageError
from ..files import read_text


def import_path(stack_file: Path, stack: str) -> Path:
    """Return where adopt writes the stack's import file: stacks/<stack>.import.json."""
    return stack_file.with_name(f"{stack}.import.json")


def read_imports(stack_file: Path, stack: str) -> dict[tuple[str, str], str]:
    """Return the provider id to import by (type, name), or {} when the stack has no import file."""
    path = import_path(stack_file, stack)
    if not path.is_file():
        return {}
    allowed = "the file `exo-oauth adopt` wrote, or delete it after `pulumi import`"
    text = read_text(path, path.name, allowed)
    try:
        # Not load_json: an adopted tenant's import file may list more resources than files.MAX_ITEMS.
        document = json.loads(text)
    except (json.JSONDecodeError, RecursionError, ValueError) as error:
        raise UsageError(f"{path.name}: cannot read it as JSON ({str(error)[:200]}); allowed: {allowed}") from None
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
