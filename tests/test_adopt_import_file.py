"""The import file adopt writes is read through the CLI's safe file reader, with a limit sized for a tenant."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from exo_oauth.plan.import_file import import_path, read_imports, shown_import_path
from exo_oauth.util.errors import UsageError
from exo_oauth.util.files import MAX_DEPTH, MAX_ITEMS

TYPE = "azuread:index/application:Application"


def write(folder: Path, document: object) -> Path:
    """Write `document` as the import file of stack `big`; return the stack file's path."""
    stack_file = folder / "stacks" / "Pulumi.big.yaml"
    stack_file.parent.mkdir()
    import_path(stack_file, "big").write_text(json.dumps(document), encoding="utf-8")
    return stack_file


def test_an_import_file_longer_than_the_general_list_limit_is_read(tmp_path: Path) -> None:
    """A tenant with hundreds of apps lists more resources than files.MAX_ITEMS; all of them are read."""
    count = MAX_ITEMS + 1
    stack_file = write(tmp_path, {"resources": [{"type": TYPE, "name": f"app-{i}", "id": f"/applications/{i}"}
                                                for i in range(count)]})
    assert len(read_imports(stack_file, "big")) == count


def test_a_too_deep_import_file_is_one_line_naming_it(tmp_path: Path) -> None:
    """Nesting past files.MAX_DEPTH is refused as any other file the CLI reads, naming the import file."""
    deep: object = "x"
    for _ in range(MAX_DEPTH + 1):
        deep = [deep]
    stack_file = write(tmp_path, {"resources": deep})
    with pytest.raises(UsageError, match=r"^big\.import\.json: .* nested more than"):
        read_imports(stack_file, "big")


def test_the_import_file_is_shown_where_adopt_writes_it(tmp_path: Path) -> None:
    """Messages name the file adopt writes, relative to the project."""
    stack_file = tmp_path / "stacks" / "Pulumi.big.yaml"
    assert import_path(stack_file, "big") == tmp_path / shown_import_path("big")
