"""An app with its own OpenTelemetry setup (a console exporter) that adds otel-lens beside it.

Its own exporter keeps receiving every span; otel-lens stores the same spans locally.
Run it: ``python examples/existing_setup.py`` (the console exporter prints spans as JSON to stderr).
"""

from __future__ import annotations

import sys

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor

from otel_lens import configure, lens_fn

# The application's existing setup, untouched by otel-lens.
provider = TracerProvider(resource=Resource.create({"service.name": "existing-app"}))
provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter(out=sys.stderr)))
trace.set_tracer_provider(provider)

# One more line: otel-lens adds its processor to that provider.
lens = configure()


@lens_fn
def handle(order_id: int) -> str:
    with trace.get_tracer("existing-app").start_as_current_span("charge"):
        return f"order {order_id} charged"


if __name__ == "__main__":
    handle(42)
    lens.force_flush()
    print(f"stored in {lens.settings.database}; the console exporter printed the same spans", file=sys.stderr)
