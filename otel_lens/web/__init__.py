"""The local web viewer behind ``otel-lens serve``: a Starlette app over the read API (extra ``web``)."""

from __future__ import annotations

from otel_lens.web._app import create_app
from otel_lens.web._reads import database_label
from otel_lens.web._security import ASGIApp, Guard, is_loopback

__all__ = ["create_app", "database_label", "is_loopback", "otlp_guard"]


def otlp_guard(otlp: ASGIApp, host: str, port: int) -> ASGIApp:
    """The OTLP port's app: the viewer's Host check (DNS rebinding) in front of the receiver, which owns every path."""
    return Guard(otlp, host=host, port=port, token=None, otlp=otlp, otlp_prefix="/")
