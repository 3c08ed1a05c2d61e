"""Log-probability scoring of multiple choice, the alternative to generative extraction.

Two forms, as in the literature: the probability of each option *letter* as the first
answer token (top_logprobs from an API; Hendrycks et al., "Measuring Massive Multitask
Language Understanding", ICLR 2021), and the log-likelihood of each option's *text* given
the question (`acc`, and `acc_norm` normalised by the option's length in characters, as in
Gao et al., lm-evaluation-harness, and Brown et al., "Language Models are Few-Shot
Learners", 2020). A backend that serves neither is a clear error, never a chance score.
"""

from __future__ import annotations

import math

from medq.models.base import Model, UnsupportedCapabilityError, require
from medq.registry import strategies
from medq.strategies._shared.messages import chat
from medq.strategies.base import Strategy
from medq.types import (
    Answer,
    Capability,
    GenerationRequest,
    LoglikelihoodRequest,
    Question,
    Status,
)

CALLS_PER_ITEM = 1
PROMPTS = ("system", "direct", "logprob")
ACCEPTS = ("choice",)
TOP_LOGPROBS = 20


def _softmax(values: dict[str, float]) -> dict[str, float]:
    top = max(values.values())
    exp = {k: math.exp(v - top) for k, v in values.items()}
    total = sum(exp.values())
    return {k: v / total for k, v in exp.items()}


async def _letter(question: Question, model: Model, seed: int) -> Answer:
    require(model, Capability.TOP_LOGPROBS, "letter log-probability scoring")
    request = GenerationRequest(
        chat(question, "direct"),
        temperature=0.0,
        seed=seed,
        max_tokens=1,
        logprobs=True,
        top_logprobs=TOP_LOGPROBS,
    )
    generation = (await model.complete(request)).generations[0]
    if not generation.logprobs:
        raise UnsupportedCapabilityError(
            f"model {model.name!r} returned no logprobs although they were requested"
        )
    mass: dict[str, float] = {}
    for token, logprob in generation.logprobs[0].top:
        letter = token.strip().strip("(").strip(").:").upper()
        if letter in question.options:
            mass[letter] = mass.get(letter, 0.0) + math.exp(logprob)
    if not mass:
        return Answer(
            None,
            Status.INVALID,
            generation.text,
            reason=f"no option letter among the top {TOP_LOGPROBS} first tokens",
        )
    total = sum(mass.values())
    probs = {k: v / total for k, v in mass.items()}
    choice = max(probs, key=lambda k: (probs[k], -ord(k[0])))
    return Answer(
        choice,
        Status.OK,
        generation.text,
        confidence=probs[choice],
        details={"method": "letter_logprob", "probs": probs, "letter_mass": total},
    )


async def _option(question: Question, model: Model) -> Answer:
    require(model, Capability.LOGLIKELIHOOD, "option log-likelihood scoring")
    letters = list(question.options)
    scores = await model.loglikelihoods(
        LoglikelihoodRequest(chat(question, "logprob"), tuple(question.options.values()))
    )
    raw = {k: s.logprob for k, s in zip(letters, scores, strict=True)}
    norm = {k: s.logprob / max(s.n_chars, 1) for k, s in zip(letters, scores, strict=True)}
    # Ties break towards the earlier letter, deterministically.
    choice = max(letters, key=lambda k: (raw[k], -letters.index(k)))
    choice_norm = max(letters, key=lambda k: (norm[k], -letters.index(k)))
    probs = _softmax(raw)
    return Answer(
        choice,
        Status.OK,
        "",
        confidence=probs[choice],
        details={
            "method": "option_loglikelihood",
            "logprobs": raw,
            "acc_norm_choice": choice_norm,
            "probs": probs,
        },
    )


@strategies.register(prompts=PROMPTS, calls_per_item=CALLS_PER_ITEM, accepts=ACCEPTS)
def logprob(*, seed: int = 0, mode: str = "auto") -> Strategy:
    """Score options by probability instead of generating an answer.

    Args:
        seed: sent with API requests.
        mode: ``letter`` (first-token letter probabilities, API backends), ``option``
            (option-text log-likelihood with acc and acc_norm, local backends) or ``auto``
            (letter where the backend offers top_logprobs, else option).
    """
    if mode not in {"auto", "letter", "option"}:
        raise ValueError(f"logprob mode must be auto, letter or option, not {mode!r}")

    async def solve(question: Question, model: Model) -> Answer:
        chosen = mode
        if mode == "auto":
            if Capability.TOP_LOGPROBS in model.capabilities:
                chosen = "letter"
            elif Capability.LOGLIKELIHOOD in model.capabilities:
                chosen = "option"
            else:
                raise UnsupportedCapabilityError(
                    f"log-probability scoring needs top_logprobs or loglikelihood; model "
                    f"{model.name!r} offers neither. Use generative scoring instead."
                )
        if chosen == "letter":
            return await _letter(question, model, seed)
        return await _option(question, model)

    return solve
