"""verify's one access token: the sign-in module's msal request, through verify's persistent token cache.

One credential, one token request per run at most: every protocol check shares the token, and msal answers from the
persistent cache (token_cache.py) while the token is valid, so a second run within its lifetime sends none. Notes
about the cache (no OS keyring, a store that failed mid-run) go to stderr as one line each; never a token.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from ..signin import token
from ..signin.token import TokenOutcome
from .inputs import Target
from .token_cache import EncryptedTokenCache, TokenCacheFile, open_token_cache, short_reason


def acquire_token(target: Target, prompt: Callable[[str], None], deadline: float | None = None) -> TokenOutcome:
    """Return the run's access token, or why there is none; `prompt` shows the device code sign-in message.

    No request starts after `deadline` (a monotonic time; default: one `--timeout` per request, no run limit).
    """
    cache = _open_cache(target)
    try:
        return token.acquire_token(target.sign_in, prompt, deadline, cache.cache if cache else None)
    finally:
        if cache is not None:
            _save(cache)


def _open_cache(target: Target) -> TokenCacheFile | EncryptedTokenCache | None:
    """Return the run's token cache, or None; a cache that cannot be opened is a one-line notice, not a failure."""
    try:
        cache, notice = open_token_cache(target.token_cache, target.token_cache_mode)
    except OSError as error:  # an unreadable file or folder: the token is still worth getting, in memory
        cache, notice = None, (f"exo-oauth verify: token cache off: it cannot be opened ({short_reason(error)}); "
                               "this run's token is kept in memory only")
    if notice:
        print(notice, file=sys.stderr, flush=True)
    return cache


def _save(cache: TokenCacheFile | EncryptedTokenCache) -> None:
    """Write the cache; a store that failed, now or during the run, is a one-line notice."""
    try:
        cache.save()
        failure = cache.failure
    except OSError as error:  # a folder or disk that refuses the write costs the next run one token request
        failure = short_reason(error)
    if failure:
        print(f"exo-oauth verify: token cache not saved: the store failed during the run ({failure}); this run's "
              "token was kept in memory only", file=sys.stderr, flush=True)
