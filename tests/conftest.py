"""Shared test setup: float32 everywhere, as users run it."""

import os

# Tests run on CPU; several tests ask for more host devices themselves.
os.environ.setdefault("JAX_PLATFORMS", "cpu")
