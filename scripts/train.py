"""Train a policy-gradient agent on a gymnax environment from the command line.

    python scripts/train.py --algo ppo --env-id CartPole-v1 --seeds 4 --eval-every 20
    python scripts/train.py --resume runs/CartPole-v1-20261125-171743
    python scripts/train.py --devices all --num-envs 1024   # envs split over devices
    python scripts/train.py --sweep learning_rate=1e-3,1e-2 --sweep gamma=0.99,1 --seeds 4
    python scripts/train.py --sweep-random 8 --sweep learning_rate=1e-4:1e-1 --seeds 2
    python scripts/train.py --config configs/ppo-cartpole.toml --seeds 2
    python scripts/train.py --config runs/OLD/config.json --out runs/again   # repeat

``--algo`` picks the algorithm (a name in :mod:`jaxpg.algorithms.registry`) and the
flags start from its tuned preset for ``--env-id`` (:func:`jaxpg.tuned_config`;
``--preset none``: the config class's defaults; flags given explicitly win); every
field of its config is a flag (``python scripts/train.py --algo ppo --help`` lists
them with their defaults), and so is every run option (``jaxpg.run.RunOptions``:
seeds, chunk, evaluation, checkpoints and how many are kept, TensorBoard, Weights &
Biases). ``--config FILE`` reads the algorithm, config fields and run options from
a TOML file or a run folder's config.json (:mod:`jaxpg.run.config_file`; flags
given explicitly win over it). The work is done by
:func:`jaxpg.run.train_run`; this file parses flags, checks them, and reports.
``--devices`` and the multi-host flags (``--distributed``, ...) run the same loop
over a :mod:`jaxpg.distributed` mesh.

Exit status: 0 finished (or stopped early at ``--stop-at-return``), 1 stopped on a
NaN/inf, 2 invalid input or a run folder another process is running in (nothing
compiled or written), 128 + signal number after SIGINT/SIGTERM (a checkpoint was
saved; the message says how to resume). ``--resume RUN`` continues with every run
option of RUN/config.json; evaluation, checkpoint and display options given again
replace them (and are saved), the config and --seed/--seeds/--chunk/--fast-compile
may not change.

``--sweep FIELD=V1,V2,...`` (repeatable) trains the grid of every combination of
the values × ``--seeds K`` seeds in one vmapped compiled call
(:func:`jaxpg.run.sweep_run.sweep_run`); only :class:`jaxpg.HParams` leaves can
be swept. ``--sweep-random N`` draws N configurations from ``--sweep
FIELD=LOW:HIGH`` ranges instead (``learning_rate`` log-uniform, other fields
uniform; ``FIELD=LOW:HIGH:log`` or ``:uniform`` to choose) with ``--sweep-seed``
(default 0, recorded in RUN/sweep.json). A finished sweep prints the
configurations ranked by final greedy return and writes RUN/sweep.jsonl and
RUN/sweep.md; ``--resume RUN`` continues a sweep like any run.
"""

from __future__ import annotations

import time

_START = time.perf_counter()

import argparse  # noqa: E402
import dataclasses  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

from jaxpg import distributed, presets  # noqa: E402
from jaxpg.algorithms import registry  # noqa: E402
from jaxpg.memory import INT32_MAX  # noqa: E402
from jaxpg.run import (  # noqa: E402
    FIXED_ON_RESUME,
    CacheEvents,
    RunError,
    RunOptions,
    config_file,
    default_cache_dir,
    default_out,
    enable_compilation_cache,
    flags,
    options_from_run,
    read_run_config,
    seconds,
    train_run,
)
from jaxpg.run.sweep import Sweep, parse_sweep, read_sweep  # noqa: E402
from jaxpg.run.sweep_run import sweep_run  # noqa: E402


