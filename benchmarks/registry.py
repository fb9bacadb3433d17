"""The benchmark registry.

Each bench_*.py module in this package registers plain functions with the
@benchmark decorator.  A benchmark function takes a loop and a size n, does a
fixed amount of work on that loop, and returns (operations done, seconds they
took), timing only the work itself with time.perf_counter.  It checks that the
work really happened, so a loop that drops callbacks cannot look fast.
"""

import importlib
import os
import pkgutil
from dataclasses import dataclass, field
from typing import Callable


class Skip(Exception):
    """Raised by a benchmark that cannot run here (a missing tool or
    package); the runner shows the benchmark as skipped on that loop, with
    this exception's message, instead of failed."""


def spare_cpus():
    """The CPUs the runner may use other than the one this measurement is
    pinned to, for a helper process such as a load generator."""
    text = os.environ.get("FASTLOOP_BENCH_SPARE_CPUS", "")
    return [int(c) for c in text.split(",") if c]


@dataclass(frozen=True)
class Benchmark:
    name: str
    group: str
    func: Callable
    n: int            # size of one measurement (meaning is per benchmark)
    warmup_n: int     # size of the warm-up run that precedes it
    unit: str         # what one operation is, for the table and README
    targets: dict = field(default_factory=dict)  # {"asyncio": 3.0, "uvloop": 1.5}
    # (name of a benchmark that measures the physical limit of the same work,
    # wanted fraction of it), e.g. ("echo_c_epoll_1k", 0.9); see runner.py
    limit: tuple = None
    doc: str = ""


_BENCHMARKS: dict = {}


def benchmark(*, group, n, warmup_n=None, unit="ops", targets=None, limit=None):
    """Register the decorated function under its own name."""

    def register(func):
        name = func.__name__
        if name in _BENCHMARKS:
            raise ValueError(f"benchmark {name!r} registered twice")
        doc = " ".join((func.__doc__ or "").split())
        _BENCHMARKS[name] = Benchmark(
            name=name,
            group=group,
            func=func,
            n=n,
            warmup_n=warmup_n if warmup_n is not None else max(1, n // 10),
            unit=unit,
            targets=dict(targets or {}),
            limit=limit,
            doc=doc,
        )
        return func

    return register


def load_all():
    """Import every bench_* module of this package; return all benchmarks
    in module order, then registration order."""
    package = importlib.import_module(__package__)
    names = sorted(
        m.name for m in pkgutil.iter_modules(package.__path__) if m.name.startswith("bench_")
    )
    for name in names:
        importlib.import_module(f"{__package__}.{name}")
    return list(_BENCHMARKS.values())


def select(benchmarks, only):
    """Benchmarks named in `only` (a list of benchmark or group names), in
    registry order; all of them when `only` is empty."""
    if not only:
        return list(benchmarks)
    names = {b.name for b in benchmarks}
    groups = {b.group for b in benchmarks}
    unknown = [w for w in only if w not in names and w not in groups]
    if unknown:
        raise ValueError(
            f"unknown benchmark or group: {', '.join(unknown)} "
            f"(groups: {', '.join(sorted(groups))}; "
            f"benchmarks: {', '.join(b.name for b in benchmarks)})"
        )
    wanted = set(only)
    return [b for b in benchmarks if b.name in wanted or b.group in wanted]
