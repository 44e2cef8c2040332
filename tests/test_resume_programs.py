"""A resumed run compiles the programs a fresh one did, so the persistent
compilation cache's copies serve it (a state read back from a checkpoint has lost
its weak types, which used to make a different chunk program)."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# In a subprocess: JAX turns the persistent cache on once per process.
CHILD = textwrap.dedent(
    """
    import sys
    from pathlib import Path

    import jax

    import jaxpg
    from jaxpg.run import CacheEvents, RunOptions, enable_compilation_cache
    from jaxpg.run import load_run, train_run
    from jaxpg.run.parts import Parts, build_parts
    from jaxpg.run.programs import compile_programs, evaluator, placement
    from jaxpg.run.programs import state_template

    tmp = Path(sys.argv[1])
    enable_compilation_cache(str(tmp / "cache"))
    events = CacheEvents()
    config = jaxpg.A2CConfig(
        env_id="CartPole-v1", num_envs=2, num_steps=4, num_updates=2, hidden_sizes=(8,)
    )
    options = RunOptions(chunk=1, eval_episodes=2, progress="lines")
    train_run(config, options, tmp / "run", log=lambda *_: None)
    state = load_run(tmp / "run")[0]
    parts = build_parts(config, options, Parts(None, None, None, None), None)
    template = state_template(parts.trainer, options)
    weak_fresh = any(t.weak_type for t in jax.tree.leaves(template))
    weak_read = any(jax.typeof(x).weak_type for x in jax.tree.leaves(state))
    evaluate = evaluator(parts.policy, parts.env, parts.env_params, 2, 1)
    where = placement(parts.trainer, None, config, options.seed)
    before = events.snapshot()
    compile_programs(parts.trainer, evaluate, options, [1], state, where, None, 2)
    hits, misses = (a - b for a, b in zip(events.snapshot(), before, strict=True))
    print("RESULT", weak_fresh, weak_read, hits, misses)
    """
)


@pytest.mark.timeout(300)
def test_a_resumed_run_loads_its_programs_from_the_persistent_cache(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(tmp_path)],
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        capture_output=True,
        text=True,
        timeout=280,
    )
    assert proc.returncode == 0, proc.stderr
    result = proc.stdout.split("RESULT ", 1)[1].split()
    # The case: the fresh state has a weak-typed leaf (gymnax's step counter),
    # the state read back does not.
    assert result[:2] == ["True", "False"]
    # The chunk and the evaluation program: both loaded, nothing compiled.
    assert (int(result[2]), int(result[3])) == (2, 0)
