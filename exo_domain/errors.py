"""Errors that carry the file and key path the user must fix."""

from __future__ import annotations


class ConfigError(ValueError):
    """Bad stack configuration: one line that names the file, the key path, the problem and what is allowed.

    `str(error)` is the whole line, for example
    `stacks/Pulumi.contoso.yaml: exo-oauth:apps[1].protocols[0]: 'imap4' is not allowed; allowed: imap, pop, smtp`.
    It never contains a configured secret value: callers pass descriptions, not values, for anything sensitive.
    """

    def __init__(self, source: str, key_path: str, problem: str) -> None:
        self.source = source
        self.key_path = key_path
        self.problem = problem
        super().__init__(f"{source}: {key_path}: {problem}")
