"""A time limit for calling code that may never return (a student's endless loop).

    with time_limit(10.0, "fn"):
        fn(x)          # raises TimeLimitExceeded after 10 s of wall time

It uses SIGALRM, so it works in the main thread on Unix; elsewhere (Windows, another
thread) there is no limit, which `available()` tells. Code that catches every
exception (a bare `except:` in a loop) can outlast it: Python cannot stop such code
from inside, so a command line that must end puts a `watchdog` behind it.
"""
from __future__ import annotations

import os
import signal
import sys
import threading
from contextlib import contextmanager
from typing import Iterator, Optional

REPEAT = 0.5       # seconds between alarms after the first, for code that caught one


class TimeLimitExceeded(BaseException):
    """Raised inside the limited code when its time is up. A BaseException, so that a
    student's `except Exception:` does not swallow it."""


def available() -> bool:
    """Whether a limit can be enforced here (SIGALRM, in the main thread)."""
    return hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()


@contextmanager
def time_limit(seconds: Optional[float], what: str = "the call") -> Iterator[None]:
    """Run the block with at most `seconds` of wall time (None or 0: no limit). The alarm
    fires again every REPEAT s after the first, in case the code caught it; the
    previous SIGALRM handler is restored afterwards."""
    if not seconds or not available():
        yield
        return

    def interrupt(signum, frame):
        raise TimeLimitExceeded(f"{what} did not return within {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, seconds, REPEAT)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def watchdog(seconds: float, message: str, status: int = 1,
             stdout: Optional[str] = None) -> threading.Timer:
    """A daemon timer that, unless cancelled within `seconds`, prints `message` to stderr
    (and `stdout`, if given, to stdout) and ends the process at once with `status`
    (os._exit: nothing else can stop code that catches every exception). Call .cancel()
    on it when the work is done."""
    def end() -> None:
        sys.stdout.flush()
        print(message, file=sys.stderr, flush=True)
        if stdout is not None:
            print(stdout, file=sys.__stdout__, flush=True)
        os._exit(status)

    timer = threading.Timer(seconds, end)
    timer.daemon = True
    timer.start()
    return timer
