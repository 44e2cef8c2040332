"""Test configuration: silent broadcasting bugs raise instead of passing."""

import jax

jax.config.update("jax_numpy_rank_promotion", "raise")
