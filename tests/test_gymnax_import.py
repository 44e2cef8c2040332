"""gymnax's plotting imports are deferred, not removed (jaxpg/gymnax_import.py).

Each case runs in a fresh interpreter: what is imported depends on what the
process imported before.
"""

import json
import os
import subprocess
import sys
import textwrap
import types

import pytest

from jaxpg import gymnax_import

pytestmark = pytest.mark.timeout(300)


def run_fresh(code: str, **env: str) -> dict:
    """Runs ``code`` in a new interpreter; returns the JSON it prints last."""
    environ = {**os.environ, "MPLBACKEND": "Agg", **env}
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=environ,
        timeout=240,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


LOADED = """
    import json, sys
    def loaded():
        # Submodules that only the real seaborn / pyplot code imports.
        return {"seaborn": "seaborn.palettes" in sys.modules,
                "pyplot": "matplotlib.figure" in sys.modules}
"""


def test_make_env_does_not_load_plotting_and_render_still_works():
    result = run_fresh(
        LOADED
        + """
    import jax, jaxpg
    env, params = jaxpg.make_env("CartPole-v1")
    after_make_env = loaded()
    import gymnax
    pong, pong_params = gymnax.make("Pong-misc")
    _, state = pong.reset(jax.random.key(0), pong_params)
    image = pong.render(state, pong_params)  # plt.subplots, sns.color_palette
    after_render = loaded()
    import matplotlib, matplotlib.pyplot as plt, seaborn as sns
    from seaborn import color_palette
    print(json.dumps({
        "after_make_env": after_make_env,
        "after_render": after_render,
        "image": type(image).__name__,
        "same_pyplot": plt is sys.modules["matplotlib.pyplot"]
        and matplotlib.pyplot is plt,
        "palette": len(color_palette("rocket", 3)),
        "seaborn_version": isinstance(sns.__version__, str),
    }))
    """
    )
    assert result["after_make_env"] == {"seaborn": False, "pyplot": False}
    assert result["after_render"] == {"seaborn": True, "pyplot": True}
    assert result["image"] == "AxesImage"
    assert result["same_pyplot"] is True
    assert result["palette"] == 3
    assert result["seaborn_version"] is True


def test_switched_off_by_environment_variable():
    result = run_fresh(
        LOADED
        + """
    import jaxpg
    jaxpg.make_env("CartPole-v1")
    print(json.dumps(loaded()))
    """,
        JAXPG_DEFER_PLOTTING="0",
    )
    assert result == {"seaborn": True, "pyplot": True}


def test_modules_imported_before_are_left_alone():
    result = run_fresh(
        LOADED
        + """
    import types
    import seaborn
    import jaxpg
    jaxpg.make_env("CartPole-v1")
    print(json.dumps({"plain": type(sys.modules["seaborn"]) is types.ModuleType,
                      "same": sys.modules["seaborn"] is seaborn}))
    """
    )
    assert result == {"plain": True, "same": True}


def test_defer_module_refuses_missing_and_imported_modules():
    assert gymnax_import.defer_module("no_such_module_anywhere_xyz") is False
    assert gymnax_import.defer_module("json") is False
    assert isinstance(sys.modules["json"], types.ModuleType)


def test_deferred_module_loads_on_first_attribute(tmp_path, monkeypatch):
    package = tmp_path / "jaxpg_deferred_probe"
    package.mkdir()
    (package / "__init__.py").write_text("import sys\nLOADS = 1\nVALUE = 42\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "jaxpg_deferred_probe", raising=False)
    assert gymnax_import.defer_module("jaxpg_deferred_probe") is True
    module = sys.modules["jaxpg_deferred_probe"]
    assert "VALUE" not in vars(module)  # nothing has run yet
    assert module.__spec__.name == "jaxpg_deferred_probe"  # no load for this
    assert "VALUE" not in vars(module)
    import jaxpg_deferred_probe  # noqa: F401  (the import statement: no load)

    assert "VALUE" not in vars(module)
    assert module.VALUE == 42
    assert type(module) is types.ModuleType
    with pytest.raises(AttributeError):
        _ = module.MISSING
    monkeypatch.delitem(sys.modules, "jaxpg_deferred_probe")
