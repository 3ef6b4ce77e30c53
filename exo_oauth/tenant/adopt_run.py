"""Run `adopt`: check the target first, read the tenant, build both files, prove them on the offline plan, write."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from exo_domain.config import PROJECT, is_domain, is_guid
from exo_domain.microsoft import CLOUDS, DEFAULT_CLOUD

from ..fleet.project import PROGRAM, LoadedStack, find_project_dir, read_stack_text, stack_path
from ..plan.import_file import import_path, shown_import_path
from ..util.errors import UsageError
from ..util.text import printable
from .adopt import CREATED_ON_PURPOSE, Adopted, adopt_app, import_file, stack_document
from .findings import Finding, describe_application
from .request import AdoptRequest
from .survey import survey

HEADER = """# yaml-language-server: $schema=../stack-config.schema.json
# Written by `exo-oauth adopt` from tenant {tenant} on {day}. Review it, then take the objects over:
#   pulumi stack init {stack}
#   pulumi import --stack {stack} --file {import_file} --generate-code=false --protect=false
#   pulumi up --stack {stack}
"""


@dataclass(frozen=True)
class AdoptResult:
    """What adopt wrote and what the first `pulumi up` will change."""

    stack_file: Path
    import_file: Path
    adopted: tuple[str, ...]
    imports: tuple[Mapping[str, Any], ...]
    created: tuple[str, ...]
    """Resources the first `pulumi up` creates (a new secret and its rotation clock; anything missing)."""
    findings: tuple[Finding, ...]
    calls: int

    def render(self, fmt: str) -> str:
        """Return the review as text or JSON."""
        if fmt == "json":
            return json.dumps({"stackFile": str(self.stack_file), "importFile": str(self.import_file),
                               "apps": list(self.adopted), "imports": list(self.imports), "creates": list(self.created),
                               "graphCalls": self.calls, "findings": [
                                   {"code": f.code, "object": f.subject, "detail": f.detail,
                                    "pulumiUp": f.rule.adopt} for f in self.findings]}, indent=2) + "\n"
        lines = [f"wrote {self.stack_file} ({len(self.adopted)} app{'s' if len(self.adopted) != 1 else ''}: "
                 f"{printable(', '.join(self.adopted)) or 'none'})",
                 f"wrote {self.import_file} ({sum('id' in i for i in self.imports)} objects to import)",
                 f"the first `pulumi up` creates: {', '.join(self.created) or 'nothing'}"]
        if self.findings:
            lines += ["", "what `pulumi up` will change or leave alone:"]
            lines += [f"  {f.code}: {printable(f.subject)}: {printable(f.detail)}\n      pulumi up: {f.rule.adopt}"
                      for f in self.findings]
        return "\n".join(lines) + "\n"


def _check(args: AdoptRequest) -> tuple[Path, Path, Path]:
    project_dir = args.project_dir.resolve() if args.project_dir else find_project_dir()
    if not (project_dir / PROGRAM).is_file():
        raise UsageError(f"--project-dir {project_dir}: no {PROGRAM} there, so the adopted stack cannot be planned; "
                         "allowed: the exo-oauth project folder (Pulumi.yaml and __main__.py)")
    target = stack_path(project_dir, args.stack)
    imports = import_path(target, args.stack)
    for path in (target, imports):
        if (path.exists() or path.is_symlink()) and not args.force:
            raise UsageError(f"--stack {args.stack}: {path.relative_to(project_dir)} exists; allowed: another stack "
                             "name, or --force to overwrite it")
    if args.default_owner is not None and not is_guid(args.default_owner):
        raise UsageError(f"--default-owner {args.default_owner!r}: not a GUID; allowed: a user's object id")
    suffix = CLOUDS[args.audit.sign_in.cloud or DEFAULT_CLOUD].initial_domain_suffix
    if args.organization is not None and not (is_domain(args.organization)
                                              and args.organization.lower().endswith(f".{suffix}")):
        raise UsageError(f"--organization {args.organization!r}: not the tenant's initial domain; allowed: its "
                         f"*.{suffix} domain, e.g. contoso.{suffix}")
    return project_dir, target, imports


def _write_atomically(files: Mapping[Path, str], *, force: bool) -> None:
    """Write every file to a temporary sibling first, then move them all into place.

    Without `force` each file is created exclusively (a hard link fails on an existing name), so a file that
    appeared while Graph was read stays as it is, and the files placed before it are taken back.
    """
    staged: list[tuple[Path, Path]] = []
    placed: list[Path] = []
    try:
        for path, text in files.items():
            handle, name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
            with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as stream:
                stream.write(text)
            staged.append((Path(name), path))
        for temp, path in staged:
            if force:
                os.replace(temp, path)
                continue
            try:
                os.link(temp, path)
            except FileExistsError:
                for done in placed:
                    done.unlink(missing_ok=True)
                raise UsageError(f"{path.name}: appeared while the tenant was read; nothing written; allowed: "
                                 "run adopt again, or --force to overwrite it") from None
            placed.append(path)
    finally:
        for temp, _ in staged:
            temp.unlink(missing_ok=True)


YAML_BREAKS = "\x85\u2028\u2029"
"""The characters YAML reads as line breaks besides CR and LF."""


class _ExactDumper(yaml.CSafeDumper):
    r"""Writes text with a YAML line break (NEL, U+2028, U+2029) double-quoted, as `\N`, `\L`, `\P`.

    Plain and single-quoted scalars fold those into a space, so an app named `Lobby<NEL>scanner` would come back as
    `Lobby scanner` and the first `pulumi up` would rename it.
    """


def _text(dumper: yaml.CSafeDumper, value: str) -> yaml.ScalarNode:
    style = '"' if any(c in value for c in YAML_BREAKS) else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_ExactDumper.add_representer(str, _text)


def stack_yaml(document: Mapping[str, Any]) -> str:
    """Return `document` as YAML that reads back exactly as it is (adopt checks it on the stack file's own reader)."""
    return yaml.dump(document, Dumper=_ExactDumper, sort_keys=False, allow_unicode=True, width=120)


PLAN_PART = 10
"""Apps planned together. The adopted stack is planned in parts of this many apps, spread over plan_stacks' workers
on a large tenant, so the plan's memory is that of a part per worker, not of the tenant, and every core plans."""


def _planned_resources(project_dir: Path, stack: LoadedStack, now: datetime) -> list[dict[str, Any]]:
    """Return the registrations of the stack's offline plan, planned a part of its apps at a time."""
    from ..plan.offline import plan_stacks  # noqa: PLC0415 - imports Pulumi

    key, apps = f"{PROJECT}:apps", stack.config.apps
    parts = [LoadedStack(stack.name, stack.path, stack.raw | {key: stack.raw[key][i:i + PLAN_PART]},
                         replace(stack.config, apps=apps[i:i + PLAN_PART]))
             for i in range(0, max(len(apps), 1), PLAN_PART)]
    plans = plan_stacks(project_dir, parts, now, with_imports=False)
    return [resource for plan in plans for resource in plan.resources]


def adopt(args: AdoptRequest, environ: Mapping[str, str], now: datetime) -> AdoptResult:
    """Read the tenant and write the stack file and import file; raise UsageError before any write on bad input."""
    project_dir, target, imports_file = _check(args)
    result = survey(args.audit, environ, now, certificates=True)
    tenant = result.tenant
    taken: set[str] = set()
    adopted: list[Adopted] = []
    findings: list[Finding] = []
    for app in tenant.applications:
        entry, found = adopt_app(app, tenant, result.export, taken, default_owner=args.default_owner,
                                 certificates=result.certificates)
        findings += found
        if entry is not None:
            adopted.append(entry)
            findings += [f for f in result.findings if f.subject == describe_application(app)]
    findings += [f for f in result.findings if f.code.startswith("exchange-")]
    document = stack_document(tenant.tenant_id, adopted, args.organization)
    text = HEADER.format(tenant=tenant.tenant_id, day=f"{now:%Y-%m-%d}", stack=args.stack,
                         import_file=shown_import_path(args.stack)) + stack_yaml(document)
    source = str(target.relative_to(project_dir))
    raw, config = read_stack_text(text, source)
    if raw != document["config"]:
        raise AssertionError(f"{source} would not read back as written")  # stack_yaml's promise; never expected
    resources = _planned_resources(project_dir, LoadedStack(args.stack, target, raw, config), now)
    imports, created, revoked = import_file(args.stack, resources, adopted, tenant, revoke_excess=args.revoke_excess)
    findings += revoked
    names = {r["name"]: r["type"] for r in resources}
    findings += [Finding("adopt-not-imported", f"resource {name}", names[name]) for name in created
                 if names[name] not in CREATED_ON_PURPOSE]
    _write_atomically({target: text, imports_file: json.dumps(imports, indent=2) + "\n"}, force=args.force)
    return AdoptResult(target, imports_file, tuple(a.config["name"] for a in adopted), tuple(imports["resources"]),
                       tuple(created), tuple(dict.fromkeys(findings)), result.calls)
