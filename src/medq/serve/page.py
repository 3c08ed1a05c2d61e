"""The page for clinicians at ``/``: one static, self-contained HTML file.

Its CSS and script are package files inlined at start-up; the Content-Security-Policy
(sent as a header and in the page) allows that script and style alone, by hash, and
network access to this server only, so the page loads nothing from elsewhere and even a
rendering bug could not run injected code or send a key to another host. It holds no
data: it asks for a key, keeps it in the tab's session storage, and sends it with each
call to the API.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from functools import cache
from importlib import resources

from medq import __version__

__all__ = ["Page", "page_headers", "render_page"]


@dataclass(frozen=True)
class Page:
    """The rendered page and its Content-Security-Policy."""

    html: str
    csp: str


def _file(name: str) -> str:
    return (resources.files("medq.serve") / "page" / name).read_text(encoding="utf-8")


def _sha256(text: str) -> str:
    return base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()


@cache
def render_page() -> Page:
    """The page, rendered once per process."""
    css, js = _file("page.css"), _file("page.js")
    csp = (f"default-src 'none'; script-src 'sha256-{_sha256(js)}'; "
           f"style-src 'sha256-{_sha256(css)}'; connect-src 'self'; img-src data:; "
           "base-uri 'none'; form-action 'none'")
    html = _file("index.html")
    for name, value in (("csp", csp), ("css", css), ("js", js), ("version", __version__)):
        html = html.replace("{{" + name + "}}", value)
    return Page(html, csp)


def page_headers(page: Page) -> dict[str, str]:
    """Headers the page is served with."""
    # frame-ancestors works only as a header (a <meta> policy ignores it, and says so).
    return {"Content-Security-Policy": page.csp + "; frame-ancestors 'none'",
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY",
            "Cache-Control": "no-cache"}
