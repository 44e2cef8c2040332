"""``a2c.loss`` and ``ppo.loss`` against numbers computed by hand (numpy, float64).

A table policy (logits per state, one-hot observations) and a table critic make
every term checkable: the 1/(T·N) scale, the advantage normalisation (A2C: over
the batch; PPO: per minibatch, through ``make_optimize``), PPO's clipped surrogate
and clipped value loss, and the sign of the entropy bonus (a bonus *lowers* the
loss; flipping it must fail here).
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxpg
from jaxpg.algorithms import a2c, actor_critic, ppo

pytestmark = pytest.mark.timeout(120)

S, A = 3, 2  # states, actions
T, N = 2, 4  # the batch [T, N]
VALUE_COEF, ENTROPY_COEF, CLIP_EPS = 0.7, 0.3, 0.2


def _tables():
    rng = np.random.default_rng(0)
    return {
        "logits": rng.normal(size=(S, A)).astype(np.float32),
        "v": rng.normal(size=S).astype(np.float32),
    }


POLICY = jaxpg.Policy(lambda k, o: None, lambda p, obs: obs @ p["logits"])
VALUE = jaxpg.Policy(lambda k, o: None, lambda p, obs: obs @ p["v"])


def _params(tables):
    return {
        "policy": {"logits": jnp.asarray(tables["logits"])},
        "value": {"v": jnp.asarray(tables["v"])},
    }


def _batch(tables, shape=(T, N)):
    """A batch whose old log-probs and values are off the current ones, so that
    PPO's ratio and value clips bind for some samples (and not for others)."""
    rng = np.random.default_rng(1)
    states = rng.integers(0, S, size=shape)
    actions = rng.integers(0, A, size=shape)
    logp = _log_softmax(tables["logits"][states])
    logp_now = np.take_along_axis(logp, actions[..., None], -1)[..., 0]
    return {
        "states": states,
        "obs": np.eye(S, dtype=np.float32)[states],
        "action": actions,
        "log_prob": (logp_now + rng.normal(scale=0.4, size=shape)).astype(np.float32),
        "value": (tables["v"][states] + rng.normal(scale=0.5, size=shape)).astype(
            np.float32
        ),
        "advantage": (rng.normal(size=shape) + 0.8).astype(np.float32),
        "target": rng.normal(size=shape).astype(np.float32),
    }


def _as_batch(b):
    return actor_critic.Batch(
        *(
            jnp.asarray(b[k])
            for k in ("obs", "action", "log_prob", "value", "advantage", "target")
        )
    )


def _log_softmax(x):
    x = np.asarray(x, np.float64)
    z = x - x.max(-1, keepdims=True)
    return z - np.log(np.exp(z).sum(-1, keepdims=True))


def _hp(config):
    return jaxpg.hparams(config)._replace(
        value_coef=jnp.float32(VALUE_COEF),
        entropy_coef=jnp.float32(ENTROPY_COEF),
        clip_eps=jnp.float32(CLIP_EPS),
    )


def _normalized(x):
    x = np.asarray(x, np.float64)
    return (x - x.mean()) / (x.std() + 1e-8)


def _by_hand(tables, b, kind, normalize, clip_value=False):
    """(total, parts, d total / d logits) of one batch or minibatch, float64."""
    logp_all = _log_softmax(tables["logits"][b["states"]])
    p = np.exp(logp_all)
    logp = np.take_along_axis(logp_all, b["action"][..., None], -1)[..., 0]
    adv = _normalized(b["advantage"]) if normalize else b["advantage"].astype(float)
    count = adv.size
    v = tables["v"].astype(np.float64)[b["states"]]
    target = b["target"].astype(np.float64)
    onehot = np.eye(A)[b["action"]]
    if kind == "a2c":
        policy_loss = -(logp * adv).sum() / count  # −Σ log π · A / (T·N)
        d_logp = -adv / count
    else:
        ratio = np.exp(logp - b["log_prob"])
        clipped = np.clip(ratio, 1 - CLIP_EPS, 1 + CLIP_EPS)
        policy_loss = -np.minimum(ratio * adv, clipped * adv).mean()
        # min picks the unclipped term where ρA <= clip(ρ)A: only there a gradient.
        active = ratio * adv <= clipped * adv
        d_logp = -np.where(active, ratio * adv, 0.0) / count
    if clip_value:
        v_old = b["value"].astype(np.float64)
        v_clip = v_old + np.clip(v - v_old, -CLIP_EPS, CLIP_EPS)
        value_loss = 0.5 * np.maximum((v - target) ** 2, (v_clip - target) ** 2).mean()
    else:
        value_loss = 0.5 * ((v - target) ** 2).sum() / count
    h = -(p * logp_all).sum(-1)
    entropy = h.mean()
    total = policy_loss + VALUE_COEF * value_loss - ENTROPY_COEF * entropy
    # d/dz log π(a) = onehot(a) − π ; d/dz H = −π (log π + H).
    d_logits = d_logp[..., None] * (onehot - p)
    d_logits -= ENTROPY_COEF * (-p * (logp_all + h[..., None])) / count
    grad = np.zeros((S, A))
    np.add.at(grad, b["states"].reshape(-1), d_logits.reshape(-1, A))
    parts = {"policy_loss": policy_loss, "value_loss": value_loss, "entropy": entropy}
    return total, parts, grad


