"""Where a page may send a browser after sign-in or a switch of language: a path of the same
site, as the browser will read it. Shared by the guard screen and the committee's pages."""

from __future__ import annotations

from urllib.parse import urlsplit


def local_path(target: str | None) -> str:
    """*target* if it is a path on this site, as the browser will read it, else ``"/"``.

    A browser drops tabs and newlines anywhere in a URL, trims leading and trailing control
    characters and spaces, and reads a backslash as a slash: ``/%09/evil.example`` (a tab)
    and ``/%5Cevil.example`` (a backslash) both lead to another host. The check runs on what
    the browser would see, and that is what is returned.
    """
    text = (target or "").translate({9: None, 10: None, 13: None})
    text = text.strip("".join(map(chr, range(33)))).replace("\\", "/")
    if not text.startswith("/") or text.startswith("//"):
        return "/"
    parts = urlsplit(text)
    if parts.scheme or parts.netloc:
        return "/"
    return text
