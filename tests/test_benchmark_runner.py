"""The benchmark runner's arithmetic (benchmarks/runner.py): no loop runs here."""

from benchmarks import registry, runner


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
