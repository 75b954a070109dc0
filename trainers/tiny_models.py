"""Tiny random image-text-to-text checkpoints built in-process: real model, processor and tokenizer classes.

Qwen2.5-VL, Qwen3-VL and Qwen3.5 (video processors with frame metadata), and a LLaVA (images only) for the
Auto-class path; nothing is downloaded. The tests build them, and `videostar train --cpu --tiny FAMILY` trains
one (a demo of the training path in minutes, not a useful policy). The tokenizer is a byte-level BPE trained here on a few sentences, with Qwen's
special tokens and a ChatML chat template that places the vision tokens the way each family's
own template does.

Qwen3.5 (Qwen/Qwen3.5-* on the hub) is built with its own classes: Qwen3_5ForConditionalGeneration with one
Gated DeltaNet ("linear_attention") and one full-attention text layer, Qwen3_5Tokenizer, Qwen3VLProcessor. Its
template is the tiny Qwen3-VL Thinking one, because the hub's Qwen3.5 template renders what the env sends the
same way: ChatML, the same vision placeholders, tool messages inside one user turn, `<think>\n` opening the
generation prompt, and assistant turns before the last real user query without their reasoning (the env's tool
results are user turns that start with images, so each counts as a query and only the final turn follows the
last one). Where the hub's template differs (as described from its published template: it cannot be
downloaded here to check against), none of it reached by the env's messages:
- with `tools=` it writes the tool schemas into the system prompt and renders an assistant message's
  `tool_calls` in its XML form (`<tool_call>\n<function=NAME>\n<parameter=KEY>...`); the env lists its tools in
  its own system prompt and keeps tool calls in the reply's text (hermes JSON); a real Qwen3.5 may answer in
  the XML form it was trained on, which the env's parser reads too (videostar_env.actions);
- `enable_thinking=False` pre-fills an empty `<think>\n\n</think>\n\n`; `add_vision_id` numbers the media;
- it trims each message's content and reasoning and writes a think block (empty if need be) on every assistant
  turn after the last query, not only the last; it refuses a chat without a user query or with a system
  message after the first.
The env's messages carry no surrounding whitespace, so the trimming changes nothing for them; a policy reply
the verl loop keeps as generated is the documented exception (trainers/agent_loop.py).
"""

from __future__ import annotations

from pathlib import Path

SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>", "<|image_pad|>",
           "<|video_pad|>"]
# Added but not special, as in Qwen's tokenizer: decoding with skip_special_tokens keeps them.
TAGS = ["<tool_call>", "</tool_call>", "<tool_response>", "</tool_response>", "<think>", "</think>", "<answer>",
        "</answer>"]

# ChatML with vision placeholders; a string content or a list of image / video / text parts.
CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for part in message['content'] %}"
    "{% if part['type'] == 'image' %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif part['type'] == 'video' %}<|vision_start|><|video_pad|><|vision_end|>"
    "{% elif part['type'] == 'text' %}{{ part['text'] }}{% endif %}{% endfor %}{% endif %}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

# Mirrors the behaviour of Qwen3-VL's chat_template.json (Qwen/Qwen3-VL-*-Instruct and -Thinking on the hub),
# without its tools-in-system-prompt and add_vision_id branches: ChatML; a tool message is rendered inside a
# user turn as "\n<tool_response>\n...\n</tool_response>", consecutive tool messages sharing one turn.
# THINKING=True gives the -Thinking variant: the generation prompt ends with "<think>\n"; an assistant turn
# after the last real user query (one that is not only a tool response) is rendered as
# "<think>\n{reasoning}\n</think>\n\n{answer}"; earlier turns keep only the text after "</think>".
QWEN3_VL_TEMPLATE = """\
{%- macro render(content) -%}
{%- if content is string -%}{{ content }}{%- else -%}{%- for part in content -%}
{%- if part['type'] == 'image' -%}<|vision_start|><|image_pad|><|vision_end|>
{%- elif part['type'] == 'video' -%}<|vision_start|><|video_pad|><|vision_end|>
{%- elif part['type'] == 'text' -%}{{ part['text'] }}{%- endif -%}
{%- endfor -%}{%- endif -%}
{%- endmacro -%}
{%- set ns = namespace(last_query=messages|length - 1, searching=true) -%}
{%- for message in messages[::-1] -%}
{%- set text = render(message['content']) -%}
{%- if ns.searching and message['role'] == 'user'
      and not (text.startswith('<tool_response>') and text.endswith('</tool_response>')) -%}
{%- set ns.searching = false -%}{%- set ns.last_query = messages|length - 1 - loop.index0 -%}
{%- endif -%}
{%- endfor -%}
{%- for message in messages -%}
{%- set content = render(message['content']) -%}
{%- if message['role'] == 'tool' -%}
{%- if loop.first or messages[loop.index0 - 1]['role'] != 'tool' %}<|im_start|>user{% endif -%}
{{ '\\n<tool_response>\\n' + content + '\\n</tool_response>' }}
{%- if loop.last or messages[loop.index0 + 1]['role'] != 'tool' %}<|im_end|>{{ '\\n' }}{% endif -%}
{%- elif message['role'] == 'assistant' and THINKING -%}
{%- set reasoning = '' -%}
{%- if message['reasoning_content'] is string -%}{%- set reasoning = message['reasoning_content'] -%}
{%- elif '</think>' in content -%}
{%- set reasoning = content.split('</think>')[0].rstrip('\\n').split('<think>')[-1].lstrip('\\n') -%}
{%- set content = content.split('</think>')[-1].lstrip('\\n') -%}
{%- endif -%}
{{ '<|im_start|>assistant\\n' }}
{%- if loop.index0 > ns.last_query and (loop.last or reasoning) -%}
{{ '<think>\\n' + reasoning.strip('\\n') + '\\n</think>\\n\\n' + content.lstrip('\\n') }}
{%- else -%}{{ content }}{%- endif -%}
{{ '<|im_end|>\\n' }}
{%- else -%}
{{ '<|im_start|>' + message['role'] + '\\n' + content + '<|im_end|>\\n' }}
{%- endif -%}
{%- endfor -%}
{%- if add_generation_prompt -%}{{ '<|im_start|>assistant\\n' }}
{%- if THINKING -%}{{ '<think>\\n' }}{%- endif -%}{%- endif -%}
"""

