# Example program from the document '003_22a517c872083e78.txt'
# ("Understanding Asynchronous Programming in Python: A Journey from First Principles"),
# fenced block 16 (counting every ``` block of the document), verbatim.
# The document leaves the asyncio.run() call commented out for the reader to
# uncomment; it is uncommented here and nothing else is changed.

import asyncio
import time

async def cpu_intensive_task():
    """This won't benefit from async because it's CPU-bound"""
    total = 0
    for i in range(10_000_000):
        total += i * i
    return total

async def io_intensive_task():
    """This benefits greatly from async because it's I/O-bound"""
    await asyncio.sleep(1)  # Simulates I/O wait
    return "I/O operation completed"

async def compare_scenarios():
    """Compare CPU-bound vs I/O-bound tasks"""
  
    # CPU-bound: async doesn't help much
    start = time.time()
    cpu_tasks = [asyncio.create_task(cpu_intensive_task()) for _ in range(3)]
    await asyncio.gather(*cpu_tasks)
    cpu_time = time.time() - start
  
    # I/O-bound: async helps dramatically
    start = time.time()
    io_tasks = [asyncio.create_task(io_intensive_task()) for _ in range(3)]
    await asyncio.gather(*io_tasks)
    io_time = time.time() - start
  
    print(f"CPU-bound tasks: {cpu_time:.2f} seconds")
    print(f"I/O-bound tasks: {io_time:.2f} seconds")

asyncio.run(compare_scenarios())
