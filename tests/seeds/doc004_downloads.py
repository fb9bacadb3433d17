# Example program from the document '004_3a048e3bdb3e994f.txt'
# ("Understanding Asynchronous Programming in Python (`asyncio`)"),
# fenced blocks 1 and 4 (counting every ``` block of the document), verbatim.
# The last block relies on `import asyncio` from the document's first block;
# both are joined here as written.

import asyncio

async def fetch_data():
    print("Starting data fetch...")
    await asyncio.sleep(2) # Simulate waiting for network data
    print("Data fetch complete!")
    return "My data"

async def download_image(name, delay):
    print(f"[{name}] Starting download...")
    await asyncio.sleep(delay)
    print(f"[{name}] Download finished!")
    return f"Image {name} downloaded"

async def orchestrate_downloads():
    print("Starting multiple downloads concurrently...")

    task1 = asyncio.create_task(download_image("Pic A", 3))
    task2 = asyncio.create_task(download_image("Pic B", 1))
    task3 = asyncio.create_task(download_image("Pic C", 2))

    results = await asyncio.gather(task1, task2, task3)

    print("All downloads complete!")
    print(f"Results: {results}")

if __name__ == "__main__":
    import time
    start_time = time.time()
    asyncio.run(orchestrate_downloads())
    end_time = time.time()
    print(f"Total time taken: {end_time - start_time:.2f} seconds")