CORPUS = [
    "The person raises an arm and waves the hand from side to side.",
    '<tool_call>{"name": "pose_estimation", "arguments": {}}</tool_call>',
    "<think>The knees bend and the hips drop.</think><answer>squat</answer>",
    "Candidates: wave, clap, squat, sit_down, jump, jumping_jacks, walk, run, punch, kick, bow.",
    "<pose_estimation>yes</pose_estimation><person_detection>no</person_detection>",
    "<noun_explanation>yes</noun_explanation> [1] Observed body parts and movement characteristics",
]


def _trained_bpe(vocab_size: int):
    """A byte-level BPE trained on CORPUS with Qwen's special tokens."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIAL,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    bpe.train_from_iterator(CORPUS * 20, trainer)
    return bpe


def _tokenizer(vocab_size: int, chat_template: str, extra_special: tuple[str, ...] = ()):
    """A Qwen2 fast tokenizer: byte-level BPE trained on CORPUS, Qwen's special tokens, TAGS as plain added tokens."""
    from transformers import Qwen2TokenizerFast

    bpe = _trained_bpe(vocab_size)
    bpe.add_tokens(TAGS)
    tokenizer = Qwen2TokenizerFast(tokenizer_object=bpe, eos_token="<|im_end|>", pad_token="<|endoftext|>",
                                   unk_token=None, bos_token=None)
    tokenizer.add_special_tokens({"additional_special_tokens": list(extra_special)})
    tokenizer.chat_template = chat_template
    return tokenizer, {t: tokenizer.convert_tokens_to_ids(t) for t in SPECIAL + list(extra_special)}


def _qwen3_5_tokenizer(vocab_size: int, chat_template: str):
    """Qwen3.5's own tokenizer class (its pre-tokenizer and NFC normalizer) on the BPE vocabulary trained here."""
    import json

    from transformers import Qwen3_5Tokenizer

    bpe = json.loads(_trained_bpe(vocab_size).to_str())["model"]
    tokenizer = Qwen3_5Tokenizer(vocab=bpe["vocab"], merges=[tuple(m) for m in bpe["merges"]], eos_token="<|im_end|>",
                                 pad_token="<|endoftext|>", unk_token=None, bos_token=None)
    tokenizer.add_special_tokens({"additional_special_tokens": SPECIAL[1:]})
    tokenizer.add_tokens(TAGS)
    tokenizer.chat_template = chat_template
    return tokenizer, {t: tokenizer.convert_tokens_to_ids(t) for t in SPECIAL}


def _save_random_model(model_class, config, ids: dict[str, int], seed: int, folder: Path) -> None:
    """model_class(config) with seeded random weights, ending its turns at <|im_end|>, saved into folder."""
    import torch

    torch.manual_seed(seed)
    model = model_class(config).eval()
    model.generation_config.eos_token_id = ids["<|im_end|>"]
    model.generation_config.pad_token_id = ids["<|endoftext|>"]
    model.save_pretrained(folder)


