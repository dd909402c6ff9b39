"""The local web viewer behind ``otel-lens serve``: a Starlette app over the read API (extra ``web``)."""

from __future__ import annotations

from otel_lens.web._app import create_app
from otel_lens.web._security import is_loopback

__all__ = ["create_app", "is_loopback"]
