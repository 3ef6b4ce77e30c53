"""Generated parts of the docs: each table is built from the code or schema that owns the fact.

A page marks a generated table with `<!-- BEGIN_<NAME> -->` and `<!-- END_<NAME> -->`. `tests/test_docs.py` checks
that each block equals what its generator returns; `EXO_OAUTH_UPDATE_DOCS=1 pytest tests/test_docs.py` rewrites them.
"""

from __future__ import annotations

import ast
import itertools
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from exo_domain.exit_codes import MEANINGS
from exo_domain.microsoft import CLOUDS, DEFAULT_CLOUD, PROTOCOLS
from exo_domain.outputs import wire_key
from exo_domain.permissions import token_scopes
from exo_oauth.tenant.findings import codes_table
from exo_oauth.verify.diagnosis import AADSTS_CODES, CATALOGUE, REPLY_PATTERNS

REPO = Path(__file__).resolve().parent.parent
SCHEMA: dict[str, Any] = json.loads((REPO / "stack-config.schema.json").read_text(encoding="utf-8"))


def markers(name: str) -> tuple[str, str]:
    """Return the begin and end comments that fence the generated block `name`."""
    return f"<!-- BEGIN_{name} -->", f"<!-- END_{name} -->"


def fenced(name: str, lines: list[str]) -> str:
    """Return `lines` between the markers of block `name`."""
    begin, end = markers(name)
    return "\n".join([begin, *lines, end])


def current_block(text: str, name: str) -> str:
    """Return the block `name` of a page's text, markers included."""
    begin, end = markers(name)
    return text[text.index(begin): text.index(end) + len(end)]


def cell(text: str) -> str:
    """Return `text` safe inside one Markdown table cell."""
    return text.replace("|", "\\|").replace("\n", " ")


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


def _rows(prefix: str, node: dict[str, Any], required: list[str], defs: dict[str, Any]) -> list[str]:
    rows = []
    for key, child in node.get("properties", {}).items():
        path = f"{prefix}{key}"
        resolved = defs[child["$ref"].rsplit("/", 1)[-1]] if "$ref" in child else child
        default = resolved.get("default")
        shown = "required" if key in required else ("" if default is None else f"`{json.dumps(default)}`")
        description = resolved.get("description", "")
        rows.append(f"| `{path}` | {_type(child)} | {shown} | {description} |")
        if resolved.get("type") == "object":
            rows += _rows(f"{path}.", resolved, resolved.get("required", []), defs)
        items = resolved.get("items", {})
        if "$ref" in items:
            item = defs[items["$ref"].rsplit("/", 1)[-1]]
            object_form = next((n for n in item.get("oneOf", [item]) if n.get("type") == "object"), None)
            if object_form:
                rows += _rows(f"{path}[].", object_form, object_form.get("required", []), defs)
    return rows


def inputs_table(schema: dict[str, Any] | None = None) -> str:
    """Return the stack inputs table generated from stack-config.schema.json (or from `schema`)."""
    schema = schema or SCHEMA
    config_node = schema["properties"]["config"]
    header = ["| key | type | default | description |", "|---|---|---|---|"]
    return fenced("INPUTS", [*header, *_rows("", config_node, config_node["required"], schema["$defs"])])


def _template(text: str) -> str:
    """Show a catalogue template's placeholders as `<name>`, the way a reader fills them in."""
    return cell(re.sub(r"\{(\w*)\}", lambda m: f"<{m.group(1) or 'value'}>", text))


def finding_codes_table() -> str:
    """Return verify's finding codes, generated from the diagnosis catalogue."""
    triggers: dict[str, list[str]] = {}
    for number, code in AADSTS_CODES.items():
        triggers.setdefault(code, []).append(f"AADSTS{number}")
    for pattern, code in REPLY_PATTERNS:
        triggers.setdefault(code, []).append(f"reply contains “{pattern}”")
    header = ["| code | recognised by | cause | fix |", "|---|---|---|---|"]
    rows = [f"| `{code}` | {cell(', '.join(triggers.get(code, [])))} | {_template(cause)} | {_template(fix)} |"
            for code, (cause, fix) in CATALOGUE.items()]
    return fenced("FINDING_CODES", [*header, *rows])


def field_docs(path: Path, class_name: str) -> dict[str, str]:
    """Return each field's docstring (the string right after its annotation) of a dataclass in a source file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    body = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == class_name).body
    docs = {}
    for field, doc in itertools.pairwise(body):
        if (isinstance(field, ast.AnnAssign) and isinstance(field.target, ast.Name) and isinstance(doc, ast.Expr)
                and isinstance(doc.value, ast.Constant) and isinstance(doc.value.value, str)):
            docs[field.target.id] = " ".join(doc.value.value.split())
    return docs


def app_outputs_table() -> str:
    """Return the per-app outputs table, generated from the field docstrings of exo_domain.outputs.AppOutputs."""
    header = ["| key | what |", "|---|---|"]
    rows = [f"| `{wire_key(name)}` | {cell(doc)} |"
            for name, doc in field_docs(REPO / "exo_domain" / "outputs.py", "AppOutputs").items()]
    return fenced("APP_OUTPUTS", [*header, *rows])


def exit_codes_table() -> str:
    """Return the exit status table, generated from exo_domain.exit_codes."""
    header = ["| status | name | meaning | returned by |", "|---|---|---|---|"]
    rows = [f"| {int(code)} | `{code.name}` | {cell(meaning)} | {cell(users)} |"
            for code, (meaning, users) in MEANINGS.items()]
    return fenced("EXIT_CODES", [*header, *rows])


def audit_codes_table() -> str:
    """Return the audit and adopt finding codes, generated from exo_oauth.tenant.findings.RULES."""
    return fenced("AUDIT_FINDING_CODES", codes_table().rstrip("\n").split("\n"))


def cloud_hosts_table() -> str:
    """Return verify's hosts of every cloud, generated from exo_domain.microsoft and exo_domain.permissions."""
    header = ["| `--cloud` | login host | " + " | ".join(f"{p.label} ({p.security.upper()})" for p in PROTOCOLS)
              + " | app-only scope | delegated scopes |", "|---" * (len(PROTOCOLS) + 4) + "|"]
    rows = []
    for name, cloud in CLOUDS.items():
        mail = " | ".join(f"`{cloud.mail_host(p.name)}` {p.port}" for p in PROTOCOLS)
        delegated = ", ".join(f"`{s}`" for s in token_scopes("delegated", [p.name for p in PROTOCOLS], name))
        rows.append(f"| `{name}`{' (default)' if name == DEFAULT_CLOUD else ''} | "
                    f"`{cloud.login_host.removeprefix('https://')}` | {mail} | "
                    f"`{token_scopes('app-only', (), name)[0]}` | {delegated} |")
    return fenced("CLOUD_HOSTS", [*header, *rows])


GENERATED: dict[str, tuple[Path, Callable[[], str]]] = {
    "APP_OUTPUTS": (REPO / "docs" / "reference.md", app_outputs_table),
    "INPUTS": (REPO / "docs" / "reference.md", inputs_table),
    "FINDING_CODES": (REPO / "docs" / "verify.md", finding_codes_table),
    "CLOUD_HOSTS": (REPO / "docs" / "verify.md", cloud_hosts_table),
    "EXIT_CODES": (REPO / "docs" / "exit-codes.md", exit_codes_table),
    "AUDIT_FINDING_CODES": (REPO / "docs" / "adopting.md", audit_codes_table),
}
"""Block name -> (page, generator)."""
