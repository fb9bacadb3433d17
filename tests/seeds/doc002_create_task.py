# Example program from the document '002_f027d020e3f8e5e5.txt'
# ("Unleashing the Power of Async: Mastering Asynchronous Programming in Python"),
# fenced block 2 (counting every ``` block of the document), verbatim.

import asyncio

async def my_coroutine(delay, message):
    await asyncio.sleep(delay)
    print(message)

async def main():
    task1 = asyncio.create_task(my_coroutine(2, "Task 1 completed"))
    task2 = asyncio.create_task(my_coroutine(1, "Task 2 completed"))

    await asyncio.gather(task1, task2) # Run tasks concurrently

if __name__ == "__main__":
    asyncio.run(main())
