"""msal's persistent token cache for `verify`: one per authority, tenant, app and credential, outside the project.

`--token-cache` picks how it is kept:

- `encrypted` (default): msal-extensions' encrypted persistence, the OS's own secret store (DPAPI on Windows, the
  Keychain on macOS, libsecret on Linux). Where none works (a headless Linux without libsecret), the run keeps its
  token in memory only and says so in one line on stderr: tokens are never written to a plain file unasked.
- `plain`: msal's SerializableTokenCache as JSON, file mode 0600 in a folder of mode 0700, written atomically. An
  explicit opt-in; anyone who can read the user's files can read the tokens.
- `off`: no cache; every run asks for a token.

The location is `$XDG_CACHE_HOME/exo-oauth/tokens/` (default `~/.cache/exo-oauth/tokens/`). The cache holds access
tokens (about an hour) and, for delegated sign-ins, refresh tokens, so a second run needs no sign-in and no token
request. It never holds a client secret or a private key. Each cache is keyed by the credential too (a short SHA-256
of the secret, or the certificate thumbprint), so a changed credential always gets a fresh token and is really tested.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ..util.errors import UsageError

if TYPE_CHECKING:  # the annotation only: the credentials module loads the config validator, which --help must not
    from ..signin.credentials import ClientCredential

FOLDER = Path("exo-oauth") / "tokens"
MODES = ("encrypted", "plain", "off")
"""`--token-cache` choices; the first is the default."""
_REASON_LENGTH = 120


def cache_dir(environ: Mapping[str, str], project_dir: Path | None) -> Path:
    """Return the token cache folder; raise UsageError if it would lie inside the project (which may be committed)."""
    base = Path(environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    folder = (base / FOLDER).resolve()
    if project_dir is not None and folder.is_relative_to(project_dir.resolve()):
        raise UsageError(f"XDG_CACHE_HOME={base}: the token cache would be inside the project {project_dir}; "
                         "allowed: a folder outside the project, or --token-cache off")
    return folder


def cache_file(folder: Path, authority: str, client_id: str, partition: str) -> Path:
    """Return the cache file for one authority (host and tenant), app and credential partition."""
    parts = urlsplit(authority)
    name = "-".join([parts.netloc, parts.path.strip("/"), client_id, partition]).replace(":", "_")
    digest = hashlib.sha256(name.encode()).hexdigest()[:32]
    return folder / f"{digest}.json"


def credential_partition(credential: ClientCredential | None) -> str:
    """Return the cache partition of a credential, which keys its cache file.

    The thumbprint (certificate, federated), a short one-way fingerprint of a client secret (never the secret
    itself), or `public` for a device code sign-in.
    """
    if credential is None:
        return "public"
    if credential.kind == "secret":
        return "s" + hashlib.sha256(credential.value.reveal().encode()).hexdigest()[:16]
    return f"{credential.kind[0]}{credential.thumbprint}"


def short_reason(error: BaseException) -> str:
    """Return the first line of an error from the cache's persistence layer, shortened, for a one-line message."""
    text = str(error)
    if isinstance(error, OSError) and error.strerror:  # msal-extensions' PersistenceError: "[Errno None] ..." without
        text = error.strerror + (f" ({error.filename})" if error.filename else "")
    line = next((part.strip() for part in text.splitlines() if part.strip()), type(error).__name__)
    return line if len(line) <= _REASON_LENGTH else line[:_REASON_LENGTH - 3] + "..."


