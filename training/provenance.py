"""Training logs without repeats.

A resumed run's log holds the log of the run it resumed (``resumed_from``), an averaged
run's log holds the logs of every run it averaged (``averaged_global_models``), and a densified
run's the log of the run it read on a finer grid (``densified_from``). In one lineage
the same earlier log turns up many times (model 1.6.0's log held 1.5.0's twice and 1.4.0's four
times), so the nesting doubled with each stage-then-average cycle. `compact` keeps the first
copy of each earlier run's log and writes every later copy as ``{"same_as": POINTER}``, an
RFC 6901 JSON pointer to the first copy from the root of the same log; `expand` restores the
full nesting. Both are lossless: ``expand(compact(log)) == log``.
"""

from __future__ import annotations

import json
from typing import Any

RUN_LOG_KEYS = ("resumed_from", "averaged_global_models", "densified_from")
SAME_AS = "same_as"


def _pointer(path: list[str | int]) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in path)


def _resolve(root: Any, pointer: str) -> Any:
    node = root
    for raw in pointer.split("/")[1:]:
        part = raw.replace("~1", "/").replace("~0", "~")
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node


def compact(log: Any) -> Any:
    """A copy of `log` in which each repeated earlier run's log is a ``same_as`` pointer."""
    out = json.loads(json.dumps(log))  # the JSON that will be written (tuples become lists)
    first: dict[str, str] = {}

    def walk(node: Any, path: list[str | int]) -> None:
        if not isinstance(node, dict):
            return
        for key in RUN_LOG_KEYS:
            value: Any = node.get(key)
            slots = list(enumerate(value)) if isinstance(value, list) else [(None, value)]
            for index, child in slots:
                if not isinstance(child, dict) or set(child) == {SAME_AS}:
                    continue
                where = [*path, key] if index is None else [*path, key, index]
                text = json.dumps(child, sort_keys=True)
                if text in first:  # a repeat: its own nesting is already at the first copy
                    if index is None:
                        node[key] = {SAME_AS: first[text]}
                    else:
                        value[index] = {SAME_AS: first[text]}
                else:
                    first[text] = _pointer(where)
                    walk(child, where)

    walk(out, [])
    return out


def expand(log: Any) -> Any:
    """A copy of `log` with every ``same_as`` pointer replaced by the log it points to (`fill`
    builds new containers throughout, so `log` itself is only read)."""

    def fill(node: Any) -> Any:
        if isinstance(node, dict):
            if set(node) == {SAME_AS}:
                return fill(_resolve(log, node[SAME_AS]))
            return {k: fill(v) for k, v in node.items()}
        if isinstance(node, list):
            return [fill(v) for v in node]
        return node

    return fill(log)
