# Example program from the document '000_036b1ff756f55594.txt'
# ("Python Asyncio Demystified"),
# fenced block 1 (counting every ``` block of the document), verbatim.

import asyncio
import time

async def say_hello(delay, message):
    print(f"[{time.strftime('%H:%M:%S')}] Starting: {message}")
    await asyncio.sleep(delay) # Simulate an I/O bound operation
    print(f"[{time.strftime('%H:%M:%S')}] Finishing: {message}")

async def main():
    print(f"[{time.strftime('%H:%M:%S')}] Main started")
    # Schedule multiple coroutines to run
    task1 = asyncio.create_task(say_hello(3, "Task 1 (3s)"))
    task2 = asyncio.create_task(say_hello(1, "Task 2 (1s)"))
    task3 = asyncio.create_task(say_hello(2, "Task 3 (2s)"))

    # Wait for all tasks to complete
    await task1
    await task2
    await task3
    print(f"[{time.strftime('%H:%M:%S')}] Main finished")

if __name__ == "__main__":
    asyncio.run(main())
