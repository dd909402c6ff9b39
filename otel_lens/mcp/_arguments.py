"""Strict tool arguments: a name a tool does not take is refused, and a bad value is reported in one line.

The SDK's argument models ignore unknown names, so a misspelled filter (``query`` for ``text``, ``errors`` for
``errors_only``) silently widened the answer to everything; and its validation errors are pydantic's multi-line
text with a documentation URL. :class:`StrictServer` checks the names against each tool's input schema before
the SDK validates, publishes ``additionalProperties: false`` so clients know, and rewrites a validation error
as ``limit: must be an integer from 1 to 200`` from the same schema.
"""

from __future__ import annotations

from typing import Any

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import Tool
from pydantic import ValidationError

_JSON_TYPES = {"integer": "an integer", "number": "a number", "boolean": "true or false", "string": "a string",
               "array": "a list", "object": "an object"}  # fmt: skip


def _kind(schema: dict[str, Any]) -> str:
    """What a value of ``schema`` must be, in words (``an integer from 1 to 200``, ``one of "a", "b"``)."""
    choices = [s for s in schema.get("anyOf", ()) if s.get("type") != "null"]
    if len(choices) == 1:  # an optional parameter: null means "not given", the rule is the other branch
        return _kind(choices[0])
    if choices:
        return " or ".join(_kind(s) for s in choices)
    if "enum" in schema:
        return "one of " + ", ".join(f'"{v}"' if isinstance(v, str) else str(v) for v in schema["enum"])
    text = _JSON_TYPES.get(schema.get("type", ""), "a value")
    if text == "a string" and schema.get("minLength") == 1:
        return "a non-empty string"
    low, high = schema.get("minimum"), schema.get("maximum")
    if low is not None and high is not None:
        return f"{text} from {low} to {high}"
    bounds = []
    if low is not None:
        bounds.append(f"at least {low}")
    if "exclusiveMinimum" in schema:
        bounds.append(f"above {schema['exclusiveMinimum']}")
    if high is not None:
        bounds.append(f"at most {high}")
    return " ".join([text, " and ".join(bounds)]) if bounds else text


def _problem(error: Any, properties: dict[str, Any]) -> str:
    name = ".".join(str(part) for part in error["loc"]) or "arguments"
    if error["type"] == "missing":
        return f"{name}: required ({_kind(properties.get(name, {}))})"
    if name in properties:
        return f"{name}: must be {_kind(properties[name])}"
    return f"{name}: {' '.join(str(error['msg']).split())}"  # a nested value: pydantic's own words, on one line


class StrictServer(MCPServer[Any]):
    """An :class:`MCPServer` whose tools refuse names they do not take and explain bad values in one line."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._schemas: dict[str, dict[str, Any]] = {}

    async def list_tools(self) -> list[Tool]:
        tools = await super().list_tools()
        for tool in tools:
            tool.input_schema = {**tool.input_schema, "additionalProperties": False}
        return tools

    async def _schema(self, name: str) -> dict[str, Any] | None:
        if name not in self._schemas:  # tools are registered up front; a miss rereads the list
            self._schemas = {t.name: t.input_schema for t in await super().list_tools()}
        return self._schemas.get(name)

    async def call_tool(self, name: str, arguments: dict[str, Any], context: Any = None) -> Any:
        schema = await self._schema(name)
        if schema is None:  # an unknown tool: the SDK says so
            return await super().call_tool(name, arguments, context)
        properties: dict[str, Any] = schema.get("properties", {})
        unknown = [key for key in arguments if key not in properties]
        if unknown:
            plural = "s" if len(unknown) > 1 else ""
            raise ToolError(
                f"Error executing tool {name}: unknown argument{plural} {', '.join(unknown)}; "
                f"{name} takes {', '.join(properties) or 'no arguments'}"
            )
        try:
            return await super().call_tool(name, arguments, context)
        except ToolError as exc:
            cause = exc.__cause__
            if not isinstance(cause, ValidationError):
                raise
            problems = "; ".join(_problem(e, properties) for e in cause.errors())
            raise ToolError(f"Error executing tool {name}: {problems}") from cause
