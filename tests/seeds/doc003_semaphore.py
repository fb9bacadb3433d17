# Example program from the document '003_22a517c872083e78.txt'
# ("Understanding Asynchronous Programming in Python: A Journey from First Principles"),
# fenced block 11 (counting every ``` block of the document), verbatim.
# The document leaves the asyncio.run() call commented out for the reader to
# uncomment; it is uncommented here and nothing else is changed.
# The emoji are kept exactly as the document has them (mis-decoded UTF-8).

import asyncio

async def rate_limited_operation(semaphore, name, duration):
    """An operation that respects rate limits"""
    # Acquire semaphore (wait if too many operations are running)
    async with semaphore:
        print(f"ðŸš€ {name}: Started (semaphore acquired)")
        await asyncio.sleep(duration)
        print(f"âœ… {name}: Completed (semaphore released)")
        return f"{name}: Done"

async def demonstrate_semaphore():
    """Show how semaphores control concurrency"""
    # Allow only 2 operations to run simultaneously
    semaphore = asyncio.Semaphore(2)
  
    tasks = [
        asyncio.create_task(rate_limited_operation(semaphore, f"Op{i}", 2))
        for i in range(1, 6)  # Create 5 operations
    ]
  
    print("Created 5 operations, but only 2 can run at once")
  
    results = await asyncio.gather(*tasks)
    print(f"All operations completed: {len(results)} results")

asyncio.run(demonstrate_semaphore())
