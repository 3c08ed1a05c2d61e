"""Model backends; every module registers a backend prefix with `medq.registry.models`.

A model spec is ``<backend>/<model>``: ``openai/gpt-4o-mini``, ``hf/Qwen/Qwen2.5-0.5B``,
``replay/mirage_gpt-4-32k_cot``.
"""

from __future__ import annotations

import inspect
from typing import Any

#: Backend prefixes whose module has another name (`medq.registry.Registry.module_of`).
MODULES = {"hf": "hf_local", "openai": "openai_compat", "openai-batch": "openai_batch"}


def load_model(spec: str, **options: Any) -> Any:
    """Build the backend for `spec`; options the backend does not take are dropped if None.

    Raises:
        ValueError: the spec has no backend prefix, or an option the backend cannot use.
    """
    from medq import registry

    backend, sep, name = spec.partition("/")
    if not sep or not name:
        raise ValueError(
            f"model {spec!r} needs a backend prefix, e.g. openai/{spec} or hf/{spec} "
            f"(backends: {', '.join(registry.models.names())})"
        )
    factory = registry.models.get(backend)
    accepted = inspect.signature(factory).parameters
    kwargs = {}
    for key, value in options.items():
        if key in accepted:
            kwargs[key] = value
        elif value is not None:
            raise ValueError(f"backend {backend!r} does not take option {key!r}")
    return factory(name, **kwargs)
