# Example program from the document '001_3a602343b865a605.txt'
# ("Asyncio in Python: Comprehensive Explanation"),
# fenced block 11 (counting every ``` block of the document), verbatim.

import asyncio

class AsyncResource:
    async def __aenter__(self):
        print("Acquiring resource")
        await asyncio.sleep(0.5)
        return self
    
    async def __aexit__(self, exc_type, exc_val, exc_tb):
        print("Releasing resource")
        await asyncio.sleep(0.5)
    
    async def do_work(self):
        print("Working...")
        await asyncio.sleep(1)

async def main():
    async with AsyncResource() as resource:
        await resource.do_work()

asyncio.run(main())
