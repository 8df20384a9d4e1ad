"""The seed's async example: awaiting a task runs it; gathered tasks interleave.

Prints exactly: 1 2 a 6 b 7 c 8 d 9
"""

import asyncio

from floq import flow, task


@task
async def print_values(values):
    for value in values:
        await asyncio.sleep(1)  # yield
        print(value, end=" ")


@flow
async def async_flow():
    await print_values([1, 2])  # runs immediately
    coros = [print_values("abcd"), print_values("6789")]
    await asyncio.gather(*coros)  # the two interleave


if __name__ == "__main__":
    asyncio.run(async_flow())
    print()
