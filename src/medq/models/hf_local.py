"""``hf/<id-or-path>``: a local transformers causal LM, on CPU or GPU.

Serves both generation (through the tokenizer's chat template, batched) and option
log-likelihood scoring (the shared question prefix computed once per question). A
checkpoint whose config has a ``vision_config`` is loaded as a vision-language model
(``AutoModelForImageTextToText`` and its ``AutoProcessor``): it declares
``Capability.VISION``, takes `Message.images` through the processor, and generates only.

    >>> model = hf("hf/./checkpoints/tiny-llama", batch_size=8)  # doctest: +SKIP
    >>> await model.complete(GenerationRequest(messages=(Message("user", "Hi"),)))  # doctest: +SKIP

Decisions worth knowing:

* **Micro-batching.** Concurrent ``complete`` / ``loglikelihoods`` calls are queued; one
  worker task drains the queue and runs the blocking torch work in a thread
  (``asyncio.to_thread``), so the event loop stays free and the model is only ever used by
  one thread at a time (a lock guards it as well, for callers on several event loops).
  Up to ``batch_size`` generation rows (a request with ``n`` samples is ``n`` rows) are
  decoded together with left padding.
* **Sampling is per row and seeded.** Greedy when ``temperature == 0``; otherwise every row
  samples with its own ``torch.Generator`` seeded from ``(seed, sample_index, j)``, so a
  seeded request gives the same text whatever else shares its batch.
* **Tokenisation boundary.** The context is rendered with the chat template and the
  generation prompt (the assistant turn start) and tokenised on its own, exactly as the
  model sees it before generating; each continuation is tokenised separately, so context
  tokens never merge with option tokens and the model scores exactly the tokens it would
  emit after the prompt. A delimiter goes between them as lm-eval places its
  ``target_delimiter``: a space when the rendered context ends in a non-space character
  (the plain ``Assistant:`` template; lm-eval without a chat template), nothing when it ends
  in whitespace (chat templates end the assistant header with a newline; lm-eval with
  ``apply_chat_template`` uses ``""``), and nothing when the continuation already starts
  with whitespace. ``continuation_delimiter`` overrides the automatic choice.
* **Prefix cache.** One forward pass over the context fills a KV cache; its last logits
  score each continuation's first token; the cache is repeated across the options and one
  batched forward over the (right-padded) continuations scores the rest. Single-token
  continuations (``" A"``) need no second pass at all.
"""

from __future__ import annotations

import asyncio
import inspect
import threading
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from medq.models.base import ModelError, UnsupportedCapabilityError
from medq.registry import models
from medq.seeds import row_seed
from medq.types import (
    Capability,
    Completion,
    ContinuationScore,
    Generation,
    GenerationRequest,
    LoglikelihoodRequest,
    Message,
)

if TYPE_CHECKING:
    import torch

DEFAULT_MAX_TOKENS = 512


def plain_prompt(messages: Sequence[Message]) -> str:
    """The fallback template for tokenizers without a chat template.

    One ``Role: content`` line per message, then ``Assistant:`` for the model to continue
    (or the final assistant message left open, when the context ends with one)::

        System: You are a physician.
        User: Which drug ...?
        Assistant:
    """
    lines = [f"{m.role.capitalize()}: {m.content}" for m in messages]
    if not messages or messages[-1].role != "assistant":
        lines.append("Assistant:")
    return "\n".join(lines)


@dataclass
class _Job:
    request: GenerationRequest | LoglikelihoodRequest
    future: asyncio.Future[Any]


@dataclass
class _Row:
    """One decoded sequence: request `job`, sample `j`."""

    job: int
    prompt: list[int]
    max_new: int
    stop: tuple[str, ...]
    temperature: float
    generator: Any = None
    finished_at: int | None = None
    rest: list[int] = field(default_factory=list)


