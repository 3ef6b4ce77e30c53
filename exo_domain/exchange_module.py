"""The PowerShell module every generated Exchange script imports, and the lines that import it.

The module (exo_domain/exchange/ExoOAuth.psm1, package data) ships beside the scripts as `MODULE_NAME`. Each script
checks the file's SHA-256 against the digest it was rendered with, then imports it (`import_lines`): a script runs
only with the module text it was rendered and tested with, whichever exo-oauth is installed where it runs.
"""

from __future__ import annotations

import hashlib
from functools import cache
from importlib.resources import files

from .powershell import ps_literal

MODULE_FILE = "exchange/ExoOAuth.psm1"
"""The module's path inside the `exo_domain` package."""
MODULE_NAME = "ExoOAuth.psm1"
"""Its file name beside the scripts."""


@cache
def module_text() -> str:
    """Return the module's source, with LF line ends even where a checkout has CRLF: the text the scripts expect."""
    return files("exo_domain").joinpath(MODULE_FILE).read_text(encoding="utf-8-sig")


@cache
def module_sha256() -> str:
    """Return the SHA-256 of the module file as written beside the scripts (UTF-8, LF), in Get-FileHash's hex."""
    return hashlib.sha256(module_text().encode("utf-8")).hexdigest().upper()


@cache
def import_lines() -> str:
    """Return the lines that check the module beside the script and import it; they stop the script on a mismatch."""
    name = ps_literal(MODULE_NAME)
    mismatch = ps_literal(f"{MODULE_NAME} beside this script is missing or not the copy it was rendered with (its "
                          "SHA-256 differs); let exo-oauth write the script and the module again "
                          "(exo-oauth exchange --out DIR)")
    return (
        f"# The step functions live in {MODULE_NAME}, beside this script exactly as exo-oauth wrote it.\n"
        f"$ExoOAuthModule = Join-Path -Path $PSScriptRoot -ChildPath {name}\n"
        "if (-not (Test-Path -LiteralPath $ExoOAuthModule -PathType Leaf) -or\n"
        f"    (Get-FileHash -LiteralPath $ExoOAuthModule -Algorithm SHA256).Hash -ne {ps_literal(module_sha256())}) "
        "{\n"
        f"    throw {mismatch}\n"
        "}\n"
        "Import-Module -Name $ExoOAuthModule -Force\n"
    )
