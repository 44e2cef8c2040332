"""train_run compiles exactly the programs it names, and they compute what the
host-side keys of before computed (keys made inside the programs)."""

from __future__ import annotations

import json

import gymnax  # noqa: F401 (imported before counting: it compiles one op at import)
import jax
import jax.monitoring
import numpy as np
import pytest
from trees import assert_bit_identical

import jaxpg
from jaxpg import run
from jaxpg.evaluate import episode_returns

pytestmark = pytest.mark.timeout(240)

# A config no other test uses, so the process-wide program cache is cold for it.
CONFIG = jaxpg.ReinforceConfig(
    env_id="CartPole-v1", num_envs=3, num_updates=5, hidden_sizes=(6,)
)


class _Compiles:
    """Counts XLA backend compilations while registered."""

    def __init__(self) -> None:
        self.count = 0
        self.on = False
        jax.monitoring.register_event_duration_secs_listener(self._event)

    def _event(self, event: str, duration: float, **kwargs) -> None:
        if self.on and event == "/jax/core/compile/backend_compile_duration":
            self.count += 1


def test_run_compiles_only_the_programs_it_names(tmp_path):
    options = run.RunOptions(
        seed=7, chunk=2, eval_every=2, eval_episodes=4, progress="lines"
    )
    lines: list[str] = []
    compiles = _Compiles()
    compiles.on = True
    outcome = run.train_run(CONFIG, options, tmp_path / "run", log=lines.append)
    compiles.on = False
    assert outcome.status == "finished"
    named = next(line for line in lines if line.startswith("programs: "))
    parts = named.removeprefix("programs: ").split("; ")
    # init, the last 1-update chunk, the 2-update chunk, the evaluation
    assert [p.split(":")[0] for p in parts] == ["init", "run x1", "run x2", "evaluate"]
    assert compiles.count == len(parts)
    assert any("compiled in" in line and "(4 programs)" in line for line in lines)

    # The programs' keys are the ones made on the host from the seed.
    trainer = jaxpg.make_trainer(CONFIG)
    key_init, key_eval = jax.random.split(jax.random.key(options.seed))
    state = trainer.init(key_init)
    state, _ = jax.jit(trainer.run, static_argnums=1)(state, 2)
    state, _ = jax.jit(trainer.run, static_argnums=1)(state, 2)
    state, _ = jax.jit(trainer.run, static_argnums=1)(state, 1)
    assert_bit_identical(state.params, outcome.state.params)
    env, env_params = jaxpg.make_env(CONFIG.env_id)
    policy = jaxpg.make_policy(CONFIG, env, env_params)
    expected = episode_returns(
        jax.random.fold_in(key_eval, 5),
        policy,
        state.params["policy"],
        env,
        env_params,
        options.eval_episodes,
    )
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    expected = np.asarray(jax.device_get(expected))
    assert summary["eval"]["mean_return"] == float(expected.mean())
    assert summary["eval"]["min_return"] == float(expected.min())
