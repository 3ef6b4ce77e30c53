"""Read generated PowerShell the way PowerShell does.

tree-sitter-powershell gives the grammar; `unquote` adds PowerShell's own string-literal rule, which treats ' and
U+2018..U+201B alike (the grammar only knows ').
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache

import tree_sitter_powershell
from tree_sitter import Language, Node, Parser

from exo_domain.exchange_module import module_text

PARSER = Parser(Language(tree_sitter_powershell.language()))
QUOTES = "'\u2018\u2019\u201a\u201b"


def parse(text: str) -> Node:
    """Return the syntax tree's root."""
    return PARSER.parse(text.encode("utf-8")).root_node


def nodes(root: Node) -> Iterator[Node]:
    """Yield every node under `root`, depth first, in source order."""
    yield root
    for child in root.children:
        yield from nodes(child)


def syntax_problems(root: Node) -> list[str]:
    """Return a description of every ERROR or MISSING node."""
    return [f"{n.type} at {n.start_point}: {n.text!r}" for n in nodes(root) if n.type == "ERROR" or n.is_missing]


def unquote(literal: str) -> tuple[str, int]:
    """Scan a single-quoted literal as PowerShell's tokenizer does; return its value and how many characters it used."""
    assert literal[0] in QUOTES, literal
    value, i = [], 1
    while i < len(literal):
        char = literal[i]
        if char in QUOTES:
            if i + 1 < len(literal) and literal[i + 1] in QUOTES:
                value.append(literal[i + 1])
                i += 2
                continue
            return "".join(value), i + 1
        value.append(char)
        i += 1
    raise AssertionError(f"unterminated literal {literal!r}")


def text(node: Node) -> str:
    """Return a node's source text."""
    return (node.text or b"").decode("utf-8")


@dataclass(frozen=True)
class Call:
    """One command: its name and, per `-Parameter`, the argument nodes up to the next parameter."""

    name: str
    arguments: dict[str, list[Node]]


def calls(root: Node) -> list[Call]:
    """Return every command in source order."""
    found = []
    for node in nodes(root):
        if node.type != "command":
            continue
        name = node.child_by_field_name("command_name")
        elements = node.child_by_field_name("command_elements")
        arguments: dict[str, list[Node]] = {}
        current: list[Node] = arguments.setdefault("", [])
        for element in elements.children if elements else []:
            if element.type == "command_parameter":
                current = arguments.setdefault(text(element).lstrip("-").rstrip(":"), [])
            elif element.type != "command_argument_sep":
                current.append(element)
        found.append(Call(text(name) if name else "", arguments))
    return found


def single_literal(arguments: list[Node]) -> str:
    """Return the value of an argument that is exactly one single-quoted literal, PowerShell's reading of it."""
    assert len(arguments) == 1, [text(a) for a in arguments]
    literals = [n for n in nodes(arguments[0]) if n.type == "string_literal"]
    assert len(literals) == 1, text(arguments[0])
    assert text(literals[0]) == text(arguments[0]), text(arguments[0])
    source = text(literals[0])
    value, used = unquote(source)
    assert used == len(source), f"PowerShell ends the literal early: {source!r}"
    return value


def functions(root: Node) -> dict[str, Node]:
    """Return the script's function definitions by name."""
    return {text(n.child_by_field_name("function_name") or n.children[1]): n
            for n in nodes(root) if n.type == "function_statement"}


@cache
def module_functions() -> dict[str, Node]:
    """Return ExoOAuth.psm1's function definitions by name: what the generated scripts import."""
    return functions(parse(module_text()))


def module_function(name: str) -> str:
    """Return the source of one function of ExoOAuth.psm1."""
    return text(module_functions()[name])


def module_exports() -> set[str]:
    """Return the names ExoOAuth.psm1's Export-ModuleMember lists, read with tree-sitter."""
    call = next(c for c in calls(parse(module_text())) if c.name == "Export-ModuleMember")
    return set(re.findall(r"'([A-Za-z]+-ExoOAuth[A-Za-z]*)'", text(call.arguments["Function"][0])))


def reached_commands(script: str) -> set[str]:
    """Return every command a script runs: its own calls, and those of each module function it reaches."""
    defined = module_functions()
    found: set[str] = set()
    pending = [c.name for c in calls(parse(script))]
    while pending:
        name = pending.pop()
        if name not in found:
            found.add(name)
            pending += [c.name for c in calls(defined[name])] if name in defined else []
    return found


def _outside_functions(node: Node) -> Iterator[Node]:
    for child in node.children:
        if child.type == "function_statement":
            continue
        if child.type == "command":
            yield child
        yield from _outside_functions(child)


def step_calls(root: Node) -> list[Call]:
    """Return the calls of the scripts' step functions (`<Verb>-ExoOAuth<Noun>`) made outside every function."""
    found = [c for n in _outside_functions(root) for c in calls(n)[:1]]
    return [c for c in found if "-ExoOAuth" in c.name and c.name not in HELPERS]


HELPERS = {"Connect-ExoOAuth", "Write-ExoOAuthStep", "Complete-ExoOAuthVerify", "Set-ExoOAuthFullAccessScan"}
"""Module functions the scripts call outside the steps: sign-in, a message, verify's summary and scan bound."""
