"""The stack file's defaults and limits live once, in exo_domain/schema.py; the schema file and the reference follow.

`EXO_OAUTH_UPDATE_DOCS=1 pytest tests/test_schema_declaration.py tests/test_docs.py` rewrites stack-config.schema.json
and then the reference generated from it.
"""

from __future__ import annotations

import ast
import json
import types
from pathlib import Path
from typing import Any

import pytest

from exo_domain import schema
from exo_domain.config import parse_stack_config
from exo_domain.errors import ConfigError
from tests.docs_tables import inputs_table
from tests.generated import check_generated
from tests.stack_factory import REPO, app, raw_config

SCHEMA_FILE = REPO / "stack-config.schema.json"
DECLARED = {name: value for name, value in vars(schema).items() if name.isupper() and isinstance(value, int | str)
            and name != "SCHEMA"}
"""Every default and limit the declaration names (DEFAULT_LIFETIME_DAYS, MAX_APP_NAME, ...)."""


def test_schema_file_is_generated_from_the_declaration() -> None:
    """stack-config.schema.json is exactly the declaration as JSON (update with EXO_OAUTH_UPDATE_DOCS=1)."""
    current = SCHEMA_FILE.read_text(encoding="utf-8")
    expected = schema.schema_text()
    check_generated(current, expected, lambda: SCHEMA_FILE.write_text(expected, encoding="utf-8", newline="\n"),
                    "EXO_OAUTH_UPDATE_DOCS")


def _declaration_with(name: str, value: int) -> dict[str, Any]:
    """Return the schema exo_domain/schema.py declares when its constant `name` is `value` instead."""
    source = (REPO / "exo_domain" / "schema.py").read_text(encoding="utf-8")
    line = f"{name} = {getattr(schema, name)}\n"
    assert source.count(line) == 1, line
    module = types.ModuleType("components.schema_changed")
    module.__package__ = schema.__package__
    exec(compile(source.replace(line, f"{name} = {value}\n"), "schema.py", "exec"), module.__dict__)  # noqa: S102
    return module.SCHEMA  # type: ignore[no-any-return]


def test_a_default_changed_in_the_declaration_changes_the_schema_and_the_reference() -> None:
    """Changing DEFAULT_LIFETIME_DAYS in the one declaration moves the schema's defaults and the inputs reference."""
    new = schema.DEFAULT_LIFETIME_DAYS + 7
    changed = _declaration_with("DEFAULT_LIFETIME_DAYS", new)
    credential = changed["$defs"]["credential"]
    assert credential["properties"]["lifetimeDays"]["default"] == new
    assert credential["default"]["lifetimeDays"] == new
    table = inputs_table(changed)
    assert f"| `{new}` |" in table
    assert table != inputs_table(json.loads(schema.schema_text()))


def test_a_limit_changed_in_the_declaration_changes_the_schema() -> None:
    """MAX_LIFETIME_DAYS and DEFAULT_ROTATE_BEFORE_DAYS reach the schema's maximum, default and description."""
    longest = _declaration_with("MAX_LIFETIME_DAYS", schema.MAX_LIFETIME_DAYS - 1)
    assert longest["$defs"]["credential"]["properties"]["lifetimeDays"]["maximum"] == schema.MAX_LIFETIME_DAYS - 1
    rotate = _declaration_with("DEFAULT_ROTATE_BEFORE_DAYS", 21)["$defs"]["credential"]["properties"]
    assert rotate["rotateBeforeDays"]["default"] == 21
    assert "Default 21, or half a lifetime under 42 days." in rotate["rotateBeforeDays"]["description"]


def test_the_validator_applies_the_schema_file_defaults() -> None:
    """An app without a credential gets the schema file's default lifetime and rotation from the validator."""
    defaults = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))["$defs"]["credential"]["properties"]
    (parsed,) = parse_stack_config(raw_config(app(name="a")), "Pulumi.t.yaml").apps
    assert parsed.credential.lifetime_days == defaults["lifetimeDays"]["default"]
    assert parsed.credential.rotate_before_days == defaults["rotateBeforeDays"]["default"]


@pytest.mark.parametrize("key", ["name", "notes"])
def test_the_validator_enforces_the_schema_file_length_limits(key: str) -> None:
    """A value at the schema file's maxLength is accepted, one character more is refused."""
    limit = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))["$defs"]["app"]["properties"][key]["maxLength"]

    def stack(length: int) -> dict[str, Any]:
        return raw_config(app(**({"name": "a" * length} if key == "name" else {"name": "a", key: "n" * length})))

    parse_stack_config(stack(limit), "Pulumi.t.yaml")
    with pytest.raises(ConfigError, match=f"at most {limit}"):
        parse_stack_config(stack(limit + 1), "Pulumi.t.yaml")


@pytest.mark.parametrize("path", [REPO / "exo_domain" / "config.py", REPO / "exo_oauth" / "tenant" / "adopt.py"])
def test_no_module_restates_a_declared_default_or_limit(path: Path) -> None:
    """The validator and adopt import the declared defaults and limits; none of their values is written there."""
    values = {value for value in DECLARED.values() if not (isinstance(value, int) and value < 2)}
    copies = [f"line {node.lineno}: {node.value!r}" for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
              if isinstance(node, ast.Constant) and type(node.value) in (int, str) and node.value in values]
    assert copies == []
