"""Screens: the REPL and the headless printers render the event stream and answer approvals.

They never build an Agent (cli/ hands them one) and never decide policy.

    context_view.py   How much of the context window a conversation uses, in total and by part (/context)
    diffs.py          What an edit did, as diff lines, and long outputs folded to their first lines
    headless.py       Headless printers: `--output-format text | json | stream-json` (Claude Code's shapes)
    input.py          Reading the person's next message: prompt_toolkit on a terminal, plain lines otherwise
    markdown_line.py  Markdown for one finished line of prose (and for a finished table), as rich Text
    mcp_elicit.py     An MCP server's elicitation, asked in the REPL: its message and the fields of a flat form
    mcp_prompts.py    Each connected MCP server's prompts as slash commands: `/mcp__server__prompt ARG1 ARG2`
    mcp_resources.py  `@server:uri` mentions: an MCP server's resource read and attached to the prompt
    mcp_session.py    MCP servers in the REPL: the session's McpManager, its notices, elicitation, approvals
    mentions.py       `@path` mentions: the project's files for completion, and attaching mentioned files
    permission_prompt.py  The inline permission question: what exactly would run, and the person's answer
    piped_input.py    Piped stdin as part of a headless prompt: read up to a limit, and say what it will cost
    project_rules.py  The project's own `.ketch/settings.local.json`, where older versions saved "always" ...
    render.py         The REPL's view of the event stream: inline, append-only, compact
    repl.py           `ketch` without -p: the interactive session (issue 4)
    resume_recap.py   What a resumed session shows first: its last few exchanges, compactly (as Claude ...
    sdk_messages.py   The JSON messages of `--output-format json` and `stream-json`, in Claude Code's shapes
    session_render.py Render a stored session for people (`sessions show`, markdown export) and programs ...
    shell_escape.py   `!command` at the prompt: the person's own shell command, with its output kept for ...
    terminal.py       The terminal during a turn: which keys interrupt, and when to fall back to line I/O
    textstream.py     Streamed model text, written as it arrives and never re-rendered
    turn.py           Run one turn of the agent in a worker thread while the main thread renders and listens
    wordwrap.py       Breaking one streamed line of prose into rows at spaces, as it arrives (never mid-word)
    commands/         (a package: see its __init__)
"""
