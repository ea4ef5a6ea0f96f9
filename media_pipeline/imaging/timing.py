"""How long each phase of rendering took (decode, resize, encode), for the worker's logs."""

import time
from collections.abc import Callable
from contextlib import contextmanager


class PhaseTimer:
    """Accumulates wall time per named phase; a phase may be entered many times."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def phase(self, name: str):
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - started

    def timed[**P, R](self, name: str, func: Callable[P, R]) -> Callable[P, R]:
        """`func`, with each call's time added to phase `name`."""

        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            with self.phase(name):
                return func(*args, **kwargs)

        return wrapper

    def milliseconds(self) -> dict[str, int]:
        return {name: round(seconds * 1000) for name, seconds in self.seconds.items()}
