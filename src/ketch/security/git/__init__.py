"""Every place the user's own git reads config or hooks from, and the audit after each command.

    audit.py          Repositories a sandboxed command created: their config and hooks are the model's words
    config.py         Reading git config leniently: includes followed, hooksPath and the programs config names
    index.py          The gitlinks (nested repositories) a git index records, read from the index file itself
    listings.py       Folder listings remembered while the folder's ctime says nothing in it changed
    places.py         Every place the user's own git reads config or hooks from, found on disk now ...
"""
