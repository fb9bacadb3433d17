# Example program from the document '001_3a602343b865a605.txt'
# ("Asyncio in Python: Comprehensive Explanation"),
# fenced block 9 (counting every ``` block of the document), verbatim.
# The consumer loops forever, so this program never ends by itself; the test
# stops it with SIGINT (Ctrl-C) once every item has been consumed.

import asyncio

async def producer(queue):
    for i in range(5):
        await queue.put(f"Item {i}")
        await asyncio.sleep(0.5)

async def consumer(queue):
    while True:
        item = await queue.get()
        print(f"Consumed: {item}")
        queue.task_done()

async def main():
    queue = asyncio.Queue()
    await asyncio.gather(
        producer(queue),
        consumer(queue)
    )

asyncio.run(main())