class HFLocalModel:
    """A transformers causal LM served in-process (see the module docstring).

    Args:
        model: a hub id or a local directory holding a saved model and tokenizer.
        revision: hub revision (branch, tag or commit); part of ``endpoint``.
        device: ``"cuda"``, ``"cpu"``, ``"cuda:1"``...; default cuda when available.
        batch_size: most generation rows decoded together.
        dtype: ``"auto"`` (float32 on CPU, the checkpoint's dtype on GPU) or a torch dtype
            name such as ``"bfloat16"``.
        max_tokens_default: ``max_new_tokens`` when a request leaves ``max_tokens`` unset.
        continuation_delimiter: put before a continuation that does not start with
            whitespace; None (default) picks " " or "" from the rendered context.
    """

    capabilities = frozenset({Capability.GENERATE, Capability.LOGLIKELIHOOD})

    def __init__(
        self,
        model: str,
        *,
        revision: str | None = None,
        device: str | None = None,
        batch_size: int = 8,
        dtype: str = "auto",
        max_tokens_default: int = DEFAULT_MAX_TOKENS,
        continuation_delimiter: str | None = None,
    ) -> None:
        import torch
        from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.name = f"hf/{model}"
        self.endpoint = model if revision is None else f"{model}@{revision}"
        self.batch_size = batch_size
        self.max_tokens_default = max_tokens_default
        self.continuation_delimiter = continuation_delimiter
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        if dtype == "auto":
            torch_dtype: Any = "auto" if self.device.type == "cuda" else torch.float32
        else:
            torch_dtype = getattr(torch, dtype)

        self.processor: Any = None
        try:
            config = AutoConfig.from_pretrained(model, revision=revision)
            if getattr(config, "vision_config", None) is not None:
                # A vision-language model: its processor renders the chat with the image
                # placeholders and turns images into pixel values.
                from transformers import AutoModelForImageTextToText, AutoProcessor

                self.processor = AutoProcessor.from_pretrained(model, revision=revision)
                self.tokenizer = self.processor.tokenizer
                self.model = AutoModelForImageTextToText.from_pretrained(
                    model, revision=revision, dtype=torch_dtype
                )
                self.capabilities = frozenset({Capability.GENERATE, Capability.VISION})
            else:
                self.tokenizer = AutoTokenizer.from_pretrained(model, revision=revision)
                self.model = AutoModelForCausalLM.from_pretrained(
                    model, revision=revision, dtype=torch_dtype
                )
        except (OSError, ValueError) as exc:
            # transformers reports a missing path or an offline hub as OSError/ValueError
            # with pages of context; one line naming the model is what a user needs.
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelError(f"could not load local model {model!r}: {first}") from None
        self.tokenizer.padding_side = "left"
        self.model.to(self.device)
        self.model.eval()

        eos = self.model.generation_config.eos_token_id
        eos_ids = set(eos if isinstance(eos, list) else [] if eos is None else [eos])
        if self.tokenizer.eos_token_id is not None:
            eos_ids.add(self.tokenizer.eos_token_id)
        self.eos_token_ids = sorted(eos_ids)
        pad = self.tokenizer.pad_token_id
        self.pad_token_id = pad if pad is not None else (self.eos_token_ids or [0])[0]
        # transformers 5 renamed the forward's `past_key_values` argument to `cache`.
        params = inspect.signature(self.model.forward).parameters
        self._cache_arg = "cache" if "cache" in params else "past_key_values"
        # Only the context's last logits are needed; models without the option compute all.
        self._last_logits_only = {"logits_to_keep": 1} if "logits_to_keep" in params else {}

        self._lock = threading.Lock()
        self._queue: deque[_Job] = deque()
        self._worker: asyncio.Task[None] | None = None
        self._closed = False

    # -- the Model protocol -------------------------------------------------------------

    async def complete(self, request: GenerationRequest) -> Completion:
        """Generate ``request.n`` completions; batched with concurrent calls."""
        if request.n < 1:
            raise ValueError("n must be at least 1")
        if request.logprobs or request.top_logprobs:
            raise UnsupportedCapabilityError(
                f"{self.name} does not return token log-probabilities from generation; "
                "score options with loglikelihoods() instead"
            )
        if self.processor is None and any(m.images for m in request.messages):
            raise UnsupportedCapabilityError(
                f"{self.name} is a text model and the request shows images")
        result: Completion = await self._submit(request)
        return result

    async def loglikelihoods(self, request: LoglikelihoodRequest) -> list[ContinuationScore]:
        """Score every continuation after the chat-rendered context (see module docstring)."""
        if Capability.LOGLIKELIHOOD not in self.capabilities:
            raise UnsupportedCapabilityError(
                f"{self.name} is a vision-language model; medq scores options of text "
                "models only")
        result: list[ContinuationScore] = await self._submit(request)
        return result

    async def aclose(self) -> None:
        """Finish queued work, then free the weights (and the GPU cache)."""
        if self._worker is not None and not self._worker.done():
            await self._worker
        self._closed = True
        with self._lock:
            del self.model
            if self.device.type == "cuda":
                import torch

                torch.cuda.empty_cache()

    # -- micro-batcher ------------------------------------------------------------------

    async def _submit(self, request: GenerationRequest | LoglikelihoodRequest) -> Any:
        if self._closed:
            raise ModelError(f"{self.name} is closed")
        loop = asyncio.get_running_loop()
        job = _Job(request, loop.create_future())
        self._queue.append(job)
        if self._worker is None or self._worker.done() or self._worker.get_loop() is not loop:
            self._worker = loop.create_task(self._drain())
        return await job.future

    async def _drain(self) -> None:
        while self._queue:
            await asyncio.sleep(0)  # let callers started in the same tick join this batch
            batch = self._take_batch()
            if isinstance(batch[0].request, GenerationRequest):
                work = self._generate_batch
            else:
                work = self._score_batch
            try:
                results = await asyncio.to_thread(self._locked, work, [j.request for j in batch])
            except Exception as exc:  # handed to every caller in the batch, not swallowed
                error = exc if isinstance(exc, ModelError | ValueError) else ModelError(repr(exc))
                error.__cause__ = exc if error is not exc else exc.__cause__
                for job in batch:
                    if not job.future.done():
                        job.future.set_exception(error)
                continue
            for job, result in zip(batch, results, strict=True):
                if not job.future.done():  # the caller may have been cancelled
                    job.future.set_result(result)

    def _take_batch(self) -> list[_Job]:
        """The next jobs of one kind: requests totalling at most batch_size rows (>= 1 job)."""
        # Jobs whose event loop is gone (a caller's loop closed mid-batch) have no one to
        # answer; setting their futures would raise.
        while self._queue and self._queue[0].future.get_loop().is_closed():
            self._queue.popleft()
        first = self._queue.popleft()
        batch, rows = [first], self._rows_of(first.request)
        kind = type(first.request)
        while self._queue and type(self._queue[0].request) is kind:
            more = self._rows_of(self._queue[0].request)
            if rows + more > self.batch_size:
                break
            batch.append(self._queue.popleft())
            rows += more
        return batch

    @staticmethod
    def _rows_of(request: GenerationRequest | LoglikelihoodRequest) -> int:
        if isinstance(request, GenerationRequest):
            return 1 if request.temperature == 0 else request.n
        return 1  # one question per scoring unit; its options are batched inside it

    def _locked(self, work: Any, requests: list[Any]) -> list[Any]:
        import torch

        with self._lock, torch.inference_mode():
            return work(requests)  # type: ignore[no-any-return]

    # -- prompts ------------------------------------------------------------------------

    def render(self, messages: Sequence[Message]) -> str:
        """The prompt text for `messages`, ending where the model's answer starts.

        Rendered with the tokenizer's chat template and the generation prompt; a context
        that ends with an assistant message is continued instead (a prefill). Tokenizers
        without a chat template use `plain_prompt`.
        """
        if not self.tokenizer.chat_template:
            return plain_prompt(messages)
        prefill = bool(messages) and messages[-1].role == "assistant"
        text: str = self.tokenizer.apply_chat_template(
            [{"role": m.role, "content": m.content} for m in messages],
            tokenize=False,
            add_generation_prompt=not prefill,
            continue_final_message=prefill,
        )
        return text

    def prompt_ids(self, messages: Sequence[Message]) -> list[int]:
        """Token ids the model sees before answering `messages` (see `render`)."""
        return self._encode_prompt(self.render(messages))

    def _encode_prompt(self, text: str) -> list[int]:
        # A chat template already holds the special tokens (BOS), as in apply_chat_template;
        # the plain template gets them from the tokenizer.
        special = not self.tokenizer.chat_template
        return list(self.tokenizer.encode(text, add_special_tokens=special))

    def continuation_ids(self, continuation: str, context: str) -> list[int]:
        """Token ids of `continuation` after the rendered `context`, tokenised on its own."""
        delimiter = self.continuation_delimiter
        if delimiter is None:
            delimiter = "" if context[-1:].isspace() else " "
        if continuation[:1].isspace():
            delimiter = ""
        return list(self.tokenizer.encode(delimiter + continuation, add_special_tokens=False))

    # -- generation (worker thread) -----------------------------------------------------

    def _row(self, i: int, request: GenerationRequest, prompt: list[int], j: int) -> _Row:
        """Row `j` of request `i`: greedy, or sampled from its own seeded generator."""
        import torch

        generator = None
        if request.temperature > 0:
            generator = torch.Generator(device=self.device)
            if request.seed is None:
                generator.seed()
            else:
                generator.manual_seed(row_seed(request.seed, request.sample_index, j))
        max_new = request.max_tokens or self.max_tokens_default
        return _Row(i, prompt, max_new, request.stop, request.temperature, generator)

    def _config(self, max_new: int) -> Any:
        """Every sampling knob pinned, so a checkpoint's generation_config.json (temperature
        0.6, top_p 0.9, repetition_penalty ...) cannot leak into greedy decoding; sampling
        happens per row in _RowSampler."""
        from transformers import GenerationConfig

        return GenerationConfig(
            max_new_tokens=max_new,
            do_sample=False,
            num_beams=1,
            temperature=1.0,
            top_k=50,
            top_p=1.0,
            typical_p=1.0,
            repetition_penalty=1.0,
            no_repeat_ngram_size=0,
            pad_token_id=self.pad_token_id,
            eos_token_id=self.eos_token_ids or None,
        )

    def _finish(self, row: _Row, tokens: list[int]) -> tuple[Generation, int]:
        """The generation a row decoded (cut at its stop, EOS or limit) and its length."""
        if row.finished_at is not None:
            tokens = tokens[: row.finished_at]
        tokens = tokens[: row.max_new]
        reason = "length" if len(tokens) >= row.max_new else "stop"
        eos = set(self.eos_token_ids)
        for pos, token in enumerate(tokens):
            if token in eos:
                tokens, reason = tokens[:pos], "stop"
                break
        text = self.tokenizer.decode(tokens, skip_special_tokens=True)
        cut = min((i for i in (text.find(s) for s in row.stop if s) if i >= 0), default=-1)
        if cut >= 0:
            text, reason = text[:cut], "stop"
        return Generation(text=text, finish_reason=reason), len(tokens)

    def _generate_vision(self, request: GenerationRequest) -> Completion:
        """One request to a vision-language model: its processor renders the chat (an
        image placeholder per image, before the turn's text) and the pixel values; rows
        are decoded one at a time, as images of different sizes do not batch."""
        import torch
        from transformers import LogitsProcessorList, StoppingCriteriaList

        from medq.images import to_pil

        images = [to_pil(i) for m in request.messages for i in m.images]
        conversation = [{"role": m.role, "content": [
            *({"type": "image"} for _ in m.images), {"type": "text", "text": m.content}]}
            for m in request.messages]
        text = self.processor.apply_chat_template(
            conversation, add_generation_prompt=True, tokenize=False)
        inputs = self.processor(text=[text], images=images or None, return_tensors="pt")
        width = int(inputs["input_ids"].shape[1])
        prompt = inputs["input_ids"][0].tolist()
        generations, used = [], 0
        for j in range(self._rows_of(request)):
            row = self._row(0, request, prompt, j)
            processors = LogitsProcessorList([_RowSampler([row])] if row.generator else [])
            output = self.model.generate(
                **{k: v.to(self.device) if isinstance(v, torch.Tensor) else v
                   for k, v in inputs.items()},
                generation_config=self._config(row.max_new),
                logits_processor=processors,
                stopping_criteria=StoppingCriteriaList([_RowStop([row], width, self.tokenizer)]),
            )
            generation, n = self._finish(row, output[0, width:].tolist())
            generations.append(generation)
            used += n
        if request.temperature == 0:
            generations, used = generations * request.n, used * request.n
        return Completion(tuple(generations), prompt_tokens=width, completion_tokens=used,
                          model=self.name)

    def _generate_batch(self, requests: list[GenerationRequest]) -> list[Completion]:
        import torch
        from transformers import (
            LogitsProcessorList,
            StoppingCriteriaList,
        )

        if self.processor is not None:
            return [self._generate_vision(r) for r in requests]
        prompts = [self.prompt_ids(r.messages) for r in requests]
        rows: list[_Row] = []
        for i, (request, prompt) in enumerate(zip(requests, prompts, strict=True)):
            for j in range(self._rows_of(request)):
                rows.append(self._row(i, request, prompt, j))

        width = max(len(r.prompt) for r in rows)
        input_ids = torch.full((len(rows), width), self.pad_token_id, dtype=torch.long)
        attention = torch.zeros((len(rows), width), dtype=torch.long)
        for k, row in enumerate(rows):
            input_ids[k, width - len(row.prompt) :] = torch.tensor(row.prompt)
            attention[k, width - len(row.prompt) :] = 1
        config = self._config(max(r.max_new for r in rows))
        processors = LogitsProcessorList()
        if any(r.generator is not None for r in rows):
            processors.append(_RowSampler(rows))
        output = self.model.generate(
            input_ids=input_ids.to(self.device),
            attention_mask=attention.to(self.device),
            generation_config=config,
            logits_processor=processors,
            stopping_criteria=StoppingCriteriaList([_RowStop(rows, width, self.tokenizer)]),
        )
        new_tokens = output[:, width:].tolist()

        generations: list[list[Generation]] = [[] for _ in requests]
        used = [0] * len(requests)
        for row, tokens in zip(rows, new_tokens, strict=True):
            generation, n = self._finish(row, tokens)
            used[row.job] += n
            generations[row.job].append(generation)

        completions = []
        for i, request in enumerate(requests):
            gens = generations[i]
            if request.temperature == 0:  # greedy: one decoded row stands for all n
                gens, used[i] = gens * request.n, used[i] * request.n
            completions.append(
                Completion(
                    generations=tuple(gens),
                    prompt_tokens=len(prompts[i]),
                    completion_tokens=used[i],
                    model=self.name,
                )
            )
        return completions

    # -- scoring (worker thread) --------------------------------------------------------

    def _score_batch(self, requests: list[LoglikelihoodRequest]) -> list[list[ContinuationScore]]:
        return [self._score(r) for r in requests]

    def _score(self, request: LoglikelihoodRequest) -> list[ContinuationScore]:
        import torch

        if not request.continuations:
            return []
        rendered = self.render(request.context)
        context = self._encode_prompt(rendered)
        if not context:
            raise ValueError("the context renders to no tokens; nothing to condition on")
        options = [self.continuation_ids(c, rendered) for c in request.continuations]
        cache = self._new_cache()
        out = self.model(
            input_ids=torch.tensor([context], device=self.device),
            use_cache=True,
            **self._last_logits_only,
            **{self._cache_arg: cache},
        )
        first = out.logits[0, -1].float().log_softmax(-1)  # predicts each option's 1st token

        # Options longer than one token: tokens 0..n-2 fed as one right-padded batch that
        # attends to the cached context; the padding sits after every real token, so causal
        # attention keeps it from touching them.
        longest = max(len(o) for o in options)
        k, width = len(options), max(longest - 1, 0)
        targets = torch.zeros((k, longest), dtype=torch.long)
        for i, o in enumerate(options):
            targets[i, : len(o)] = torch.tensor(o, dtype=torch.long)
        logprobs = first[targets[:, :1].to(self.device)]  # (k, 1)
        greedy = first.argmax().expand(k, 1)
        if width:
            feed = torch.full((k, width), self.pad_token_id, dtype=torch.long)
            mask = torch.zeros((k, len(context) + width), dtype=torch.long)
            mask[:, : len(context)] = 1
            for i, o in enumerate(options):
                feed[i, : len(o) - 1] = targets[i, : len(o) - 1]
                mask[i, len(context) : len(context) + len(o) - 1] = 1
            cache.batch_repeat_interleave(k)
            positions = torch.arange(len(context), len(context) + width).expand(k, width)
            out = self.model(
                input_ids=feed.to(self.device),
                attention_mask=mask.to(self.device),
                position_ids=positions.to(self.device),
                use_cache=True,
                **{self._cache_arg: cache},
            )
            rest = out.logits.float().log_softmax(-1)  # (k, width, vocab)
            picked = rest.gather(-1, targets[:, 1:, None].to(self.device)).squeeze(-1)
            logprobs = torch.cat([logprobs, picked], dim=1)
            greedy = torch.cat([greedy, rest.argmax(-1)], dim=1)

        lp_rows, greedy_rows, target_rows = logprobs.tolist(), greedy.tolist(), targets.tolist()
        scores = []
        for i, (text, tokens) in enumerate(zip(request.continuations, options, strict=True)):
            n = len(tokens)
            scores.append(
                ContinuationScore(
                    logprob=float(sum(lp_rows[i][:n])),
                    n_tokens=n,
                    n_chars=len(text),
                    is_greedy=greedy_rows[i][:n] == target_rows[i][:n],
                )
            )
        return scores

    def _new_cache(self) -> Any:
        from transformers import DynamicCache

        try:
            return DynamicCache(config=self.model.config)
        except TypeError:  # transformers 4.x takes no config
            return DynamicCache()


