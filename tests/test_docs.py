"""The README's inputs and outputs tables, and the config schema, stay true to the code.

`EXO_OAUTH_UPDATE_DOCS=1 pytest tests/test_docs.py` rewrites the generated inputs table in README.md.
"""

from __future__ import annotations

import json
import os
import re
from datetime import UTC, datetime
from typing import Any

from components import config
from exo_oauth.cli import COMMANDS, build_parser
from exo_oauth.plan import plan_stack
from tests.stack_factory import REPO, app, loaded, raw_config

SCHEMA = json.loads((REPO / "stack-config.schema.json").read_text(encoding="utf-8"))
README = REPO / "README.md"
BEGIN, END = "<!-- BEGIN_INPUTS -->", "<!-- END_INPUTS -->"


def _type(node: dict[str, Any]) -> str:
    if "$ref" in node:
        return "object"
    if "enum" in node:
        return " \\| ".join(f"`{v}`" for v in node["enum"])
    if "oneOf" in node:
        return " or ".join(_type(n) for n in node["oneOf"])
    if node.get("type") == "array":
        return f"list of {_type(node['items'])}"
    return str(node.get("type", ""))


def _rows(prefix: str, node: dict[str, Any], required: list[str]) -> list[str]:
    rows = []
    for key, child in node.get("properties", {}).items():
        path = f"{prefix}{key}"
        resolved = SCHEMA["$defs"][child["$ref"].rsplit("/", 1)[-1]] if "$ref" in child else child
        default = resolved.get("default")
        shown = "required" if key in required else ("" if default is None else f"`{json.dumps(default)}`")
        description = resolved.get("description", "")
        rows.append(f"| `{path}` | {_type(child)} | {shown} | {description} |")
        if resolved.get("type") == "object":
            rows += _rows(f"{path}.", resolved, resolved.get("required", []))
        items = resolved.get("items", {})
        if "$ref" in items:
            item = SCHEMA["$defs"][items["$ref"].rsplit("/", 1)[-1]]
            object_form = next((n for n in item.get("oneOf", [item]) if n.get("type") == "object"), None)
            if object_form:
                rows += _rows(f"{path}[].", object_form, object_form.get("required", []))
    return rows


def inputs_table() -> str:
    """Return the README inputs table generated from stack-config.schema.json."""
    config_node = SCHEMA["properties"]["config"]
    header = ["| key | type | default | description |", "|---|---|---|---|"]
    return "\n".join([BEGIN, *header, *_rows("", config_node, config_node["required"]), END])


def test_readme_inputs_table_is_generated_from_the_schema() -> None:
    """The README's inputs table is exactly what the schema generates (update with EXO_OAUTH_UPDATE_DOCS=1)."""
    text = README.read_text(encoding="utf-8")
    current = text[text.index(BEGIN): text.index(END) + len(END)]
    if os.environ.get("EXO_OAUTH_UPDATE_DOCS") == "1":
        README.write_text(text.replace(current, inputs_table()), encoding="utf-8")
        return
    assert current == inputs_table()


def test_schema_lists_exactly_the_keys_the_validator_accepts() -> None:
    """Every key the config parser accepts has a schema entry with a description, and no other key has one."""
    defs = SCHEMA["$defs"]
    mailbox_object = next(n for n in defs["mailbox"]["oneOf"] if n.get("type") == "object")
    pairs = [
        (set(SCHEMA["properties"]["config"]["properties"]), set(config.CONFIG_KEYS)),
        (set(defs["app"]["properties"]), set(config.APP_KEYS)),
        (set(mailbox_object["properties"]), set(config.MAILBOX_KEYS)),
        (set(defs["credential"]["properties"]), {k for keys in config.CREDENTIAL_KEYS.values() for k in keys}),
        (set(defs["exchange"]["properties"]), set(config.EXCHANGE_KEYS)),
    ]
    for documented, accepted in pairs:
        assert documented == accepted
    assert defs["app"]["properties"]["flow"]["enum"] == list(config.FLOWS)
    assert defs["app"]["properties"]["protocols"]["items"]["enum"] == list(config.PROTOCOLS)
    assert defs["credential"]["properties"]["type"]["enum"] == list(config.CREDENTIAL_TYPES)
    assert defs["credential"]["properties"]["lifetimeDays"]["maximum"] == config.MAX_LIFETIME_DAYS


def test_readme_documents_every_app_output_key() -> None:
    """The README's per-app outputs table lists exactly the keys the program exports for each app."""
    text = README.read_text(encoding="utf-8")
    table = text[text.index("<!-- BEGIN_APP_OUTPUTS -->"): text.index("<!-- END_APP_OUTPUTS -->")]
    documented = set(re.findall(r"^\| `(\w+)` \|", table, flags=re.MULTILINE))
    plan = plan_stack(REPO, loaded(raw_config(app(name="a"))), datetime.now(UTC))
    assert documented == set(plan.outputs["apps"]["a"])


def test_every_command_has_help_and_a_readme_mention() -> None:
    """Each subcommand has help text and is shown in the README or a docs page as `exo-oauth <command>`."""
    parser = build_parser()
    subparsers = next(a for a in parser._actions if a.dest == "command")
    text = "\n".join(p.read_text(encoding="utf-8") for p in [README, *sorted((REPO / "docs").rglob("*.md"))])
    for name in COMMANDS:
        assert subparsers.choices[name].description or subparsers.choices[name].format_help()
        assert f"exo-oauth {name}" in text, name