def build_tiny_qwen(folder: str | Path, vocab_size: int = 600, seed: int = 0) -> Path:
    """Save a random Qwen2.5-VL (2 text layers, hidden 64; 2 vision layers) with its processor into folder."""
    from transformers import (Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration, Qwen2_5_VLProcessor,
                              Qwen2VLImageProcessor, Qwen2VLVideoProcessor)

    folder = Path(folder)
    tokenizer, ids = _tokenizer(vocab_size, CHAT_TEMPLATE)
    config = Qwen2_5_VLConfig(
        text_config={"vocab_size": len(tokenizer), "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
                     "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 32768,
                     "rope_parameters": {"rope_type": "default", "mrope_section": [2, 3, 3], "rope_theta": 1e6},
                     "bos_token_id": ids["<|endoftext|>"], "eos_token_id": ids["<|im_end|>"],
                     "pad_token_id": ids["<|endoftext|>"]},
        vision_config={"depth": 2, "hidden_size": 32, "intermediate_size": 64, "num_heads": 2, "out_hidden_size": 64,
                       "fullatt_block_indexes": [1], "window_size": 56, "tokens_per_second": 2},
        image_token_id=ids["<|image_pad|>"], video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"], vision_end_token_id=ids["<|vision_end|>"],
    )
    _save_random_model(Qwen2_5_VLForConditionalGeneration, config, ids, seed, folder)
    # Pixel bounds as `size`: transformers 5.10's Qwen2VLVideoProcessor(min_pixels=...) rewrites the class defaults
    # that every later instance starts from (other checkpoints built or loaded in the same process).
    pixels = {"size": {"shortest_edge": 28 * 28, "longest_edge": 112 * 112}}
    processor = Qwen2_5_VLProcessor(image_processor=Qwen2VLImageProcessor(**pixels),
                                    video_processor=Qwen2VLVideoProcessor(**pixels), tokenizer=tokenizer,
                                    chat_template=CHAT_TEMPLATE)
    processor.save_pretrained(folder)
    return folder


def qwen3_vl_template(thinking: bool = False) -> str:
    """The tiny Qwen3-VL chat template: the -Instruct rendering, or the -Thinking one when thinking."""
    return "{%- set THINKING = " + ("true" if thinking else "false") + " -%}\n" + QWEN3_VL_TEMPLATE


def build_tiny_qwen3_vl(folder: str | Path, vocab_size: int = 600, seed: int = 0, thinking: bool = False) -> Path:
    """Save a random Qwen3-VL (2 text layers, hidden 64; 2 vision layers, patch 16) with its processor into folder."""
    from transformers import Qwen3VLConfig, Qwen3VLForConditionalGeneration

    folder = Path(folder)
    template = qwen3_vl_template(thinking)
    tokenizer, ids = _tokenizer(vocab_size, template)
    config = Qwen3VLConfig(
        text_config={"vocab_size": len(tokenizer), "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
                     "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 16,
                     "max_position_embeddings": 32768,
                     # interleaved multimodal rope as in Qwen3-VL; the sections sum to head_dim / 2
                     "rope_parameters": {"rope_type": "default", "rope_theta": 5e6, "mrope_section": [4, 2, 2],
                                         "mrope_interleaved": True},
                     "bos_token_id": ids["<|endoftext|>"], "eos_token_id": ids["<|im_end|>"],
                     "pad_token_id": ids["<|endoftext|>"]},
        vision_config={"depth": 2, "hidden_size": 32, "intermediate_size": 64, "num_heads": 2, "out_hidden_size": 64,
                       "patch_size": 16, "spatial_merge_size": 2, "temporal_patch_size": 2,
                       "num_position_embeddings": 64, "deepstack_visual_indexes": [0]},
        image_token_id=ids["<|image_pad|>"], video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"], vision_end_token_id=ids["<|vision_end|>"],
    )
    _save_random_model(Qwen3VLForConditionalGeneration, config, ids, seed, folder)
    _qwen3_vl_processor(tokenizer, template).save_pretrained(folder)
    return folder


def _qwen3_vl_processor(tokenizer, template: str):
    """Qwen3-VL's processors (Qwen3.5 uses them too): 16-pixel patches merged 2x2 (32-pixel units), mean/std 0.5; a
    video's pixel bounds count all its frames together. Small bounds keep a frame at a few tokens."""
    from transformers import Qwen2VLImageProcessor, Qwen3VLProcessor, Qwen3VLVideoProcessor

    common = {"patch_size": 16, "merge_size": 2, "temporal_patch_size": 2, "image_mean": [0.5] * 3,
              "image_std": [0.5] * 3}
    return Qwen3VLProcessor(
        image_processor=Qwen2VLImageProcessor(size={"shortest_edge": 32 * 32, "longest_edge": 128 * 128}, **common),
        video_processor=Qwen3VLVideoProcessor(size={"shortest_edge": 32 * 32, "longest_edge": 16 * 64 * 64}, **common),
        tokenizer=tokenizer, chat_template=template)


