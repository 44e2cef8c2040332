"""Command-line flags derived from a config dataclass, and the multi-host flags.

Every field of a config becomes one typed ``--flag`` whose help text is the field's
entry in the class docstring's ``Attributes:`` section and whose default is the
field's default, so a new config field shows up in every script without being
written down twice.

>>> import argparse, jaxpg
>>> parser = argparse.ArgumentParser()
>>> add_dataclass_flags(parser, jaxpg.ReinforceConfig)
>>> args = parser.parse_args(["--num-envs", "8", "--hidden-sizes", "16", "16"])
>>> config = dataclass_from_flags(jaxpg.ReinforceConfig, args)
>>> config.num_envs, config.hidden_sizes
(8, (16, 16))
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import re
import types
import typing
from collections.abc import Callable
from typing import Any

from jaxpg import distributed
from jaxpg.run.options import RunError, flag_name

__all__ = [
    "add_dataclass_flags",
    "add_device_flags",
    "add_multihost_flags",
    "add_sweep_flags",
    "dataclass_from_flags",
    "flag_message",
    "docstring_attributes",
    "join_multihost_run",
    "mesh_from_flags",
]


def docstring_attributes(cls: type) -> dict[str, str]:
    """``{field: description}`` from the ``Attributes:`` section of a docstring.

    Google style: a line ``Attributes:``, then one ``name: text`` line per field
    indented one level, continuation lines indented deeper. Descriptions are
    joined into one line and reST double back-quotes removed.

    Args:
      cls: a class with a Google-style docstring.

    Returns:
      One description per documented attribute (empty without the section).
    """
    doc = inspect.getdoc(cls) or ""
    lines = doc.splitlines()
    try:
        start = next(i for i, line in enumerate(lines) if line.strip() == "Attributes:")
    except StopIteration:
        return {}
    found: dict[str, list[str]] = {}
    current: str | None = None
    indent: int | None = None
    for line in lines[start + 1 :]:
        if not line.strip():
            continue
        depth = len(line) - len(line.lstrip())
        if depth == 0:  # the next section (or prose) ends the list
            break
        if indent is None:
            indent = depth
        match = re.match(r"(\w+)\s*(?:\([^)]*\))?:\s*(.*)", line.strip())
        if depth == indent and match:
            current = match.group(1)
            found[current] = [match.group(2)]
        elif current is not None:
            found[current].append(line.strip())
    return {
        name: " ".join(" ".join(parts).replace("``", "").split())
        for name, parts in found.items()
    }


def _optional_inner(annotation: Any) -> Any | None:
    """``X`` for ``X | None`` / ``Optional[X]``; None otherwise."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1 and len(typing.get_args(annotation)) == 2:
            return args[0]
    return None


def _scalar_parser(annotation: Any) -> Callable[[str], Any] | None:
    if annotation in (int, float, str):
        return annotation
    return None


