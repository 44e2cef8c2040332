"""The checks and merges behind ``scripts/train.py``'s flags.

The script declares its flags and reports; what its flags mean together lives
here: the ``--config`` file and the tuned preset under the flags, the run options
a ``--resume`` keeps, the device and process counts, the sweep the ``--sweep``
flags ask for. Each check raises ValueError or :class:`RunError` with the message
the script prints (exit 2), before anything is compiled.

>>> show((64, 64)), show(0.5)
('64 64', '0.5')
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Any

from jaxpg import presets
from jaxpg.memory import INT32_MAX
from jaxpg.run import config_file, flags
from jaxpg.run.folder import options_from_run, read_run_config
from jaxpg.run.options import FIXED_ON_RESUME, RunError, RunOptions, flag_name
from jaxpg.run.sweep import Sweep, parse_sweep, read_sweep

__all__ = [
    "apply_config_file",
    "blame",
    "check_config_and_resume",
    "check_counts",
    "check_resume",
    "check_resumed_algo",
    "config_error",
    "flag_error",
    "preset_defaults",
    "read_resumed",
    "saved_defaults",
    "show",
    "sweep_of",
]


def show(value: object) -> str:
    """A value as a flag takes it.

    Args:
      value: a config field's value.

    Returns:
      A tuple's items joined by spaces; anything else as ``str``.
    """
    if isinstance(value, tuple):
        return " ".join(str(v) for v in value)
    return str(value)


def flag_error(config_cls: type, message: str) -> str:
    """A config's ValueError prefixed with the flags of the fields it is about.

    Args:
      config_cls: the config dataclass.
      message: the ValueError's message.

    Returns:
      The message as :func:`jaxpg.run.flags.flag_message` names the flags.
    """
    return flags.flag_message(message, [f.name for f in dataclasses.fields(config_cls)])


def check_config_and_resume(config: Path | None, resume: Path | None) -> None:
    """Refuses ``--config`` together with ``--resume``.

    Args:
      config: the ``--config`` file, or None.
      resume: the ``--resume`` folder, or None.

    Raises:
      RunError: both were given.
    """
    if config is not None and resume is not None:
        raise RunError(
            "--config and --resume: a resumed run keeps the config and run options "
            "of RUN/config.json; give only --resume (to repeat a run in a new "
            "folder: --config RUN/config.json --out NEW)"
        )


def read_resumed(resume: Path) -> tuple[Any, RunOptions]:
    """The config and run options of the run to resume.

    Args:
      resume: the ``--resume`` folder.

    Returns:
      ``(config, options)`` from ``resume/config.json``.

    Raises:
      RunError: ``--resume: ...`` when the folder cannot be resumed.
    """
    try:
        saved_config, saved_run = read_run_config(resume)
        return saved_config, options_from_run(saved_run, resume)
    except RunError as error:
        raise RunError(f"--resume: {error}") from None


def check_resumed_algo(asked: str | None, algo: str, resume: Path) -> None:
    """Refuses an ``--algo`` other than the resumed run's.

    Args:
      asked: the ``--algo`` flag, or None.
      algo: the algorithm the run in ``resume`` was trained with.
      resume: the ``--resume`` folder.

    Raises:
      ValueError: ``asked`` is given and differs from ``algo``.
    """
    if asked is not None and asked != algo:
        raise ValueError(
            f"--algo {asked}: the run in {resume} was trained with "
            f"--algo {algo}; a resumed run keeps its algorithm"
        )


def preset_defaults(
    algo: str, env_id: str, preset: str, config_cls: type
) -> tuple[dict | None, str]:
    """The tuned preset's values (the flags' defaults) and the note printed about it.

    Args:
      algo: the algorithm's name.
      env_id: the environment the preset is looked up for.
      preset: ``"auto"`` (look it up) or ``"none"``.
      config_cls: the algorithm's config dataclass.

    Returns:
      ``(overrides, note)``: the preset's field values (None without a preset)
      and a line saying where the defaults come from.
    """
    overrides = presets.preset_overrides(algo, env_id) if preset == "auto" else None
    if overrides is not None:
        shown = ", ".join(f"{k}={show(v)}" for k, v in overrides.items())
        return overrides, (
            f"preset: tuned for {algo} on {env_id} (jaxpg.tuned_config): "
            f"{shown or 'the defaults'}; explicit flags override it"
        )
    if preset == "auto":
        return None, (
            f"preset: none for {algo} on {env_id}; using the "
            f"{config_cls.__name__} defaults (tuned for CartPole-v1)"
        )
    return None, f"preset: none (--preset none); {config_cls.__name__} defaults"


def apply_config_file(
    file: config_file.ConfigFile | None,
    args: argparse.Namespace,
    parser: argparse.ArgumentParser,
    argv: list[str],
) -> set[str]:
    """Sets the file's values on ``args`` where no flag was given explicitly.

    Adds a line about the file to ``args.preset_note``.

    Args:
      file: the ``--config`` file, or None.
      args: the parsed flags (changed in place).
      parser: the parser ``args`` came from.
      argv: the command line.

    Returns:
      The flags given explicitly (empty without a file).
    """
    if file is None:
        return set()
    given = config_file.given_flags(parser, argv)
    for name, value in {**file.config, **file.run}.items():
        if name not in given:
            setattr(args, name, value)
    note = (
        f"config file {file.path}: {len(file.config)} config fields, "
        f"{len(file.run)} run options (explicit flags win over it)"
    )
    args.preset_note = "\n".join(filter(None, [args.preset_note, note]))
    return given


def blame(
    file: config_file.ConfigFile | None, message: str, given: set[str]
) -> str | None:
    """The error about a value from the config file, naming its key.

    Args:
      file: the ``--config`` file, or None.
      message: a ValueError's message.
      given: the flags given explicitly.

    Returns:
      :func:`jaxpg.run.config_file.blame`'s message, or None (no file, or the
      value is not the file's).
    """
    return None if file is None else config_file.blame(message, file, given)


def config_error(
    message: str,
    file: config_file.ConfigFile | None,
    given: set[str],
    config_cls: type,
    preset_note: str | None,
    algo: str,
    env_id: str | None,
) -> str:
    """The message for a config the flags (file, preset) make invalid.

    Args:
      message: the config's ValueError message.
      file: the ``--config`` file, or None.
      given: the flags given explicitly.
      config_cls: the config dataclass.
      preset_note: the line :func:`preset_defaults` wrote, or None.
      algo: the algorithm's name.
      env_id: the ``--env-id`` the flags give.

    Returns:
      The message naming the file's key or the flags, and the preset when one was
      applied.
    """
    message = blame(file, message, given) or flag_error(config_cls, message)
    if preset_note is not None and preset_note.startswith("preset: tuned"):
        message += (
            f" (flags applied on top of the tuned preset for {algo} on "
            f"{env_id}; --preset none starts from the class defaults)"
        )
    return message


def check_counts(args: argparse.Namespace) -> None:
    """Checks ``--devices``, ``--num-processes`` and ``--process-id``.

    Args:
      args: the parsed flags.

    Raises:
      ValueError: naming the flag and the values allowed.
    """
    if args.devices is not None and args.devices != "all":
        try:
            count = int(args.devices)
        except ValueError:
            count = 0
        if not 1 <= count <= INT32_MAX:
            raise ValueError(
                f"--devices must be a positive integer (<= {INT32_MAX}) or 'all'; "
                f"got {args.devices!r}"
            )
    for name, low in (("num_processes", 1), ("process_id", 0)):
        value = getattr(args, name)
        if value is not None and not low <= value <= INT32_MAX:
            raise ValueError(
                f"--{name.replace('_', '-')} must be an integer >= {low} and <= "
                f"{INT32_MAX}; got {value}"
            )


def sweep_of(
    args: argparse.Namespace, config: object, options: RunOptions, out: Path | None
) -> Sweep | None:
    """The sweep the flags (or the folder of a resumed sweep) ask for.

    Args:
      args: the parsed flags (``sweep``, ``sweep_random``, ``sweep_seed``,
        ``devices``, ``distributed``).
      config: the algorithm's config.
      options: the run options.
      out: the folder of a resumed run, or None.

    Returns:
      The :class:`~jaxpg.run.sweep.Sweep`, or None for a plain run.

    Raises:
      ValueError: a sweep flag that cannot be used (named).
      RunError: ``--sweep`` flags that differ from the resumed folder's.
    """
    saved = read_sweep(out) if out is not None else None
    asked = args.sweep is not None or args.sweep_random
    if args.sweep_seed is not None and not args.sweep_random:
        raise ValueError("--sweep-seed is only used with --sweep-random N")
    if not asked and saved is None:
        return None
    if args.devices not in (None, "1") or args.distributed:
        raise ValueError(
            "--sweep trains every configuration in one process on one device; "
            "drop --devices/--distributed"
        )
    if not asked:
        return saved  # --resume RUN alone continues the sweep as it was
    sweep = parse_sweep(
        args.sweep or [],
        config,
        options.seeds,
        args.sweep_random,
        0 if args.sweep_seed is None else args.sweep_seed,
    )
    if out is not None and sweep != saved:
        raise RunError(
            f"--resume {out}: "
            + (
                "not a sweep; resume it without --sweep"
                if saved is None
                else "a resumed sweep keeps its configurations; the --sweep flags "
                f"differ from {out / 'sweep.json'} (or give none)"
            )
        )
    return sweep


def check_resume(
    args: argparse.Namespace,
    config_cls: type,
    config: Any,
    options: RunOptions,
    saved_config: Any,
    saved_options: RunOptions,
) -> None:
    """Refuses a resume whose flags change the config or a fixed run option.

    Args:
      args: the parsed flags (``resume``, ``out``).
      config_cls: the algorithm's config dataclass.
      config: the config the flags give.
      options: the run options the flags give.
      saved_config: the resumed run's config.
      saved_options: the resumed run's options.

    Raises:
      ValueError: ``--out`` names another folder, or flags differ from the run
        (each named, with both values).
    """
    if args.out is not None and args.out.absolute() != args.resume.absolute():
        raise ValueError(
            "--out and --resume name different folders; give only --resume"
        )
    changed = [
        f"--{f.name.replace('_', '-')} (the run has {show(getattr(saved_config, f.name))}, "
        f"the command line says {show(getattr(config, f.name))})"
        for f in dataclasses.fields(config_cls)
        if getattr(config, f.name) != getattr(saved_config, f.name)
    ]
    changed += [
        f"{flag_name(name)} (the run has {getattr(saved_options, name)}, "
        f"the command line says {getattr(options, name)})"
        for name in FIXED_ON_RESUME
        if getattr(options, name) != getattr(saved_options, name)
    ]
    if changed:
        raise ValueError(
            f"--resume {args.resume}: a resumed run keeps its config; these flags "
            f"differ from it: {'; '.join(changed)}. Start a new run (--out) to change "
            "them."
        )


def saved_defaults(
    config_cls: type, saved_config: Any, saved_options: RunOptions
) -> dict[str, Any]:
    """A resumed run's config fields and run options, as the flags' defaults.

    So ``--resume RUN`` alone continues the run as it was; a config flag or a
    ``FIXED_ON_RESUME`` option that disagrees is refused (:func:`check_resume`),
    the other run options (evaluation, checkpoints, display) may change.

    Args:
      config_cls: the algorithm's config dataclass.
      saved_config: the run's config.
      saved_options: the run's options.

    Returns:
      ``{flag dest: value}`` for every config field and run option.
    """
    return {
        **{
            f.name: getattr(saved_config, f.name)
            for f in dataclasses.fields(config_cls)
        },
        **dataclasses.asdict(saved_options),
    }
