"""The OTLP receiver of ``otel-lens serve``: OTLP requests from any process → the OTLP adapter → the store.

Decoding is the export layer's OTLP adapter (the same row builder as the in-process exporters); writing
goes through :class:`Ingest`, the bounded queue and its one writer thread, which every transport shares.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from otel_lens.receiver._http import OTLP_PATHS, OtlpHttpApp
from otel_lens.receiver._ingest import DEFAULT_MAX_BYTES, DEFAULT_MAX_ROWS, Ingest, Kind, Outcome, Ticket
from otel_lens.receiver._receiver import Receiver

if TYPE_CHECKING:
    from otel_lens.receiver._grpc import OtlpGrpcServer


def __getattr__(name: str) -> Any:
    """``OtlpGrpcServer``, imported on first use: it needs the ``grpc`` extra (ImportError without it)."""
    if name == "OtlpGrpcServer":
        from otel_lens.receiver._grpc import OtlpGrpcServer

        return OtlpGrpcServer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_ROWS",
    "OTLP_PATHS",
    "Ingest",
    "Kind",
    "OtlpGrpcServer",
    "OtlpHttpApp",
    "Outcome",
    "Receiver",
    "Ticket",
]
