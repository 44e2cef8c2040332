"""The host side of training (never jitted): what ``scripts/train.py`` runs.

One job per module:

* :mod:`~jaxpg.run.options`: :class:`RunOptions`, :class:`RunError`,
  :class:`RunOutcome`;
* :mod:`~jaxpg.run.folder`: the run folder's layout and reading it back
  (:func:`load_run`);
* :mod:`~jaxpg.run.logs`: its metrics.jsonl and evals.jsonl read back
  (:func:`read_metrics`) and trimmed on resume;
* :mod:`~jaxpg.run.lock`: one process at a time in a run folder;
* :mod:`~jaxpg.run.records`: what a run writes there while it trains;
* :mod:`~jaxpg.run.parts`: a run's trainer, environment and policy, checked;
* :mod:`~jaxpg.run.programs`: a run's compiled programs and their placement;
* :mod:`~jaxpg.run.cache`: the persistent compilation cache;
* :mod:`~jaxpg.run.console`: progress, messages, signals, TensorBoard;
* :mod:`~jaxpg.run.loop`: the chunk loop;
* :mod:`~jaxpg.run.training`: :func:`train_run`, a run from start to end;
* :mod:`~jaxpg.run.flags`: command-line flags from dataclasses, multi-host flags;
* :mod:`~jaxpg.run.config_file`: config and run options from a TOML file or a run
  folder's config.json (``--config``);
* :mod:`~jaxpg.run.cli_checks`: what ``scripts/train.py``'s flags mean together
  (``--config``, presets, ``--resume``, ``--sweep``), checked before anything
  compiles;
* :mod:`~jaxpg.run.keep`: which checkpoints a run keeps (``--keep``, ``--keep-best``);
* :mod:`~jaxpg.run.tracking`: Weights & Biases (``--wandb``);
* :mod:`~jaxpg.run.gym_eval`: a trained policy in gymnasium's own environments.

>>> from jaxpg.run import RunOptions
>>> RunOptions(seeds=4).chunk
10
"""

from jaxpg.compilation import compile_options, jit
from jaxpg.run.cache import CacheEvents, default_cache_dir, enable_compilation_cache
from jaxpg.run.console import algorithm_label, seconds
from jaxpg.run.folder import (
    check_out_dir,
    check_output_file,
    default_out,
    load_run,
    options_from_run,
    read_run_config,
    resume_command,
)
from jaxpg.run.logs import read_metrics
from jaxpg.run.options import FIXED_ON_RESUME, RunError, RunOptions, RunOutcome
from jaxpg.run.records import run_config_json
from jaxpg.run.training import train_run

__all__ = [
    "FIXED_ON_RESUME",
    "CacheEvents",
    "RunError",
    "RunOptions",
    "RunOutcome",
    "algorithm_label",
    "check_out_dir",
    "check_output_file",
    "compile_options",
    "default_cache_dir",
    "default_out",
    "enable_compilation_cache",
    "jit",
    "load_run",
    "options_from_run",
    "read_metrics",
    "read_run_config",
    "resume_command",
    "run_config_json",
    "seconds",
    "train_run",
]
