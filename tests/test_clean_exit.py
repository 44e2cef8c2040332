"""A process that used jaxpg exits cleanly and leaves nothing running behind it.

A hostile-user session once saw a PPO ``make_solve`` script exit with a
segmentation fault (139) after printing its result. jaxpg itself starts no
threads and registers no exit handlers; this test holds it to that in a fresh
process that solves, saves and loads a checkpoint, and checks the process's exit
status. (The crash was not reproduced in 60 fresh runs of that script on this
code, 30 with ``jax.jit`` and 30 with ``jaxpg.jit(fast_compile=True)`` and the
persistent compilation cache; the exit handlers that do get registered belong to
orbax's and gymnax's dependencies.)
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent(
    """
    import atexit, faulthandler, sys, tempfile, threading
    faulthandler.enable()
    registered = []
    _register = atexit.register
    def _recording_register(func, *args, **kwargs):
        registered.append(getattr(func, "__module__", None) or "")
        return _register(func, *args, **kwargs)
    atexit.register = _recording_register

    import jax
    import jaxpg
    from jaxpg import checkpoint

    config = jaxpg.PPOConfig(num_envs=4, num_steps=16, num_updates=2)
    result = jax.jit(jaxpg.make_solve(config, threshold=1e9))(jax.random.key(0))
    state = jaxpg.make_trainer(config).init(jax.random.key(1))
    folder = tempfile.mkdtemp()
    checkpoint.save(folder + "/ckpt", state, config)
    checkpoint.load(folder + "/ckpt")
    print("updates", int(result.updates_used))
    print("threads", sorted(t.name for t in threading.enumerate()))
    print("jaxpg-handlers", [m for m in registered if m.startswith("jaxpg")])
    """
)


@pytest.mark.timeout(300)
def test_process_exits_cleanly_with_no_threads_or_handlers_left(tmp_path):
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        capture_output=True,
        text=True,
        timeout=280,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = dict(line.split(" ", 1) for line in done.stdout.splitlines())
    assert lines["updates"] == "2"
    assert lines["threads"] == "['MainThread']"
    assert lines["jaxpg-handlers"] == "[]"
