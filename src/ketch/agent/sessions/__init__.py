"""Sessions: one append-only JSONL transcript per session, found, listed, searched, repaired and resumed.

    index.py          The session index: a small summary beside each transcript, so listing never reads them
    load.py           Rebuild a session's conversation (`Agent.messages`) from its transcript
    lock.py           One writer per session: an advisory lock on the open transcript
    records.py        Read a session transcript line by line without ever trusting it
    repair.py         Turn whatever messages a transcript still holds into a conversation both APIs accept
    resume.py         `--continue`, `--resume ID`, `--fork-session`: give an Agent its session and transcript
    search.py         Case-insensitive search over the prompts and answers of stored sessions
    store.py          Find, list and delete stored sessions
    transcript.py     Append each session to disk as it happens, one JSON object per line
"""
