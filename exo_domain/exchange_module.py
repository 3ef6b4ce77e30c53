"""Index the PowerShell module that holds every Exchange step function, and pick the functions a script needs.

The module (exo_domain/exchange/ExoOAuth.psm1, shipped as package data) is read once. A function is the text from
`function <Verb>-ExoOAuth<Noun> {` at the start of a line to the first `}` alone on a line, together with the lines
directly above it (its comments and the `$script:` state it keeps); a blank line ends that preamble. A function
depends on every other module function it names, and on the function whose preamble sets a `$script:` variable it
reads. tests/test_exchange_module.py checks this index against tree-sitter-powershell's reading of the same file.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib.resources import files

MODULE_FILE = "exchange/ExoOAuth.psm1"
"""The module's path inside the `exo_domain` package."""

_START = re.compile(r"function ([A-Z][a-z]+-ExoOAuth[A-Za-z]*) \{")
_NAME = re.compile(r"\b[A-Z][a-z]+-ExoOAuth[A-Za-z]*\b")
_STATE_SET = re.compile(r"^\$script:(\w+) =", re.MULTILINE)
_STATE_USE = re.compile(r"\$script:(\w+)")


@dataclass(frozen=True)
class PsFunction:
    """One function of the module."""

    name: str
    """`<Verb>-ExoOAuth<Noun>`."""
    text: str
    """Its source, preamble included, ending with a newline."""
    calls: frozenset[str]
    """The other module functions it names."""


def module_text() -> str:
    """Return the module's source."""
    return files("exo_domain").joinpath(MODULE_FILE).read_text(encoding="utf-8")


@cache
def module_functions() -> Mapping[str, PsFunction]:
    """Return the module's functions by name, in file order."""
    return index_functions(module_text())


def index_functions(source: str) -> dict[str, PsFunction]:
    """Split PowerShell source into its top-level functions (see the module docstring for the rule)."""
    lines = source.splitlines(keepends=True)
    spans: list[tuple[str, int, int]] = []
    i = 0
    while i < len(lines):
        start = _START.fullmatch(lines[i].rstrip("\r\n"))
        if start is None:
            i += 1
            continue
        first = i
        while first > 0 and lines[first - 1].strip() and not _ends_function(spans, first - 1):
            first -= 1
        end = next((j for j in range(i + 1, len(lines)) if lines[j].rstrip("\r\n") == "}"), None)
        if end is None:
            raise ValueError(f"function {start.group(1)} has no closing '}}' alone on a line")
        spans.append((start.group(1), first, end))
        i = end + 1
    texts = {name: "".join(lines[first:end + 1]).replace("\r\n", "\n") for name, first, end in spans}
    owners = {state: name for name, text in texts.items() for state in _STATE_SET.findall(text)}
    found = {}
    for name, text in texts.items():
        calls = set(_NAME.findall(text)) & set(texts)
        calls |= {owners[state] for state in _STATE_USE.findall(text) if state in owners}
        found[name] = PsFunction(name, text, frozenset(calls - {name}))
    return found


def _ends_function(spans: list[tuple[str, int, int]], line: int) -> bool:
    return bool(spans) and spans[-1][2] == line


def needed(names: Iterable[str], functions: Mapping[str, PsFunction] | None = None) -> list[PsFunction]:
    """Return the functions `names` call, with everything they call, in module order."""
    functions = module_functions() if functions is None else functions
    found: set[str] = set()
    pending = list(names)
    while pending:
        name = pending.pop()
        if name not in found:
            found.add(name)
            pending += functions[name].calls
    return [function for name, function in functions.items() if name in found]
