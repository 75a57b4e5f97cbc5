#!/usr/bin/env python3
"""Chat template fixtures: tests/data/chat/<family>.json.

Renders the published chat templates of the four families (their Jinja source is written below,
as published in the checkpoints' tokenizer_config.json / chat_template.jinja) with transformers'
own renderer (render_jinja_template: the sandboxed Jinja environment with trim_blocks,
lstrip_blocks and the strftime_now/raise_exception globals that apply_chat_template uses) for a
set of conversations and options, and writes the expected text. The C++ chat templates
(runtime/io/chat.cpp) must reproduce every string exactly (tests/unit/tokenizer/chat_test.cpp).

  qwen3_moe  Qwen/Qwen3-30B-A3B (the Qwen3 release template; enable_thinking on and off)
  olmoe      allenai/OLMoE-1B-7B-0125-Instruct ("{{ bos_token }}" + the Tulu template)
  gpt_oss    openai/gpt-oss-20b (harmony; reasoning_effort; strftime_now fixed to a date)
  phimoe     microsoft/Phi-3.5-MoE-instruct (the Phi-3.5 template)

Usage: python3 tools/make_chat_fixtures.py [--out tests/data/chat]
"""
import argparse
import json
import pathlib
from datetime import datetime

import transformers.utils.chat_template_utils as ctu

QWEN3 = r"""{%- if tools %}
    {{- '<|im_start|>system\n' }}
    {%- if messages[0].role == 'system' %}
        {{- messages[0].content + '\n\n' }}
    {%- endif %}
    {{- "# Tools\n\nYou may call one or more functions to assist with the user query.\n\nYou are provided with function signatures within <tools></tools> XML tags:\n<tools>" }}
    {%- for tool in tools %}
        {{- "\n" }}
        {{- tool | tojson }}
    {%- endfor %}
    {{- "\n</tools>\n\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call><|im_end|>\n" }}
{%- else %}
    {%- if messages[0].role == 'system' %}
        {{- '<|im_start|>system\n' + messages[0].content + '<|im_end|>\n' }}
    {%- endif %}
{%- endif %}
{%- set ns = namespace(multi_step_tool=true, last_query_index=messages|length - 1) %}
{%- for message in messages[::-1] %}
    {%- set index = (messages|length - 1) - loop.index0 %}
    {%- if ns.multi_step_tool and message.role == "user" and message.content is string and not(message.content.startswith('<tool_response>') and message.content.endswith('</tool_response>')) %}
        {%- set ns.multi_step_tool = false %}
        {%- set ns.last_query_index = index %}
    {%- endif %}
{%- endfor %}
{%- for message in messages %}
    {%- if message.content is string %}
        {%- set content = message.content %}
    {%- else %}
        {%- set content = '' %}
    {%- endif %}
    {%- if (message.role == "user") or (message.role == "system" and not loop.first) %}
        {{- '<|im_start|>' + message.role + '\n' + content + '<|im_end|>' + '\n' }}
    {%- elif message.role == "assistant" %}
        {%- set reasoning_content = '' %}
        {%- if message.reasoning_content is string %}
            {%- set reasoning_content = message.reasoning_content %}
        {%- else %}
            {%- if '</think>' in content %}
                {%- set reasoning_content = content.split('</think>')[0].rstrip('\n').split('<think>')[-1].lstrip('\n') %}
                {%- set content = content.split('</think>')[-1].lstrip('\n') %}
            {%- endif %}
        {%- endif %}
        {%- if loop.index0 > ns.last_query_index %}
            {%- if loop.last or (not loop.last and reasoning_content) %}
                {{- '<|im_start|>' + message.role + '\n<think>\n' + reasoning_content.strip('\n') + '\n</think>\n\n' + content.lstrip('\n') }}
            {%- else %}
                {{- '<|im_start|>' + message.role + '\n' + content }}
            {%- endif %}
        {%- else %}
            {{- '<|im_start|>' + message.role + '\n' + content }}
        {%- endif %}
        {%- if message.tool_calls %}
            {%- for tool_call in message.tool_calls %}
                {%- if (loop.first and content) or (not loop.first) %}
                    {{- '\n' }}
                {%- endif %}
                {%- if tool_call.function %}
                    {%- set tool_call = tool_call.function %}
                {%- endif %}
                {{- '<tool_call>\n{"name": "' }}
                {{- tool_call.name }}
                {{- '", "arguments": ' }}
                {%- if tool_call.arguments is string %}
                    {{- tool_call.arguments }}
                {%- else %}
                    {{- tool_call.arguments | tojson }}
                {%- endif %}
                {{- '}\n</tool_call>' }}
            {%- endfor %}
        {%- endif %}
        {{- '<|im_end|>\n' }}
    {%- elif message.role == "tool" %}
        {%- if loop.first or (messages[loop.index0 - 1].role != "tool") %}
            {{- '<|im_start|>user' }}
        {%- endif %}
        {{- '\n<tool_response>\n' }}
        {{- content }}
        {{- '\n</tool_response>' }}
        {%- if loop.last or (messages[loop.index0 + 1].role != "tool") %}
            {{- '<|im_end|>\n' }}
        {%- endif %}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\n' }}
    {%- if enable_thinking is defined and enable_thinking is false %}
        {{- '<think>\n\n</think>\n\n' }}
    {%- endif %}
{%- endif %}"""

