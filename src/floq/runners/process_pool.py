"""A pool of processes that each run one call at a time, over a pipe of their own: parallel
mode's (:mod:`floq.worker`) and :class:`~floq.runners.ProcessPoolTaskRunner`'s.

Why not :class:`concurrent.futures.ProcessPoolExecutor`: when one of its processes dies (a
task calling ``os._exit``, a crash in a C extension, the OOM killer), it fails *every* call
in flight, in every process, and takes no more (``BrokenProcessPool``), without saying which
call the dead process ran; a worker built on it stopped serving. Here each process has its
own pipe, so the call that was running in the dead process, and only that one, ends with a
:class:`~floq.errors.FloqError` naming the exit code or signal; the other processes carry on,
and a new process takes the dead one's place. A call also goes straight down its process's
pipe, without the executor's two thread hops (its manager and feeder threads).

Processes are spawned (never forked: the worker has threads and open sockets) with SIGINT
blocked, then run ``initializer(*initargs)`` before they report ready: all at once at the
start, or (``start_all=False``) one more each time a call finds none idle, up to ``size``. A
process that dies before it is ready is tried again every ``RETRY_SECONDS``; meanwhile, if
no process is ready, the calls waiting fail, naming how it ended. Calls and replies travel
pickled; an exception raised in a process arrives with its remote traceback
(:class:`~floq.tracebacks.PortableError`).
"""

from __future__ import annotations

import collections
import contextlib
import logging
import multiprocessing
import os
import pickle
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any

from floq.errors import FloqError
from floq.tracebacks import PortableError

logger = logging.getLogger("floq.worker")

Reply = Callable[[bool, Any], None]  # (True, value) or (False, the error)

START_TIMEOUT = 60.0  # seconds for a new process to import and report ready
STOP_TIMEOUT = 5.0  # seconds for an idle process to exit when told to
RETRY_SECONDS = 5.0  # between attempts to replace a lost process that could not start
_READY = b"ready"
_EXIT = b""


@dataclass(eq=False)
class _Process:
    process: Any  # multiprocessing's SpawnProcess
    conn: Connection  # our end of its pipe
    ready: bool = False  # it reported ready (imports done)
    reply: Reply | None = None  # set while it runs a call


