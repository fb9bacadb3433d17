# Example program from the document '001_3a602343b865a605.txt'
# ("Asyncio in Python: Comprehensive Explanation"),
# fenced block 7 (counting every ``` block of the document), verbatim.

import asyncio

async def task1():
    await asyncio.sleep(1)
    return "Task 1 complete"

async def task2():
    await asyncio.sleep(2)
    return "Task 2 complete"

async def main():
    results = await asyncio.gather(task1(), task2())
    print(results)

asyncio.run(main())