OLMOE = (
    "{{ bos_token }}{% for message in messages %}{% if message['role'] == 'system' %}"
    "{{ '<|system|>\n' + message['content'] + '\n' }}{% elif message['role'] == 'user' %}"
    "{{ '<|user|>\n' + message['content'] + '\n' }}{% elif message['role'] == 'assistant' %}"
    "{% if not loop.last %}{{ '<|assistant|>\n'  + message['content'] + eos_token + '\n' }}"
    "{% else %}{{ '<|assistant|>\n'  + message['content'] + eos_token }}{% endif %}{% endif %}"
    "{% if loop.last and add_generation_prompt %}{{ '<|assistant|>\n' }}{% endif %}{% endfor %}")

# gpt-oss: the published template without its tool-rendering macros (no test passes tools or
# builtin_tools, so those branches never run); everything that renders here is verbatim.
GPT_OSS = r"""{#- System Message Construction ============================================ #}
{%- macro build_system_message() -%}
    {%- if model_identity is not defined %}
        {%- set model_identity = "You are ChatGPT, a large language model trained by OpenAI." %}
    {%- endif %}
    {{- model_identity + "\n" }}
    {{- "Knowledge cutoff: 2024-06\n" }}
    {{- "Current date: " + strftime_now("%Y-%m-%d") + "\n\n" }}
    {%- if reasoning_effort is not defined %}
        {%- set reasoning_effort = "medium" %}
    {%- endif %}
    {{- "Reasoning: " + reasoning_effort + "\n\n" }}
    {{- "# Valid channels: analysis, commentary, final. Channel must be included for every message." }}
    {%- if tools -%}
        {{- "\nCalls to these tools must go to the commentary channel: 'functions'." }}
    {%- endif -%}
{%- endmacro -%}

{#- Main Template Logic ================================================= #}
{#- Set defaults #}

{#- Render system message #}
{{- "<|start|>system<|message|>" }}
{{- build_system_message() }}
{{- "<|end|>" }}

{#- Extract developer message #}
{%- if messages[0].role == "developer" or messages[0].role == "system" %}
    {%- set developer_message = messages[0].content %}
    {%- set loop_messages = messages[1:] %}
{%- else %}
    {%- set developer_message = "" %}
    {%- set loop_messages = messages %}
{%- endif %}

{#- Render developer message #}
{%- if developer_message or tools %}
    {{- "<|start|>developer<|message|>" }}
    {%- if developer_message %}
        {{- "# Instructions\n\n" }}
        {{- developer_message }}
        {{- "\n\n" }}
    {%- endif %}
    {{- "<|end|>" }}
{%- endif %}

{#- Render messages #}
{%- set last_tool_call = namespace(name=none) %}
{%- for message in loop_messages -%}
    {#- At this point only assistant/user/tool messages should remain #}
    {%- if message.role == 'assistant' -%}
        {#- Checks to ensure the messages are being passed in the format we expect #}
        {%- if "content" in message %}
            {%- if "<|channel|>analysis<|message|>" in message.content or "<|channel|>final<|message|>" in message.content %}
                {{- raise_exception("You have passed a message containing <|channel|> tags in the content field. Instead of doing this, you should pass analysis messages (the string between '<|message|>' and '<|end|>') in the 'thinking' field, and final messages (the string between '<|message|>' and '<|end|>') in the 'content' field.") }}
            {%- endif %}
        {%- endif %}
        {%- if "tool_calls" in message %}
            {{- raise_exception("tool calls are not part of these fixtures") }}
        {%- elif loop.last and not add_generation_prompt %}
            {#- Only render the CoT if the final turn is an assistant turn and add_generation_prompt is false #}
            {#- This is a situation that should only occur in training, never in inference. #}
            {%- if "thinking" in message %}
                {{- "<|start|>assistant<|channel|>analysis<|message|>" + message.thinking + "<|end|>" }}
            {%- endif %}
            {#- <|return|> indicates the end of generation, but <|end|> does not #}
            {#- <|return|> should never be an input to the model, but we include it as the final token #}
            {#- when training, so the model learns to emit it. #}
            {{- "<|start|>assistant<|channel|>final<|message|>" + message.content + "<|return|>" }}
        {%- else %}
            {#- CoT is dropped during all previous turns, so we never render it for inference #}
            {{- "<|start|>assistant<|channel|>final<|message|>" + message.content + "<|end|>" }}
            {%- set last_tool_call.name = none %}
        {%- endif %}
    {%- elif message.role == 'tool' -%}
        {{- raise_exception("tool messages are not part of these fixtures") }}
    {%- elif message.role == 'user' -%}
        {{- "<|start|>user<|message|>" + message.content + "<|end|>" }}
    {%- endif -%}
{%- endfor -%}

{#- Generation prompt #}
{%- if add_generation_prompt -%}
<|start|>assistant
{%- endif -%}"""

