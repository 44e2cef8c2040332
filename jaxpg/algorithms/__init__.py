"""Algorithms: one module each (config, loss, ``make_update``) and one registry.

:mod:`jaxpg.algorithms.registry` is the only list of algorithms; the trainer, CLI,
presets, checkpoints and scripts read it.
"""
