"""Running the README's command-line examples to paste their output into it.

``scripts/readme_sweep.py`` and ``scripts/readme_examples.py`` run commands in a
fresh temporary folder with an empty compilation cache and rewrite sections of
README.md between markers (:func:`jaxpg.files.replace_section`). The pieces they
share: the environment of such a run (:func:`readme_env`), running a script
(:func:`run_script`) or running one and interrupting it (:func:`interrupt_on`),
thinning progress lines (:func:`thin`), and reading numbers back out of
``scripts/train.py``'s output (:func:`number_after`, :func:`line_with`).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

__all__ = [
    "SHOWN_TMP",
    "conditions",
    "interrupt_on",
    "line_with",
    "mark_interrupt",
    "number_after",
    "readme_env",
    "run_script",
    "thin",
]

SHOWN_TMP = "/tmp/readme"  # how the README shows the temporary folder


def readme_env(tmp: Path, root: Path) -> dict[str, str]:
    """The environment of a README run: cache in ``tmp/cache``, ``root``'s jaxpg.

    Args:
      tmp: the run's fresh temporary folder.
      root: the repository (its jaxpg is imported, its scripts run).

    Returns:
      ``os.environ`` with ``JAXPG_CACHE_DIR`` and ``PYTHONPATH`` set.
    """
    return dict(
        os.environ, JAXPG_CACHE_DIR=str(Path(tmp) / "cache"), PYTHONPATH=str(root)
    )


def conditions() -> str:
    """Where the examples ran: the cores this process may use, the load average.

    Returns:
      E.g. ``"on 1 of 2 CPU cores (load average 3.7)"``.
    """
    cores = len(os.sched_getaffinity(0))
    return f"on {cores} of {os.cpu_count()} CPU cores (load average {os.getloadavg()[0]:.1f})"


def run_script(root: Path, args: list[str], cwd: Path, env: dict) -> str:
    """Runs ``python root/args[0] args[1:]`` in ``cwd`` and returns its stdout.

    Args:
      root: the repository; ``args[0]`` is relative to it.
      args: the script and its arguments.
      cwd: the folder to run in.
      env: the environment (:func:`readme_env`).

    Returns:
      What the script printed to stdout.

    Raises:
      RuntimeError: the script exited with a status other than 0 (its stderr).
    """
    proc = subprocess.run(
        [sys.executable, str(Path(root) / args[0]), *args[1:]],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        raise RuntimeError(
            f"{' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}"
        )
    return proc.stdout


def mark_interrupt(lines: list[str], sent_after: int) -> list[str]:
    """The lines as a terminal shows them when Ctrl-C was pressed after a line.

    ``^C`` goes after line ``sent_after``; the first empty line after it is
    dropped (train.py starts its signal message on a new line, which on a terminal
    ends the line that shows ``^C``).

    Args:
      lines: the output, stdout and stderr together, one string a line.
      sent_after: the index of the line after which the signal was sent.

    Returns:
      The lines with ``^C`` in place.
    """
    head, tail = lines[: sent_after + 1], list(lines[sent_after + 1 :])
    if "" in tail:
        tail.remove("")
    return [*head, "^C", *tail]


def interrupt_on(
    root: Path, args: list[str], cwd: Path, env: dict, prefix: str
) -> tuple[str, int]:
    """Runs a script and sends it SIGINT when a line starting with ``prefix`` appears.

    Args:
      root: the repository; ``args[0]`` is relative to it.
      args: the script and its arguments (its progress must come as lines).
      cwd: the folder to run in.
      env: the environment (:func:`readme_env`); output is made unbuffered, so
        stdout and stderr come in the order printed.
      prefix: the line to interrupt at (the first line starting with it).

    Returns:
      The output, stdout and stderr together with ``^C`` where the signal was
      sent (:func:`mark_interrupt`), and the exit status.

    Raises:
      RuntimeError: the script ended without printing such a line.
    """
    proc = subprocess.Popen(
        [sys.executable, str(Path(root) / args[0]), *args[1:]],
        cwd=cwd,
        env=dict(env, PYTHONUNBUFFERED="1"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    sent_after = None
    for line in proc.stdout:
        lines.append(line.rstrip("\n"))
        if sent_after is None and line.startswith(prefix):
            proc.send_signal(signal.SIGINT)
            sent_after = len(lines) - 1
    status = proc.wait()
    if sent_after is None:
        raise RuntimeError(
            f"{' '.join(args)} printed no line starting with {prefix!r} "
            f"(exit status {status}):\n" + "\n".join(lines)
        )
    return "\n".join(mark_interrupt(lines, sent_after)), status


def thin(
    output: str, evaluations: int | None = None, omit: tuple[str, ...] = ()
) -> str:
    """The output with only the first and last progress lines (``...`` between).

    Args:
      output: what ``scripts/train.py`` printed.
      evaluations: keep only this many ``evaluation at update`` lines (the
        first ones); None: keep them all.
      omit: leave out the lines that start with one of these, without a
        ``...`` for them.

    Returns:
      The output with the other progress (and evaluation) lines dropped, each run
      of dropped lines shown as one ``...``.
    """
    lines = output.rstrip("\n").splitlines()
    progress = [i for i, line in enumerate(lines) if line.startswith("update ")]
    drop = set(progress[1:-1])
    if evaluations is not None:
        evals = [i for i, ln in enumerate(lines) if ln.startswith("evaluation at ")]
        drop |= set(evals[evaluations:])
    kept, gap = [], False
    for i, line in enumerate(lines):
        if omit and line.startswith(omit):
            continue
        if i in drop:
            if not gap:
                kept.append("...")
            gap = True
            continue
        kept.append(line)
        gap = False
    return "\n".join(kept)


def number_after(output: str, words: str) -> float:
    """The number that follows ``words`` in the output (e.g. ``"compiled in"``).

    Args:
      output: what a script printed.
      words: the text just before the number (a space between).

    Returns:
      The first such number.

    Raises:
      ValueError: the output has no such number.
    """
    match = re.search(re.escape(words) + r" ([0-9][0-9,]*(?:\.[0-9]+)?)", output)
    if match is None:
        raise ValueError(f"no number after {words!r} in:\n{output}")
    return float(match.group(1).replace(",", ""))


def line_with(output: str, words: str) -> str:
    """The first line of the output that contains ``words``.

    Args:
      output: what a script printed.
      words: the text to look for.

    Returns:
      That line.

    Raises:
      ValueError: no line contains it.
    """
    for line in output.splitlines():
        if words in line:
            return line
    raise ValueError(f"no line with {words!r} in:\n{output}")
