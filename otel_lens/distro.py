"""The otel-lens distro for ``opentelemetry-instrument``: local storage with no variables.

With otel-lens installed (and no other distro), ``opentelemetry-instrument python app.py`` stores
spans and logs in the local database: the distro defaults the exporters to ``lens`` (metrics off,
since there is no collector to send them to), turns on the stdlib logging bridge, and raises the
batch processors' queue so a burst is not dropped. Every default yields to a variable the user set.

When no package registers an SDK configurator (opentelemetry-distro does; otel-lens does not, so
the two never both configure and warn), the distro runs the SDK's standard environment-driven one.
"""

from __future__ import annotations

import os
from importlib.metadata import entry_points
from typing import Any

from opentelemetry.instrumentation.distro import BaseDistro  # type: ignore[attr-defined]
from opentelemetry.sdk._configuration import _OTelSDKConfigurator

DEFAULTS = {
    "OTEL_TRACES_EXPORTER": "lens",
    "OTEL_LOGS_EXPORTER": "lens",
    "OTEL_METRICS_EXPORTER": "none",
    "OTEL_PYTHON_LOGGING_AUTO_INSTRUMENTATION_ENABLED": "true",
    # The SDK defaults (2048 queued, 5 s delay) drop most of a burst and show data late.
    "OTEL_BSP_MAX_QUEUE_SIZE": "65536",
    "OTEL_BSP_SCHEDULE_DELAY": "500",
    "OTEL_BLRP_MAX_QUEUE_SIZE": "65536",
    "OTEL_BLRP_SCHEDULE_DELAY": "500",
}


class LensDistro(BaseDistro):  # type: ignore[misc]
    """Sets otel-lens defaults for ``opentelemetry-instrument`` (select it with ``OTEL_PYTHON_DISTRO=otel_lens``
    when another distro, such as opentelemetry-distro, is installed too)."""

    def _configure(self, **kwargs: Any) -> None:
        for name, value in DEFAULTS.items():
            os.environ.setdefault(name, value)
        if not list(entry_points(group="opentelemetry_configurator")):
            _OTelSDKConfigurator().configure(**kwargs)  # type: ignore[no-untyped-call]
