"""Helpers the tests share (``from harness import ...``): the scripts as modules,
a hook that interrupts a run as Ctrl-C would, a numpy reference log-softmax."""

import os
import signal
import sys
from pathlib import Path

import numpy as np

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"


def load_script(name: str):
    """``scripts/<name>.py`` imported as the module ``name`` (cached as ``import``
    caches it)."""
    sys.path.insert(0, str(SCRIPTS))
    try:
        return __import__(name)
    finally:
        sys.path.pop(0)


def interrupt_at(update: int):
    """An ``on_chunk`` hook that sends this process SIGINT after ``update`` updates."""

    def hook(done: int) -> None:
        if done == update:
            os.kill(os.getpid(), signal.SIGINT)

    return hook


def np_log_softmax(x):
    """log softmax over the last axis in float64 numpy (a reference to compare with)."""
    x = np.asarray(x, np.float64)
    m = x.max(-1, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(-1, keepdims=True))
