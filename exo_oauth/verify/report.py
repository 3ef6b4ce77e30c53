"""Render a Diagnosis as a table or as JSON, and choose the exit status.

Exit status (exo_domain.exit_codes): OK when the token and every requested check passed; FAILED when something
failed (each failure carries a cause and a fix); NOT_RUN when the only failures are network ones (a host unreachable
or silent), so monitoring can tell "broken" from "could not look"; USAGE (bad input) comes from the CLI before anything
runs.
"""

from __future__ import annotations

import json
import textwrap
from typing import Any

from exo_domain.exit_codes import ExitCode

from .diagnosis import Diagnosis, Row
from .inputs import Target

WIDTH = 116
INDENT = 7
LABEL = 9


def exit_status(diagnosis: Diagnosis) -> ExitCode:
    """Return OK if every row passed, NOT_RUN if only network failures happened, otherwise FAILED."""
    failed = [row for row in diagnosis.rows if row.status == "failed"]
    if not failed:
        return ExitCode.OK
    return ExitCode.NOT_RUN if all(row.network for row in failed) else ExitCode.FAILED


def _header(target: Target, diagnosis: Diagnosis) -> str:
    mailbox = f", mailbox {diagnosis.mailbox}" if diagnosis.mailbox else ""
    return f"exo-oauth verify: {target.description}{mailbox}"


def _lines(label: str, text: str, indent: int) -> list[str]:
    pad = " " * indent
    width = LABEL + INDENT - indent
    return textwrap.wrap(text, WIDTH, initial_indent=pad + label.ljust(width), subsequent_indent=" " * (LABEL + INDENT),
                         break_on_hyphens=False, break_long_words=False) or [pad + label]


def _row_lines(row: Row, verbose: bool) -> list[str]:
    status = "ok" if row.status == "ok" else row.status.upper()
    lines = _lines(f"{row.name:<6} {status}", row.summary, 0)
    for finding in row.findings:
        lines += _lines("cause", finding.cause, INDENT) + _lines("fix", finding.fix, INDENT)
    for warning in row.warnings:
        lines += _lines("note", warning, INDENT)
    if verbose:
        lines += [f"{' ' * INDENT}| {line}" for line in row.transcript]
    return lines


def render_table(target: Target, diagnosis: Diagnosis, verbose: bool) -> str:
    """Return the human report: a header, notes, then one block per row (transcripts too with `verbose`)."""
    lines = [_header(target, diagnosis)]
    lines += [f"  note: {note}" for note in diagnosis.notes]
    for row in diagnosis.rows:
        lines += _row_lines(row, verbose)
        if verbose and row.name == "token" and diagnosis.claims:
            lines += [f"{' ' * INDENT}| claim {key}: {value}" for key, value in diagnosis.claims.items()]
    failed = sum(row.status == "failed" for row in diagnosis.rows)
    status = exit_status(diagnosis)
    lines.append(f"result: {'all checks passed' if not failed else f'{failed} failed'} (exit {status})")
    return "\n".join(lines) + "\n"


def render_json(target: Target, diagnosis: Diagnosis, verbose: bool) -> str:
    """Return the same report as one JSON object (docs/verify.md documents its keys)."""

    def row(r: Row) -> dict[str, Any]:
        entry: dict[str, Any] = {"name": r.name, "status": r.status, "summary": r.summary,
                                 "findings": [{"code": f.code, "cause": f.cause, "fix": f.fix} for f in r.findings],
                                 "notes": list(r.warnings)}
        if r.name in target.endpoints:
            entry["endpoint"] = str(target.endpoints[r.name])
        if verbose:
            entry["transcript"] = list(r.transcript)
        return entry

    document = {
        "ok": exit_status(diagnosis) == ExitCode.OK,
        "exitStatus": exit_status(diagnosis),
        "target": {"app": target.app, "tenant": target.tenant, "clientId": target.client_id, "flow": target.flow,
                   "mailbox": diagnosis.mailbox, "authority": target.authority, "protocols": list(target.protocols)},
        "notes": list(diagnosis.notes),
        "claims": dict(diagnosis.claims) if diagnosis.claims else None,
        "checks": [row(r) for r in diagnosis.rows],
    }
    return json.dumps(document, indent=2, default=str) + "\n"