def _check(got_total, got_parts, got_grad, want):
    total, parts, grad = want
    for k, v in parts.items():
        assert float(got_parts[k]) == pytest.approx(v, rel=1e-5, abs=1e-6), k
    assert float(got_total) == pytest.approx(total, rel=1e-5, abs=1e-6)
    np.testing.assert_allclose(got_grad, grad, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("normalize", [False, True])
def test_a2c_loss_by_hand(normalize):
    tables = _tables()
    b = _batch(tables)
    hp = _hp(jaxpg.A2CConfig())

    def f(params):
        return a2c.loss(params, _as_batch(b), POLICY, VALUE, hp, normalize)

    (total, parts), grads = jax.value_and_grad(f, has_aux=True)(_params(tables))
    _check(
        total, parts, grads["policy"]["logits"], _by_hand(tables, b, "a2c", normalize)
    )


@pytest.mark.parametrize("clip_value", [False, True])
def test_ppo_loss_by_hand(clip_value):
    tables = _tables()
    b = {k: v.reshape(-1, *v.shape[2:]) for k, v in _batch(tables).items()}
    hp = _hp(jaxpg.PPOConfig())

    def f(params):
        return ppo.loss(params, _as_batch(b), POLICY, VALUE, hp, True, clip_value)

    (total, parts), grads = jax.value_and_grad(f, has_aux=True)(_params(tables))
    want = _by_hand(tables, b, "ppo", True, clip_value)
    _check(total, parts, grads["policy"]["logits"], want)
    # The clips bind somewhere (and not everywhere): the test has teeth.
    logp = np.take_along_axis(
        _log_softmax(tables["logits"][b["states"]]), b["action"][:, None], -1
    )[:, 0]
    ratio = np.exp(logp - b["log_prob"])
    assert 0 < np.sum(np.abs(ratio - 1) > CLIP_EPS) < ratio.size
    v_move = tables["v"][b["states"]] - b["value"]
    assert 0 < np.sum(np.abs(v_move) > CLIP_EPS) < v_move.size


def test_ppo_normalizes_advantages_per_minibatch():
    # Two epochs of two minibatches through make_optimize, with updates set to 0 so
    # the parameters stay put: the reported losses are the means of the four
    # minibatch losses, each normalised with its own minibatch's mean and std.
    tables = _tables()
    b = _batch(tables)
    config = jaxpg.PPOConfig(
        env_id=None, num_steps=T, num_envs=N, num_epochs=2, num_minibatches=2
    )
    hp = _hp(config)
    optimize = ppo.make_optimize(config, POLICY, VALUE)
    params = _params(tables)
    optimizer = optax.set_to_zero()
    key = jax.random.key(7)
    _, _, metrics = optimize(
        optimizer, params, optimizer.init(params), _as_batch(b), key, hp
    )
    flat = {k: v.reshape(T * N, *v.shape[2:]) for k, v in b.items()}
    want, whole = [], []
    for key_epoch in jax.random.split(key, config.num_epochs):
        order = np.asarray(jax.random.permutation(key_epoch, T * N)).reshape(2, -1)
        for idx in order:
            mb = {k: v[idx] for k, v in flat.items()}
            want.append(_by_hand(tables, mb, "ppo", True)[1]["policy_loss"])
            # The same minibatch with the advantages normalised over the whole batch.
            mb_whole = {**mb, "advantage": _normalized(flat["advantage"])[idx]}
            whole.append(_by_hand(tables, mb_whole, "ppo", False)[1]["policy_loss"])
    got = float(metrics["policy_loss"])
    assert got == pytest.approx(np.mean(want), rel=1e-5)
    assert abs(np.mean(whole) - np.mean(want)) > 100 * 1e-5 * abs(np.mean(want))
