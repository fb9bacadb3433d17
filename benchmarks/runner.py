"""Orchestration: pick the CPU, run every measurement in a fresh pinned
process, interleave the loops, and print the table.

Each (benchmark, loop, repeat) is one `python3 -m benchmarks.worker` process
pinned to one CPU.  Within a benchmark, repeat r runs the loops in the order
given and repeat r+1 rotates that order by one, so slow drifts of a noisy
machine fall on every loop alike.  The figure quoted is the median of the
repeats' operations per second.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

from . import registry
from .loops import LOOP_NAMES

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_BASELINES = ("asyncio", "uvloop")
_SUBJECT = "fastloop"


def _parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="python3 -m benchmarks",
        description="Benchmark fastloop side by side with stock asyncio and uvloop.",
    )
    parser.add_argument(
        "--loops", default=",".join(LOOP_NAMES),
        help="comma-separated loops to compare (default: %(default)s)",
    )
    parser.add_argument(
        "--only", default="",
        help="comma-separated benchmark or group names (default: all)",
    )
    parser.add_argument(
        "--repeat", type=int, default=7,
        help="measurements per loop and benchmark; the median is quoted (default: %(default)s)",
    )
    parser.add_argument(
        "--cpu", type=int, default=None,
        help="CPU to pin every measurement to (default: the highest-numbered allowed CPU)",
    )
    parser.add_argument("--json", metavar="FILE", help="also write the raw numbers to FILE")
    parser.add_argument(
        "--timeout", type=float, default=120.0,
        help="seconds one measurement may take before it is counted as failed (default: %(default)s)",
    )
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    args = parser.parse_args(argv)
    args.loops = [x for x in args.loops.split(",") if x]
    args.only = [x for x in args.only.split(",") if x]
    unknown = [x for x in args.loops if x not in LOOP_NAMES]
    if unknown or not args.loops:
        parser.error(f"--loops: choose from {', '.join(LOOP_NAMES)}")
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    return parser, args


def _pick_cpu(requested):
    allowed = sorted(os.sched_getaffinity(0))
    if requested is None:
        # CPU 0 usually takes more of the machine's interrupts.
        return allowed[-1]
    if requested not in allowed:
        raise SystemExit(f"--cpu {requested}: not among the allowed CPUs {allowed}")
    return requested


def _worker(cpu, extra, timeout):
    """Run one worker process; return (parsed JSON line, None) or (None, error text)."""
    cmd = [sys.executable, "-m", "benchmarks.worker", "--cpu", str(cpu), *extra]
    try:
        proc = subprocess.run(
            cmd, cwd=_ROOT, capture_output=True, text=True, timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return None, f"timed out after {timeout:g} s"
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
        return None, f"exit status {proc.returncode}: {tail}"
    try:
        return json.loads(proc.stdout.strip().splitlines()[-1]), None
    except (ValueError, IndexError):
        return None, f"unreadable output: {proc.stdout[-200:]!r}"


def _fmt_rate(x):
    if x is None:
        return "-"
    for div, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if x >= div:
            return f"{x / div:.3g}{suffix}"
    return f"{x:.3g}"


def _fmt_cell(rates):
    """Median ops/s and the spread of the repeats around it."""
    if not rates:
        return "-"
    med = statistics.median(rates)
    if len(rates) == 1:
        return _fmt_rate(med)
    spread = (max(rates) - min(rates)) / med * 100
    return f"{_fmt_rate(med)} ±{spread / 2:.0f}%"


def _ratio(medians, base):
    if medians.get(_SUBJECT) and medians.get(base):
        return medians[_SUBJECT] / medians[base]
    return None


def _targets_text(bench, ratios):
    parts = []
    for base in _BASELINES:
        want = bench.targets.get(base)
        if want is None:
            continue
        got = ratios.get(base)
        verdict = "?" if got is None else ("met" if got >= want else "MISSED")
        parts.append(f"{base[0]}>={want:g} {verdict}")
    return ", ".join(parts)


class _Table:
    def __init__(self, loops):
        self.loops = loops
        self.ratio_bases = [b for b in _BASELINES if b in loops] if _SUBJECT in loops else []
        self.headers = (
            ["benchmark", "unit"]
            + [f"{name} ops/s" for name in loops]
            + [f"{_SUBJECT}/{b}" for b in self.ratio_bases]
            + ["targets"]
        )
        self.widths = [24, 10] + [16] * len(loops) + [15] * len(self.ratio_bases) + [0]

    def _line(self, cells):
        return "  ".join(c.ljust(w) if w else c for c, w in zip(cells, self.widths)).rstrip()

    def header(self):
        print(self._line(self.headers))
        print(self._line(["-" * (w or 24) for w in self.widths]))

    def row(self, bench, rates, ratios, errors):
        cells = [bench.name, bench.unit]
        cells += [_fmt_cell(rates.get(name, [])) if name not in errors
                  else "skipped" if errors[name].startswith("skipped") else "FAILED"
                  for name in self.loops]
        cells += ["-" if ratios.get(b) is None else f"{ratios[b]:.2f}x" for b in self.ratio_bases]
        cells.append(_targets_text(bench, ratios))
        print(self._line(cells), flush=True)


def _run_benchmark(bench, loops, args, cpu, progress):
    """All repeats of one benchmark, loops interleaved and rotated."""
    runs = {name: [] for name in loops}
    errors = {}
    for r in range(args.repeat):
        k = r % len(loops)
        for position, name in enumerate(loops[k:] + loops[:k]):
            if name in errors:
                continue
            progress(f"{bench.name}: {name} {r + 1}/{args.repeat}")
            result, error = _worker(
                cpu,
                ["--bench", bench.name, "--loop", name,
                 "--n", str(bench.n), "--warmup-n", str(bench.warmup_n)],
                args.timeout,
            )
            if error:
                # One failure is enough to distrust the rest for that loop.
                errors[name] = error
                continue
            if "skipped" in result:
                errors[name] = "skipped: " + result["skipped"]
                continue
            result.update(repeat=r, position=position,
                          ops_per_sec=result["ops"] / result["seconds"])
            runs[name].append(result)
    return runs, errors


def _limit_lines(selected, all_rates):
    """For benchmarks held against a physical limit (Benchmark.limit): each
    loop's median as a fraction of the limit's median.  The limit benchmark
    does not use the loop, so all its measurements, from every column, are
    pooled into one median."""
    lines, report = [], {}
    for bench in selected:
        if bench.limit is None:
            continue
        ref_name, want = bench.limit
        pooled = [r for rates in all_rates.get(ref_name, {}).values() for r in rates]
        if not pooled or not all_rates.get(bench.name):
            continue
        ref = statistics.median(pooled)
        fractions = {name: statistics.median(rates) / ref
                     for name, rates in all_rates[bench.name].items() if rates}
        parts = [f"{name} {f:.2f}" for name, f in fractions.items()]
        got = fractions.get(_SUBJECT)
        verdict = "" if got is None else f"; target {_SUBJECT} >= {want:g}: {'met' if got >= want else 'MISSED'}"
        lines.append(f"{bench.name} / {ref_name} (median of its {len(pooled)} measurements, "
                     f"{_fmt_rate(ref)}): {', '.join(parts)}{verdict}")
        report[bench.name] = {"limit": ref_name, "limit_median": ref, "fractions": fractions,
                              "target": want}
    return lines, report


def _progress_printer():
    if not sys.stderr.isatty():
        return lambda text: None

    def show(text):
        sys.stderr.write("\r\x1b[K" + text)
        sys.stderr.flush()

    return show


def main(argv=None):
    parser, args = _parse_args(argv)
    benchmarks = registry.load_all()
    if args.list:
        for b in benchmarks:
            print(f"{b.name:24} {b.group:6} n={b.n:<8} {b.doc}")
        return 0
    try:
        selected = registry.select(benchmarks, args.only)
    except ValueError as exc:
        parser.error(str(exc))
    cpu = _pick_cpu(args.cpu)

    info, error = _worker(cpu, ["--probe", ",".join(args.loops)], args.timeout)
    if error:
        print(f"cannot start the benchmark worker: {error}", file=sys.stderr)
        return 2
    print(f"Python {info['python']} ({info['executable']})")
    print(f"pinned to CPU {cpu} of {sorted(os.sched_getaffinity(0))}: {info['cpu_model']}")
    print(f"{args.repeat} repeats per loop, median ops/s quoted (± is half the min-max spread)")
    loops = []
    for name in args.loops:
        p = info["loops"][name]
        if p["available"]:
            loops.append(name)
            print(f"  {name:9} {p['version']}")
        else:
            print(f"  {name:9} skipped: {p['error']}")
    if not loops:
        print("no loop to benchmark", file=sys.stderr)
        return 2
    print()

    table = _Table(loops)
    table.header()
    progress = _progress_printer()
    report = {
        "python": info["python"], "executable": info["executable"],
        "cpu": cpu, "cpu_model": info["cpu_model"], "repeat": args.repeat,
        "loops": info["loops"], "benchmarks": {},
    }
    failures, skips = [], []
    all_rates = {}
    started = time.monotonic()
    for bench in selected:
        runs, errors = _run_benchmark(bench, loops, args, cpu, progress)
        progress("")
        medians = {
            name: statistics.median(r["ops_per_sec"] for r in rs)
            for name, rs in runs.items() if rs and name not in errors
        }
        ratios = {b: _ratio(medians, b) for b in _BASELINES}
        rates = {name: [r["ops_per_sec"] for r in rs] for name, rs in runs.items()
                 if name not in errors}
        table.row(bench, rates, ratios, errors)
        all_rates[bench.name] = rates
        for name, err in errors.items():
            if err.startswith("skipped"):
                skips.append(f"{bench.name} on {name}: {err[len('skipped: '):]}")
            else:
                failures.append(f"{bench.name} on {name}: {err}")
        report["benchmarks"][bench.name] = {
            "group": bench.group, "unit": bench.unit, "n": bench.n,
            "warmup_n": bench.warmup_n, "targets": bench.targets, "runs": runs,
            "errors": errors, "median_ops_per_sec": medians,
            "ratios": {f"{_SUBJECT}/{b}": v for b, v in ratios.items() if v is not None},
        }
    limit_lines, report["limits"] = _limit_lines(selected, all_rates)
    if limit_lines:
        print()
        for line in limit_lines:
            print(line)
    print(f"\n{len(selected)} benchmarks in {time.monotonic() - started:.0f} s")
    for line in skips:
        print(f"skipped {line}")
    for line in failures:
        print(f"FAILED {line}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)
            f.write("\n")
        print(f"raw numbers written to {args.json}")
    return 1 if failures else 0
