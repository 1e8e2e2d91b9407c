# asyncio on the simulated board's virtual clock. The port's own asyncio waits on JavaScript
# timers, which never fire inside one synchronous run; this scheduler sleeps the board instead, so
# a task's `await asyncio.sleep_ms(500)` is 500 ms of virtual time, with timers and IRQs firing on
# the way. The subset makers use: run, create_task, sleep/sleep_ms, gather, wait_for(_ms), Event,
# ThreadSafeFlag, Lock, Task.cancel, get_event_loop / new_event_loop.
import sys

import _sim

_ready = []  # [(task, value to send, exception to throw)]
_sleeping = []  # [(wake_us, seq, task, wait_id)]
_seq = 0
_current = None


class CancelledError(BaseException):
    pass


class TimeoutError(Exception):
    pass


class _Wait:
    # What a task yields to the scheduler: ("sleep", us) | ("join", task) | ("event", ev) | ("until", task, us)
    def __init__(self, *what):
        self.what = what

    def __iter__(self):
        return (yield self.what)

    __await__ = __iter__


def sleep_ms(ms):
    return _Wait("sleep", max(0, int(ms * 1000)))


def sleep(seconds):
    return _Wait("sleep", max(0, int(seconds * 1_000_000)))


class Task:
    def __init__(self, coro):
        self.coro = coro if hasattr(coro, "send") else _awaiting(coro)
        self.finished = False
        self.result = None
        self.exc = None
        self.waiters = []
        self.wait_id = 0  # bumped whenever the task wakes: older sleep or wait entries are stale
        self.retrieved = False

    def __iter__(self):
        if not self.finished:
            yield ("join", self)
        self.retrieved = True
        if self.exc is not None:
            raise self.exc
        return self.result

    __await__ = __iter__

    def done(self):
        return self.finished

    def cancel(self):
        if self.finished or self is _current:
            return False
        _wake(self, exc=CancelledError())
        return True


async def _awaiting(aw):
    return await aw


def _wake(task, value=None, exc=None):
    task.wait_id += 1
    _ready.append((task, value, exc))


def _wake_if(task, wait_id):
    # A task waits on one thing at a time; an entry from an earlier wait no longer wakes it.
    if task.wait_id == wait_id and not task.finished:
        _wake(task)


def _sleep_until(task, wake_us):
    global _seq
    _seq += 1
    _sleeping.append((wake_us, _seq, task, task.wait_id))


def create_task(coro):
    task = Task(coro)
    _wake(task)
    return task


def current_task():
    return _current


def _finish(task, result=None, exc=None):
    task.finished, task.result, task.exc = True, result, exc
    for waiter, wait_id in task.waiters:
        _wake_if(waiter, wait_id)
    if exc is not None and not task.waiters and not task.retrieved and not isinstance(exc, CancelledError):
        print("Task exception wasn't retrieved")
        sys.print_exception(exc)


def _step(task, value, exc):
    global _current
    if task.finished:
        return
    _current = task
    try:
        what = task.coro.throw(exc) if exc is not None else task.coro.send(value)
    except StopIteration as stop:
        _finish(task, result=stop.value if stop.args else None)
        return
    except BaseException as e:  # noqa: B036 - the task ends with whatever it raised
        _finish(task, exc=e)
        return
    finally:
        _current = None
    if not isinstance(what, tuple) or not what:  # a bare `yield`, or sleep(0)
        _wake(task)
    elif what[0] == "sleep":
        _sleep_until(task, _sim.now_us + what[1])
    elif what[0] in ("join", "until"):
        what[1].waiters.append((task, task.wait_id))
        if len(what) == 3:
            _sleep_until(task, what[2])
    elif what[0] == "event":
        what[1]._waiters.append((task, task.wait_id))


def _run_until(done):
    """Step ready tasks; when none is ready, sleep the board to the next wake-up or callback."""
    while not done():
        if _ready:
            _step(*_ready.pop(0))
            continue
        live = [s for s in _sleeping if s[3] == s[2].wait_id and not s[2].finished]
        _sleeping[:] = live
        wake = min(live)[0] if live else _sim.BUDGET_US
        due = _sim.next_due_us()
        target = wake if due is None else min(wake, due)
        if target > _sim.now_us:
            _sim.emit("sleep", {"ms": (target - _sim.now_us) / 1000})
            _sim.advance(target - _sim.now_us)  # at the budget this ends the run
        for s in sorted(live):
            if s[0] <= _sim.now_us:
                _sleeping.remove(s)
                _wake_if(s[2], s[3])


def run(coro):
    task = create_task(coro)
    task.retrieved = True  # its exception propagates out of run()
    _run_until(lambda: task.finished)
    if task.exc is not None:
        raise task.exc
    return task.result


async def gather(*aws, return_exceptions=False):
    tasks = [a if isinstance(a, Task) else create_task(a) for a in aws]
    results = []
    for task in tasks:
        try:
            results.append(await task)
        except Exception as e:
            if not return_exceptions:
                raise
            results.append(e)
    return results


async def wait_for_ms(aw, timeout_ms):
    task = aw if isinstance(aw, Task) else create_task(aw)
    if not task.finished:
        await _Wait("until", task, _sim.now_us + int(timeout_ms * 1000))
    if not task.finished:
        task.cancel()
        raise TimeoutError  # noqa: UP041 - asyncio.TimeoutError, this module's own
    return await task


def wait_for(aw, timeout):
    return wait_for_ms(aw, timeout * 1000)


class Event:
    def __init__(self):
        self.state = False
        self._waiters = []

    def is_set(self):
        return self.state

    def set(self):
        self.state = True
        for task, wait_id in self._waiters:
            _wake_if(task, wait_id)
        self._waiters = []

    def clear(self):
        self.state = False

    async def wait(self):
        if not self.state:
            await _Wait("event", self)
        return True


class ThreadSafeFlag(Event):
    async def wait(self):
        await super().wait()
        self.state = False


class Lock:
    def __init__(self):
        self._locked = False
        self._freed = Event()

    def locked(self):
        return self._locked

    async def acquire(self):
        while self._locked:
            self._freed.clear()
            await self._freed.wait()
        self._locked = True
        return True

    def release(self):
        self._locked = False
        self._freed.set()

    async def __aenter__(self):
        return await self.acquire()

    async def __aexit__(self, *exc):
        self.release()


class Loop:
    def create_task(self, coro):
        return create_task(coro)

    def run_until_complete(self, aw):
        return run(aw) if not isinstance(aw, Task) else _run_until(lambda: aw.finished)

    def run_forever(self):
        _run_until(lambda: False)

    def stop(self):
        pass

    def close(self):
        pass


_loop = Loop()


def get_event_loop():
    return _loop


def new_event_loop():
    return _loop
