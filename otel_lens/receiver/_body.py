"""A request body read within a size cap, and decompressed within the same cap (a gzip bomb is a 413, not RAM).

The cap applies twice: to the bytes on the wire (a ``Content-Length`` past it is refused before a byte
is read) and to the decompressed payload (decompression stops at the cap, whatever the ratio), so one
request never holds more than about twice the cap.
"""

from __future__ import annotations

import zlib
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

__all__ = ["DEFAULT_MAX_BODY", "BodyError", "decompress", "read_body"]

DEFAULT_MAX_BODY = 16 * 1024 * 1024
"""Bytes a request may have, on the wire and decompressed (a 512-span batch is well under 1 MiB)."""
_CHUNK = 256 * 1024  # decompressed bytes produced per step: the bomb check runs between steps
# zlib window bits: 16 + 15 reads a gzip member, 15 a zlib stream ("deflate" as HTTP means it), -15 raw deflate.
_GZIP_MAGIC = b"\x1f\x8b"  # how every gzip member starts (RFC 1952 ID1, ID2)
_WBITS = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}


class BodyError(Exception):
    """The body cannot be used; ``status`` is the HTTP answer (400, 413, 415) and ``str()`` says why, in one line."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


async def read_body(receive: Callable[[], Awaitable[MutableMapping[str, Any]]], limit: int) -> bytes:
    """The whole request body, refusing (413) as soon as it passes ``limit`` bytes."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise BodyError(400, "the client went away before sending the whole body")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyError(413, f"the request body is larger than {limit} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def decompress(data: bytes, encoding: str, limit: int) -> bytes:
    """``data`` decoded per its ``Content-Encoding`` (identity, gzip, deflate), at most ``limit`` bytes of it.

    A gzip body may be several members one after another (RFC 1952: what ``cat a.gz b.gz`` makes, and
    what a streaming compressor flushing per batch sends): every member is read, the cap counting them
    all. Bytes after the end that are not another member are refused, not ignored: they are a damaged or
    mislabelled body, and storing only its head would pass for success.
    """
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        return data
    wbits = _WBITS.get(encoding)
    if wbits is None:
        raise BodyError(415, f"Content-Encoding {encoding!r} is not supported; send gzip, deflate or none")
    out: list[bytes] = []
    size = 0
    pending = data
    try:
        while True:
            inflater = zlib.decompressobj(wbits)
            while not inflater.eof:
                chunk = inflater.decompress(pending, _CHUNK)
                pending = inflater.unconsumed_tail
                if not chunk and not pending:
                    break  # the input is used up before the stream's end
                size += len(chunk)
                if size > limit:
                    raise BodyError(
                        413, f"the request body is larger than {limit} bytes once decompressed ({encoding})"
                    )
                out.append(chunk)
            if not inflater.eof:
                raise BodyError(400, f"the {encoding} body is truncated")
            pending = inflater.unused_data
            if not pending:
                return b"".join(out)
            if wbits != _WBITS["gzip"] or not pending.startswith(_GZIP_MAGIC):
                raise BodyError(400, f"the {encoding} body has {len(pending)} bytes of something else after its end")
    except zlib.error as exc:
        raise BodyError(400, f"the body is not valid {encoding}: {exc}") from None
