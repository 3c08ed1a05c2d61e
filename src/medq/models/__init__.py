"""Model backends; every module registers a backend prefix with `medq.registry.models`."""

BUILTIN_MODULES: tuple[str, ...] = ()
