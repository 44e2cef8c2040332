"""REINFORCE in PyTorch on gymnasium's CartPole-v1: the reference for the benchmark.

    pip install -e ".[bench]"                      # torch==2.13.0 (CPU) + gymnasium
    python scripts/torch_reinforce.py --seed 0     # one seed, prints a JSON line

Written for jaxpg's comparison (``scripts/compare_torch.py``) to match the
single-file PyTorch REINFORCE example that the project's seed discusses, in every
choice that changes what is learned or how fast:

* policy: Linear(4, 128) → Dropout(p=0.6) → ReLU → Linear(128, 2) → softmax; the
  dropout stays on while acting during training (the module is in train mode);
* one episode per update; discounted reward-to-go with γ = 0.99, normalised over
  the episode's steps as (G − mean) / (std + eps) (``torch.std``: the unbiased,
  n − 1 estimate; eps = float32 machine epsilon);
* loss −Σ_t log π(a_t | s_t) · Ĝ_t (a sum over the episode), Adam with lr 1e-2;
* ``torch.manual_seed(seed)`` and ``env.reset(seed=seed)`` once; later resets
  unseeded;
* the example's own stopping rule: running_reward = 0.05 · episode_return +
  0.95 · running_reward (starting at 10) exceeds ``env.spec.reward_threshold``
  (475 for CartPole-v1).

For the comparison it also checks jaxpg's criterion: every ``--eval-every``
training episodes a 100-episode greedy evaluation (module in eval mode — dropout
off — and argmax actions), its episodes stepped side by side with one batched
forward pass per time step; solved when the mean return is ≥ 475. The run goes on
until both criteria are met or ``--time-cap`` seconds of wall time have passed.
``torch.set_num_threads(1)``: one intra-op thread (and one inter-op thread), so a
run pinned to one core (``taskset -c 0``) does not oversubscribe it.
"""

from __future__ import annotations

import argparse
import json
import time

try:
    import torch
    from torch import nn
except ImportError as exc:  # pragma: no cover - exercised without the extra
    raise SystemExit(
        "PyTorch is not installed; the PyTorch comparison needs the bench extra:\n"
        '    pip install -e ".[bench]"    # torch==2.13.0 (CPU build) + gymnasium'
    ) from exc

import gymnasium as gym
import numpy as np

ENV_ID = "CartPole-v1"
GAMMA = 0.99
LEARNING_RATE = 1e-2
HIDDEN = 128
DROPOUT = 0.6
EPS = float(np.finfo(np.float32).eps)
RUNNING_START = 10.0
RUNNING_RATE = 0.05
THRESHOLD = 475.0
EVAL_EPISODES = 100
# Evaluation episodes are reset with seeds from here on, apart from training's.
EVAL_SEED_BASE = 1_000_000


class Policy(nn.Module):
    """Two affine layers with dropout 0.6 and ReLU between them; returns logits."""

    def __init__(self, obs_dim: int = 4, num_actions: int = 2) -> None:
        super().__init__()
        self.hidden = nn.Linear(obs_dim, HIDDEN)
        self.dropout = nn.Dropout(p=DROPOUT)
        self.out = nn.Linear(HIDDEN, num_actions)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.out(torch.relu(self.dropout(self.hidden(obs))))


def normalized_returns(
    rewards: list[float], gamma: float = GAMMA, eps: float = EPS
) -> torch.Tensor:
    """Reward-to-go G_t = r_t + γ·G_{t+1} of one episode, then (G − mean)/(std + eps).

    ``std`` is ``torch.std``'s unbiased (n − 1) estimate, as in the example.
    """
    out = np.empty(len(rewards), dtype=np.float64)
    g = 0.0
    for t in range(len(rewards) - 1, -1, -1):
        g = rewards[t] + gamma * g
        out[t] = g
    returns = torch.tensor(out, dtype=torch.float32)
    return (returns - returns.mean()) / (returns.std() + eps)


