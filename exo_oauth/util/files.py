"""Read a file the user names, safely; every file the CLI reads goes through here.

Stack files, --outputs, --policy-config, --certificate and --ca-file. Only regular files: a directory, FIFO,
device (such as /dev/zero) or symbolic link loop is named as such. At most MAX_FILE_BYTES, decoded as UTF-8 with or
without a BOM or as UTF-16 with a BOM (what Windows PowerShell 5.1 writes); anything else is refused with the byte
offset and "save it as UTF-8". JSON is parsed with limits on nesting and list lengths that no real tenant reaches.
Every problem is a UsageError naming the file.
"""

from __future__ import annotations

import codecs
import errno
import json
import os
import stat
from pathlib import Path
from typing import Any

from .errors import UsageError

MAX_FILE_BYTES = 4 << 20
"""4 MiB: a fleet's largest stack file or outputs file is a few hundred KB."""
MAX_DEPTH = 32
"""Deepest nesting of lists and mappings; an exo-oauth stack or outputs file needs 6."""
MAX_ITEMS = 5000
"""Longest list, and most keys in a mapping (for example mailboxes per app)."""
_BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"))
_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISSOCK, "a socket"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"))


def _not_regular(mode: int) -> str | None:
    return next((name for test, name in _KINDS if test(mode)), None if stat.S_ISREG(mode) else "not a regular file")


def read_bytes(path: Path, label: str, allowed: str) -> bytes:
    """Return the content of the regular file `path`.

    `label` names it in errors (`--outputs out.json`), `allowed` says what the file should be.
    """
    try:
        kind = _not_regular(os.stat(path).st_mode)
        if kind is not None:  # checked before opening: opening a FIFO would block
            raise UsageError(f"{label}: is {kind}; allowed: {allowed}")
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    except FileNotFoundError:
        raise UsageError(f"{label}: no such file; allowed: {allowed}") from None
    except OSError as error:
        reason = "a symbolic link loop" if error.errno == errno.ELOOP else error.strerror
        raise UsageError(f"{label}: cannot read it ({reason}); allowed: {allowed}") from None
    with os.fdopen(fd, "rb") as file:
        # Checked again on the open file: the name may have been swapped between stat and open.
        kind = _not_regular(os.fstat(file.fileno()).st_mode)
        if kind is not None:
            raise UsageError(f"{label}: is {kind}; allowed: {allowed}")
        data = file.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise UsageError(f"{label}: is larger than {MAX_FILE_BYTES // (1 << 20)} MiB; allowed: {allowed}, at most "
                         f"{MAX_FILE_BYTES} bytes")
    return data


def decode(data: bytes, label: str) -> str:
    """Return `data` as text: UTF-8 (an optional BOM is dropped) or UTF-16 with a BOM; else name the byte offset."""
    encoding, skip = "utf-8", 0
    for bom, name in _BOMS:
        if data.startswith(bom):
            encoding, skip = name, len(bom)
            break
    try:
        return data[skip:].decode(encoding)
    except UnicodeDecodeError as error:
        offset = skip + error.start
        raise UsageError(f"{label}: byte {offset} (0x{data[offset]:02X}) is not {encoding.upper()}; allowed: text "
                         "in UTF-8 (with or without a BOM) or UTF-16 with a BOM: save it as UTF-8") from None


def read_text(path: Path, label: str, allowed: str) -> str:
    """Return the text of the regular file `path` (read_bytes, then decode)."""
    return decode(read_bytes(path, label, allowed), label)


def check_shape(document: Any, label: str, max_items: int = MAX_ITEMS) -> None:
    """Raise UsageError if `document` nests deeper than MAX_DEPTH or has a list or mapping over `max_items`."""
    pending: list[tuple[Any, int, str]] = [(document, 1, "")]
    seen: set[int] = set()
    while pending:
        value, depth, where = pending.pop()
        # A YAML alias is the same object again: walked once, so an alias bomb costs its size, not its expansion.
        if not isinstance(value, (list, dict)) or id(value) in seen:
            continue
        seen.add(id(value))
        at = where or "the top level"
        if depth > MAX_DEPTH:
            raise UsageError(f"{label}: {at} is nested more than {MAX_DEPTH} levels deep; allowed: at most "
                             f"{MAX_DEPTH}")
        if len(value) > max_items:
            kind = "list has" if isinstance(value, list) else "mapping has"
            raise UsageError(f"{label}: {at}: the {kind} {len(value)} entries; allowed: at most {max_items}")
        items = enumerate(value) if isinstance(value, list) else value.items()
        pending += [(v, depth + 1, f"{where}[{k}]" if isinstance(value, list) else f"{where}.{k}".lstrip("."))
                    for k, v in items]


def load_json(text: str, label: str, allowed: str, max_items: int = MAX_ITEMS) -> Any:
    """Parse JSON text and check its shape (check_shape); every failure is one UsageError naming the file."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise UsageError(f"{label}: not JSON (line {error.lineno}, column {error.colno}: {error.msg}); allowed: "
                         f"{allowed}") from None
    except RecursionError:
        raise UsageError(f"{label}: nested too deeply to read; allowed: {allowed}, nested at most {MAX_DEPTH} "
                         "levels") from None
    except ValueError as error:  # an integer over Python's 4,300-digit limit
        raise UsageError(f"{label}: a value is out of range ({str(error).split(';')[0]}); allowed: {allowed}"
                         ) from None
    check_shape(document, label, max_items)
    return document


def read_json(path: Path, label: str, allowed: str, max_items: int = MAX_ITEMS) -> Any:
    """Return the JSON document in the regular file `path` (read_text, then load_json)."""
    return load_json(read_text(path, label, allowed), label, allowed, max_items)
