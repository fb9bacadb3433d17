"""Three tasks sleeping concurrently, from "Python Asyncio Demystified".

Run it on fastloop, unchanged:  python -m fastloop examples/hello.py
"""
import asyncio
import time


async def say_hello(delay, message):
    print(f"[{time.strftime('%H:%M:%S')}] Starting: {message}")
    await asyncio.sleep(delay)
    print(f"[{time.strftime('%H:%M:%S')}] Finishing: {message}")


async def main():
    loop = asyncio.get_running_loop()
    print(f"running on {type(loop).__module__}.{type(loop).__qualname__}")
    task1 = asyncio.create_task(say_hello(0.3, "Task 1 (0.3s)"))
    task2 = asyncio.create_task(say_hello(0.1, "Task 2 (0.1s)"))
    task3 = asyncio.create_task(say_hello(0.2, "Task 3 (0.2s)"))
    await task1
    await task2
    await task3


if __name__ == "__main__":
    asyncio.run(main())