class _RowSampler:
    """Logits processor: sample rows with temperature > 0 from their own generator.

    The sampled token keeps its score and every other token gets -inf, so generate's greedy
    step picks it; greedy rows pass through unchanged.
    """

    def __init__(self, rows: list[_Row]) -> None:
        self.rows = rows

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        import torch

        for k, row in enumerate(self.rows):
            if row.generator is None:
                continue
            probs = (scores[k].float() / row.temperature).softmax(-1)
            token = torch.multinomial(probs, 1, generator=row.generator)
            chosen = scores[k, token].clone()
            scores[k] = float("-inf")
            scores[k, token] = chosen
        return scores


class _RowStop:
    """Stopping criterion: a row is done at its own max_tokens or at one of its stop strings.

    Records where each row stopped so padding generated afterwards can be dropped.
    """

    def __init__(self, rows: list[_Row], prompt_width: int, tokenizer: Any) -> None:
        self.rows = rows
        self.width = prompt_width
        self.tokenizer = tokenizer

    def __call__(self, input_ids: torch.Tensor, scores: Any, **kwargs: Any) -> torch.Tensor:
        import torch

        done = torch.zeros(len(self.rows), dtype=torch.bool, device=input_ids.device)
        produced = input_ids.shape[1] - self.width
        for k, row in enumerate(self.rows):
            if row.finished_at is None:
                hit = produced >= row.max_new
                if not hit and row.stop:
                    text = self.tokenizer.decode(
                        input_ids[k, self.width :], skip_special_tokens=True
                    )
                    hit = any(s and s in text for s in row.stop)
                if hit:
                    row.finished_at = produced
            done[k] = row.finished_at is not None
        return done


@models.register("hf")
def hf(
    model: str,
    *,
    revision: str | None = None,
    device: str | None = None,
    batch_size: int = 8,
    dtype: str = "auto",
    max_tokens_default: int = DEFAULT_MAX_TOKENS,
) -> HFLocalModel:
    """A local transformers model, spec ``hf/<hub-id-or-path>``; `model` is the part after ``hf/``.

    Example: ``load_model("hf/Qwen/Qwen2.5-0.5B-Instruct", batch_size=16)``.
    """
    return HFLocalModel(
        model,
        revision=revision,
        device=device,
        batch_size=batch_size,
        dtype=dtype,
        max_tokens_default=max_tokens_default,
    )