PHIMOE = (
    "{% for message in messages %}{% if message['role'] == 'system' and message['content'] %}"
    "{{'<|system|>\n' + message['content'] + '<|end|>\n'}}{% elif message['role'] == 'user' %}"
    "{{'<|user|>\n' + message['content'] + '<|end|>\n'}}{% elif message['role'] == 'assistant' %}"
    "{{'<|assistant|>\n' + message['content'] + '<|end|>\n'}}{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|>\n' }}{% else %}{{ eos_token }}{% endif %}")

FIXED_DATE = "2025-06-28"


class FixedDatetime:
    """Stands in for datetime in transformers' strftime_now, so the date is reproducible."""

    @staticmethod
    def now():
        return datetime(2025, 6, 28, 12, 0, 0)


def user(text):
    return {"role": "user", "content": text}


def system(text):
    return {"role": "system", "content": text}


def assistant(text):
    return {"role": "assistant", "content": text}


CONVERSATIONS = [
    [user("What is 2+2?")],
    [system("You are a helpful assistant."), user("Translate 'good morning' into German.")],
    [system("Answer briefly."), user("Name a prime number."), assistant("7"),
     user("And an even one?")],
    [user("Wie spät ist es?"), assistant("Es ist drei Uhr.")],
    [user("Solve x+1=3."), assistant("<think>\nSubtract one.\n</think>\n\nx = 2"),
     user("Now x+2=5?")],
    [user("Question?"), assistant("<think>\n\nreasoning here\n\n</think>\n\n\nAnswer.")],
    [system(""), user("Empty system prompt.")],
    [user("\n  Leading and trailing whitespace  \n\n")],
    [system("Réponds en français."), user("天気はどうですか？ मौसम कैसा है? الطقس؟ 🙂\nLine two.")],
    [user("first"), user("second user turn in a row")],
]


def render(template, messages, **kwargs):
    out = ctu.render_jinja_template(conversations=[messages], chat_template=template, **kwargs)
    rendered = out[0] if isinstance(out, tuple) else out
    return rendered[0] if isinstance(rendered, list) else rendered


def cases_for(family):
    cases = []
    for messages in CONVERSATIONS:
        for add_gen in (True, False):
            if family == "qwen3_moe":
                for thinking in (True, False):
                    text = render(QWEN3, messages, add_generation_prompt=add_gen,
                                  enable_thinking=thinking)
                    cases.append({"messages": messages,
                                  "options": {"add_generation_prompt": add_gen,
                                              "enable_thinking": thinking},
                                  "expected": text})
            elif family == "olmoe":
                for bos in ("<|endoftext|>", ""):
                    text = render(OLMOE, messages, add_generation_prompt=add_gen,
                                  bos_token=bos, eos_token="<|endoftext|>")
                    cases.append({"messages": messages,
                                  "options": {"add_generation_prompt": add_gen, "bos_text": bos},
                                  "expected": text})
            elif family == "gpt_oss":
                for effort in ("low", "medium", "high"):
                    text = render(GPT_OSS, messages, add_generation_prompt=add_gen,
                                  reasoning_effort=effort)
                    cases.append({"messages": messages,
                                  "options": {"add_generation_prompt": add_gen,
                                              "reasoning_effort": effort,
                                              "current_date": FIXED_DATE},
                                  "expected": text})
            elif family == "phimoe":
                text = render(PHIMOE, messages, add_generation_prompt=add_gen,
                              eos_token="<|endoftext|>")
                cases.append({"messages": messages,
                              "options": {"add_generation_prompt": add_gen},
                              "expected": text})
    return cases


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="tests/data/chat")
    args = ap.parse_args()
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    ctu.datetime = FixedDatetime
    for family in ("qwen3_moe", "olmoe", "gpt_oss", "phimoe"):
        cases = cases_for(family)
        # One case per line: compact, and diffs stay readable.
        lines = [json.dumps(c, ensure_ascii=False, separators=(",", ":")) for c in cases]
        (out / f"{family}.json").write_text(
            f'{{"family":"{family}","cases":[\n' + ",\n".join(lines) + "\n]}\n",
            encoding="utf-8")
        print(f"{family}: {len(cases)} cases")


if __name__ == "__main__":
    main()
