"""Benchmarks, one module each; every module registers its tasks with `medq.registry.tasks`."""

BUILTIN_MODULES: tuple[str, ...] = ()
