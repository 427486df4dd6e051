"""jaxdl: activations, optimizers, schedules and vmapped sweeps as pure JAX functions."""

__version__ = "0.1.0"
