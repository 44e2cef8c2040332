"""Where a REINFORCE update's time goes: the splits behind docs/benchmarks.md.

    python scripts/profile_update.py                 # pinned to core 0 (default)
    python scripts/profile_update.py --parts share   # only items 5-6, ≈ 1 min
    python scripts/profile_update.py --cores all
    python scripts/profile_update.py --parts compile   # A2C/PPO compile, per piece
    python scripts/profile_update.py --parts matmul    # item 7: seeds' matmul forms

``--parts compile`` times the trace, lowering and XLA compile of each piece of
A2C's and PPO's tuned CartPole-v1 train function (:mod:`jaxpg.run.compile_profile`)
and writes the ``compile_pieces`` section of docs/benchmarks.md (unless
``--no-write``).

Items 1-4 (``--parts seeds``, ≈ 7 min) split the vmapped-seeds ratio.

`scripts/benchmark.py` measures the whole REINFORCE update: ``jax.vmap(train)`` over
K seeds of 64 environments against one seed with 64·K environments, per computed
env step. This script splits that ratio:

1. the episodic rollout alone (``jaxpg.rollout.episodic_rollout``), vmapped vs wide;
2. one gradient of the policy's log-probabilities over a whole batch of that
   size, vmapped over K parameter sets vs one;
3. the whole update's ratio (K = 32) for config variants: the default, no
   baseline, gradient clipping, a longer rollout chunk, a narrower MLP;
4. the whole update's ratio compiled with plain ``jax.jit`` vs ``jaxpg.jit``.

Item 5 (``--parts share``): the episodic rollout's share of one update, from the
rollout alone vs ``trainer.run`` with the same policy and num_envs (CartPole-v1 at
1024 envs with a trained policy, Breakout-MinAtar at 64 envs untrained). Item 6:
the same MinAtar rollout with its buffers padded to different lengths.

Every number is the median wall time of several calls of a compiled function
(compile excluded, ``block_until_ready``); the cores are shared, so compare
numbers from one run. The measurements: :mod:`jaxpg.run.profile`.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cores", default="0", help="'all' or a core list, e.g. 0")
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument(
        "--parts", default="seeds,share", help="any of seeds, share, compile, matmul"
    )
    ap.add_argument("--no-write", action="store_true", help="compile: print only")
    args = ap.parse_args()
    parts = set(args.parts.split(","))
    if not parts <= {"seeds", "share", "compile", "matmul"}:
        ap.error(
            f"--parts: choose from seeds, share, compile, matmul; got {args.parts!r}"
        )
    if args.cores != "all":
        os.sched_setaffinity(0, {int(c) for c in args.cores.split(",")})
    # Imported after the pin: importing jaxpg starts XLA's CPU backend (gymnax
    # does at import), whose thread pools keep the affinity they were created with.
    from jaxpg.run import profile

    print(f"cores: {args.cores}; medians of {args.repeats} calls", flush=True)

    if "seeds" in parts:
        seeds_parts(profile, args.repeats)
    if "share" in parts:
        share_parts(profile, args.repeats)
    if "compile" in parts:
        compile_parts(args)
    if "matmul" in parts:
        print("\n7. K seeds' MLP matmuls + gradient (32 wide, 1024 rows a seed)")
        for k in (8, 32):
            r = profile.matmul_forms(k, args.repeats)
            shown = ", ".join(
                f"{n} {r['ms'][n]:.2f} ms ({r['ratio'][n]:.2f}×)" for n in r["ms"]
            )
            print(f"  K={k:2d}: {shown}", flush=True)


def compile_parts(args: argparse.Namespace) -> None:
    """A2C's and PPO's compile, piece by piece; writes the docs section."""
    from jaxpg.files import replace_section
    from jaxpg.run import compile_profile as cp
    from jaxpg.run.timing import ROOT

    load = os.getloadavg()[0]
    rows = {}
    for algo, jit in (("a2c", "jax.jit"), ("ppo", "jax.jit"), ("ppo", "jaxpg.jit")):
        pieces = cp.PIECES if jit == "jax.jit" else ("train",)
        rows[(algo, jit)] = cp.compile_pieces(algo, jit, pieces)
        if jit == "jax.jit":
            fast = cp.compile_pieces(algo, "fast_compile", ("train",))
            rows[(algo, "jaxpg.jit(fast_compile=True)")] = fast
        for name, r in rows[(algo, jit)].items():
            print(
                f"{algo} {jit} {name}: trace {r['trace_s']:.2f} lower {r['lower_s']:.2f}"
                f" compile {r['compile_s']:.2f} (CPU {r['compile_cpu_s']:.2f}) s, "
                f"{r['fusions']} fusions, {r['whiles']} while loops",
                flush=True,
            )
    when = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    note = (
        f"Machine: {platform.machine()}, {os.cpu_count()} cores shared with other "
        f"jobs; cores `{args.cores}`. Measured {when}; 1-minute load average "
        f"{load:.2f} at the start, {os.getloadavg()[0]:.2f} at the end."
    )
    command = f"python scripts/profile_update.py --parts compile --cores {args.cores}"
    if not args.no_write:
        section = cp.markdown(rows, command, note)
        replace_section(ROOT / "docs" / "benchmarks.md", cp.BEGIN, cp.END, section)


def share_parts(profile, repeats: int) -> None:
    """Items 5-6: the rollout's share of an update; MinAtar's buffer lengths.

    ``profile`` is :mod:`jaxpg.run.profile`, imported after the pin.
    """
    print("\n5. the episodic rollout's share of a REINFORCE update (jaxpg.jit)")
    for env_id, n, trained, updates in (
        ("CartPole-v1", 1024, True, 3),
        ("Breakout-MinAtar", 64, False, 50),
    ):
        r = profile.rollout_share(env_id, n, trained, updates, repeats)
        policy = "trained" if trained else "untrained"
        print(
            f"  {env_id} {n} envs, {policy}: rollout alone "
            f"{r['rollout_steps_per_s'] / 1e6:.2f} M steps/s, update "
            f"{r['update_computed_steps_per_s'] / 1e6:.2f} M computed steps/s "
            f"({r['update_s'] * 1e3:.0f} ms for {r['computed_steps'] / 1e3:.0f} k per "
            "update); "
            f"rollout share {r['share']:.0%}",
            flush=True,
        )
    print("\n6. Breakout-MinAtar rollout, 64 envs, untrained, by buffer length")
    for r in profile.rollout_by_buffer_length((1000, 500, 250), repeats):
        print(
            f"  max_steps {r['max_steps']:4d}: {r['ms_per_rollout']:.1f} ms per "
            f"rollout, {r['steps_per_s'] / 1e6:.2f} M steps/s (longest "
            f"steps_run {r['longest_steps_run']})",
            flush=True,
        )


def seeds_parts(profile, repeats: int) -> None:
    """Items 1-4: K seeds x 64 envs vs 1 seed x 64·K envs; ratio = vmapped / wide.

    ``profile`` is :mod:`jaxpg.run.profile`, imported after the pin.
    """
    print("\nK seeds x 64 envs vs 1 seed x 64·K envs; ratio = vmapped / wide")
    print("\n1-2. rollout alone and one whole-batch gradient (jaxpg.jit)")
    for k in (8, 32):
        r = profile.rollout_and_gradient(k, repeats)
        (rv, rw), (gv, gw) = r["rollout_ns_per_step"], r["gradient_ms"]
        print(
            f"  K={k:2d}: rollout {rv:.0f} vs {rw:.0f} ns/step, ratio "
            f"{r['rollout_ratio']:.2f}; gradient {gv:.1f} vs {gw:.1f} ms, ratio "
            f"{r['gradient_ratio']:.2f}",
            flush=True,
        )

    print("\n3. whole update, K = 32, config variants (jaxpg.jit)")
    for overrides in profile.VARIANTS:
        r = profile.update_ratio(32, overrides, "jaxpg.jit", repeats)
        v, w = r["us_per_step"]
        name = ", ".join(f"{k}={v}" for k, v in overrides.items()) or "defaults"
        print(
            f"  {name:24s} {v:.3f} vs {w:.3f} µs/step, ratio {r['ratio']:.2f}",
            flush=True,
        )

    print("\n4. whole update, defaults, by jit")
    for k in (8, 32):
        for jit in ("jax.jit", "jaxpg.jit"):
            r = profile.update_ratio(k, {}, jit, repeats)
            v, w = r["us_per_step"]
            print(
                f"  K={k:2d} {jit:10s} {v:.3f} vs {w:.3f} µs/step, ratio "
                f"{r['ratio']:.2f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
