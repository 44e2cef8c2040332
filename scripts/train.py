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
import functools  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

from jaxpg import distributed  # noqa: E402
from jaxpg.algorithms import registry  # noqa: E402
from jaxpg.run import (  # noqa: E402
    CacheEvents,
    RunError,
    RunOptions,
    cache,
    cli_checks,
    config_file,
    default_cache_dir,
    default_out,
    enable_compilation_cache,
    flags,
    seconds,
    train_run,
)
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
    _add_run_option_flags(parser)
    flags.add_sweep_flags(parser)
    flags.add_device_flags(parser)
    return parser


def _add_run_option_flags(parser: argparse.ArgumentParser) -> None:
    """Every RunOptions field as a flag, and --out and --no-cache."""
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


def _pre_parse(argv: list[str]) -> argparse.Namespace:
    """The flags that choose the parser: --algo, --resume, --env-id, --preset, --config."""
    pre = argparse.ArgumentParser(prog="train.py", add_help=False)
    pre.add_argument("--algo", choices=list(registry.names()), default=None)
    pre.add_argument("--resume", type=Path, default=None)
    pre.add_argument("--env-id", dest="env_id", default=None)
    pre.add_argument("--preset", default=None)
    pre.add_argument("--config", type=Path, default=None)
    return pre.parse_known_args(argv)[0]


def _read_config_file(known: argparse.Namespace) -> config_file.ConfigFile | None:
    """The --config file (None without one); exits 2 when it cannot be used."""
    if known.config is None:
        return None
    parser = build_parser(known.algo or "reinforce")
    try:
        cli_checks.check_config_and_resume(known.config, known.resume)
        return config_file.read_config_file(known.config)
    except RunError as error:
        parser.error(str(error))


def _resumed(known: argparse.Namespace, algo: str) -> tuple[str, object, RunOptions]:
    """(algo, config, options) of the run --resume names; exits 2 when it cannot."""
    try:
        saved_config, saved_options = cli_checks.read_resumed(known.resume)
    except RunError as error:
        build_parser(algo).error(str(error))
    algo = registry.for_config(saved_config).name
    try:
        cli_checks.check_resumed_algo(known.algo, algo, known.resume)
    except ValueError as error:
        build_parser(algo).error(str(error))
    return algo, saved_config, saved_options


def _config_and_options(
    parser: argparse.ArgumentParser,
    args: argparse.Namespace,
    algo: str,
    file: config_file.ConfigFile | None,
    given: set[str],
) -> tuple[object, RunOptions]:
    """The config and run options of the parsed flags; exits 2 when invalid."""
    config_cls = registry.get(algo).config_type
    try:
        config = flags.dataclass_from_flags(config_cls, args)
    except ValueError as error:
        parser.error(
            cli_checks.config_error(
                str(error), file, given, config_cls, args.preset_note, algo, args.env_id
            )
        )
    try:
        options = flags.dataclass_from_flags(RunOptions, args)
    except ValueError as error:
        parser.error(cli_checks.blame(file, str(error), given) or str(error))
    if config.env_id is None:
        parser.error("--env-id is required (a gymnax id such as CartPole-v1)")
    try:
        cli_checks.check_counts(args)
        args.sweep_spec = cli_checks.sweep_of(args, config, options, args.resume)
    except (ValueError, RunError) as error:
        parser.error(str(error))
    return config, options


def parse(
    argv: list[str],
) -> tuple[object, RunOptions, Path, bool, bool, argparse.Namespace]:
    """(config, options, run folder, resume?, no_cache?, args); exits 2 on bad input."""
    known = _pre_parse(argv)
    file = _read_config_file(known)
    algo = known.algo or (file and file.algo) or "reinforce"
    preset = known.preset or (file and file.preset) or "auto"
    saved = None
    if known.resume is not None:
        algo, *saved = _resumed(known, algo)
    parser = build_parser(algo)
    config_cls = registry.get(algo).config_type
    if file is not None:
        try:
            file = config_file.check_keys(file, config_cls)
        except RunError as error:
            parser.error(str(error))
    preset_note = None
    if saved is not None:
        parser.set_defaults(**cli_checks.saved_defaults(config_cls, *saved))
    else:
        env_id = (
            known.env_id or (file and file.config.get("env_id")) or config_cls().env_id
        )
        overrides, preset_note = cli_checks.preset_defaults(
            algo, env_id, preset, config_cls
        )
        if overrides is not None:
            # The preset's values become the defaults: a flag given explicitly wins.
            parser.set_defaults(**overrides)
    args = parser.parse_args(argv)
    args.preset_note = preset_note
    given = cli_checks.apply_config_file(file, args, build_parser(algo), argv)
    config, options = _config_and_options(parser, args, algo, file, given)
    if args.resume is None:
        out = args.out or default_out(config.env_id)
        return config, options, out, False, args.no_cache, args
    try:
        cli_checks.check_resume(args, config_cls, config, options, *saved)
    except ValueError as error:
        parser.error(str(error))
    return config, options, args.resume, True, args.no_cache, args


def _report(outcome, options: RunOptions, out: Path, sweep: object) -> None:
    """Prints what the run saved and the whole process's wall time."""
    if outcome.status in ("finished", "solved"):
        extra = "sweep.json, sweep.jsonl, sweep.md, " if sweep is not None else ""
        kept = ", checkpoints/" if options.keep > 1 or options.keep_best else ""
        print(
            f"saved config.json, {extra}metrics.jsonl, summary.json, "
            f"checkpoint/{kept} in {out}"
        )
    print(f"wall time {seconds(time.perf_counter() - _START)}", flush=True)


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
    cache_note = functools.partial(cache.cache_note, CacheEvents(), cache_dir)
    try:
        mesh = flags.mesh_from_flags(args.devices, config.num_envs, multi)
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
    if primary:
        _report(outcome, options, out, sweep)
    return outcome.exit_code


if __name__ == "__main__":
    sys.exit(main())
