# Example program from the document '004_3a048e3bdb3e994f.txt'
# ("Understanding Asynchronous Programming in Python (`asyncio`)"),
# fenced blocks 1 and 3 (counting every ``` block of the document), verbatim.
# The document builds this program from two blocks: fetch_data() (first
# block) and main() with asyncio.run() (third block); joined here as written.

import asyncio

async def fetch_data():
    print("Starting data fetch...")
    await asyncio.sleep(2) # Simulate waiting for network data
    print("Data fetch complete!")
    return "My data"

async def main():
    print("Main task starts.")
    await fetch_data()
    print("Main task continues after data fetch.")

if __name__ == "__main__":
    asyncio.run(main())
