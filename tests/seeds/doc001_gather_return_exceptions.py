# Example program from the document '001_3a602343b865a605.txt'
# ("Asyncio in Python: Comprehensive Explanation"),
# fenced block 10 (counting every ``` block of the document), verbatim.

import asyncio

async def risky_task(task_id):
    if task_id == 2:
        raise ValueError(f"Task {task_id} failed")
    return f"Task {task_id} succeeded"

async def main():
    tasks = [risky_task(i) for i in range(1, 4)]
    results = await asyncio.gather(*tasks, return_exceptions=True)
    
    for result in results:
        if isinstance(result, Exception):
            print(f"Error: {result}")
        else:
            print(result)

asyncio.run(main())
