"""Build a tiny randomly initialised Llama-style model and a locally trained tokenizer.

No network: the BPE tokenizer is trained on generated medical-ish sentences, and the
weights are random (seeded). Used by the hf_local tests and by bench/bench_local_scoring.py.
"""

from __future__ import annotations

import json
import random
import shutil
from collections.abc import Sequence
from pathlib import Path

# A minimal chat template: BOS, one `<|role|>` header line per message, then the open
# assistant header as the generation prompt. (Newlines are Jinja expressions because
# transformers renders templates with trim_blocks, which eats a newline after a tag.)
CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% for m in messages %}{{ '<|' + m['role'] + '|>\\n' + m['content'] + '\\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|>\\n' }}{% endif %}"
)

_WORDS = {
    "who": ["A 34-year-old woman", "A 67-year-old man", "A 5-year-old boy", "A pregnant woman"],
    "verb": ["presents with", "complains of", "is brought in with", "develops"],
    "finding": [
        "fever and productive cough",
        "crushing chest pain radiating to the jaw",
        "polyuria and polydipsia",
        "a painless thyroid nodule",
        "jaundice and right upper quadrant pain",
        "sudden unilateral weakness",
        "a maculopapular rash",
        "hematuria after an upper respiratory infection",
    ],
    "ask": [
        "Which of the following is the most likely diagnosis?",
        "What is the most appropriate next step in management?",
        "Which drug is most likely responsible?",
        "Which laboratory finding is expected?",
    ],
    "option": [
        "Community-acquired pneumonia",
        "Myocardial infarction",
        "Type 1 diabetes mellitus",
        "Papillary carcinoma",
        "Acute cholecystitis",
        "Ischemic stroke",
        "Measles",
        "Post-streptococcal glomerulonephritis",
        "Administer aspirin",
        "Order a chest radiograph",
        "Start intravenous antibiotics",
        "Elevated troponin",
        "Metformin",
        "Amoxicillin",
    ],
}


def medical_sentences(n: int, seed: int = 0) -> list[str]:
    """`n` generated MedQA-like sentences (deterministic for a seed)."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        who, verb, finding, ask = (rng.choice(_WORDS[k]) for k in ("who", "verb", "finding", "ask"))
        option = rng.choice(_WORDS["option"])
        out.append(f"{who} {verb} {finding}. {ask} Answer: {option}.")
    return out


def build_tokenizer(
    vocab_size: int = 512,
    seed: int = 0,
    chat_template: bool = True,
    corpus: Sequence[str] | None = None,
):  # noqa: ANN201
    """A byte-level BPE tokenizer trained on `corpus` (default: generated sentences)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=["<pad>", "<s>", "</s>", "<|system|>", "<|user|>", "<|assistant|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(corpus or medical_sentences(400, seed), trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<s>", eos_token="</s>", pad_token="<pad>"
    )
    if chat_template:
        fast.chat_template = CHAT_TEMPLATE
    return fast


def build_tiny_model(
    path: Path,
    *,
    hidden_size: int = 32,
    layers: int = 2,
    heads: int = 4,
    kv_heads: int = 2,
    vocab_size: int = 512,
    seed: int = 0,
    chat_template: bool = True,
    init_range: float = 0.2,
    corpus: Sequence[str] | None = None,
) -> Path:
    """Save a random Llama-style causal LM and its tokenizer under `path`; return `path`.

    `init_range` is larger than Llama's 0.02 so the logits are spread out and greedy
    decoding has no near-ties for float rounding (batched vs unbatched) to flip.
    The saved generation_config.json carries sampling defaults like a real chat
    checkpoint's (do_sample, temperature 0.6, top_p 0.9), which greedy decoding must ignore.
    """
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = build_tokenizer(vocab_size, seed, chat_template, corpus)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=hidden_size * 2,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=kv_heads,
        max_position_embeddings=2048,
        initializer_range=init_range,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=False,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    path.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    generation = {
        "bos_token_id": tokenizer.bos_token_id,
        "eos_token_id": tokenizer.eos_token_id,
        "pad_token_id": tokenizer.pad_token_id,
        "do_sample": True,
        "temperature": 0.6,
        "top_p": 0.9,
    }
    (path / "generation_config.json").write_text(json.dumps(generation))
    return path


def build_tiny_encoder(
    path: Path,
    *,
    hidden_size: int = 32,
    layers: int = 2,
    heads: int = 4,
    intermediate_size: int | None = None,
    vocab_size: int = 400,
    max_positions: int = 128,
    seed: int = 0,
    pooling: str = "mean",
    corpus: Sequence[str] | None = None,
) -> Path:
    """Save a random BERT encoder, a WordPiece tokenizer trained on `corpus` (default:
    generated sentences) and a sentence-transformers config (`pooling`, then unit length)
    under `path`; return `path`.

    The architecture is BERT's (MiniLM and MedCPT are BERTs), only smaller by default:
    ``hidden_size=384, layers=6, heads=12`` is all-MiniLM-L6-v2's shape, ``768, 12, 12``
    MedCPT's.
    """
    import torch
    from sentence_transformers import SentenceTransformer
    from tokenizers import Tokenizer, normalizers, pre_tokenizers, processors, trainers
    from tokenizers import models as tok_models
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    try:
        from sentence_transformers.sentence_transformer.modules import (
            Normalize,
            Pooling,
            Transformer,
        )
    except ImportError:  # sentence-transformers < 6
        from sentence_transformers.models import Normalize, Pooling, Transformer

    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tok = Tokenizer(tok_models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.train_from_iterator(corpus or medical_sentences(400, seed), trainers.WordPieceTrainer(
        vocab_size=vocab_size, special_tokens=specials, show_progress=False))
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B [SEP]",
        special_tokens=[(t, tok.token_to_id(t)) for t in ("[CLS]", "[SEP]")])
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]",
                                   cls_token="[CLS]", sep_token="[SEP]", mask_token="[MASK]",
                                   model_max_length=max_positions)
    config = BertConfig(vocab_size=len(fast), hidden_size=hidden_size,
                        num_hidden_layers=layers, num_attention_heads=heads,
                        intermediate_size=intermediate_size or 4 * hidden_size,
                        max_position_embeddings=max_positions)
    torch.manual_seed(seed)
    plain = path / "plain"
    BertModel(config).save_pretrained(plain)
    fast.save_pretrained(plain)
    body = Transformer(str(plain), max_seq_length=max_positions)
    model = SentenceTransformer(
        modules=[body, Pooling(hidden_size, pooling_mode=pooling), Normalize()], device="cpu")
    model.save(str(path))
    shutil.rmtree(plain)
    return path
