"""Write Exchange scripts to a folder with the module they import beside them, each file replaced atomically.

`pulumi up`'s hook (exchange_hook) and the CLI (`exchange --out`, `audit --export-script`, drift) all write through
here, so every folder of scripts also holds the exact `ExoOAuth.psm1` their hash check expects.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

from exo_domain.exchange_module import MODULE_NAME, module_text


def write_exchange_folder(out_dir: Path, scripts: Mapping[str, str], *, module: bool = True) -> list[Path]:
    """Write `scripts` (file name to text) and the module into `out_dir`; return the files whose text changed.

    The module goes first, so no script is ever there without the module it checks. Creates `out_dir` as needed.
    `module=False` is for files that import nothing (the runners, exo_domain.exchange_runner).
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    texts = {**({MODULE_NAME: module_text()} if module else {}), **scripts}
    return [out_dir / name for name, text in texts.items() if replace_text(out_dir / name, text)]


def replace_text(path: Path, text: str) -> bool:
    """Atomically replace `path` with `text` (UTF-8, LF) unless it holds exactly that; return whether it changed.

    A temporary file in the same folder, then a rename: no reader ever sees half a file.
    """
    if path.is_file() and path.read_bytes() == text.encode("utf-8"):
        return False
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return True
