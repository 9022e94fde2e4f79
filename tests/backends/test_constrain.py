"""Schema → grammar compilation and chat-template rendering (no model needed)."""

from __future__ import annotations

import importlib.util
import json

import pytest

from instructgen.backend import Message
from instructgen.backends.chat import ChatTemplate, ChatTemplateError
from instructgen.errors import SchemaError

needs_llguidance = pytest.mark.skipif(
    importlib.util.find_spec("llguidance") is None, reason="llguidance is not installed"
)


@needs_llguidance
def test_schema_compiles_to_a_compact_grammar() -> None:
    from instructgen.backends.constrain import compile_schema

    schema = {"type": "object", "properties": {"a": {"type": "string"}}}
    grammar = json.loads(compile_schema(schema))
    (entry,) = grammar["grammars"]
    assert entry["json_schema"]["x-guidance"]["whitespace_flexible"] is False


@needs_llguidance
@pytest.mark.parametrize(
    ("schema", "match"),
    [
        ({"type": "object", "properties": {"a": {"type": "strin"}}}, "unknown type"),
        ({"type": "object", "not": {}}, "unsupported keyword"),
        # Python's re accepts look-behind; llguidance's regex engine does not.
        ({"type": "string", "pattern": "(?<=x)a"}, "constrained decoding"),
    ],
)
def test_unusable_schemas_raise_schema_error(schema: dict, match: str) -> None:
    from instructgen.backends.constrain import compile_schema

    with pytest.raises(SchemaError, match=match) as info:
        compile_schema(schema)
    assert "\n" not in str(info.value)


TEMPLATE = (
    "{% for m in messages %}{% if m.role == 'assistant' %}{{ raise_exception('no assistant') }}"
    "{% endif %}<{{ m.role }}>{{ m.content }}</{{ m.role }}>\n{% endfor %}"
    "{% if add_generation_prompt %}<assistant>{% endif %}"
)


def test_chat_template_renders_a_generation_prompt() -> None:
    text = ChatTemplate(TEMPLATE).render([Message("system", "be brief"), Message("user", "hi")])
    assert text == "<system>be brief</system>\n<user>hi</user>\n<assistant>"


def test_chat_template_errors_are_user_errors() -> None:
    with pytest.raises(ChatTemplateError, match="no assistant"):
        ChatTemplate(TEMPLATE).render([Message("assistant", "x")])
    with pytest.raises(ChatTemplateError, match="does not compile"):
        ChatTemplate("{% for %}")
