# Example program from the document '002_f027d020e3f8e5e5.txt'
# ("Unleashing the Power of Async: Mastering Asynchronous Programming in Python"),
# fenced block 1 (counting every ``` block of the document), verbatim.

import asyncio

async def hello_world():
    print("Hello, ")
    await asyncio.sleep(1) # Simulate an I/O-bound operation
    print("World!")

async def main():
    await hello_world()

if __name__ == "__main__":
    asyncio.run(main())
