# Example program from the document '002_f027d020e3f8e5e5.txt'
# ("Unleashing the Power of Async: Mastering Asynchronous Programming in Python"),
# fenced block 3 (counting every ``` block of the document), verbatim.

import asyncio

async def my_task():
    try:
        while True:
            print("Task is running...")
            await asyncio.sleep(1)
    except asyncio.CancelledError:
        print("Task was cancelled")

async def main():
    task = asyncio.create_task(my_task())
    await asyncio.sleep(3)
    task.cancel()
    await task  # Wait for the task to complete cancellation

if __name__ == "__main__":
    asyncio.run(main())
