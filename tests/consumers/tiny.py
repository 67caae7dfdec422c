"""A tiny tokenizer and causal language model, built locally, for feeding TRL in tests.

Nothing is downloaded: the tokenizer is byte-level with no merges (every text encodes, one
token per byte), and the model is a two-layer Llama with a few dozen hidden units. The chat
template renders system, user, assistant and tool turns, tool schemas and tool calls, and
raises on anything else, so a malformed message fails loudly instead of rendering as blank.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from tokenizers import Tokenizer, decoders, models, pre_tokenizers
from transformers import PreTrainedTokenizerFast

SPECIAL_TOKENS = ["<|pad|>", "<|end|>", "<|tools|>", "<|call|>"] + [
    f"<|{role}|>" for role in ("system", "developer", "user", "assistant", "tool")
]

# Each check raises through transformers' `raise_exception`, so a message the template cannot
# render faithfully is an error, never a silently empty span.
CHAT_TEMPLATE = """\
{%- if tools -%}
<|tools|>
{%- for tool in tools -%}
{%- if tool is not mapping -%}{{ raise_exception('a tool schema must be a mapping') }}{%- endif -%}
{{ tool | tojson }}
{%- endfor -%}
<|end|>
{%- endif -%}
{%- for message in messages -%}
{%- if message.role not in ['system', 'developer', 'user', 'assistant', 'tool'] -%}
{{ raise_exception('unknown role ' ~ message.role) }}
{%- endif -%}
<|{{ message.role }}|>
{%- if message.content is string -%}
{{ message.content }}
{%- elif message.content is iterable -%}
{%- for part in message.content -%}
{%- if part.type != 'text' or part.text is not string -%}
{{ raise_exception('only text parts can be rendered') }}
{%- endif -%}
{{ part.text }}
{%- endfor -%}
{%- elif message.content is not none and message.content is defined -%}
{{ raise_exception('content must be text, parts or null') }}
{%- endif -%}
{%- for call in message.tool_calls or [] -%}
{#- Like common templates (Qwen's, for one), take the call's `function` object if it has one. -#}
{%- if call.function is defined -%}{%- set call = call.function -%}{%- endif -%}
{%- if call is not mapping or call.name is not string or not call.name -%}
{{ raise_exception('a tool call needs a name') }}
{%- endif -%}
<|call|>{{ call.name }}
{%- if call.arguments is string -%}{{ call.arguments }}
{%- else -%}{{ call.arguments | tojson }}{%- endif -%}
{%- endfor -%}
<|end|>
{%- endfor -%}
{%- if add_generation_prompt -%}<|assistant|>{%- endif -%}
"""


def _byte_vocab() -> dict[str, int]:
    # GPT-2's byte-to-unicode table: printable stand-ins for all 256 bytes.
    printable = [*range(33, 127), *range(161, 173), *range(174, 256)]
    codes = list(printable)
    extra = 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            codes.append(256 + extra)
            extra += 1
    return {chr(code): index for index, code in enumerate(codes)}


@cache
def tokenizer() -> PreTrainedTokenizerFast:
    """The tiny tokenizer, with the chat template above (built once per process)."""
    core = Tokenizer(models.BPE(vocab=_byte_vocab(), merges=[]))
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    core.decoder = decoders.ByteLevel()
    tok = PreTrainedTokenizerFast(
        tokenizer_object=core,
        eos_token="<|end|>",
        pad_token="<|pad|>",
        additional_special_tokens=SPECIAL_TOKENS[2:],
    )
    tok.chat_template = CHAT_TEMPLATE
    return tok


def model() -> Any:
    """A fresh two-layer Llama for the tiny tokenizer's vocabulary (random weights)."""
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=len(tokenizer()),
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=4096,
        pad_token_id=tokenizer().pad_token_id,
        eos_token_id=tokenizer().eos_token_id,
    )
    return LlamaForCausalLM(config)