def build_parser(algo: str) -> argparse.ArgumentParser:
    algorithm = registry.get(algo)
    config_cls = algorithm.config_type
    parser = argparse.ArgumentParser(
        prog="train.py",
        description=f"Train {algorithm.label} "
        f"(jaxpg.{config_cls.__name__}) on a gymnax environment.",
    )
    parser.add_argument(
        "--algo",
        choices=list(registry.names()),
        default=algo,
        help="the algorithm; its config's fields are the flags below "
        "(default: reinforce)",
    )
    parser.add_argument(
        "--preset",
        choices=("auto", "none"),
        default="auto",
        help="auto: start from jaxpg's tuned preset for --algo on --env-id when one "
        "exists (jaxpg.tuned_config; flags given explicitly still win); none: the "
        "config class's defaults (tuned for CartPole-v1). Ignored with --resume "
        "(default: auto)",
    )
    parser.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        default=None,
        help="read the algorithm, config fields and run options from a TOML file "
        "(algo = ..., [config] and [run] tables; README 'Config files') or from a "
        "run folder's config.json to repeat that run; flags given explicitly win "
        "over the file, the file over the preset",
    )
    parser.add_argument(
        "--resume",
        type=Path,
        metavar="RUN_DIR",
        default=None,
        help="continue the run in RUN_DIR from its checkpoint with the config and "
        "run options of RUN_DIR/config.json; the config and --seed/--seeds/--chunk/"
        "--fast-compile may not change, the other run options (--eval-every, --eval-episodes, "
        "--stop-at-return, --checkpoint-every, --keep, --keep-best, --tensorboard, "
        "--wandb, --progress) may, and "
        "are kept for the next --resume",
    )
    group = parser.add_argument_group(f"{config_cls.__name__} (the algorithm)")
    flags.add_dataclass_flags(group, config_cls)
    group = parser.add_argument_group("run options (jaxpg.run.RunOptions)")
    flags.add_dataclass_flags(group, RunOptions)
    group.add_argument(
        "--out",
        type=Path,
        default=None,
        help="run folder (default: runs/<env-id>-<timestamp>); must be new or empty",
    )
    group.add_argument(
        "--no-cache",
        action="store_true",
        help="do not use JAX's persistent compilation cache ($JAXPG_CACHE_DIR, "
        "default ~/.cache/jaxpg/jax)",
    )
    add_sweep_flags(parser)
    group = parser.add_argument_group(
        "devices and hosts (jaxpg.distributed; docs/scaling.md)"
    )
    group.add_argument(
        "--devices",
        default=None,
        metavar="N|all",
        help="split the environments over the first N devices (or all of every "
        "process); --num-envs must be divisible by the device count. Default 1 "
        "(the single-device program), all with --distributed. Results match one "
        "device up to float reassociation, so resume with the same --devices for "
        "bit-identical runs",
    )
    flags.add_multihost_flags(
        group,
        "join a multi-process run (jaxpg.distributed.initialize): the same "
        "command on every host; unset flags below come from $JAX_COORDINATOR_ADDRESS"
        " / $JAX_NUM_PROCESSES / $JAX_PROCESS_ID or a cluster JAX detects. Only "
        "process 0 prints and writes --out (a shared filesystem); every process "
        "saves the checkpoint",
    )
    return parser


def add_sweep_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "sweeps (jaxpg.run.sweep): every configuration x --seeds in one vmapped call"
    )
    group.add_argument(
        "--sweep",
        action="append",
        default=None,
        metavar="FIELD=V1,V2,...",
        help="train every combination of these values of HParams fields (e.g. "
        "learning_rate=1e-3,1e-2); repeat for more fields. With --sweep-random: "
        "FIELD=LOW:HIGH[:log|:uniform]",
    )
    group.add_argument(
        "--sweep-random",
        type=int,
        default=0,
        metavar="N",
        help="draw N configurations from the --sweep ranges (learning_rate "
        "log-uniform, other fields uniform) instead of the grid",
    )
    group.add_argument(
        "--sweep-seed",
        type=int,
        default=None,
        metavar="S",
        help="seed of the --sweep-random draws (default 0; kept in RUN/sweep.json)",
    )


def sweep_of(
    args: argparse.Namespace, config: object, options: RunOptions, out: Path | None
) -> Sweep | None:
    """The sweep the flags (or the folder of a resumed sweep, ``out``) ask for;
    None: a plain run.

    Raises ValueError or RunError (exit 2) naming the flag, before anything is
    compiled.
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


def _flag_error(config_cls: type, message: str) -> str:
    """Prefixes a config's ValueError with the flags of the fields it is about."""
    return flags.flag_message(message, [f.name for f in dataclasses.fields(config_cls)])


def _show(value: object) -> str:
    if isinstance(value, tuple):
        return " ".join(str(v) for v in value)
    return str(value)


def _read_config_file(known: argparse.Namespace) -> config_file.ConfigFile | None:
    """The --config file (None without one); exits 2 when it cannot be used."""
    if known.config is None:
        return None
    parser = build_parser(known.algo or "reinforce")
    if known.resume is not None:
        parser.error(
            "--config and --resume: a resumed run keeps the config and run options "
            "of RUN/config.json; give only --resume (to repeat a run in a new "
            "folder: --config RUN/config.json --out NEW)"
        )
    try:
        return config_file.read_config_file(known.config)
    except RunError as error:
        parser.error(str(error))


