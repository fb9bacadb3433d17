# Example program from the document '003_22a517c872083e78.txt'
# ("Understanding Asynchronous Programming in Python: A Journey from First Principles"),
# fenced block 13 (counting every ``` block of the document), verbatim.
# The document leaves the asyncio.run() call commented out for the reader to
# uncomment; it is uncommented here and nothing else is changed.
# The emoji are kept exactly as the document has them (mis-decoded UTF-8).

import asyncio
import random

async def producer(queue, producer_id):
    """Produces items and puts them in the queue"""
    for i in range(5):
        # Simulate time to produce an item
        await asyncio.sleep(random.uniform(0.5, 1.5))
      
        item = f"Item-{producer_id}-{i}"
        await queue.put(item)
        print(f"ðŸ“¦ Producer {producer_id}: Created {item}")
  
    print(f"ðŸ Producer {producer_id}: Finished")

async def consumer(queue, consumer_id):
    """Consumes items from the queue"""
    while True:
        try:
            # Wait for an item, but timeout after 3 seconds
            item = await asyncio.wait_for(queue.get(), timeout=3.0)
          
            # Simulate processing time
            await asyncio.sleep(random.uniform(0.5, 2.0))
          
            print(f"âœ… Consumer {consumer_id}: Processed {item}")
          
            # Mark task as done
            queue.task_done()
          
        except asyncio.TimeoutError:
            print(f"â° Consumer {consumer_id}: No more items, stopping")
            break

async def producer_consumer_demo():
    """Demonstrate async producer-consumer pattern"""
    # Create a queue with limited size
    queue = asyncio.Queue(maxsize=3)
  
    # Create producers and consumers
    producers = [
        asyncio.create_task(producer(queue, i))
        for i in range(2)  # 2 producers
    ]
  
    consumers = [
        asyncio.create_task(consumer(queue, i))
        for i in range(3)  # 3 consumers
    ]
  
    # Wait for all producers to finish
    await asyncio.gather(*producers)
    print("\nðŸŽ¯ All producers finished")
  
    # Wait for queue to be empty
    await queue.join()
    print("ðŸ“ Queue is empty")
  
    # Cancel consumers (they're waiting indefinitely)
    for consumer_task in consumers:
        consumer_task.cancel()
  
    print("ðŸ›‘ All consumers stopped")

asyncio.run(producer_consumer_demo())
