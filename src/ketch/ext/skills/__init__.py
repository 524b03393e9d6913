"""Skills: `SKILL.md` folders (Claude Code's layout) whose name and description go in the system
prompt and whose instructions the Skill tool loads on demand.

    loader.py   find and read the installed skills (project and user folders, precedence, caps)
    tool.py     the Skill tool, and the system prompt's section listing the skills
"""
