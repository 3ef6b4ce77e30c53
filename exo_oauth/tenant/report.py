"""Render audit findings as text, markdown or JSON. Pure: findings in, text out."""

from __future__ import annotations

import json
from collections.abc import Sequence

from ..review.markdown import code, escape
from ..util.text import printable
from .findings import Finding


def render_text(tenant_id: str, findings: Sequence[Finding]) -> str:
    """Return the findings grouped by object, each with code, severity, detail and fix."""
    if not findings:
        return f"tenant {tenant_id}: no findings\n"
    lines = [f"tenant {tenant_id}: {len(findings)} finding{'s' if len(findings) != 1 else ''}"]
    subject = None
    for finding in sorted(findings, key=lambda f: f.subject):
        if finding.subject != subject:
            subject = finding.subject
            lines += ["", printable(subject)]
        rule = finding.rule
        lines.append(f"  [{rule.severity}] {rule.code}: {printable(finding.detail)}")
        lines.append(f"      fix: {rule.fix}")
    return "\n".join(lines) + "\n"


def render_markdown(tenant_id: str, findings: Sequence[Finding]) -> str:
    """Return a markdown table for a ticket or pull request; every cell escaped."""
    lines = [f"### Audit of tenant {code(tenant_id)}", ""]
    if not findings:
        return "\n".join([*lines, "No findings."]) + "\n"
    lines += ["| Severity | Code | Object | Detail | Fix |", "| --- | --- | --- | --- | --- |"]
    lines += [f"| {f.rule.severity} | `{f.code}` | {escape(f.subject)} | {escape(f.detail)} | {escape(f.rule.fix)} |"
              for f in findings]
    return "\n".join(lines) + "\n"


def render_json(tenant_id: str, findings: Sequence[Finding], calls: int) -> str:
    """Return the findings as JSON: `tenantId`, `graphCalls`, and `findings` (code, severity, object, detail, fix)."""
    return json.dumps({"tenantId": tenant_id, "graphCalls": calls, "findings": [
        {"code": f.code, "severity": f.rule.severity, "object": f.subject, "detail": f.detail, "fix": f.rule.fix}
        for f in findings]}, indent=2) + "\n"
