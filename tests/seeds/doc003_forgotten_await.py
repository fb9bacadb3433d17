# Example program from the document '003_22a517c872083e78.txt'
# ("Understanding Asynchronous Programming in Python: A Journey from First Principles"),
# fenced block 14 (counting every ``` block of the document), verbatim.
# The document leaves both asyncio.run() calls commented out for the reader
# to uncomment; they are uncommented here and nothing else is changed.

import asyncio

async def wrong_way():
    """This doesn't work as expected"""
    print("Starting...")
    # BUG: Forgot to await - this creates a coroutine but doesn't run it
    result = asyncio.sleep(2)
    print(f"Result: {result}")  # This prints a coroutine object, not None

async def right_way():
    """This works correctly"""
    print("Starting...")
    # CORRECT: await the coroutine
    result = await asyncio.sleep(2)
    print(f"Result: {result}")  # This prints None after 2 seconds

asyncio.run(wrong_way())   # Prints: Result: <coroutine object sleep at 0x...>
asyncio.run(right_way())   # Waits 2 seconds, then prints: Result: None
