"""Side-by-side benchmarks of fastloop against stock asyncio and uvloop.

Run from the source tree root:  python3 -m benchmarks  (see benchmarks/README.md).
"""
