"""Undo: snapshots of the workspace around each turn in a shadow git store, and putting them back.

    checkpoints.py    Checkpoints: a snapshot before and after each turn that may change files
    prune.py          Forgetting old checkpoints: `ketch undo --prune DAYS`
    restore.py        Undo and rewind: put back the files the agent's turns changed, as they were before
    rewind_points.py  Where /rewind can go back to: before any prompt the person gave in this conversation
    shadow_store.py   A shadow git store outside the project: snapshots of the workspace that undo ...
"""
