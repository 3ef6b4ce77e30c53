"""The docs stay true to the code: generated tables, the config schema, every command and every link.

`EXO_OAUTH_UPDATE_DOCS=1 pytest tests/test_docs.py` rewrites the generated tables (see tests/docs_tables.py).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from exo_domain import config
from exo_oauth.cli import COMMANDS, build_parser
from tests.docs_tables import GENERATED, SCHEMA, current_block
from tests.generated import check_generated
from tests.stack_factory import REPO

PAGES = sorted([REPO / "README.md", REPO / "CONTRIBUTING.md", REPO / "CHANGELOG.md", *(REPO / "docs").rglob("*.md")])
LINK = re.compile(r"\]\(([^)\s]+)\)")


@pytest.mark.parametrize("name", sorted(GENERATED))
def test_generated_doc_tables_match_their_source(name: str) -> None:
    """Each generated table is exactly what its generator returns (update with EXO_OAUTH_UPDATE_DOCS=1)."""
    page, generate = GENERATED[name]
    text = page.read_text(encoding="utf-8")
    current = current_block(text, name)
    expected = generate()
    check_generated(current, expected, lambda: page.write_text(text.replace(current, expected), encoding="utf-8"),
                    "EXO_OAUTH_UPDATE_DOCS")


def test_schema_lists_exactly_the_keys_the_validator_accepts() -> None:
    """Every key the config parser accepts has a schema entry with a description, and no other key has one."""
    defs = SCHEMA["$defs"]
    mailbox_object = next(n for n in defs["mailbox"]["oneOf"] if n.get("type") == "object")
    pairs = [
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


def test_every_command_has_help_and_a_docs_mention() -> None:
    """Each subcommand has help text and is shown in the README or a docs page as `exo-oauth <command>`."""
    parser = build_parser()
    subparsers = next(a for a in parser._actions if a.dest == "command")
    summaries = {action.dest: action.help for action in subparsers._choices_actions}
    text = "\n".join(page.read_text(encoding="utf-8") for page in PAGES)
    for name in COMMANDS:
        assert summaries[name], name
        assert subparsers.choices[name].description, name
        assert f"exo-oauth {name}" in text, name


def _anchor(heading: str) -> str:
    """Return GitHub's anchor for a Markdown heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.DOTALL)
    return {_anchor(h) for h in re.findall(r"^#+ (.+)$", text, flags=re.MULTILINE)}


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_relative_links_in_the_docs_resolve(page: Path) -> None:
    """Every relative link in the docs names a file of the repository, and an anchor names one of its headings."""
    text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.DOTALL)
    broken = []
    for target in LINK.findall(text):
        if re.match(r"[a-z]+:", target):
            continue
        path, _, anchor = target.partition("#")
        linked = (page.parent / path).resolve() if path else page
        if not linked.exists() or (anchor and linked.suffix == ".md" and anchor not in _anchors(linked)):
            broken.append(target)
    assert broken == []


def test_readme_stays_a_short_introduction() -> None:
    """The README is what it is, the two commands, scenarios and links: under 15 KB, the rest lives in docs/."""
    assert len((REPO / "README.md").read_bytes()) < 15_000


def test_docs_cite_no_file_outside_the_repository() -> None:
    """The docs cite public sources, not the maintainers' private notes or issue numbers of another tracker."""
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        assert "exchange-oauth-facts.md" not in text, page
        # A linked issue of a public repository is a source; a bare "issue 8" points at a tracker readers lack.
        unlinked = re.sub(r"\[[^\]]*\]\(https://[^)]+\)", "", text)
        assert not re.search(r"\bissue \d+\b", unlinked, flags=re.IGNORECASE), page


def test_decision_index_lists_every_record_with_its_status() -> None:
    """docs/decisions/README.md has one row per record, and says superseded where the record does."""
    decisions = REPO / "docs" / "decisions"
    index = (decisions / "README.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| \[[^\]]*\]\((\d{4}-[^)]+\.md)\) \| (\w+)", index, flags=re.MULTILINE)
    statuses = {}
    for record in sorted(decisions.glob("[0-9][0-9][0-9][0-9]-*.md")):
        text = record.read_text(encoding="utf-8")
        status = re.search(r"^(?:- Status: |## Status\n\n)(\w+)", text, flags=re.MULTILINE)
        statuses[record.name] = status.group(1) if status else "no status"
    assert sorted(rows) == sorted(statuses.items())


def test_every_promise_in_security_md_names_a_test_that_exists() -> None:
    """docs/security.md: each table row names `tests/FILE.py::test`, and each named test is defined in that file."""
    text = (REPO / "docs" / "security.md").read_text(encoding="utf-8")
    promises = text.split("\n## Workflows and credentials")[0]  # that section documents the workflow files
    rows = [line for line in promises.splitlines()
            if line.startswith("|") and not line.startswith("|---") and not line.startswith(("| Promise", "| Limit"))]
    assert rows
    assert [row for row in rows if "::" not in row] == []
    named = re.findall(r"tests/(\w+\.py)::(\w+)", promises)
    missing = [f"{file}::{test}" for file, test in named
               if f"def {test}(" not in (REPO / "tests" / file).read_text(encoding="utf-8")]
    assert missing == []
