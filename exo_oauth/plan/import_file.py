"""Read the `pulumi import --file` document that `adopt` writes next to a stack, for the offline plan to show."""

from __future__ import annotations

from pathlib import Path

from exo_domain.microsoft import TYPE_TOKENS

from ..util.errors import UsageError
from ..util.files import read_json

MAX_RESOURCES = 100_000
"""Most entries in an import file: an adopted tenant may list more resources than files.MAX_ITEMS (about ten per
app); the 4 MiB file limit binds first."""

REPLACED_AFTER_IMPORT = frozenset({TYPE_TOKENS["certificate"]})
"""Types the first `pulumi up` replaces right after an import: the provider's Read never sets a certificate's
`value` and every argument is ForceNew (terraform-provider-azuread v3.9.0, application_certificate_resource.go;
docs/decisions/0121)."""


def import_file_name(stack: str) -> str:
    """Return the name of the stack's import file: `<stack>.import.json`, next to its stack file."""
    return f"{stack}.import.json"


def shown_import_path(stack: str) -> str:
    """Return the import file's path relative to the project, as messages and commands show it."""
    from exo_domain.config import STACKS_DIR  # noqa: PLC0415 - the config validator; review-comment --help must not

    return f"{STACKS_DIR}/{import_file_name(stack)}"


def import_path(stack_file: Path, stack: str) -> Path:
    """Return where adopt writes the stack's import file: stacks/<stack>.import.json."""
    return stack_file.with_name(import_file_name(stack))


def read_imports(stack_file: Path, stack: str) -> dict[tuple[str, str], str]:
    """Return the provider id to import by (type, name), or {} when the stack has no import file."""
    return {(e["type"], e["name"]): e["id"] for e in read_import_entries(stack_file, stack)}


def read_import_entries(stack_file: Path, stack: str) -> list[dict[str, str]]:
    """Return the file's entries with an id as {type, name (the program's: `logicalName` if set), id, parent}.

    [] when the stack has no import file; `parent` is "" for an entry without one.
    """
    path = import_path(stack_file, stack)
    if not path.is_file():
        return []
    allowed = "the file `exo-oauth adopt` wrote, or delete it after `pulumi import`"
    document = read_json(path, path.name, allowed, max_items=MAX_RESOURCES)
    resources = document.get("resources") if isinstance(document, dict) else None
    if not isinstance(resources, list):
        raise UsageError(f"{path.name}: resources: missing or not a list; allowed: a `pulumi import --file` document")
    found: list[dict[str, str]] = []
    for index, entry in enumerate(resources):
        if not isinstance(entry, dict) or not isinstance(entry.get("type"), str) or not isinstance(
                entry.get("name"), str):
            raise UsageError(f"{path.name}: resources[{index}]: needs text `type` and `name`; allowed: a `pulumi "
                             "import --file` entry")
        if isinstance(entry.get("id"), str):
            # `logicalName` is the program's name when adopt renamed an entry to keep `name` unique.
            logical, parent = entry.get("logicalName"), entry.get("parent")
            found.append({"type": entry["type"], "name": logical if isinstance(logical, str) else entry["name"],
                          "id": entry["id"], "parent": parent if isinstance(parent, str) else ""})
    return found
