"""Inference strategies, one module each, registered with `medq.registry.strategies`."""

