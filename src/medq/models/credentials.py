"""Keeping secrets out of what medq stores: credentials in URLs, and keys echoed by servers.

A base URL may carry a user and password (``http://user:PW@host/v1``); medq sends them
as HTTP Basic auth but stores, hashes and prints only the URL without them. A server may
echo the key it was sent in an error body ("Incorrect API key provided: sk-..."); every
message a backend raises passes through `mask` first.

Example::

    split_credentials("http://me:pw@gpu:8000/v1")   # ("http://gpu:8000/v1", "me", "pw")
    mask("bad key sk-abc123", ["sk-abc123"])         # "bad key ***"
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import unquote, urlsplit, urlunsplit

MASK = "***"
# A secret shorter than this would mask ordinary words of a message.
_MIN_SECRET = 4


def split_credentials(url: str) -> tuple[str, str | None, str | None]:
    """`url` without its ``user:password@`` part, and the (decoded) user and password."""
    parts = urlsplit(url)
    userinfo, at, host = parts.netloc.rpartition("@")
    if not at:
        return url, None, None
    user, colon, password = userinfo.partition(":")
    clean = urlunsplit(parts._replace(netloc=host))
    return clean, unquote(user), unquote(password) if colon else None


def strip_credentials(url: str | None) -> str | None:
    """`url` without a ``user:password@`` part (None stays None)."""
    return None if url is None else split_credentials(url)[0]


def mask(text: str, secrets: Iterable[str | None]) -> str:
    """`text` with every occurrence of each secret (longest first) replaced by ``***``."""
    for secret in sorted((s for s in secrets if s and len(s) >= _MIN_SECRET), key=len,
                         reverse=True):
        text = text.replace(secret, MASK)
    return text
