# Example program from the document '003_22a517c872083e78.txt'
# ("Understanding Asynchronous Programming in Python: A Journey from First Principles"),
# fenced block 6 (counting every ``` block of the document), verbatim.
# The emoji are kept exactly as the document has them (mis-decoded UTF-8).

import asyncio

async def worker(name, work_time):
    """A generic worker that simulates doing work"""
    print(f"ðŸ‘· {name} started working")
    await asyncio.sleep(work_time)
    print(f"âœ… {name} finished after {work_time} seconds")
    return f"{name}'s result"

async def demonstrate_tasks():
    """Show how tasks work in detail"""
    print("Creating tasks...")
  
    # Create multiple tasks
    task1 = asyncio.create_task(worker("Alice", 2))
    task2 = asyncio.create_task(worker("Bob", 3))
    task3 = asyncio.create_task(worker("Charlie", 1))
  
    print("All tasks created and scheduled!")
    print("Now waiting for them to complete...\n")
  
    # Wait for all tasks to complete
    results = await asyncio.gather(task1, task2, task3)
  
    print(f"\nAll results: {results}")

asyncio.run(demonstrate_tasks())
