# Example program from the document '001_3a602343b865a605.txt'
# ("Asyncio in Python: Comprehensive Explanation"),
# fenced block 8 (counting every ``` block of the document), verbatim.

import asyncio

async def slow_operation():
    await asyncio.sleep(5)
    return "Done"

async def main():
    try:
        result = await asyncio.wait_for(slow_operation(), timeout=2)
    except asyncio.TimeoutError:
        print("Operation timed out")

asyncio.run(main())
