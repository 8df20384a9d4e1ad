"""The run engine: what happens to one task run or flow run, from its inputs to its final state.

``core`` is the IO-free state machine (attempts, retries, hooks); ``shells`` drive it
synchronously or under asyncio; ``inputs`` resolves upstream futures inside arguments;
``task_runs`` and ``flow_runs`` put these together for tasks and flows.
"""
