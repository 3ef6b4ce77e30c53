"""msal's persistent token cache for `verify`: one file per authority, tenant, app and credential, outside the project.

The cache lives in `$XDG_CACHE_HOME/exo-oauth/tokens/` (default `~/.cache/exo-oauth/tokens/`), folder mode 0700,
files mode 0600. It holds access tokens (about an hour) and, for delegated sign-ins, refresh tokens, so a second run
needs no sign-in and no token request. It never holds a client secret or a private key. Each file is keyed by the
credential too (a short SHA-256 of the secret, or the certificate thumbprint), so a changed credential always gets
a fresh token and is really tested.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ..errors import UsageError

FOLDER = Path("exo-oauth") / "tokens"


def cache_dir(environ: Mapping[str, str], project_dir: Path | None) -> Path:
    """Return the token cache folder; raise UsageError if it would lie inside the project (which may be committed)."""
    base = Path(environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    folder = (base / FOLDER).resolve()
    if project_dir is not None and folder.is_relative_to(project_dir.resolve()):
        raise UsageError(f"XDG_CACHE_HOME={base}: the token cache would be inside the project {project_dir}; "
                         "allowed: a folder outside the project, or --no-token-cache")
    return folder


def cache_file(folder: Path, authority: str, client_id: str, partition: str) -> Path:
    """Return the cache file for one authority (host and tenant), app and credential partition."""
    parts = urlsplit(authority)
    name = "-".join([parts.netloc, parts.path.strip("/"), client_id, partition]).replace(":", "_")
    digest = hashlib.sha256(name.encode()).hexdigest()[:32]
    return folder / f"{digest}.json"


def secret_partition(secret: str) -> str:
    """Return a short, one-way fingerprint of a client secret to key the cache file (never the secret itself)."""
    return "s" + hashlib.sha256(secret.encode()).hexdigest()[:16]


class TokenCacheFile:
    """An msal SerializableTokenCache backed by one private file, read on open and written when it changed.

    A file msal cannot read (cut short, edited by hand) is treated as empty and replaced on the next save.
    """

    def __init__(self, path: Path) -> None:
        import msal  # noqa: PLC0415 - msal is heavy; `exo-oauth --help` must not load it

        self.path = path
        self.cache: Any = msal.SerializableTokenCache()
        if path.is_file():
            os.chmod(path, 0o600)
            with contextlib.suppress(ValueError, UnicodeDecodeError):
                self.cache.deserialize(path.read_text(encoding="utf-8"))

    def save(self) -> None:
        """Write the cache if msal changed it: atomically, mode 0600, in a folder of mode 0700."""
        if not self.cache.has_state_changed:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(self.path.parent, 0o700)
        handle, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=".tmp-", suffix=".json")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as stream:
                stream.write(self.cache.serialize())
            os.replace(temporary, self.path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        self.cache.has_state_changed = False
