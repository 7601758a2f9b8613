"""`DecoderPool`: compressed pixel data decoded in isolated worker processes, via shared memory.

One spawn-context process per core (default), each with its own pipe, kept warm. The parent
allocates a shared memory block of the declared size, the worker decodes into it (one copy) and
answers with shape and dtype only; the parent wraps the block as the array without copying.
A worker that dies (signal, abort) becomes `DecoderCrashedError`, one that exceeds its time limit
is killed and becomes `DecoderTimeoutError`; either way it is replaced and the pool goes on.
On Linux each worker's address space is limited (RLIMIT_AS): running out is a `DecodeError`.

Test hook: env MAMMOLENS_DECODER_FAULT = abort | segfault | hang | oom, read by `decode()` in
the parent at call time, makes the worker fail that way for that call; `no-pydicom` makes it
skip pydicom's plugins and use the SimpleITK fallback.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing as mp
import os
import queue
import signal
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.connection import Connection
from multiprocessing.shared_memory import SharedMemory
from pathlib import Path
from typing import Any

import numpy as np

from viewer.dicomio.errors import (
    DecodeError,
    DecoderCrashedError,
    DecoderTimeoutError,
    DicomInputError,
)
from viewer.dicomio.header import ImageHeader

log = logging.getLogger(__name__)

FAULT_ENV = "MAMMOLENS_DECODER_FAULT"
DEBUG_ENV = "MAMMOLENS_DECODER_STDERR"
"""Set (to anything) to keep the workers' stderr (codec diagnostics); silenced by default."""
DEFAULT_TIMEOUT_S = 60.0
DEFAULT_MEMORY_LIMIT = 4 * 1024**3


