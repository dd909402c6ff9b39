"""A small, realistic agent session for the README's screenshots of the sessions pages and a GenAI trace.

Three turns of one support session (``session.id`` support-42, two conversations), each an ``agent turn``
root with a model call carrying its messages and tokens and, on two turns, a tool call; the second turn's
tool fails. Times in milliseconds as real model calls take, written through the real SDK (``Demo``).
"""

from __future__ import annotations

import json
from typing import Any

from tests._web import MS, Demo

SESSION = "support-42"
_TURNS = (
    ("Where is my order #1182? It was due on Monday.", "lookup_order", {"order": 1182},
     "Order #1182 left the warehouse on Tuesday; the carrier expects to deliver it tomorrow before noon.", False),
    ("Can you change the delivery address to my office?", "update_address", {"order": 1182, "to": "office"},
     "I could not change it: the carrier no longer accepts changes once a parcel is out for delivery.", True),
    ("OK. Then please send me the tracking link.", None, None,
     "Here it is: https://track.example/1182. You will also get it by e-mail.", False),
)  # fmt: skip


def _messages(role: str, text: str, finish: bool = False) -> str:
    message: dict[str, Any] = {"role": role, "parts": [{"type": "text", "content": text}]}
    if finish:
        message["finish_reason"] = "stop"
    return json.dumps([message])


def _chat(tokens_in: int, tokens_out: int, messages_in: str, messages_out: str) -> dict[str, Any]:
    return {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o",
            "gen_ai.response.model": "gpt-4o", "gen_ai.usage.input_tokens": tokens_in,
            "gen_ai.usage.output_tokens": tokens_out, "gen_ai.input.messages": messages_in,
            "gen_ai.output.messages": messages_out}  # fmt: skip


def build(database: str, now: int) -> dict[str, str]:
    """The session's three traces (ids ``turn0``…``turn2``), ending about a minute before ``now``."""
    demo = Demo(database)
    ids: dict[str, str] = {}
    try:
        for index, (question, tool, arguments, answer, fails) in enumerate(_TURNS):
            start = now - (90 - 25 * index) * 1000 * MS
            conversation = "billing" if index == 1 else "orders"

            def children(root: Any, start: int = start, question: str = question, answer: str = answer,
                         tool: str | None = tool, arguments: Any = arguments, fails: bool = fails,
                         index: int = index) -> None:  # fmt: skip
                # As an agent runs: the model asks for a tool, the tool runs, the model answers with its result.
                user = _messages("user", question)
                begin = start + 12 * MS
                if tool is not None:
                    call = json.dumps(
                        [
                            {
                                "role": "assistant",
                                "finish_reason": "tool_calls",
                                "parts": [
                                    {"type": "tool_call", "id": f"call_{index}", "name": tool, "arguments": arguments}
                                ],
                            }
                        ]
                    )
                    demo.span(
                        "support-bot",
                        "chat gpt-4o",
                        begin,
                        begin + 380 * MS,
                        parent=root,
                        attributes=_chat(400 + 120 * index, 22, user, call),
                    )
                    demo.span(
                        "support-bot",
                        f"execute_tool {tool}",
                        begin + 400 * MS,
                        begin + 590 * MS,
                        parent=root,
                        attributes={
                            "gen_ai.operation.name": "execute_tool",
                            "gen_ai.tool.name": tool,
                            "gen_ai.tool.call.arguments": json.dumps(arguments),
                        },
                        error="carrier refused the change" if fails else None,
                    )
                    begin += 610 * MS
                    result = {"error": "out for delivery"} if fails else {"status": "shipped", "eta": "tomorrow 12:00"}
                    user = json.dumps(
                        [
                            *json.loads(user),
                            *json.loads(call),
                            {
                                "role": "tool",
                                "parts": [
                                    {"type": "tool_call_response", "id": f"call_{index}", "result": json.dumps(result)}
                                ],
                            },
                        ]
                    )
                demo.span("support-bot", "chat gpt-4o", begin, begin + (340 + 40 * index) * MS, parent=root,
                          attributes=_chat(520 + 130 * index, 38 + 9 * index, user,
                                           _messages("assistant", answer, finish=True)))  # fmt: skip

            root = demo.span("support-bot", "agent turn", start, start + (1000 + 60 * index if tool is None else 1400 + 60 * index) * MS,
                             attributes={"session.id": SESSION, "gen_ai.conversation.id": conversation},
                             children=[(children,)], error="tool failed" if fails else None)  # fmt: skip
            ids[f"turn{index}"] = f"{root.get_span_context().trace_id:032x}"
    finally:
        demo.close()
    return ids
