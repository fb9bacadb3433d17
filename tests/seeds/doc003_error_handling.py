# Example program from the document '003_22a517c872083e78.txt'
# ("Understanding Asynchronous Programming in Python: A Journey from First Principles"),
# fenced block 10 (counting every ``` block of the document), verbatim.
# The document leaves the asyncio.run() call commented out for the reader to
# uncomment; it is uncommented here and nothing else is changed.
# The emoji are kept exactly as the document has them (mis-decoded UTF-8).

import asyncio
import random

async def unreliable_operation(name):
    """Simulates an operation that sometimes fails"""
    print(f"ðŸŽ² {name}: Starting unreliable operation")
    await asyncio.sleep(1)
  
    if random.random() < 0.3:  # 30% chance of failure
        raise Exception(f"{name}: Something went wrong!")
  
    print(f"âœ… {name}: Operation succeeded")
    return f"{name}: Success!"

async def handle_single_error():
    """Handle errors in a single async operation"""
    try:
        result = await unreliable_operation("Task1")
        print(f"Result: {result}")
    except Exception as e:
        print(f"âŒ Caught error: {e}")

async def handle_multiple_errors():
    """Handle errors when running multiple async operations"""
    tasks = [
        asyncio.create_task(unreliable_operation(f"Task{i}"))
        for i in range(1, 4)
    ]
  
    # Method 1: Let one failure stop everything
    try:
        results = await asyncio.gather(*tasks)
        print(f"All succeeded: {results}")
    except Exception as e:
        print(f"âŒ One task failed, stopping all: {e}")
  
    print("\n--- Trying with error tolerance ---")
  
    # Method 2: Continue even if some tasks fail
    tasks = [
        asyncio.create_task(unreliable_operation(f"Task{i}"))
        for i in range(4, 7)
    ]
  
    results = await asyncio.gather(*tasks, return_exceptions=True)
  
    for i, result in enumerate(results, 4):
        if isinstance(result, Exception):
            print(f"âŒ Task{i} failed: {result}")
        else:
            print(f"âœ… Task{i} succeeded: {result}")

asyncio.run(handle_multiple_errors())
