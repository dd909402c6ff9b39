"""The server-admin and side-effect functions a PostgreSQL ``sql`` query may not name, found by tokenising it.

A READ ONLY transaction still lets a SELECT call ``pg_terminate_backend(pid)`` (ending the writer's
connection), ``pg_cancel_backend``, ``pg_reload_conf``, ``set_config``, ``pg_advisory_lock`` and the like,
or run a query string through ``query_to_xml``. So :func:`refuse_admin_functions` refuses, before the query
runs, one that names such a function as an identifier anywhere outside strings and comments: a call,
schema-qualified (``pg_catalog."pg_terminate_backend"``), with comments or spaces before its bracket, or in
attribute notation. Names compare case-folded; a ``U&"…"`` identifier (whose escapes can spell any name) is
refused outright. The query is read the way PostgreSQL reads it (nested ``/* */`` comments, ``''`` in
strings, ``E'\\''``, ``$tag$…$tag$``, doubled quotes in quoted identifiers) and, since a server with
``standard_conforming_strings`` off treats a backslash in a plain string as an escape, under both readings of
a backslash: a quote one reading escapes cannot hide a call from the other.

A name that merely contains one (a column ``pg_terminate_backend_count``) or a string holding one runs as before.
"""

from __future__ import annotations

from collections.abc import Iterator

from otel_lens.query._sql_result import SqlRefused

# Exact names (lower case). Each signals or stops server processes, changes server or session state, writes
# outside the transaction, reads server files, or runs a query string of its own.
DENIED = frozenset({
    "pg_cancel_backend", "pg_terminate_backend", "pg_reload_conf", "pg_rotate_logfile", "pg_rotate_logfile_old",
    "pg_promote", "pg_switch_wal", "pg_switch_xlog", "pg_create_restore_point", "pg_backup_start", "pg_backup_stop",
    "pg_start_backup", "pg_stop_backup", "pg_import_system_collations", "pg_notify", "set_config",
    "nextval", "setval", "pg_read_file", "pg_read_binary_file", "pg_ls_dir", "pg_stat_file", "pg_logdir_ls",
    "query_to_xml", "query_to_xmlschema", "query_to_xml_and_xmlschema", "cursor_to_xml", "cursor_to_xmlschema",
    "ts_stat", "ts_rewrite", "brin_summarize_new_values", "brin_summarize_range", "brin_desummarize_range",
    "gin_clean_pending_list", "pg_stat_statements_reset", "pg_prewarm", "pg_drop_replication_slot",
    "pg_replication_slot_advance",
    # Extensions that reach outside the database: pgsql-http's requests.
    "http", "http_get", "http_post", "http_put", "http_patch", "http_delete", "http_head",
})  # fmt: skip
# Families by prefix: advisory locks, replication slots/origins, logical decoding, stats resets, WAL replay
# control, backend signals and logging, file access (adminpack, pg_ls_*dir), large objects, dblink, pg_background.
DENIED_PREFIXES = (
    "pg_advisory_", "pg_try_advisory_", "pg_create_", "pg_copy_", "pg_replication_origin_", "pg_logical_",
    "pg_stat_reset", "pg_wal_replay_", "pg_signal_", "pg_log_", "pg_file_", "pg_ls_", "lo_", "dblink",
    "pg_background_",  # pg_background runs a query string in a worker, outside this read-only transaction
)  # fmt: skip


def denied(name: str) -> bool:
    return name in DENIED or name.startswith(DENIED_PREFIXES)


def refuse_admin_functions(query: str) -> None:
    """Raise :class:`SqlRefused` naming the first denied function ``query`` names (see the module docstring)."""
    for backslash_escapes in (False, True):
        for name in identifiers(query, backslash_escapes):
            if denied(name):
                raise SqlRefused(
                    f"refused: {name}() — otel-lens sql does not call server-admin or side-effect functions "
                    "(signals, settings, locks, files, dynamic SQL); use a read-only role as well"
                )


def _is_ident_start(char: str) -> bool:
    return not char.isascii() or char.isalpha() or char == "_"


def _is_ident_char(char: str) -> bool:
    return _is_ident_start(char) or char.isdigit() or char == "$"


def _string_end(query: str, at: int, backslash_escapes: bool) -> int:
    """The index past the string literal whose opening quote is at ``at`` (``len(query)`` if it never ends)."""
    i = at + 1
    while i < len(query):
        char = query[i]
        if char == "\\" and backslash_escapes:
            i += 2
        elif char == "'":
            if query.startswith("'", i + 1):
                i += 2  # '' is a quote inside the string
            else:
                return i + 1
        else:
            i += 1
    return len(query)


def _comment_end(query: str, at: int) -> int:
    """The index past the block comment opened at ``at``; PostgreSQL nests them."""
    depth, i = 0, at
    while i < len(query):
        if query.startswith("/*", i):
            depth, i = depth + 1, i + 2
        elif query.startswith("*/", i):
            depth, i = depth - 1, i + 2
            if depth == 0:
                return i
        else:
            i += 1
    return len(query)


def _dollar_tag(query: str, at: int) -> str | None:
    """The ``$tag$`` opening a dollar-quoted string at ``at``, or None (``$1`` is a parameter, not a quote)."""
    end = at + 1
    if end < len(query) and _is_ident_start(query[end]):
        while end < len(query) and _is_ident_char(query[end]) and query[end] != "$":
            end += 1
    return query[at : end + 1] if query.startswith("$", end) else None


def identifiers(query: str, backslash_escapes: bool) -> Iterator[str]:
    """Every identifier of ``query`` outside strings and comments, case-folded (raises on ``U&"…"``)."""
    i, n = 0, len(query)
    while i < n:
        char = query[i]
        if query.startswith("--", i):
            newline = query.find("\n", i)
            i = n if newline < 0 else newline + 1
        elif query.startswith("/*", i):
            i = _comment_end(query, i)
        elif char == "'":
            i = _string_end(query, i, backslash_escapes)
        elif char == '"':
            end = i + 1
            while True:
                end = query.find('"', end)
                if end < 0 or not query.startswith('"', end + 1):
                    break
                end += 2  # "" is a quote inside the name
            end = n if end < 0 else end
            yield query[i + 1 : end].replace('""', '"').casefold()
            i = end + 1
        elif char == "$" and (tag := _dollar_tag(query, i)) is not None:
            close = query.find(tag, i + len(tag))
            i = n if close < 0 else close + len(tag)
        elif (char in "uU") and query.startswith("&", i + 1) and query[i + 2 : i + 3] in ("'", '"'):
            if query[i + 2] == '"':
                raise SqlRefused('refused: a U&"…" identifier — its escapes can spell any name; write the name itself')
            i = _string_end(query, i + 2, backslash_escapes)  # U&'…': a string, its escapes only in it
        elif _is_ident_start(char):
            end = i + 1
            while end < n and _is_ident_char(query[end]):
                end += 1
            word = query[i:end]
            if word in ("e", "E") and query.startswith("'", end):
                i = _string_end(query, end, True)  # E'…': backslash escapes, whatever the setting
                continue
            yield word.casefold()
            i = end
        else:
            i += 1  # digits, operators, brackets, spaces: a number's trailing letters start a word (1e5 → "e5")
