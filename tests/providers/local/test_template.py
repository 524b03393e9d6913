"""Chat templates with no system role: detected by rendering, the system prompt folded into the
first user turn. Rendered with llama_cpp's own Jinja2ChatFormatter, the one the provider uses."""

from __future__ import annotations

import importlib.util

import pytest

from ketch.conversation import Message, TextBlock, ToolDef, ToolResultBlock, ToolUseBlock
from ketch.providers.local.format import chat_messages, fold_system
from ketch.providers.local.provider import _CHATML
from ketch.providers.local.template import supports_system_role

# Gemma's own template (Gemma 1 and 2 GGUF metadata): no system role, strictly alternating turns.
GEMMA = (
    "{{ bos_token }}{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}"
    "{% endif %}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}"
    "{% if (message['role'] == 'assistant') %}{% set role = 'model' %}{% else %}{% set role = message['role'] %}"
    "{% endif %}{{ '<start_of_turn>' + role + '\n' + message['content'] | trim + '<end_of_turn>\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{'<start_of_turn>model\n'}}{% endif %}"
)
# A template that renders only user and assistant turns and silently drops anything else.
DROPS_SYSTEM = ("{% for m in messages %}{% if m['role'] in ['user', 'assistant'] %}[{{ m['role'] }}] {{ m['content'] }}\n"
                "{% endif %}{% endfor %}{% if add_generation_prompt %}[assistant] {% endif %}")

TOOLS = [ToolDef("Read", "Reads a file.", {"type": "object", "properties": {"file_path": {"type": "string"}},
                                           "required": ["file_path"]})]
CONVERSATION = [Message("user", [TextBlock("what is in a.txt?")]),
                Message("assistant", [ToolUseBlock("c1", "Read", {"file_path": "a.txt"})]),
                Message("user", [ToolResultBlock("c1", "1\thello")])]


def formatter(template: str):
    if importlib.util.find_spec("llama_cpp") is None:
        pytest.fail("llama-cpp-python is not installed (pip install -e '.[test,local]')", pytrace=False)
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    return Jinja2ChatFormatter(template=template, eos_token="<eos>", bos_token="<bos>", add_generation_prompt=True)


def test_a_template_that_rejects_the_system_role_gets_it_folded_into_the_first_user_turn():
    gemma = formatter(GEMMA)
    assert not supports_system_role(gemma)
    with pytest.raises(ValueError, match="System role not supported"):
        gemma(messages=chat_messages("Be brief.", CONVERSATION, TOOLS, structured=True))
    messages = chat_messages("Be brief.", CONVERSATION, TOOLS, structured=True, system_role=False)
    assert [m["role"] for m in messages] == ["user", "assistant", "user"]
    assert messages[0]["content"].startswith("Tools:\n- Read(file_path: string)")
    assert "\n\nBe brief.\n\nwhat is in a.txt?" in messages[0]["content"]
    assert messages[0]["content"].endswith("\n\nwhat is in a.txt?")
    prompt = gemma(messages=messages).prompt
    assert prompt.startswith("<bos><start_of_turn>user\nTools:")
    assert prompt.endswith("Read returned:\n1\thello<end_of_turn>\n<start_of_turn>model\n")


def test_a_template_that_silently_drops_the_system_turn_is_detected_too():
    assert not supports_system_role(formatter(DROPS_SYSTEM))
    prompt = formatter(DROPS_SYSTEM)(messages=chat_messages("SYS", CONVERSATION[:1], [], structured=False,
                                                            system_role=False)).prompt
    assert prompt == "[user] SYS\n\nwhat is in a.txt?\n[assistant] "


def test_templates_with_a_system_role_are_left_alone():
    assert supports_system_role(formatter(_CHATML))
    messages = chat_messages("SYS", CONVERSATION, TOOLS, structured=True)
    assert messages[0]["role"] == "system" and messages[1]["content"] == "what is in a.txt?"


def test_fold_system_edge_cases():
    assert fold_system([]) == []
    no_system = [{"role": "user", "content": "hi"}]
    assert fold_system(no_system) == no_system
    assert fold_system([{"role": "system", "content": "S"}]) == [{"role": "user", "content": "S"}]