def build_tiny_qwen3_5(folder: str | Path, vocab_size: int = 600, seed: int = 0) -> Path:
    """Save a random Qwen3.5 (one Gated DeltaNet, one full-attention text layer, hidden 64; 2 vision layers)."""
    from transformers import Qwen3_5Config, Qwen3_5ForConditionalGeneration

    folder = Path(folder)
    # Qwen3.5 renders what the env sends as Qwen3-VL Thinking does (see the module docstring): one template.
    template = qwen3_vl_template(thinking=True)
    tokenizer, ids = _qwen3_5_tokenizer(vocab_size, template)
    config = Qwen3_5Config(
        text_config={"vocab_size": len(tokenizer), "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
                     "layer_types": ["linear_attention", "full_attention"],  # Qwen3.5 has 3 linear per full one
                     "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 16,
                     "linear_num_key_heads": 2, "linear_num_value_heads": 4, "linear_key_head_dim": 16,
                     "linear_value_head_dim": 16, "linear_conv_kernel_dim": 4, "max_position_embeddings": 32768,
                     # rotary on half of each head (Qwen3.5: a quarter of 256); the sections sum to 16 * 0.5 / 2
                     "partial_rotary_factor": 0.5,
                     "rope_parameters": {"rope_type": "default", "rope_theta": 1e7, "mrope_section": [2, 1, 1],
                                         "mrope_interleaved": True, "partial_rotary_factor": 0.5},
                     "bos_token_id": ids["<|endoftext|>"], "eos_token_id": ids["<|im_end|>"],
                     "pad_token_id": ids["<|endoftext|>"]},
        vision_config={"depth": 2, "hidden_size": 32, "intermediate_size": 64, "num_heads": 2, "out_hidden_size": 64,
                       "patch_size": 16, "spatial_merge_size": 2, "temporal_patch_size": 2,
                       "num_position_embeddings": 64},
        image_token_id=ids["<|image_pad|>"], video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"], vision_end_token_id=ids["<|vision_end|>"],
    )
    _save_random_model(Qwen3_5ForConditionalGeneration, config, ids, seed, folder)
    _qwen3_vl_processor(tokenizer, template).save_pretrained(folder)
    return folder


# ChatML whose images are LLaVA's "<image>" placeholder (LLaVA's processor takes no video).
LLAVA_TEMPLATE = CHAT_TEMPLATE.replace("<|vision_start|><|image_pad|><|vision_end|>", "<image>")


def build_tiny_llava(folder: str | Path, vocab_size: int = 600, seed: int = 0) -> Path:
    """Save a random LLaVA (CLIP vision tower, 28-pixel images; 2-layer Qwen2 text model) with its processor."""
    from transformers import CLIPImageProcessor, LlavaConfig, LlavaForConditionalGeneration, LlavaProcessor

    folder = Path(folder)
    tokenizer, ids = _tokenizer(vocab_size, LLAVA_TEMPLATE, extra_special=("<image>",))
    config = LlavaConfig(
        vision_config={"model_type": "clip_vision_model", "hidden_size": 32, "intermediate_size": 64,
                       "num_hidden_layers": 2, "num_attention_heads": 2, "image_size": 28, "patch_size": 14},
        text_config={"model_type": "qwen2", "vocab_size": len(tokenizer), "hidden_size": 64, "intermediate_size": 128,
                     "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
                     "bos_token_id": ids["<|endoftext|>"], "eos_token_id": ids["<|im_end|>"],
                     "pad_token_id": ids["<|endoftext|>"]},
        image_token_id=ids["<image>"], vision_feature_select_strategy="default", vision_feature_layer=-1,
    )
    _save_random_model(LlavaForConditionalGeneration, config, ids, seed, folder)
    # 2x2 patches per image; CLIP's class token is the one extra token that the "default" strategy drops
    image_processor = CLIPImageProcessor(size={"shortest_edge": 28}, crop_size={"height": 28, "width": 28})
    processor = LlavaProcessor(image_processor=image_processor, tokenizer=tokenizer, patch_size=14,
                               vision_feature_select_strategy="default", num_additional_image_tokens=1,
                               chat_template=LLAVA_TEMPLATE)
    processor.save_pretrained(folder)
    return folder


# family -> builder(folder); qwen3.5's template is a Thinking one: its rows want the qwen3 reasoning form
TINY_MODELS = {"qwen2.5-vl": build_tiny_qwen, "qwen3-vl": build_tiny_qwen3_vl, "qwen3.5": build_tiny_qwen3_5}
