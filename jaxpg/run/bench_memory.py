"""Steps/s of recurrent training next to feed-forward (``scripts/benchmark_memory.py``).

For each algorithm, :func:`memory_rows` times ``make_trainer(config).run`` with the
config's defaults except ``env_id``, ``num_envs`` and ``memory_size`` (0, then
k > 0), through :func:`jaxpg.run.bench_workers.train_rate` (compile apart, median
of repeats). Feed-forward and recurrent of one algorithm run back to back in one
process, so their ratio is measured under the same load.
"""

from __future__ import annotations

from typing import Any

from jaxpg.algorithms import registry
from jaxpg.run.bench_workers import train_rate

__all__ = ["STEPS_PER_CALL", "memory_rows", "memory_table", "updates_per_call"]

# Environment steps per timed call of a fixed-length algorithm (a few seconds of
# work on 2 CPU cores); an episodic one runs EPISODIC_UPDATES updates.
STEPS_PER_CALL = 16_000
EPISODIC_UPDATES = 5


def updates_per_call(config: Any) -> int:
    """Updates per timed call: :data:`EPISODIC_UPDATES` for an episodic algorithm,
    else about :data:`STEPS_PER_CALL` environment steps (at least one update).

    Args:
      config: a registered algorithm's config.

    Returns:
      The number of updates.
    """
    if registry.for_config(config).episodic:
        return EPISODIC_UPDATES
    return max(1, STEPS_PER_CALL // (config.num_steps * config.num_envs))


def memory_rows(
    env_id: str,
    num_envs: int,
    memory_size: int,
    repeats: int,
    algos: tuple[str, ...] | None = None,
    log: Any = print,
) -> list[dict]:
    """One row per algorithm: feed-forward and recurrent steps/s and their ratio.

    Args:
      env_id: the environment.
      num_envs: N of every config.
      memory_size: k of the recurrent run (the GRU's units).
      repeats: timed calls per measurement.
      algos: registry names (all by default).
      log: gets one line per measurement.

    Returns:
      ``[{"algo", "label", "updates", "feedforward", "recurrent", "ratio"}]``;
      ``feedforward``/``recurrent`` are :func:`train_rate`'s dicts.
    """
    rows = []
    for name in algos or registry.names():
        algorithm = registry.get(name)
        rates = {}
        for key, size in (("feedforward", 0), ("recurrent", memory_size)):
            config = algorithm.config_type(
                env_id=env_id, num_envs=num_envs, memory_size=size
            )
            updates = updates_per_call(config)
            rates[key] = train_rate(config, repeats, updates)
            log(
                f"{algorithm.label} memory_size={size}: "
                f"{rates[key]['real_steps_per_s']:,.0f} steps/s, compile "
                f"{rates[key]['compile_s']:.1f} s"
            )
        ratio = (
            rates["recurrent"]["real_steps_per_s"]
            / rates["feedforward"]["real_steps_per_s"]
        )
        rows.append(
            {"algo": name, "label": algorithm.label, "updates": updates, **rates}
            | {"ratio": ratio}
        )
    return rows


def memory_table(rows: list[dict], memory_size: int) -> str:
    """The markdown table of :func:`memory_rows`.

    Args:
      rows: the rows.
      memory_size: k of the recurrent runs (for the header).

    Returns:
      The table, ending in a newline.
    """
    lines = [
        f"| algo | feed-forward steps/s | GRU({memory_size}) steps/s | recurrent / "
        "feed-forward | compile feed-forward → recurrent |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        ff, rec = r["feedforward"], r["recurrent"]
        lines.append(
            f"| {r['label']} | {ff['real_steps_per_s']:,.0f} | "
            f"{rec['real_steps_per_s']:,.0f} | {r['ratio']:.2f} | "
            f"{ff['compile_s']:.1f} s → {rec['compile_s']:.1f} s |"
        )
    return "\n".join(lines) + "\n"
