"""Inference strategies, one module each, registered with `medq.registry.strategies`."""

BUILTIN_MODULES: tuple[str, ...] = ("direct", "cot", "logprob")
