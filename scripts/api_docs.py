"""Builds jaxpg's HTML API reference with pdoc (Google-style docstrings).

    python scripts/api_docs.py               # writes docs/api/ (git-ignored)
    python scripts/api_docs.py -o /tmp/api   # elsewhere (CI)
    python scripts/api_docs.py --serve       # pdoc's live server on localhost

pdoc documents a package's submodules only when its ``__all__`` lists them, so the
public modules are named here (:data:`MODULES`, with those ``jaxpg.__all__`` lists;
tests/test_docstrings.py checks the same ones). Exits non-zero when a module fails to import or pdoc warns, except for
pdoc's known NamedTuple forward-reference warning (mitmproxy/pdoc#765: it cannot
resolve a NamedTuple's ``__init__`` annotations under ``from __future__ import
annotations``; the fields' own documentation is unaffected).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Besides the submodules jaxpg.__all__ lists (diagnostics, losses, pathwise,
# returns), which pdoc adds with jaxpg itself.
MODULES = (
    "jaxpg",
    "jaxpg.algorithms",
    "jaxpg.checkpoint",
    "jaxpg.compilation",
    "jaxpg.distributed",
    "jaxpg.distributions",
    "jaxpg.envs",
    "jaxpg.files",
    "jaxpg.heads",
    "jaxpg.policy",
    "jaxpg.presets",
    "jaxpg.recurrent",
    "jaxpg.rollout",
    "jaxpg.run",
    "jaxpg.sharding",
    "jaxpg.solve",
    "jaxpg.spaces",
    "jaxpg.state",
    "jaxpg.train",
)

# pdoc's NamedTuple limitation (mitmproxy/pdoc#765), tolerated.
KNOWN = re.compile(r"Error parsing type annotation .* for [\w.]+\.__init__\. ")


def build(output: Path) -> list[str]:
    """Renders :data:`MODULES` into ``output``; returns pdoc's other warnings."""
    import pdoc
    import pdoc.render

    pdoc.render.configure(docformat="google")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pdoc.pdoc(*MODULES, output_directory=output)
    return [str(w.message) for w in caught if not KNOWN.search(str(w.message))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", type=Path, default=ROOT / "docs" / "api")
    parser.add_argument("--serve", action="store_true", help="pdoc's live server")
    args = parser.parse_args()
    if args.serve:
        pdoc_args = [sys.executable, "-m", "pdoc", "-d", "google", *MODULES]
        os.execv(sys.executable, pdoc_args)
    problems = build(args.output)
    for message in problems:
        print(f"pdoc: {message}", file=sys.stderr)
    if problems:
        sys.exit(f"{len(problems)} pdoc warning(s); see above")
    print(f"API reference: {args.output / 'index.html'}")


if __name__ == "__main__":
    main()
