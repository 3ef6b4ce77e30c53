"""Read a JSON file named on the command line, or say in one line why not."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .errors import UsageError


def read_json(path: Path, flag: str, allowed: str) -> Any:
    """Return the decoded file; raise UsageError naming `flag` and the file, and `allowed`, when it cannot."""
    where = f"{flag} {path}"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise UsageError(f"{where}: cannot read it ({error.strerror})") from None
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise UsageError(f"{where}: not JSON; allowed: {allowed}") from None