def reinforce_loss(log_probs: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """−Σ_t log π(a_t|s_t)·w_t over one episode (gradient descent on it ascends)."""
    return -(log_probs * weights).sum()


def greedy_returns(policy: Policy, envs: list, seeds: list[int]) -> np.ndarray:
    """Undiscounted returns of one greedy episode per env (dropout off, argmax).

    The episodes run side by side: at every time step the observations of the
    episodes still running go through one batched forward pass.
    """
    was_training = policy.training
    policy.eval()
    obs = np.stack([env.reset(seed=s)[0] for env, s in zip(envs, seeds, strict=True)])
    returns = np.zeros(len(envs))
    running = np.arange(len(envs))
    with torch.no_grad():
        while running.size:
            logits = policy(torch.as_tensor(obs[running], dtype=torch.float32))
            actions = logits.argmax(-1).tolist()
            still = []
            for i, a in zip(running, actions, strict=True):
                o, r, terminated, truncated, _ = envs[i].step(a)
                returns[i] += r
                obs[i] = o
                if not (terminated or truncated):
                    still.append(i)
            running = np.asarray(still, dtype=np.int64)
    policy.train(was_training)
    return returns


def run(
    seed: int,
    *,
    eval_every: int = 10,
    eval_episodes: int = EVAL_EPISODES,
    threshold: float = THRESHOLD,
    time_cap: float = 120.0,
    max_episodes: int = 100_000,
) -> dict:
    """Train one seed; time both criteria. Returns a JSON-able dict.

    ``*_s`` fields are wall seconds from just before the first episode; the
    ``eval_*`` ones count the evaluations' own time, ``running_*`` ones only the
    training episodes' (the example does not evaluate).
    """
    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)
    torch.manual_seed(seed)
    env = gym.make(ENV_ID)
    eval_envs = [gym.make(ENV_ID) for _ in range(eval_episodes)]
    reward_threshold = float(env.spec.reward_threshold)
    policy = Policy(env.observation_space.shape[0], int(env.action_space.n))
    optimizer = torch.optim.Adam(policy.parameters(), lr=LEARNING_RATE)

    running_reward = RUNNING_START
    train_s = eval_s = 0.0
    steps = episodes = evals = 0
    eval_hit: dict | None = None
    running_hit: dict | None = None
    last_eval = float("nan")
    eval_returns: list[tuple[int, float]] = []
    start = time.perf_counter()
    obs, _ = env.reset(seed=seed)
    while episodes < max_episodes:
        t0 = time.perf_counter()
        log_probs, rewards = [], []
        done = False
        while not done:
            logits = policy(torch.as_tensor(obs, dtype=torch.float32).unsqueeze(0))
            dist = torch.distributions.Categorical(logits=logits)
            action = dist.sample()
            log_probs.append(dist.log_prob(action))
            obs, reward, terminated, truncated, _ = env.step(action.item())
            rewards.append(float(reward))
            done = terminated or truncated
        loss = reinforce_loss(torch.cat(log_probs), normalized_returns(rewards))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        obs, _ = env.reset()
        train_s += time.perf_counter() - t0
        episodes += 1
        steps += len(rewards)
        running_reward = (
            RUNNING_RATE * sum(rewards) + (1 - RUNNING_RATE) * running_reward
        )
        if running_hit is None and running_reward > reward_threshold:
            running_hit = {
                "train_s": train_s,
                "wall_s": time.perf_counter() - start,
                "episodes": episodes,
                "steps": steps,
            }
        if eval_hit is None and episodes % eval_every == 0:
            t0 = time.perf_counter()
            seeds = [
                EVAL_SEED_BASE + evals * eval_episodes + i for i in range(eval_episodes)
            ]
            last_eval = float(greedy_returns(policy, eval_envs, seeds).mean())
            eval_s += time.perf_counter() - t0
            evals += 1
            eval_returns.append((episodes, last_eval))
            if last_eval >= threshold:
                eval_hit = {
                    "wall_s": time.perf_counter() - start,
                    "train_s": train_s,
                    "eval_s": eval_s,
                    "episodes": episodes,
                    "steps": steps,
                    "eval_return": last_eval,
                }
        elapsed = time.perf_counter() - start
        if (eval_hit and running_hit) or elapsed > time_cap:
            break
    return {
        "seed": seed,
        "eval_every": eval_every,
        "time_cap_s": time_cap,
        "elapsed_s": time.perf_counter() - start,
        "episodes": episodes,
        "steps": steps,
        "train_s": train_s,
        "eval_s": eval_s,
        "evals": evals,
        "steps_per_s": steps / train_s if train_s else float("nan"),
        "running_reward": running_reward,
        "last_eval_return": last_eval,
        "eval_solved": eval_hit is not None,
        "eval_hit": eval_hit,
        "running_solved": running_hit is not None,
        "running_hit": running_hit,
        "eval_returns": eval_returns,
        "torch": torch.__version__,
        "gymnasium": gym.__version__,
        "torch_threads": torch.get_num_threads(),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--eval-every", type=int, default=10, help="training episodes")
    ap.add_argument("--eval-episodes", type=int, default=EVAL_EPISODES)
    ap.add_argument("--time-cap", type=float, default=120.0, help="wall seconds")
    args = ap.parse_args()
    if args.eval_every < 1 or args.eval_episodes < 1 or args.time_cap <= 0:
        ap.error("--eval-every and --eval-episodes must be >= 1, --time-cap > 0")
    print(
        json.dumps(
            run(
                args.seed,
                eval_every=args.eval_every,
                eval_episodes=args.eval_episodes,
                time_cap=args.time_cap,
            )
        )
    )


if __name__ == "__main__":
    main()
