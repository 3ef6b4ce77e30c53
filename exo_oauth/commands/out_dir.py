"""Write generated scripts into a folder named on the command line, with the module they import beside them."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from ..util.errors import UsageError


def write_out_dir(flag: str, folder: Path, scripts: Mapping[str, str], *, module: bool = True) -> list[Path]:
    """Write `scripts` (file name to text) into `folder`, with ExoOAuth.psm1 unless `module` is False.

    Returns the files that changed.

    A folder that cannot be written is a usage error naming `flag`; a file is either replaced whole or left as it was.
    """
    from components.exchange_folder import write_exchange_folder  # noqa: PLC0415 - reads the module's package data

    try:
        return write_exchange_folder(folder, scripts, module=module)
    except OSError as error:
        raise UsageError(f"{flag} {folder}: cannot write there ({error.strerror or error}); allowed: a folder you may "
                         "create and write") from None
