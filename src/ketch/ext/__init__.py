"""Extensions: plug in through the seams (Tool, event consumer, gate hook, agent factory); the loop never imports them.

    custom_commands.py  Custom slash commands: markdown prompt files, as in Claude Code
    skills/             SKILL.md folders: listed in the system prompt, loaded by the Skill tool
"""
