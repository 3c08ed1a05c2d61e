"""Build a tiny randomly initialised LLaVA-style vision-language model and its processor.

No network: the tokenizer is the text tests' locally trained BPE (tests/models/tiny_model.py)
plus an ``<image>`` token; the vision tower is a 2-layer CLIP ViT on 32x32 images, the
language model a 2-layer Llama; the weights are random (seeded).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "models"))

from tiny_model import build_tokenizer  # noqa: E402

# Like the text model's template, with an image placeholder per image part of a turn.
CHAT_TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}{{ '<|' + m['role'] + '|>\\n' }}"
    "{% if m['content'] is string %}{{ m['content'] }}{% else %}{% for c in m['content'] %}"
    "{% if c['type'] == 'image' %}{{ '<image>' }}{% else %}{{ c['text'] }}{% endif %}"
    "{% endfor %}{% endif %}{{ '\\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|>\\n' }}{% endif %}"
)


def build_tiny_vlm(path: Path, *, seed: int = 0) -> Path:
    """Save the model and its processor under `path`; return `path`."""
    import torch
    from transformers import (
        CLIPVisionConfig,
        LlamaConfig,
        LlavaConfig,
        LlavaForConditionalGeneration,
        LlavaProcessor,
    )

    try:
        from transformers import CLIPImageProcessorPil as ImageProcessor
    except ImportError:  # transformers without the Pillow-backed class name
        from transformers import CLIPImageProcessor as ImageProcessor

    tokenizer = build_tokenizer(512, seed, chat_template=False)
    tokenizer.add_special_tokens({"additional_special_tokens": ["<image>"]})
    size, patch = 32, 8
    vision = CLIPVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                              num_attention_heads=4, image_size=size, patch_size=patch,
                              projection_dim=32)
    text = LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64,
                       num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                       max_position_embeddings=2048, initializer_range=0.2,
                       bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                       pad_token_id=tokenizer.pad_token_id, tie_word_embeddings=False)
    config = LlavaConfig(vision_config=vision, text_config=text,
                         image_token_index=tokenizer.convert_tokens_to_ids("<image>"),
                         vision_feature_select_strategy="full", vision_feature_layer=-1)
    torch.manual_seed(seed)
    model = LlavaForConditionalGeneration(config)
    processor = LlavaProcessor(
        image_processor=ImageProcessor(size={"shortest_edge": size},
                                       crop_size={"height": size, "width": size}),
        tokenizer=tokenizer, patch_size=patch, vision_feature_select_strategy="full",
        image_token="<image>", chat_template=CHAT_TEMPLATE, num_additional_image_tokens=1)
    path.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(path)
    processor.save_pretrained(path)
    return path