def _apply_config_file(
    file: config_file.ConfigFile | None,
    args: argparse.Namespace,
    algo: str,
    argv: list[str],
) -> set[str]:
    """Sets the file's values on ``args`` where no flag was given explicitly.

    Returns the flags given explicitly (empty without a file)."""
    if file is None:
        return set()
    given = config_file.given_flags(build_parser(algo), argv)
    for name, value in {**file.config, **file.run}.items():
        if name not in given:
            setattr(args, name, value)
    note = (
        f"config file {file.path}: {len(file.config)} config fields, "
        f"{len(file.run)} run options (explicit flags win over it)"
    )
    args.preset_note = "\n".join(filter(None, [args.preset_note, note]))
    return given


def _blame(file: config_file.ConfigFile | None, message: str, given: set[str]):
    """The error about a value from the config file, naming its key (or None)."""
    return None if file is None else config_file.blame(message, file, given)


def parse(
    argv: list[str],
) -> tuple[object, RunOptions, Path, bool, bool, argparse.Namespace]:
    """(config, options, run folder, resume?, no_cache?, args); exits 2 on bad input."""
    pre = argparse.ArgumentParser(prog="train.py", add_help=False)
    pre.add_argument("--algo", choices=list(registry.names()), default=None)
    pre.add_argument("--resume", type=Path, default=None)
    pre.add_argument("--env-id", dest="env_id", default=None)
    pre.add_argument("--preset", default=None)
    pre.add_argument("--config", type=Path, default=None)
    known, _ = pre.parse_known_args(argv)
    saved_config = saved_options = None
    file = _read_config_file(known)
    algo = known.algo or (file and file.algo) or "reinforce"
    preset = known.preset or (file and file.preset) or "auto"
    if known.resume is not None:
        try:
            saved_config, saved_run = read_run_config(known.resume)
            saved_options = options_from_run(saved_run, known.resume)
        except RunError as error:
            build_parser(algo).error(f"--resume: {error}")
        algo = registry.for_config(saved_config).name
        if known.algo is not None and known.algo != algo:
            build_parser(algo).error(
                f"--algo {known.algo}: the run in {known.resume} was trained with "
                f"--algo {algo}; a resumed run keeps its algorithm"
            )
    parser = build_parser(algo)
    config_cls = registry.get(algo).config_type
    if file is not None:
        try:
            file = config_file.check_keys(file, config_cls)
        except RunError as error:
            parser.error(str(error))
    if saved_config is not None:
        # The run's own values (config and every run option) become the defaults,
        # so `--resume RUN` alone continues it as it was; a config flag or a
        # FIXED_ON_RESUME option that disagrees is reported below, the other run
        # options (evaluation, checkpoints, display) may change and are saved.
        parser.set_defaults(
            **{
                f.name: getattr(saved_config, f.name)
                for f in dataclasses.fields(config_cls)
            },
            **dataclasses.asdict(saved_options),
        )
    preset_note = None
    if saved_config is None:
        env_id = (
            known.env_id or (file and file.config.get("env_id")) or config_cls().env_id
        )
        overrides = presets.preset_overrides(algo, env_id) if preset == "auto" else None
        if overrides is not None:
            # The preset's values become the defaults: a flag given explicitly wins.
            parser.set_defaults(**overrides)
            shown = ", ".join(f"{k}={_show(v)}" for k, v in overrides.items())
            preset_note = (
                f"preset: tuned for {algo} on {env_id} (jaxpg.tuned_config): "
                f"{shown or 'the defaults'}; explicit flags override it"
            )
        elif preset == "auto":
            preset_note = (
                f"preset: none for {algo} on {env_id}; using the "
                f"{config_cls.__name__} defaults (tuned for CartPole-v1)"
            )
        else:
            preset_note = (
                f"preset: none (--preset none); {config_cls.__name__} defaults"
            )
    args = parser.parse_args(argv)
    args.preset_note = preset_note
    given = _apply_config_file(file, args, algo, argv)
    try:
        config = flags.dataclass_from_flags(config_cls, args)
    except ValueError as error:
        message = _blame(file, str(error), given) or _flag_error(config_cls, str(error))
        if preset_note is not None and preset_note.startswith("preset: tuned"):
            message += (
                f" (flags applied on top of the tuned preset for {algo} on "
                f"{args.env_id}; --preset none starts from the class defaults)"
            )
        parser.error(message)
    try:
        options = flags.dataclass_from_flags(RunOptions, args)
    except ValueError as error:
        parser.error(_blame(file, str(error), given) or str(error))
    if config.env_id is None:
        parser.error("--env-id is required (a gymnax id such as CartPole-v1)")
    if args.devices is not None and args.devices != "all":
        try:
            count = int(args.devices)
        except ValueError:
            count = 0
        if not 1 <= count <= INT32_MAX:
            parser.error(
                f"--devices must be a positive integer (<= {INT32_MAX}) or 'all'; "
                f"got {args.devices!r}"
            )
    for name, low in (("num_processes", 1), ("process_id", 0)):
        value = getattr(args, name)
        if value is not None and not low <= value <= INT32_MAX:
            parser.error(
                f"--{name.replace('_', '-')} must be an integer >= {low} and <= "
                f"{INT32_MAX}; got {value}"
            )
    try:
        args.sweep_spec = sweep_of(args, config, options, args.resume)
    except (ValueError, RunError) as error:
        parser.error(str(error))
    if args.resume is None:
        return (
            config,
            options,
            args.out or default_out(config.env_id),
            False,
            args.no_cache,
            args,
        )

    if args.out is not None and args.out.absolute() != args.resume.absolute():
        parser.error("--out and --resume name different folders; give only --resume")
    changed = [
        f"--{f.name.replace('_', '-')} (the run has {_show(getattr(saved_config, f.name))}, "
        f"the command line says {_show(getattr(config, f.name))})"
        for f in dataclasses.fields(config_cls)
        if getattr(config, f.name) != getattr(saved_config, f.name)
    ]
    changed += [
        f"--{name} (the run has {getattr(saved_options, name)}, the command line "
        f"says {getattr(options, name)})"
        for name in FIXED_ON_RESUME
        if getattr(options, name) != getattr(saved_options, name)
    ]
    if changed:
        parser.error(
            f"--resume {args.resume}: a resumed run keeps its config; these flags "
            f"differ from it: {'; '.join(changed)}. Start a new run (--out) to change "
            "them."
        )
    return config, options, args.resume, True, args.no_cache, args