def _none_or(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    def parse_optional(text: str) -> Any:
        return None if text.lower() == "none" else parse(text)

    parse_optional.__name__ = getattr(parse, "__name__", "value")
    return parse_optional


def _flag_kwargs(name: str, annotation: Any, default: Any) -> dict[str, Any]:
    """argparse keyword arguments for one field's type."""
    inner = _optional_inner(annotation)
    if inner is not None and typing.get_origin(inner) is tuple:
        # tuple[X, ...] | None: ``--x 1 2 3`` or ``--x none``.
        args = typing.get_args(inner)
        if len(args) == 2 and args[1] is Ellipsis and _scalar_parser(args[0]):
            return {
                "type": _none_or(args[0]),
                "nargs": "+",
                "metavar": args[0].__name__.upper(),
            }
        raise TypeError(f"field {name!r}: only tuple[X, ...] | None is supported")
    if inner is not None:
        parse = _scalar_parser(inner)
        if parse is None:
            raise TypeError(f"field {name!r}: unsupported optional type {annotation}")
        return {"type": _none_or(parse), "metavar": inner.__name__.upper()}
    if annotation is bool:
        return {"action": argparse.BooleanOptionalAction}
    if typing.get_origin(annotation) is typing.Literal:
        choices = typing.get_args(annotation)
        return {"type": type(choices[0]), "choices": choices}
    if typing.get_origin(annotation) is tuple:
        args = typing.get_args(annotation)
        if len(args) == 2 and args[1] is Ellipsis and _scalar_parser(args[0]):
            return {"type": args[0], "nargs": "+", "metavar": args[0].__name__.upper()}
        raise TypeError(f"field {name!r}: only tuple[X, ...] is supported")
    parse = _scalar_parser(annotation)
    if parse is None:
        raise TypeError(f"field {name!r}: unsupported type {annotation}")
    return {"type": parse, "metavar": annotation.__name__.upper()}


def add_dataclass_flags(
    parser: argparse.ArgumentParser | Any,
    cls: type,
    *,
    exclude: tuple[str, ...] = (),
) -> None:
    """Adds one ``--field-name`` flag per field of the dataclass ``cls``.

    Args:
      parser: an ``argparse`` parser or argument group.
      cls: a dataclass whose fields have defaults and are annotated with ``int``,
        ``float``, ``str``, ``bool`` (``--x`` / ``--no-x``), ``tuple[X, ...]``
        (``--x 1 2 3``), ``Literal[...]`` or ``X | None`` (the word ``none``; also
        for ``tuple[X, ...] | None``).
      exclude: fields to leave out.

    Raises:
      TypeError: for a field type not listed above.
    """
    hints = typing.get_type_hints(cls)
    docs = docstring_attributes(cls)
    for field in dataclasses.fields(cls):
        if field.name in exclude or not field.init:
            continue
        if field.default is not dataclasses.MISSING:
            default = field.default
        elif field.default_factory is not dataclasses.MISSING:
            default = field.default_factory()
        else:
            raise TypeError(f"field {field.name!r} has no default")
        kwargs = _flag_kwargs(field.name, hints[field.name], default)
        help_text = docs.get(field.name, "").replace("%", "%%")
        shown = default
        if isinstance(default, tuple):
            shown = " ".join(str(d) for d in default)
        action = parser.add_argument(
            flag_name(field.name),
            dest=field.name,
            default=default,
            help=help_text,
            **kwargs,
        )
        # Some Python versions' BooleanOptionalAction add the default themselves.
        if "%(default)" not in (action.help or ""):
            action.help = f"{help_text} (default: {shown})".strip()


def flag_message(message: str, names: Any) -> str:
    """A dataclass's ValueError prefixed with the flags of the fields it names.

    ``"gamma must be ..."`` becomes ``"--gamma: gamma must be ..."`` and
    ``"weight='gae' needs baseline='value' ..."`` becomes ``"--weight,
    --baseline: weight='gae' needs ..."`` (fields in order of mention); a
    message that already starts with a flag, or names no field, is unchanged.

    Args:
      message: the error's text.
      names: the field names of the dataclass.

    Returns:
      The text.
    """
    if message.startswith("--"):
        return message
    found = []
    for name in names:
        match = re.search(rf"(?<![\w-]){re.escape(name)}(?![\w])", message)
        if match:
            found.append((match.start(), name))
    if not found:
        return message
    return ", ".join(flag_name(n) for _, n in sorted(found)) + f": {message}"


def dataclass_from_flags(cls: type, args: argparse.Namespace, **overrides: Any) -> Any:
    """Builds ``cls`` from the parsed flags (lists become tuples).

    The dataclass's own validation runs, so an invalid value raises its
    ``ValueError``; a script turns that into a usage error.

    Args:
      cls: the dataclass whose flags :func:`add_dataclass_flags` added.
      args: the parsed flags.
      **overrides: field values that replace the flags'.

    Returns:
      The validated ``cls`` instance.
    """
    values = {}
    for field in dataclasses.fields(cls):
        if not field.init or not hasattr(args, field.name):
            continue
        value = getattr(args, field.name)
        if isinstance(value, list):
            # ``--x none`` of a ``tuple[X, ...] | None`` field; otherwise a tuple.
            value = None if value == [None] else tuple(value)
        values[field.name] = value
    values.update(overrides)
    return cls(**values)


# ------------------------------------------------------------------- multi-host


def add_multihost_flags(group: Any, distributed_help: str) -> None:
    """``--distributed``, ``--coordinator-address``, ``--num-processes``, ``--process-id``.

    Read them back with :func:`join_multihost_run`.

    Args:
      group: a parser or an argument group.
      distributed_help: the help text of ``--distributed``.
    """
    group.add_argument("--distributed", action="store_true", help=distributed_help)
    group.add_argument(
        "--coordinator-address", default=None, help="host:port of process 0"
    )
    group.add_argument("--num-processes", type=int, default=None)
    group.add_argument("--process-id", type=int, default=None)


def join_multihost_run(args: argparse.Namespace) -> bool:
    """Calls :func:`jaxpg.distributed.initialize` when the flags ask for several hosts.

    That is ``--distributed`` or any of the three explicit flags. Call it before any
    other JAX call.

    Args:
      args: flags parsed with :func:`add_multihost_flags`' flags.

    Returns:
      Whether a multi-process run was joined.

    Raises:
      ValueError: from :func:`jaxpg.distributed.initialize` (bad ids or counts).
    """
    explicit = (args.coordinator_address, args.num_processes, args.process_id)
    if not (args.distributed or any(x is not None for x in explicit)):
        return False
    distributed.initialize(*explicit)
    return True


def add_sweep_flags(parser: argparse.ArgumentParser) -> None:
    """Adds ``--sweep``, ``--sweep-random`` and ``--sweep-seed`` (scripts/train.py).

    Args:
      parser: the parser; the flags go in a group of their own.
    """
    group = parser.add_argument_group(
        "sweeps (jaxpg.run.sweep): every configuration x --seeds in one vmapped call"
    )
    group.add_argument(
        "--sweep",
        action="append",
        default=None,
        metavar="FIELD=V1,V2,...",
        help="train every combination of these values of HParams fields (e.g. "
        "learning_rate=1e-3,1e-2); repeat for more fields. With --sweep-random: "
        "FIELD=LOW:HIGH[:log|:uniform]",
    )
    group.add_argument(
        "--sweep-random",
        type=int,
        default=0,
        metavar="N",
        help="draw N configurations from the --sweep ranges (learning_rate "
        "log-uniform, other fields uniform) instead of the grid",
    )
    group.add_argument(
        "--sweep-seed",
        type=int,
        default=None,
        metavar="S",
        help="seed of the --sweep-random draws (default 0; kept in RUN/sweep.json)",
    )


def mesh_from_flags(devices: str | None, num_envs: int, multi: bool) -> Any:
    """The mesh to split the environments over, or None for one device.

    Args:
      devices: the ``--devices`` flag (None: 1, or all when ``multi``).
      num_envs: the config's ``num_envs``.
      multi: a multi-process run.

    Returns:
      A :func:`jaxpg.distributed.make_mesh` mesh, or None.

    Raises:
      RunError: a device count the runtime does not have, or one that does not
        divide ``num_envs`` (before anything is compiled).
    """
    devices = devices or ("all" if multi else "1")
    if devices == "1" and not multi:
        return None  # the single-device program, exactly as without the flag
    try:
        made = distributed.make_mesh(None if devices == "all" else int(devices))
    except ValueError as error:
        raise RunError(f"--devices {devices}: {error}") from None
    try:
        distributed.check_divisible(num_envs, made.size)
    except ValueError as error:
        raise RunError(f"--num-envs: {error}") from None
    return None if made.size == 1 and not multi else made


def add_device_flags(parser: argparse.ArgumentParser) -> None:
    """Adds ``--devices`` and the multi-host flags (scripts/train.py).

    Args:
      parser: the parser; the flags go in a group of their own.
    """
    group = parser.add_argument_group(
        "devices and hosts (jaxpg.distributed; docs/scaling.md)"
    )
    group.add_argument(
        "--devices",
        default=None,
        metavar="N|all",
        help="split the environments over the first N devices (or all of every "
        "process); --num-envs must be divisible by the device count. Default 1 "
        "(the single-device program), all with --distributed. Results match one "
        "device up to float reassociation, so resume with the same --devices for "
        "bit-identical runs",
    )
    add_multihost_flags(
        group,
        "join a multi-process run (jaxpg.distributed.initialize): the same "
        "command on every host; unset flags below come from $JAX_COORDINATOR_ADDRESS"
        " / $JAX_NUM_PROCESSES / $JAX_PROCESS_ID or a cluster JAX detects. Only "
        "process 0 prints and writes --out (a shared filesystem); every process "
        "saves the checkpoint",
    )
