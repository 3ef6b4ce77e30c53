"""A value that must never be printed, logged or written to a plain file: client secrets, private keys, tokens."""

from __future__ import annotations

from urllib.parse import quote, quote_plus

HIDDEN = "[hidden]"


class Secret:
    """Holds a sensitive string; `str`, `repr` and f-strings show `[hidden]`, only `reveal()` gives the value.

    Code passes `reveal()` straight to msal or into a SASL string and nowhere else, so a stray print, log line or
    exception message shows the placeholder instead of the value.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """Return the value, for msal or the XOAUTH2 string only."""
        return self._value

    def scrub(self, text: str) -> str:
        """Return `text` with every occurrence of the value replaced by `[hidden]`, also as a form or URL encodes it.

        A login host that repeats the token request in its error repeats the form-encoded body
        (`client_secret=a%2Bb...`), so the encoded spellings are scrubbed as well as the plain one.
        """
        if not self._value:
            return text
        for spelling in dict.fromkeys((self._value, quote_plus(self._value), quote(self._value, safe=""))):
            text = text.replace(spelling, HIDDEN)
        return text

    def __repr__(self) -> str:
        return f"Secret({HIDDEN!r})"

    __str__ = __repr__