def decoded_nbytes(header: ImageHeader) -> int:
    """Bytes of the decoded array: color comes back as 3 samples, 1-bit as one byte."""
    samples = 3 if header.samples_per_pixel == 3 else 1
    itemsize = max(header.bits_allocated // 8, 1)
    return header.rows * header.columns * header.number_of_frames * samples * itemsize


class _SharedArrayOwner:
    """Keeps a SharedMemory block mapped exactly as long as an array over it lives."""

    def __init__(self, shm: SharedMemory, shape: tuple[int, ...], dtype: np.dtype) -> None:
        self._shm = shm
        assert shm.buf is not None
        probe = np.frombuffer(shm.buf, np.uint8, count=1)
        address = probe.ctypes.data
        del probe
        self.__array_interface__ = {
            "shape": shape,
            "typestr": dtype.str,
            "data": (address, False),
            "version": 3,
        }

    def __del__(self) -> None:
        self._shm.close()


def shared_array(shm: SharedMemory, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """An ndarray over `shm` (no copy) that keeps the mapping alive; the name can be unlinked."""
    return np.asarray(_SharedArrayOwner(shm, shape, np.dtype(dtype)))


class _Worker:
    """One decoder process and the parent's end of its pipe."""

    def __init__(self, context: Any, memory_limit: int | None) -> None:
        self.conn, child = context.Pipe(duplex=True)
        self.process = context.Process(
            target=_worker_main,
            args=(child, memory_limit),
            daemon=True,
            name="mammolens-decoder",
        )
        self.process.start()
        child.close()

    def stop(self, kill: bool = False) -> None:
        if kill and self.process.is_alive():
            self.process.kill()
        else:
            with contextlib.suppress(OSError):
                self.conn.send(None)
        self.process.join(2.0)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(2.0)
        self.conn.close()


class DecoderPool:
    """Isolated process pool for compressed pixel data; thread-safe, one file per worker at once.

    `workers` defaults to the number of cores; `timeout_s` bounds one file's decode;
    `memory_limit` (bytes, Linux only, None = no limit) bounds a worker's extra address space.
    Use as a context manager or call `close()`.
    """

    def __init__(
        self,
        workers: int | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        memory_limit: int | None = DEFAULT_MEMORY_LIMIT,
    ) -> None:
        self.size = max(1, workers or os.cpu_count() or 1)
        self.timeout_s = timeout_s
        self.memory_limit = memory_limit
        self._context = mp.get_context("spawn")
        self._idle: queue.Queue[_Worker] = queue.Queue()
        self._lock = threading.Lock()
        self._closed = False
        self._all: list[_Worker] = []
        for _ in range(self.size):
            self._add_worker()

    def _add_worker(self) -> None:
        worker = _Worker(self._context, self.memory_limit)
        with self._lock:
            self._all.append(worker)
        self._idle.put(worker)

    def _retire(self, worker: _Worker) -> None:
        worker.stop(kill=True)
        with self._lock:
            self._all.remove(worker)
        if not self._closed:
            self._add_worker()

    def _healthy_worker(self) -> _Worker:
        """An idle worker; one that died while idle (e.g. killed by the OS) is replaced."""
        while True:
            worker = self._idle.get()
            if worker.process.is_alive() or worker.process.exitcode is None:
                return worker
            log.warning("decoder process %s died while idle; replaced", worker.process.pid)
            self._retire(worker)

    def decode(self, header: ImageHeader) -> np.ndarray:
        """Decoded stored values of every frame (color as RGB); raises DecodeError subclasses."""
        if self._closed:
            raise RuntimeError("DecoderPool is closed")
        nbytes = max(decoded_nbytes(header), 1)
        _check_shared_memory(header, nbytes)
        shm = SharedMemory(create=True, size=nbytes)
        worker = self._healthy_worker()
        in_step = False  # True only once the worker has answered: it may take the next task
        result: np.ndarray | None = None
        try:
            task = (header, shm.name, nbytes, os.environ.get(FAULT_ENV, ""))
            reply = self._run(worker, header, task)
            in_step = True
            result = _reply_array(reply, header, shm)
            return result
        finally:
            if result is None:
                shm.close()
            shm.unlink()
            if in_step or self._closed:
                self._idle.put(worker)
            else:  # crashed, timed out, or interrupted mid-task: its pipe is out of step
                self._retire(worker)

    def _run(self, worker: _Worker, header: ImageHeader, task: tuple[Any, ...]) -> tuple[Any, ...]:
        """Send one task and wait for its reply; a dead or late worker becomes a typed error."""
        try:
            worker.conn.send(task)
            if not worker.conn.poll(self.timeout_s):
                raise DecoderTimeoutError(
                    header.path,
                    "decoder exceeded its time limit and was stopped",
                    value=header.transfer_syntax_uid,
                    expected=f"at most {self.timeout_s:g} s",
                )
            reply: tuple[Any, ...] = worker.conn.recv()
        except (EOFError, OSError) as exc:
            worker.process.join(1.0)
            raise DecoderCrashedError(
                header.path,
                f"decoder process died ({_exit_reason(worker.process.exitcode)})",
                value=header.transfer_syntax_uid,
            ) from exc
        return reply

    def load(self, path: str | Path) -> Any:
        """`load_image(path, self)`."""
        from viewer.dicomio.pixels import load_image

        return load_image(path, self)

    def load_many(self, paths: Sequence[str | Path]) -> list[Any]:
        """Load several files in parallel (one thread per worker); each item is a ModalityImage
        or the DicomInputError for that file, in the order given."""

        def one(path: str | Path) -> Any:
            try:
                return self.load(path)
            except DicomInputError as error:
                return error

        with ThreadPoolExecutor(max_workers=self.size) as threads:
            return list(threads.map(one, paths))

    def close(self) -> None:
        """Stop every worker (idempotent)."""
        self._closed = True
        with self._lock:
            workers = list(self._all)
            self._all.clear()
        for worker in workers:
            worker.stop()

    def __enter__(self) -> DecoderPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _reply_array(reply: tuple[Any, ...], header: ImageHeader, shm: SharedMemory) -> np.ndarray:
    """The worker's answer: the array over `shm`, or its typed error raised here."""
    if reply[0] == "error":
        error = reply[1]
        if isinstance(error, DicomInputError):
            raise error
        raise DecodeError(header.path, str(error))
    shape, dtype = tuple(int(n) for n in reply[1]), np.dtype(str(reply[2]))
    if int(np.prod(shape)) * dtype.itemsize > shm.size:  # never map past the block
        raise DecodeError(header.path, "decoder reply larger than its buffer", value=shape)
    return shared_array(shm, shape, dtype)


def _check_shared_memory(header: ImageHeader, nbytes: int) -> None:
    """Refuse up front what /dev/shm cannot hold (containers often give it 64 MB): touching
    pages beyond it would kill the worker with SIGBUS instead."""
    if not os.path.isdir("/dev/shm"):
        return
    stats = os.statvfs("/dev/shm")
    free = stats.f_bavail * stats.f_frsize
    if free < nbytes:
        raise DecodeError(
            header.path,
            "not enough shared memory for the decoded pixels",
            value=f"{nbytes} bytes needed, {free} free in /dev/shm",
            expected="a larger /dev/shm (e.g. docker --shm-size)",
        )


def _exit_reason(code: int | None) -> str:
    if code is None:
        return "no exit status"
    if code < 0:
        try:
            return f"killed by signal {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit status {code}"


def _limit_memory(extra: int | None) -> None:
    """RLIMIT_AS = what the worker maps now + `extra` (Linux; elsewhere no limit)."""
    if extra is None or not os.path.exists("/proc/self/statm"):
        return
    import resource

    with open("/proc/self/statm") as statm:
        current = int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    resource.setrlimit(resource.RLIMIT_AS, (current + extra, current + extra))


def _silence_stderr() -> None:
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    os.close(devnull)


def _worker_main(conn: Connection, memory_limit: int | None) -> None:
    """Decoder process: decode each task into its shared memory block, reply shape/dtype."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C is the parent's business
    if not os.environ.get(DEBUG_ENV):
        _silence_stderr()  # codecs print to fd 2; failures come back typed instead
    from viewer.dicomio.decode import decode_file, warm_up

    warm_up()
    _limit_memory(memory_limit)
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            return
        if task is None:
            return
        header, shm_name, nbytes, fault = task
        conn.send(_decode_task(header, shm_name, nbytes, fault, decode_file))


def _decode_task(
    header: ImageHeader, shm_name: str, nbytes: int, fault: str, decode: Any
) -> tuple[Any, ...]:
    try:
        _inject(fault, nbytes)
        array = np.ascontiguousarray(decode(header, use_pydicom=fault != "no-pydicom"))
        if array.nbytes > nbytes:
            raise DecodeError(
                header.path,
                "decoded pixel data larger than declared",
                value=f"{array.nbytes} bytes",
                expected=f"<= {nbytes} bytes",
            )
        shm = SharedMemory(name=shm_name)
        try:
            assert shm.buf is not None
            np.frombuffer(shm.buf, array.dtype, count=array.size)[:] = array.ravel()
        finally:
            shm.close()
        return ("ok", array.shape, array.dtype.str)
    except DicomInputError as error:
        return ("error", error)
    except MemoryError:
        return (
            "error",
            DecodeError(header.path, "decoder ran out of memory", value=header.transfer_syntax_uid),
        )
    except Exception as exc:
        return ("error", DecodeError(header.path, f"{type(exc).__name__}: {exc}"))


def _inject(fault: str, nbytes: int) -> None:
    """Test hook: fail the way `fault` says (see module docstring)."""
    if fault == "abort":
        os.abort()
    elif fault == "segfault":
        import ctypes

        ctypes.string_at(0)
    elif fault == "hang":
        threading.Event().wait()
    elif fault == "oom":
        np.ones(1 << 40, np.uint8)
