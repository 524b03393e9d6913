"""Reading the person's next message: prompt_toolkit on a terminal, plain lines otherwise.

Enter sends; Alt-Enter or a trailing backslash starts a new line; bracketed paste keeps
pasted newlines (prompt_toolkit inserts them as text). History is per project under
$KETCH_HOME (0600: prompts can hold secrets); Ctrl-R searches it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from ketch.ui.mentions import ProjectFiles, best_matches


def history_path(home: Path, workspace: Path) -> Path:
    from ketch.agent.sessions.transcript import sessions_dir

    folder = sessions_dir(home, workspace)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = folder / "prompt-history"
    if not path.exists():
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    return path


def make_completer(command_names: Callable[[], Iterable[tuple[str, str]]], files: ProjectFiles,
                   arguments: Callable[[str], Iterable[tuple[str, str]]] = lambda before: (),
                   resources: Callable[[], Iterable[tuple[str, str]]] = lambda: ()) -> Any:
    """`arguments(before)`: (argument, typed part) a command offers; `resources()`: (`server:uri`, name)."""
    from prompt_toolkit.completion import Completer, Completion

    class KetchCompleter(Completer):
        """Slash commands (and what some take) at the start of the message; `@path`, `@server:uri` anywhere."""

        def get_completions(self, document, complete_event):  # type: ignore[no-untyped-def]
            before = document.text_before_cursor
            if before.startswith("/") and " " not in before and "\n" not in before:
                for name, help_text in command_names():
                    if name.startswith(before[1:]):
                        yield Completion("/" + name, start_position=-len(before), display_meta=help_text)
                return
            offers = list(arguments(before)) if before.startswith("/") and "\n" not in before else []
            for offer, typed in offers:
                yield Completion(offer, start_position=-len(typed))
            if offers:
                return
            word = before.rsplit(None, 1)[-1] if before and not before[-1].isspace() else ""
            if word.startswith("@"):
                for mention, name in resources():
                    if mention.startswith(word[1:]):
                        yield Completion("@" + mention, start_position=-len(word), display=mention, display_meta=name)
                for path in best_matches(word[1:], files.files(), limit=30):
                    yield Completion("@" + path, start_position=-len(word), display=path)

    return KetchCompleter()


class TerminalInput:
    """prompt_toolkit's PromptSession with ketch's keys; built once, reused for every prompt."""

    def __init__(self, history: Path, completer: Any, cycle_mode: Callable[[], None] | None = None) -> None:
        from prompt_toolkit import PromptSession
        from prompt_toolkit.history import FileHistory
        from prompt_toolkit.key_binding import KeyBindings

        keys = KeyBindings()

        @keys.add("enter")
        def _enter(event):  # type: ignore[no-untyped-def]
            buf = event.current_buffer
            state = buf.complete_state
            if state is not None and state.current_completion is not None:
                buf.apply_completion(state.current_completion)
                return
            if buf.document.is_cursor_at_the_end and buf.text.endswith("\\"):
                buf.delete_before_cursor(1)
                buf.insert_text("\n")
                return
            buf.validate_and_handle()

        @keys.add("escape", "enter")
        def _newline(event):  # type: ignore[no-untyped-def]
            event.current_buffer.insert_text("\n")

        @keys.add("s-tab")
        def _cycle(event):  # type: ignore[no-untyped-def]
            if cycle_mode is not None:  # the prompt's text is a function of the mode: redraw it
                cycle_mode()
                event.app.invalidate()

        self.session: PromptSession[str] = PromptSession(history=FileHistory(str(history)), completer=completer,
                                     complete_while_typing=True, key_bindings=keys, multiline=True,
                                     enable_history_search=False, prompt_continuation=lambda w, n, s: ". ".rjust(w))
        # The prompt runs on the main thread, where SIGWINCH reports resizes; prompt_toolkit's
        # default 0.5 s size polling would wake an idle ketch twice a second (issue 4: 0 % idle).
        self.session.app.terminal_size_polling_interval = None

    def read(self, message: str | Callable[[], str] = "> ", default: str = "") -> str:
        """The next message; EOFError on Ctrl-D (empty line), KeyboardInterrupt on Ctrl-C."""
        return self.session.prompt(message, default=default)

    def read_line(self, message: str) -> str:
        from prompt_toolkit import prompt

        try:
            return prompt(message)
        except (EOFError, KeyboardInterrupt):
            return ""


class PlainInput:
    """Line I/O for dumb terminals and pipes: one line per message, a trailing \\ continues."""

    def read(self, message: str | Callable[[], str] = "> ", default: str = "") -> str:
        """`default` (type-ahead) never reaches plain mode: lines typed early wait in the pipe."""
        lines: list[str] = []
        prompt = message() if callable(message) else message
        while True:
            sys.stdout.write(prompt)
            sys.stdout.flush()
            line = sys.stdin.readline()
            if not line:
                if lines:
                    break
                raise EOFError
            line = line.rstrip("\n")
            if line.endswith("\\"):
                lines.append(line[:-1])
                prompt = ". "
                continue
            lines.append(line)
            break
        return "\n".join(lines)

    _rest: str | None = None  # what followed the answer key on its line ("n use pytest": the note)

    def read_line(self, message: str) -> str:
        if self._rest is not None:
            rest, self._rest = self._rest, None
            return rest
        sys.stdout.write(message)
        sys.stdout.flush()
        return sys.stdin.readline().rstrip("\n")

    def read_key(self) -> str:
        """Plain mode has no single keys: the first character of a line; the rest is kept as a note."""
        line = sys.stdin.readline()
        if not line:
            return "esc"
        self._rest = line.strip()[1:].strip()
        return line.strip()[:1].lower()