def _mesh(args: argparse.Namespace, config: object, multi: bool):
    """The mesh to split the environments over, or None for one device.

    Raises RunError (exit 2, before anything is compiled) for a device count the
    runtime does not have or one that does not divide --num-envs.
    """
    devices = args.devices or ("all" if multi else "1")
    if devices == "1" and not multi:
        return None  # the single-device program, exactly as without the flag
    try:
        mesh = distributed.make_mesh(None if devices == "all" else int(devices))
    except ValueError as error:
        raise RunError(f"--devices {devices}: {error}") from None
    try:
        distributed.check_divisible(config.num_envs, mesh.size)
    except ValueError as error:
        raise RunError(f"--num-envs: {error}") from None
    return None if mesh.size == 1 and not multi else mesh


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    config, options, out, resume, no_cache, args = parse(argv)
    sweep = args.sweep_spec
    try:
        multi = flags.join_multihost_run(args)  # before any other JAX call
    except ValueError as error:
        names = ("coordinator_address", "num_processes", "process_id")
        print(
            f"train.py: error: {flags.flag_message(str(error), names)}", file=sys.stderr
        )
        return 2
    primary = distributed.is_primary()
    if primary and args.preset_note:
        print(args.preset_note, flush=True)

    # JAX decides once per process, at the first compilation, whether the
    # persistent cache is used: configure it before anything is compiled.
    cache_dir = None if no_cache else default_cache_dir()
    enable_compilation_cache(cache_dir)
    events = CacheEvents()

    def cache_note() -> str:
        hits, misses = events.snapshot()
        if cache_dir is None:
            return "persistent cache off"
        if misses == 0 and hits > 0:
            return f"persistent cache warm: {hits} programs loaded from {cache_dir}"
        if hits == 0:
            return f"persistent cache cold: {misses} programs compiled and saved to {cache_dir}"
        return f"persistent cache partly warm: {hits} loaded, {misses} compiled ({cache_dir})"

    try:
        mesh = _mesh(args, config, multi)
        try:
            distributed.check_same_across_processes(
                (config, options, str(out), resume), "the flags"
            )
        except ValueError as error:
            raise RunError(str(error)) from None
        if sweep is not None:
            outcome = sweep_run(
                config, options, sweep, out, resume=resume, cache_note=cache_note
            )
        else:
            outcome = train_run(
                config, options, out, resume=resume, cache_note=cache_note, mesh=mesh
            )
    except RunError as error:
        print(f"train.py: error: {error}", file=sys.stderr)
        return 2
    if not primary:
        return outcome.exit_code
    if outcome.status in ("finished", "solved"):
        extra = "sweep.json, sweep.jsonl, sweep.md, " if sweep is not None else ""
        kept = ", checkpoints/" if options.keep > 1 or options.keep_best else ""
        print(
            f"saved config.json, {extra}metrics.jsonl, summary.json, "
            f"checkpoint/{kept} in {out}"
        )
    print(
        f"wall time {seconds(time.perf_counter() - _START)}",
        flush=True,
    )
    return outcome.exit_code


if __name__ == "__main__":
    sys.exit(main())
