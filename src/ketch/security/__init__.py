"""Guard: shell analysis, the OS sandbox, git places, path policy, secrets and trust.

It never imports the Loop, the Screens, the Wire or the Tools (tests/test_layers.py).

    credentials.py    Stored API keys: the OS keyring when it works, else an owner-only file (DESIGN.md §5.6)
    host_programs.py  Programs ketch runs outside the sandbox, and the folders the model must not plant ...
    private_file.py   Owner-only files under $KETCH_HOME, written so they are never readable by others
    prompt_files.py   Files whose text becomes prompt text: memory files (AGENTS.md, CLAUDE.md), custom ...
    protected.py      Paths no tool may write, and credential stores no tool may read (DESIGN.md §5.4, §5.6)
    redact.py         Exact-value redaction of known secrets (DESIGN.md §5.6)
    safe_open.py      Opening exactly the file that was checked (DESIGN.md §5.3)
    secret_env.py     Which environment variables hold credentials: one answer for the child environment
    trust.py          Folder trust: which project folders the user has said may loosen policy (DESIGN.md §5.5)
    git/              (a package: see its __init__)
    sandbox/          (a package: see its __init__)
    shell/            (a package: see its __init__)
"""
