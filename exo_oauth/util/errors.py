"""Errors the CLI turns into one line on stderr and exit status USAGE."""

from __future__ import annotations


class UsageError(Exception):
    """The command line or an input file is wrong: the message says what and what is allowed."""


def last_line(text: str) -> str:
    """Return the last non-empty line of a tool's output, the part that says what went wrong."""
    return (text.strip().splitlines() or ["no message"])[-1]
