# Example program from the document '003_22a517c872083e78.txt'
# ("Understanding Asynchronous Programming in Python: A Journey from First Principles"),
# fenced blocks 3 and 4 (counting every ``` block of the document), verbatim.
# The document gives this program in two consecutive blocks (the coroutines,
# then main() and asyncio.run()); they are joined here as written.
# The emoji are kept exactly as the document has them (mis-decoded UTF-8).

import asyncio

async def make_coffee_async():
    """An asynchronous version of making coffee"""
    print("â˜• Starting to make coffee...")
    # asyncio.sleep() is non-blocking - it yields control back to the event loop
    await asyncio.sleep(3)
    print("â˜• Coffee ready!")
    return "Hot coffee"

async def toast_bread_async():
    """An asynchronous version of toasting bread"""
    print("ðŸž Starting to toast bread...")
    await asyncio.sleep(2)
    print("ðŸž Toast ready!")
    return "Crispy toast"

async def main():
    """Demonstrate running coroutines concurrently"""
    start_time = asyncio.get_event_loop().time()
  
    # Method 1: Run sequentially (like synchronous code)
    print("=== Running sequentially ===")
    coffee = await make_coffee_async()
    toast = await toast_bread_async()
    sequential_time = asyncio.get_event_loop().time() - start_time
    print(f"â° Sequential time: {sequential_time:.1f} seconds\n")
  
    # Method 2: Run concurrently
    print("=== Running concurrently ===")
    start_time = asyncio.get_event_loop().time()
  
    # Create tasks but don't wait for them yet
    coffee_task = asyncio.create_task(make_coffee_async())
    toast_task = asyncio.create_task(toast_bread_async())
  
    # Now wait for both to complete
    coffee = await coffee_task
    toast = await toast_task
  
    concurrent_time = asyncio.get_event_loop().time() - start_time
    print(f"â° Concurrent time: {concurrent_time:.1f} seconds")

# Run the async function
asyncio.run(main())
