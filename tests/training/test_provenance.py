"""Training logs store each earlier run's log once (training.provenance)."""

from __future__ import annotations

import json

from training.provenance import compact, expand


def _run(name: str, **more: object) -> dict[str, object]:
    return {"run": name, "train_images": 1800, "stages": [{"seconds": 3000}], **more}


def _lineage() -> dict[str, object]:
    """Two stage-then-average cycles, nested the way run.py nests the logs."""
    a = _run("1.4.0")
    b = _run("run 15", resumed_from=a)
    c = {"averaged_global_models": [a, b], "batchnorm_images": [0, 9, 40]}
    d = _run("run 17", resumed_from=c)
    return {"averaged_global_models": [c, d], "batchnorm_images": [0, 9, 40]}


def test_compact_points_repeats_at_their_first_copy() -> None:
    log = _lineage()
    small = compact(log)
    assert small["averaged_global_models"][1]["resumed_from"] == {
        "same_as": "/averaged_global_models/0"
    }
    inner = small["averaged_global_models"][0]["averaged_global_models"]
    assert inner[1]["resumed_from"] == {
        "same_as": "/averaged_global_models/0/averaged_global_models/0"
    }
    # the full log holds run 1.4.0 four times, the compact one once
    assert json.dumps(log).count('"1.4.0"') == 4
    assert json.dumps(small).count('"1.4.0"') == 1
    assert len(json.dumps(small)) < len(json.dumps(log))


def test_expand_restores_the_full_log_and_compact_is_idempotent() -> None:
    log = _lineage()
    small = compact(log)
    assert expand(small) == log
    assert compact(small) == small
    assert expand(log) == log  # a log without pointers is left as it is
    assert log == _lineage()  # neither changes its argument


def test_a_compact_log_nested_again_stays_lossless() -> None:
    """run.py expands a previous log before nesting it, then compacts the new log as a whole."""
    previous = compact(_lineage())
    new = {
        "averaged_global_models": [expand(previous), _run("run 19", resumed_from=expand(previous))]
    }
    full = {"averaged_global_models": [_lineage(), _run("run 19", resumed_from=_lineage())]}
    assert new == full
    assert expand(compact(new)) == full
    assert json.dumps(compact(new)).count('"1.4.0"') == 1


def test_pointers_escape_slashes_and_tildes_in_keys() -> None:
    a = _run("x")
    log = {"averaged_global_models": [a, a], "a/b~c": 1}
    small = compact(log)
    assert small["averaged_global_models"][1] == {"same_as": "/averaged_global_models/0"}
    assert expand(small) == log


def test_a_densified_runs_source_log_is_compacted_too() -> None:
    """`densify` nests its source run's log under ``densified_from``; the repeats inside it
    become pointers like those of resumed and averaged runs."""
    log = {"densified_from": _lineage(), "global_stride": 8}
    small = compact(log)
    assert small["densified_from"]["averaged_global_models"][1]["resumed_from"] == {
        "same_as": "/densified_from/averaged_global_models/0"
    }
    assert json.dumps(small).count('"1.4.0"') == 1
    assert expand(small) == log