class ProcessPool:
    """``size`` spawned processes; :meth:`submit` hands a call to an idle one (or queues it
    until one is idle) and calls ``reply`` once, from the pool's thread, when it ends."""

    def __init__(
        self,
        size: int,
        initializer: Callable[..., None],
        initargs: tuple[Any, ...],
        start_all: bool = True,
    ):
        self._size = size
        self._context = multiprocessing.get_context("spawn")
        self._initializer, self._initargs = initializer, initargs
        self._lock = threading.Lock()
        self._reaping = threading.Lock()  # one waitpid at a time (a second one misses the code)
        self._processes: list[_Process] = []
        self._idle: list[_Process] = []
        self._queued: collections.deque[tuple[bytes, Reply]] = collections.deque()
        self._wake_reader, self._wake_writer = self._context.Pipe(duplex=False)
        self._closed = False
        self._missing, self._start_after = 0, 0.0  # lost processes not replaced yet; from when
        started = [self._start() for _ in range(size if start_all else 0)]  # all at once
        for member in started:
            self._wait_ready(member)
        # Replacements are started by this thread: it lasts as long as the pool (a process
        # started by a thread that ends gets SIGKILL: see floq.worker.children).
        self._thread = threading.Thread(target=self._receive, name="floq-pool", daemon=True)
        self._thread.start()

    @property
    def pids(self) -> list[int]:
        with self._lock:
            return [member.process.pid for member in self._processes]

    def submit(self, fn: Callable[..., Any], args: tuple[Any, ...], reply: Reply) -> None:
        """Run ``fn(*args)`` in a process; ``reply(ok, value or error)`` when it ends."""
        message = pickle.dumps((fn, args), pickle.HIGHEST_PROTOCOL)
        with self._lock:
            if self._closed:
                raise FloqError("the process pool is shut down")
            if not self._idle:
                self._queued.append((message, reply))
                if len(self._processes) + self._missing < self._size:  # one more, by its thread
                    self._missing += 1
                    self._wake()
                return
            member = self._idle.pop()
            member.reply = reply
        self._send(member, message)

    def signal(self, signum: int) -> None:
        """Send ``signum`` to every process of the pool."""
        for pid in self.pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signum)

    def shutdown(self, kill: bool = False, wait: bool = True) -> None:
        """Stop every process: told to exit (killed if it does not, or with ``kill``, at once);
        a call still running ends with an error. ``wait=False``: the pool's thread reaps them."""
        with self._lock:
            self._closed = True
            members = list(self._processes)
            queued = [reply for _, reply in self._queued]
            self._queued.clear()
        self._wake()  # its thread ends once every process has
        for reply in queued:
            reply(False, FloqError("the process pool shut down before it ran"))
        for member in members:
            if kill:
                member.process.kill()
            else:
                self._send(member, _EXIT)
        if not wait:
            return
        for member in members:
            if self._reap(member) is None:
                member.process.kill()
                self._reap(member)
        self._thread.join(STOP_TIMEOUT)

    # --- processes ----------------------------------------------------------------------------
    def _start(self, replacing: bool = False) -> _Process:
        """A new process; ``replacing``: it is one of those missing (by the pool's thread)."""
        ours, theirs = self._context.Pipe()
        process = self._context.Process(
            target=_serve, args=(theirs, self._initializer, self._initargs), name="floq-process"
        )
        with sigint_blocked():  # it inherits the mask: a Ctrl-C cannot raise while it boots
            process.start()
        theirs.close()  # so its death reads as end-of-file here
        member = _Process(process, ours)
        with self._lock:
            self._processes.append(member)
            self._missing -= replacing
            if self._closed:  # shut down meanwhile: its thread sees it end
                process.kill()
        return member

    def _wait_ready(self, member: _Process) -> None:
        """At start: wait for its ready report; a process that cannot start stops the worker."""
        try:
            if not member.conn.poll(START_TIMEOUT) or member.conn.recv_bytes() != _READY:
                raise EOFError
        except (EOFError, OSError):
            for started in self._processes:
                started.process.kill()
            raise FloqError(
                "a parallel-mode process did not start (exit code "
                f"{member.process.exitcode}); see the log above"
            ) from None
        self._became_ready(member)

    def _became_ready(self, member: _Process) -> None:
        member.ready = True
        self._take_next(member)

    def _send(self, member: _Process, message: bytes) -> None:
        with contextlib.suppress(OSError):  # it died: the pool's thread sees its pipe end, says so
            member.conn.send_bytes(message)

    def _wake(self) -> None:
        with contextlib.suppress(OSError):
            self._wake_writer.send_bytes(b"")

    def _take_next(self, member: _Process) -> None:
        with self._lock:
            if self._closed:
                return
            if not self._queued:
                self._idle.append(member)
                return
            message, member.reply = self._queued.popleft()
        self._send(member, message)

    # --- the pool's thread: replies in, lost processes out --------------------------------------
    def _receive(self) -> None:
        while True:
            with self._lock:
                if self._closed and not self._processes:
                    return
                by_handle: dict[Any, _Process] = {m.conn: m for m in self._processes}  # reply, end
                by_handle.update((m.process.sentinel, m) for m in self._processes)  # its exit
                missing = self._missing and not self._closed
            if missing:
                wait_s = self._start_after - time.monotonic()
                if wait_s <= 0:
                    self._start(replacing=True)
                    continue
            else:
                wait_s = None
            for handle in wait([*by_handle, self._wake_reader], wait_s):
                if handle is self._wake_reader:
                    self._wake_reader.recv_bytes()
                elif (member := by_handle[handle]) in self._processes:  # not lost meanwhile
                    self._read(member, ended=handle is not member.conn)

    def _read(self, member: _Process, ended: bool) -> None:
        """Its reply, if one is there; the end of its pipe (or its exit): it is lost."""
        try:
            while member.conn.poll():  # a reply sent just before it ended is still delivered
                data = member.conn.recv_bytes()
                if member.ready:
                    self._replied(member, data)
                else:
                    self._became_ready(member)
                if not ended:
                    return
        except (EOFError, OSError):
            pass
        self._lost(member)

    def _replied(self, member: _Process, data: bytes) -> None:
        try:
            ok, value = pickle.loads(data)
        except Exception as error:  # a value that pickles but does not unpickle here
            ok, value = False, error
        reply, member.reply = member.reply, None
        self._take_next(member)  # idle before the reply: whoever it wakes finds it free
        if reply is not None:
            reply(ok, value)

    def _reap(self, member: _Process) -> int | None:
        """Its exit code, once it ended (None if it did not within ``STOP_TIMEOUT``)."""
        with self._reaping:
            member.process.join(STOP_TIMEOUT)
            return member.process.exitcode  # type: ignore[no-any-return]

    def _lost(self, member: _Process) -> None:
        how = _ending(self._reap(member))
        with self._lock:
            self._processes.remove(member)
            if member in self._idle:
                self._idle.remove(member)
            closed = self._closed
            if not closed:  # another takes its place (one that could not even start: later)
                self._missing += 1
                if not member.ready:
                    self._start_after = time.monotonic() + RETRY_SECONDS
        member.conn.close()
        if closed:
            pass
        elif member.ready:
            logger.warning("process %s of the pool %s; starting another", member.process.pid, how)
        else:
            logger.error("a new process of the pool %s before it was ready; trying again in "
                         "%g s", how, RETRY_SECONDS)  # fmt: skip
            self._fail_queued(f"no process of the pool could start: the last one {how}")
        reply, member.reply = member.reply, None
        if reply is not None:
            reply(False, FloqError(f"the process running it ({member.process.pid}) {how}"))

    def _fail_queued(self, why: str) -> None:
        """The calls waiting fail if no process is ready to take them."""
        with self._lock:
            if any(member.ready for member in self._processes):
                return
            replies = [reply for _, reply in self._queued]
            self._queued.clear()
        for reply in replies:
            reply(False, FloqError(why))


