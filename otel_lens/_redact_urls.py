"""Secrets inside URLs: the password of ``scheme://user:password@host`` and secret-named query parameters.

Two uses. Database URLs shown to people (a ``repr``, an error message, the quickstart's output) go
through :func:`display_url` or :func:`database_label`, which never raise on a malformed URL and never
show any part of its password. Stored telemetry goes through :func:`scrub_urls_in_json`: every URL
inside any attribute value, event, link or log body loses its password and secret parameters,
whatever the key (``db.connection_string``, a log message quoting ``DATABASE_URL``, …). The
``libpq`` ``key=value`` form outside a URL (``host=db password=…``) is not recognised in values.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Callable, Sequence

REDACTED = "[REDACTED]"

_SCHEME_BEFORE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*$")
_URL_END = re.compile(r"[\s\"\\<>]")
_AUTHORITY_END = re.compile(r"[/?#]")
_HOST_AND_NAME = re.compile(r"([^/?#]*)(?:/([^?#]*))?")


def _split_userinfo(rest: str) -> tuple[str, str]:
    """``(userinfo, after)`` of the part after ``://``: up to the last ``@`` of the authority, else ``""``.

    The last ``@`` before the path, or of the whole text when the path is ambiguous: a password with
    an unencoded ``/``, ``?`` or ``#`` must not leave its tail in the "host" part.
    """
    head = _AUTHORITY_END.split(rest, maxsplit=1)[0]
    if "@" in head:
        at = head.rindex("@")
        return rest[:at], rest[at + 1 :]
    # "user:pa/ss@host": what follows the colon is no port, so the password holds a path character.
    after_colon = head.rpartition(":")[2] if ":" in head and not head.startswith("[") else ""
    if "@" in rest and after_colon and not after_colon.isdigit():
        at = rest.rindex("@")
        return rest[:at], rest[at + 1 :]
    return "", rest


def _masked_userinfo(userinfo: str) -> str:
    user, colon, _ = userinfo.partition(":")
    if colon:
        return f"{user}:{REDACTED}"
    return REDACTED  # a lone userinfo is often a token (https://ghp_…@github.com)


def display_url(url: str, scrub_query: Callable[[str], str]) -> str:
    """``url`` with its password replaced and its query through ``scrub_query``; never raises.

    A fragment of ``key=value`` pairs (an OAuth redirect's ``#access_token=…``) is scrubbed like a query,
    and a URL nested in the query (``?next=https://user:pw@other/``) like any URL.
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    userinfo, after = _split_userinfo(rest)
    authority = f"{_masked_userinfo(userinfo)}@" if userinfo else ""
    head, hash_mark, fragment = after.partition("#")
    base, mark, query = head.partition("?")
    if mark:
        query = scrub_query(query)
        if "://" in query:
            query = scrub_urls_in_json(query, scrub_query)
    if "=" in fragment:
        fragment = scrub_query(fragment)
    return f"{scheme}://{authority}{base}{mark}{query}{hash_mark}{fragment}"


def database_label(url: str) -> str:
    """A PostgreSQL URL for messages: ``postgresql://host:port/dbname``, no user, password or options."""
    _, sep, rest = url.partition("://")
    if not sep:
        return url
    _, after = _split_userinfo(rest)
    match = _HOST_AND_NAME.match(after)
    host, name = (match.group(1), match.group(2)) if match else ("", None)
    return f"postgresql://{host or 'localhost'}{f'/{name}' if name else ''}"


def scrub_urls_in_json(text: str, scrub_query: Callable[[str], str]) -> str:
    """JSON text with every URL's password and secret parameters replaced (the text stays valid JSON).

    Cheap when there is nothing to do: substring searches for ``://``, ``@`` and ``?``, then per URL
    a few more and the Redactor's cached verdict on its query. A URL ends at a quote, backslash,
    space, ``<`` or ``>``, so a replacement never crosses a JSON string's end.
    """
    found = text.find("://")
    if found < 0 or ("@" not in text and "?" not in text and "#" not in text):  # no userinfo, query, fragment
        return text
    out: list[str] = []
    position = 0
    while found >= 0:
        end = text.find('"', found)  # a URL in JSON text ends with its string at the latest
        if end < 0:
            end = len(text)
        tail = text[found + 3 : end]
        if not tail.isprintable() or " " in tail or "\\" in tail or "<" in tail or ">" in tail:
            tail = _URL_END.split(tail, maxsplit=1)[0]  # prose around the URL: it ends at a space, escape, < or >
            end = found + 3 + len(tail)
        query_at = tail.find("?")
        # Maybe a user:password@, a secret in a #fragment or a nested URL: display_url tells.
        changed = "@" in tail or ("#" in tail and "=" in tail.partition("#")[2]) or "://" in tail
        if not changed and query_at >= 0:
            query = tail[query_at + 1 :].partition("#")[0]
            changed = scrub_query(query) != query
        if changed:
            scheme = _SCHEME_BEFORE.search(text, max(position, found - 64), found)
            if scheme is not None:
                url = text[scheme.start() : end]
                scrubbed = display_url(url, scrub_query)
                if scrubbed != url:
                    out.append(text[position : scheme.start()])
                    out.append(scrubbed)
                    position = end
        found = text.find("://", end)
    if not out:
        return text
    out.append(text[position:])
    return "".join(out)


def url_secrets(url: str, is_secret_param: Callable[[str], bool]) -> list[str]:
    """The secret parts of ``url`` as they may be echoed back: password, lone userinfo, secret parameter values.

    Each raw and percent-decoded, with the pieces a parser may cut an unencoded password into, so a
    driver's error message that quotes part of the URL can be cleaned by :func:`hide_url_secrets`.
    """
    _, sep, rest = url.partition("://")
    if not sep:
        return []
    userinfo, after = _split_userinfo(rest)
    whole: list[str] = []
    pieces: list[str] = []
    if userinfo:
        user, colon, password = userinfo.partition(":")
        whole.append(password if colon else user)
        pieces += re.split(r"[/?#@]", password) if colon else []
    for part in after.partition("?")[2].partition("#")[0].split("&"):
        key, equals, value = part.partition("=")
        if equals and value and is_secret_param(urllib.parse.unquote_plus(key)):
            whole.append(value)
    secrets = {text for piece in whole for text in (piece, urllib.parse.unquote(piece)) if len(text) >= 2}
    secrets |= {text for piece in pieces for text in (piece, urllib.parse.unquote(piece)) if len(text) >= 3}
    return sorted(secrets, key=len, reverse=True)  # longest first: a piece never leaves its whole's tail


def hide_url_secrets(text: str, secrets: Sequence[str]) -> str:
    """``text`` (a driver's error message) with every one of ``secrets`` replaced by ``[REDACTED]``."""
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text
