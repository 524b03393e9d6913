"""Claude Code's hooks: settings (config), approval of a project's set (approvals), processes
(runner), their answers (outcome), and the loop's seam answered by them (bridge)."""