def _private_folder(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(folder, 0o700)


def _read_private(path: Path) -> str | None:
    """Return the cache file's text after making it mode 0600, or None when there is none yet.

    The file itself, never what a symbolic link points to: a link planted at the cache's name must not get its
    target's permissions changed or its content read (OSError, which the caller reports as "cache off").
    """
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    except (FileNotFoundError, NotADirectoryError):  # nothing cached yet; a folder that can't hold one fails at save
        return None
    with os.fdopen(fd, "rb") as file:
        if not stat.S_ISREG(os.fstat(file.fileno()).st_mode):
            raise OSError(f"the token cache {path} is not a regular file")
        os.fchmod(file.fileno(), 0o600)
        return file.read().decode("utf-8", errors="replace")


class TokenCacheFile:
    """`--token-cache plain`: msal's SerializableTokenCache in one private file, read on open, written if changed.

    A file msal cannot read (cut short, edited by hand) is treated as empty and replaced on the next save.
    """

    failure: str | None = None
    """Always None: a plain file that cannot be read or written raises OSError, which the caller reports."""

    def __init__(self, path: Path) -> None:
        import msal  # noqa: PLC0415 - msal is heavy; `exo-oauth --help` must not load it

        self.path = path
        self.cache: Any = msal.SerializableTokenCache()
        text = _read_private(path)
        if text is not None:
            with contextlib.suppress(ValueError, UnicodeDecodeError):
                self.cache.deserialize(text)

    def save(self) -> None:
        """Write the cache if msal changed it: atomically, mode 0600, in a folder of mode 0700."""
        if not self.cache.has_state_changed:
            return
        _private_folder(self.path.parent)
        handle, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=".tmp-", suffix=".json")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as stream:
                stream.write(self.cache.serialize())
            os.replace(temporary, self.path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        self.cache.has_state_changed = False


class EncryptionUnavailable(Exception):  # noqa: N818 - it names a state, like msal-extensions' PersistenceNotFound
    """The OS offers no working secret store for an encrypted cache; the message is a short, secret-free reason."""


def _guarded_cache_class() -> type[Any]:
    """Return msal-extensions' PersistedTokenCache made to carry on in memory when its persistence fails mid-run.

    PersistedTokenCache reads the store before every lookup and writes it after every change, from inside msal. A
    store that fails there (a keyring locked meanwhile, a stale lock file) would otherwise surface as an exception
    out of msal, losing a token the server has already issued; keeping it in memory keeps one token request per run.
    """
    import msal  # noqa: PLC0415 - msal is heavy; `exo-oauth --help` must not load it
    import msal_extensions  # noqa: PLC0415

    class GuardedPersistedTokenCache(msal_extensions.PersistedTokenCache):  # type: ignore[misc]
        failure: str | None = None

        def search(self, credential_type: Any, **kwargs: Any) -> Any:
            if self.failure is None:
                try:
                    return super().search(credential_type, **kwargs)
                except Exception as error:  # any store failure; the run goes on in memory
                    self.failure = short_reason(error)
            return msal.SerializableTokenCache.search(self, credential_type, **kwargs)

        def modify(self, credential_type: Any, old_entry: Any, new_key_value_pairs: Any = None) -> None:
            if self.failure is None:
                try:
                    super().modify(credential_type, old_entry, new_key_value_pairs=new_key_value_pairs)
                except Exception as error:  # any store failure; the run goes on in memory
                    self.failure = short_reason(error)
                else:
                    return
            # msal's in-memory modify sets or removes one key, so repeating one that got that far is harmless.
            msal.SerializableTokenCache.modify(self, credential_type, old_entry, new_key_value_pairs)

    return GuardedPersistedTokenCache


class EncryptedTokenCache:
    """`--token-cache encrypted`: msal-extensions' PersistedTokenCache over its OS-encrypted persistence.

    On Linux and macOS `path` only marks changes (the tokens are in libsecret or the Keychain); on Windows it holds the
    DPAPI-encrypted cache. Stored data that cannot be decrypted or parsed is replaced by an empty cache, which costs one
    token request, not a crash. Raises EncryptionUnavailable if the OS's secret store does not work.
    """

    def __init__(self, path: Path, build: Callable[[str], Any] | None = None) -> None:
        import msal_extensions  # noqa: PLC0415 - loads msal; `exo-oauth --help` must not
        from msal_extensions.persistence import PersistenceNotFound  # noqa: PLC0415

        self.path = path
        try:
            # ImportError: no PyGObject/libsecret; RuntimeError: libsecret's trial run failed or an unknown OS.
            persistence = (build or msal_extensions.build_encrypted_persistence)(str(path))
        except Exception as error:  # every way the OS store can be missing means "no encrypted cache"
            raise EncryptionUnavailable(short_reason(error)) from None
        _private_folder(path.parent)
        try:
            readable = isinstance(json.loads(persistence.load() or "{}"), dict)
        except PersistenceNotFound:
            readable = True
        except Exception:  # undecryptable (another user's DPAPI data), cut short, or not JSON
            readable = False
        if not readable:
            try:
                persistence.save("{}")
            except Exception as error:  # the store cannot be written either: no encrypted cache
                raise EncryptionUnavailable(short_reason(error)) from None
        self.cache: Any = _guarded_cache_class()(persistence)

    @property
    def failure(self) -> str | None:
        """Why the store failed mid-run (the run then went on in memory), or None."""
        failure: str | None = self.cache.failure
        return failure

    def save(self) -> None:
        """Nothing to do: PersistedTokenCache writes every change to the store as msal makes it."""


def open_token_cache(path: Path | None, mode: str) -> tuple[TokenCacheFile | EncryptedTokenCache | None, str | None]:
    """Return the run's cache (None: run without one) and a one-line notice for stderr, or None."""
    if path is None or mode == "off":
        return None, None
    if mode == "plain":
        return TokenCacheFile(path), None
    try:
        return EncryptedTokenCache(path), None
    except EncryptionUnavailable as error:
        return None, (f"exo-oauth verify: token cache off: no OS keyring for an encrypted cache ({error}); pass "
                      "--token-cache plain to keep tokens in a private 0600 file, or --token-cache off to silence this")