def outcome(ok: bool, value: Any) -> Any:
    """A reply's value, or its error raised."""
    if ok:
        return value
    raise value


@contextmanager
def sigint_blocked() -> Iterator[None]:
    """Block SIGINT in this thread meanwhile; processes and threads started here inherit it."""
    from multiprocessing import resource_tracker

    # Started later, the tracker would unblock SIGINT in this thread (SIG_UNBLOCK, not restore).
    resource_tracker.ensure_running()
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def exit_with_parent(parent: int) -> None:
    """End this process (``os._exit``) as soon as process ``parent`` is gone: a thread looks
    at the parent pid twice a second. (Unlike Linux's ``PR_SET_PDEATHSIG``, it does not
    matter which of the parent's threads started this process.)"""
    if os.getppid() != parent:  # gone already
        os._exit(1)
    threading.Thread(target=_watch, args=(parent,), name="floq-parent", daemon=True).start()


def _watch(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(_WATCH_SECONDS)
    os._exit(1)


_WATCH_SECONDS = 0.5


def _ending(code: int | None) -> str:
    if code is None:
        return "stopped answering"
    if code < 0:
        try:
            return f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"ended with exit code {code}"


# --- inside a pool process ---------------------------------------------------------------------
def _serve(conn: Connection, initializer: Callable[..., None], initargs: tuple[Any, ...]) -> None:
    initializer(*initargs)
    conn.send_bytes(_READY)
    while True:
        try:
            message = conn.recv_bytes()
        except EOFError:
            return
        if message == _EXIT:
            return
        conn.send_bytes(_run(message))


def _run(message: bytes) -> bytes:
    try:
        fn, args = pickle.loads(message)
        reply: tuple[bool, Any] = (True, fn(*args))
    except BaseException as error:  # whatever it was, the worker hears of it
        reply = (False, PortableError(error))
    try:
        return pickle.dumps(reply, pickle.HIGHEST_PROTOCOL)
    except Exception as error:  # a value that cannot be pickled
        return pickle.dumps((False, PortableError(error)), pickle.HIGHEST_PROTOCOL)
