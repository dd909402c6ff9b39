"""The facade: what applications import — configure(), lens_fn, lens_route, instrument_asgi, Logger."""
