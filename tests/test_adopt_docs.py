"""docs/adopting.md stays true to the code: its finding codes table is generated from the rules."""

from __future__ import annotations

import os

from exo_oauth.tenant.findings import RULES, codes_table
from tests.stack_factory import REPO

PAGE = REPO / "docs" / "adopting.md"
BEGIN, END = "<!-- BEGIN_FINDING_CODES -->\n", "<!-- END_FINDING_CODES -->"


def test_finding_codes_table_is_generated_from_the_rules() -> None:
    """The table lists every code with its severity, fix and adopt effect (update with EXO_OAUTH_UPDATE_DOCS=1)."""
    text = PAGE.read_text(encoding="utf-8")
    current = text[text.index(BEGIN) + len(BEGIN): text.index(END)]
    if os.environ.get("EXO_OAUTH_UPDATE_DOCS") == "1":
        PAGE.write_text(text.replace(BEGIN + current + END, BEGIN + codes_table() + END), encoding="utf-8")
        current = codes_table()
    assert current == codes_table()
    assert all(f"| `{code}` |" in current for code in RULES)
