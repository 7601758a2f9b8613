"""DecoderPool: isolation (crash, hang, memory), recovery, shared memory, parallel decoding,
and the SimpleITK fallback returning stored values."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest
from pydicom.uid import RLELossless

from tests.dicomio.conftest import PYDICOM_FILES, make_dataset, pydicom_data_folder, write_dataset
from viewer.dicomio import (
    DecodeError,
    DecoderCrashedError,
    DecoderPool,
    DecoderTimeoutError,
    load_image,
    read_header,
)
from viewer.dicomio.decode import decode_simpleitk
from viewer.dicomio.pool import FAULT_ENV, _SharedArrayOwner

DATA = pydicom_data_folder()
J2K = DATA / "MR2_J2KR.dcm"


def _owner(array: np.ndarray) -> object:
    base = array
    while isinstance(base, np.ndarray):
        base = base.base
    return base


def _shm_names() -> set[str]:
    return set(os.listdir("/dev/shm")) if os.path.isdir("/dev/shm") else set()


@pytest.mark.timeout(120)
def test_pool_decodes_into_shared_memory(pool: DecoderPool) -> None:
    before = _shm_names()
    image = load_image(J2K, pool)
    np.testing.assert_array_equal(image.stored, load_image(DATA / "MR2_UNCR.dcm").stored)
    assert isinstance(_owner(image.stored), _SharedArrayOwner)
    assert _shm_names() <= before  # the name is unlinked at once; the mapping lives on


@pytest.mark.timeout(120)
@pytest.mark.parametrize(("fault", "signal_name"), [("abort", "SIGABRT"), ("segfault", "SIGSEGV")])
def test_crash_is_typed_and_pool_recovers(
    pool: DecoderPool, monkeypatch: pytest.MonkeyPatch, fault: str, signal_name: str
) -> None:
    monkeypatch.setenv(FAULT_ENV, fault)
    with pytest.raises(DecoderCrashedError) as caught:
        load_image(J2K, pool)
    assert str(J2K) in str(caught.value) and signal_name in str(caught.value)
    monkeypatch.delenv(FAULT_ENV)
    assert load_image(J2K, pool).stored.shape == (1, 1024, 1024)


@pytest.mark.timeout(120)
def test_hang_times_out_and_pool_recovers(monkeypatch: pytest.MonkeyPatch) -> None:
    with DecoderPool(workers=1, timeout_s=3) as pool:
        monkeypatch.setenv(FAULT_ENV, "hang")
        with pytest.raises(DecoderTimeoutError) as caught:
            load_image(J2K, pool)
        assert "at most 3 s" in str(caught.value)
        monkeypatch.delenv(FAULT_ENV)
        assert load_image(J2K, pool).stored.shape == (1, 1024, 1024)


@pytest.mark.timeout(120)
@pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_AS is applied on Linux only")
def test_memory_limit_is_a_decode_error(pool: DecoderPool, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(FAULT_ENV, "oom")
    with pytest.raises(DecodeError, match="out of memory"):
        load_image(J2K, pool)
    monkeypatch.delenv(FAULT_ENV)
    assert load_image(J2K, pool).stored.shape == (1, 1024, 1024)


@pytest.mark.timeout(180)
def test_load_many_in_parallel_keeps_order_and_errors(pool: DecoderPool) -> None:
    paths = [
        DATA / "RG3_J2KR.dcm",
        PYDICOM_FILES / "rtplan.dcm",
        J2K,
        PYDICOM_FILES / "MR_small_jp2klossless.dcm",
    ]
    results = pool.load_many(paths)
    assert results[0].header.rows == 1760 and results[2].header.rows == 1024
    assert type(results[1]).__name__ == "NoPixelDataError"
    np.testing.assert_array_equal(
        results[3].stored, load_image(PYDICOM_FILES / "MR_small.dcm").stored
    )


@pytest.mark.timeout(120)
def test_uncompressed_data_skips_the_pool(monkeypatch: pytest.MonkeyPatch) -> None:
    with DecoderPool(workers=1) as pool:
        monkeypatch.setenv(FAULT_ENV, "abort")  # would crash a worker if one ran
        image = load_image(DATA / "MR2_UNCR.dcm", pool)
    assert image.stored.shape == (1, 1024, 1024)


@pytest.mark.parametrize(
    "name",
    [
        "RG1_J2KR.dcm",
        "693_J2KR.dcm",
        "emri_small_jpeg_ls_lossless.dcm",
        "US1_J2KR.dcm",
        "JPEG-LL.dcm",
    ],
)
def test_simpleitk_gives_stored_values(name: str) -> None:
    """GDCM inverts MONOCHROME1 (RG1) and rescales (693: intercept -1024): both undone."""
    header = read_header(DATA / name)
    np.testing.assert_array_equal(decode_simpleitk(header), load_image(DATA / name).stored)


@pytest.mark.parametrize(("slope", "intercept"), [(1, 0), (2, -1024), (0.5, 7.25)])
def test_simpleitk_rescaled_monochrome1(tmp_path: Path, slope: float, intercept: float) -> None:
    pixels = np.random.default_rng(3).integers(0, 4095, (30, 20)).astype(np.uint16)
    ds = make_dataset(
        pixels,
        PhotometricInterpretation="MONOCHROME1",
        RescaleSlope=slope,
        RescaleIntercept=intercept,
    )
    ds.BitsStored, ds.HighBit = 12, 11
    ds.compress(RLELossless, pixels)
    path = write_dataset(tmp_path, "m1.dcm", ds)
    np.testing.assert_array_equal(decode_simpleitk(read_header(path))[0], pixels)


@pytest.mark.timeout(120)
def test_fallback_runs_in_the_worker(pool: DecoderPool, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(FAULT_ENV, "no-pydicom")
    image = load_image(DATA / "RG1_J2KR.dcm", pool)
    monkeypatch.delenv(FAULT_ENV)
    np.testing.assert_array_equal(image.stored, load_image(DATA / "RG1_UNCR.dcm").stored)


@pytest.mark.timeout(120)
def test_worker_killed_while_idle_is_replaced_silently() -> None:
    with DecoderPool(workers=1) as pool:
        load_image(J2K, pool)
        (worker,) = pool._all
        worker.process.kill()
        worker.process.join(5)
        assert load_image(J2K, pool).stored.shape == (1, 1024, 1024)


@pytest.mark.skipif(not os.path.isdir("/dev/shm"), reason="POSIX shared memory folder only")
def test_shared_memory_shortage_is_refused_up_front(
    pool: DecoderPool, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = os.statvfs

    class Tiny:
        f_bavail, f_frsize = 10, 4096

    monkeypatch.setattr(os, "statvfs", lambda path: Tiny() if path == "/dev/shm" else real(path))
    with pytest.raises(DecodeError, match="not enough shared memory"):
        load_image(J2K, pool)
    monkeypatch.undo()
    assert load_image(J2K, pool).stored.shape == (1, 1024, 1024)


@pytest.mark.timeout(120)
def test_interrupted_call_does_not_leave_a_stale_reply(monkeypatch: pytest.MonkeyPatch) -> None:
    """A call abandoned mid-task (here: an exception while waiting) retires that worker, so the
    next file never receives the previous file's answer."""
    with DecoderPool(workers=1) as pool:
        real_poll = type(pool._all[0].conn).poll

        def interrupted(conn: object, timeout: float | None = None) -> bool:
            raise KeyboardInterrupt

        monkeypatch.setattr(type(pool._all[0].conn), "poll", interrupted)
        with pytest.raises(KeyboardInterrupt):
            load_image(DATA / "RG3_J2KR.dcm", pool)
        monkeypatch.setattr(type(pool._all[0].conn), "poll", real_poll)
        image = load_image(J2K, pool)
        np.testing.assert_array_equal(image.stored, load_image(DATA / "MR2_UNCR.dcm").stored)
