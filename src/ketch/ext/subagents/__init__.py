"""Subagents: Claude Code's agent definitions and the `Task` tool that runs them as child agents.

Nothing here is imported unless a run offers the Task tool (cli/extensions.py plugs it in).
"""
