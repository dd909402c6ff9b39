"""Quickstart: trace functions and log with otel-lens, then look at the result with the CLI.

Run it: ``python examples/quickstart.py`` (stores into ``OTEL_EXPORTER_LENS_DATABASE`` or the default database).
"""

from __future__ import annotations

import sys
import time

from otel_lens import Logger, configure, lens_fn

log = Logger("quickstart")


@lens_fn
def tokenize(text: str) -> list[str]:
    return text.lower().split()


@lens_fn("index.build", capture=True)
def build_index(documents: list[str]) -> dict[str, int]:
    index: dict[str, int] = {}
    for document in documents:
        for word in tokenize(document):
            index[word] = index.get(word, 0) + 1
    log.info("indexed %d documents, %d words", len(documents), len(index))
    return index


@lens_fn
def search(index: dict[str, int], word: str) -> int:
    hits = index.get(word, 0)
    if not hits:
        log.warning("no hits for %s", word)
    return hits


def main() -> None:
    lens = configure(service_name="quickstart")
    index = build_index(["The quick brown fox", "jumps over the lazy dog", "the end"])
    search(index, "the")
    search(index, "cat")
    time.sleep(0.01)
    lens.force_flush()
    store = lens.store  # its location prints a PostgreSQL URL without the password
    where = store.location if store is not None else "nowhere: otel-lens is disabled (OTEL_SDK_DISABLED)"
    print(
        f"\nStored traces and logs in {where}\n"
        "See them with:\n"
        "  otel-lens traces                # the latest traces\n"
        "  otel-lens show <trace id>       # one trace as a waterfall, logs under their spans\n"
        "  otel-lens logs                  # the latest log records",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
