"""Loop: the turns of a conversation: ask the model, gate and run its tool calls, record, compact.

The agent never prints (it yields events, agent/events.py) and never imports a front end.

    billing.py        What a request that never completed still cost: interrupted, cut and resent attempts ...
    compaction.py     How full the context window is, and compaction when it gets too full
    events.py         The typed event stream (DESIGN.md §2): everything the loop does, as it happens
    loop.py           The agent loop: ask the model, run the tools it calls, repeat until it answers
    prompt.py         Build the system prompt: a short package-data template, the environment, project memory
    permissions/      (a package: see its __init__)
    sessions/         (a package: see its __init__)
    undo/             (a package: see its __init__)
"""
