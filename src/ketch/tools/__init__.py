"""Tools: one module per tool, its schema (data/) and its run(); nothing else.

Tools never import the Wire, the Screens or the Loop; every subprocess goes through ctx.runner.

    base.py           What a tool is: a definition the model sees, a kind the permission gate reads, and run()
    bash.py           Bash: one `bash -c` per call, through the sandboxed runner
    edit.py           Edit and MultiEdit: exact find-and-replace in one file
    glob.py           Glob: find files by name, gitignore-aware, newest first
    grep.py           Grep: ripgrep over the workspace, with the model's strings kept out of rg's flags
    paths.py          Turning a model-given path into the one real file it names
    read.py           Read: a text file as numbered lines, the way Claude Code shows it
    registry.py       The built-in tools, in the order the model sees them
    target.py         The one file a tool call works on: reached race-free, checked where it really is
    text_codec.py     A text file's encoding, byte-order mark and line endings, kept through an edit
    todo.py           TodoWrite: the model's visible task list
    validate.py       A small JSON-schema checker for tool inputs
    write.py          Write: replace a file's whole content, safely
"""
