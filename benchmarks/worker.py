"""One measurement, in a fresh process: python3 -m benchmarks.worker ...

The runner starts this once per (benchmark, loop, repeat).  It pins itself
to one CPU, makes the loop, runs a short warm-up of the same benchmark on it,
collects garbage, runs the measured benchmark and prints one JSON line:
{"ops": ..., "seconds": ...}, or {"skipped": reason}.  With --probe it instead reports which loops
can be made on this interpreter, and the interpreter and CPU it runs on.
"""

import argparse
import gc
import json
import os
import platform
import sys


def _pin(cpu):
    spare = sorted(os.sched_getaffinity(0) - {cpu})
    os.environ["FASTLOOP_BENCH_SPARE_CPUS"] = ",".join(map(str, spare))
    # Threads started later (call_soon_threadsafe's producer) inherit this.
    os.sched_setaffinity(0, {cpu})


def _cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _probe(loop_names):
    from .loops import probe

    return {
        "python": sys.version.replace("\n", " "),
        "executable": sys.executable,
        "cpu_model": _cpu_model(),
        "loops": {name: probe(name) for name in loop_names},
    }


def _measure(bench_name, loop_name, n, warmup_n):
    from .loops import new_loop
    from .registry import Skip, load_all

    bench = {b.name: b for b in load_all()}[bench_name]
    loop = new_loop(loop_name)
    try:
        if warmup_n > 0:
            bench.func(loop, warmup_n)
        gc.collect()
        ops, seconds = bench.func(loop, n)
    except Skip as exc:
        return {"skipped": str(exc)}
    finally:
        loop.close()
    return {"ops": ops, "seconds": seconds}


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python3 -m benchmarks.worker")
    parser.add_argument("--cpu", type=int, required=True)
    parser.add_argument("--probe", metavar="LOOPS", help="comma-separated loop names")
    parser.add_argument("--bench")
    parser.add_argument("--loop")
    parser.add_argument("--n", type=int)
    parser.add_argument("--warmup-n", type=int, default=0)
    args = parser.parse_args(argv)

    _pin(args.cpu)
    if args.probe is not None:
        result = _probe(args.probe.split(","))
    else:
        result = _measure(args.bench, args.loop, args.n, args.warmup_n)
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
