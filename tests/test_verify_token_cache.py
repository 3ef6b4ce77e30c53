"""verify's token cache modes: the encrypted one's wiring to msal-extensions, its fallback, and plain and off.

The encrypted store itself (DPAPI, Keychain, libsecret) needs an OS keyring this machine may not have; the wiring
tests hand `EncryptedTokenCache` msal-extensions' own persistences instead, so msal-extensions' PersistedTokenCache,
its lock and its load/save protocol run for real, and only the encryption is left out.
"""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import msal
import msal_extensions
import pytest
from msal_extensions.persistence import PersistenceEncryptionError

from exo_oauth.verify.token_cache import EncryptedTokenCache, EncryptionUnavailable, TokenCacheFile, open_token_cache

CLIENT = "22222222-3333-4444-8555-666666666666"
ENDPOINT = "https://login.example/11111111-2222-4333-8444-555555555555/oauth2/v2.0/token"
SCOPES = ["https://outlook.office365.com/.default"]
TOKEN = "eyJ0eXAiOiJKV1QifQ.test-access-token.sig"


def add_token(cache: Any) -> None:
    """Store one app-only access token the way msal does after a token response."""
    cache.add({"client_id": CLIENT, "scope": SCOPES, "token_endpoint": ENDPOINT,
               "response": {"access_token": TOKEN, "token_type": "Bearer", "expires_in": 3600}})


def access_tokens(cache: Any) -> list[str]:
    """Return the secrets of the cached access tokens."""
    return [entry["secret"] for entry in cache.search(msal.TokenCache.CredentialType.ACCESS_TOKEN, target=SCOPES)]


class FailingSave(msal_extensions.FilePersistence):  # type: ignore[misc]
    """msal-extensions' file persistence whose writes fail as an encrypted one's can (a keyring locked meanwhile)."""

    def save(self, content: str) -> None:
        """Fail like DPAPI or a locked keyring."""
        raise PersistenceEncryptionError(message="Encryption failed: the keyring is locked")


def test_the_encrypted_mode_writes_through_persisted_token_cache_and_a_new_run_reads_it(tmp_path: Path) -> None:
    """A token msal adds is in the store at once (no save step); the next run's cache finds it; folder is 0700."""
    path = tmp_path / "tokens" / "cache.json"
    first = EncryptedTokenCache(path, build=msal_extensions.FilePersistence)
    assert isinstance(first.cache, msal_extensions.PersistedTokenCache)
    add_token(first.cache)
    first.save()
    assert first.failure is None
    second = EncryptedTokenCache(path, build=msal_extensions.FilePersistence)
    assert access_tokens(second.cache) == [TOKEN]
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert sorted(p.name for p in path.parent.iterdir()) == ["cache.json"]


def test_unreadable_stored_data_is_replaced_by_an_empty_cache(tmp_path: Path) -> None:
    """Data the store cannot decrypt or parse costs one token request, not a crash."""
    path = tmp_path / "cache.json"
    path.write_text('{"AccessToken": {', encoding="utf-8")
    cache = EncryptedTokenCache(path, build=msal_extensions.FilePersistence)
    assert access_tokens(cache.cache) == []
    assert path.read_text(encoding="utf-8") == "{}"


def test_a_store_failing_mid_run_keeps_the_token_in_memory_and_says_why(tmp_path: Path) -> None:
    """A write that fails inside msal neither raises out of msal nor loses the issued token."""
    cache = EncryptedTokenCache(tmp_path / "cache.json", build=FailingSave)
    add_token(cache.cache)
    assert access_tokens(cache.cache) == [TOKEN]
    assert cache.failure == "Encryption failed: the keyring is locked"


def test_a_missing_os_store_is_unavailable_with_a_short_reason_and_writes_nothing(tmp_path: Path) -> None:
    """No PyGObject, no libsecret service, an unknown OS: EncryptionUnavailable with the first line, no file."""

    def no_keyring(location: str) -> Any:
        raise ImportError("Unable to import module 'gi'\nRuntime dependency of PyGObject is missing.\n...")

    with pytest.raises(EncryptionUnavailable, match=r"^Unable to import module 'gi'$"):
        EncryptedTokenCache(tmp_path / "tokens" / "cache.json", build=no_keyring)
    assert not (tmp_path / "tokens").exists()


def test_the_default_mode_on_a_machine_without_a_keyring_runs_without_a_cache(tmp_path: Path) -> None:
    """msal-extensions' real encrypted persistence: on a machine without an OS keyring, no cache and one notice."""
    path = tmp_path / "tokens" / "cache.json"
    cache, notice = open_token_cache(path, "encrypted")
    if cache is not None:
        pytest.skip("this machine has a working OS keyring")
    assert notice is not None
    assert "\n" not in notice
    assert notice.startswith("exo-oauth verify: token cache off: no OS keyring for an encrypted cache (")
    assert notice.endswith("pass --token-cache plain to keep tokens in a private 0600 file, or --token-cache off to "
                           "silence this")
    assert not (tmp_path / "tokens").exists()


def test_plain_and_off_modes(tmp_path: Path) -> None:
    """Mode plain is the private JSON file; off and no location mean no cache; neither prints a notice."""
    path = tmp_path / "cache.json"
    plain, notice = open_token_cache(path, "plain")
    assert isinstance(plain, TokenCacheFile)
    assert notice is None
    assert open_token_cache(path, "off") == (None, None)
    assert open_token_cache(None, "encrypted") == (None, None)


def test_a_symlink_at_the_plain_cache_file_is_not_followed(tmp_path: Path) -> None:
    """A link planted at the cache's name: its target keeps its mode and content, and the cache is not opened."""
    target = tmp_path / "precious"
    target.write_text("not a token cache", encoding="utf-8")
    target.chmod(0o644)
    link = tmp_path / "cache.json"
    link.symlink_to(target)
    with pytest.raises(OSError, match=r"symbolic link"):
        open_token_cache(link, "plain")
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    assert target.read_text(encoding="utf-8") == "not a token cache"


def test_a_plain_cache_file_of_another_mode_is_made_private_and_read(tmp_path: Path) -> None:
    """An existing plain cache file with a wider mode is set to 0600, and its tokens are used."""
    first, _ = open_token_cache(tmp_path / "cache.json", "plain")
    assert isinstance(first, TokenCacheFile)
    add_token(first.cache)
    first.save()
    (tmp_path / "cache.json").chmod(0o644)
    second, _ = open_token_cache(tmp_path / "cache.json", "plain")
    assert stat.S_IMODE((tmp_path / "cache.json").stat().st_mode) == 0o600
    assert isinstance(second, TokenCacheFile)
    assert access_tokens(second.cache) == [TOKEN]
