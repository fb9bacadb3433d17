"""The benchmark runner's arithmetic (benchmarks/runner.py) and how the net
benchmarks read a server's CPU time: no loop runs here."""

import os
import subprocess
import sys

from benchmarks import bench_net, registry, runner


def bench(name, limit=None):
    return registry.Benchmark(name=name, group="net", func=None, n=1, warmup_n=1,
                              unit="msgs/cpu-s", limit=limit)


def test_limit_fraction_uses_the_pooled_median_of_the_limit():
    selected = [bench("echo", limit=("c_server", 0.9)), bench("c_server")]
    all_rates = {
        "echo": {"asyncio": [50, 60, 70], "fastloop": [90, 95, 100]},
        # The limit does not use the loop: its columns are pooled, median 100.
        "c_server": {"asyncio": [100, 120], "fastloop": [80, 100, 100]},
    }
    lines, report = runner._limit_lines(selected, all_rates)
    assert report["echo"]["limit_median"] == 100
    assert report["echo"]["fractions"] == {"asyncio": 0.6, "fastloop": 0.95}
    (line,) = lines
    assert "median of its 5 measurements" in line
    assert line.endswith("target fastloop >= 0.9: met")


def test_limit_fraction_missed_and_absent_limit():
    selected = [bench("echo", limit=("c_server", 0.9))]
    rates = {"echo": {"fastloop": [80]}, "c_server": {"uvloop": [100]}}
    lines, _ = runner._limit_lines(selected, rates)
    assert lines[0].endswith("MISSED")
    # Without the limit's measurements there is nothing to say.
    assert runner._limit_lines(selected, {"echo": {"fastloop": [80]}}) == ([], {})


def test_server_cpu_time_of_another_process_is_finer_than_clock_ticks():
    # A child that burns about 0.2 s of CPU, then waits to be read.
    child = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time\n"
         "end = time.process_time() + 0.2\n"
         "while time.process_time() < end: pass\n"
         "print('done', flush=True); sys.stdin.read()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert child.stdout.readline() == b"done\n"
        seconds = bench_net._process_cpu(child.pid)()
        with open(f"/proc/{child.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        ticks = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    finally:
        child.stdin.close()
        child.wait()
        child.stdout.close()
    assert 0.2 <= seconds < 5
    # The same amount as the clock-tick count, to within a tick or two ...
    assert abs(seconds - ticks) < 0.03
    # ... but not rounded to whole ticks where the kernel counts nanoseconds.
    if os.path.exists("/proc/self/schedstat"):
        assert round(seconds * 100, 6) % 1 != 0
