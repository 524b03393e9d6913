"""Breaking one streamed line of prose into rows at spaces, as it arrives (never mid-word).

The terminal would wrap a long line wherever the right edge falls, cutting words in two.
`RowWrap` writes each word as it streams; when the word reaches the edge, the part already
on the row is erased (a move left on the same row) and the word goes on from the start of
the next row. Rows are kept one column short of the edge, so the cursor is never in the
terminal's pending-wrap state and that move left is exact. A word holding characters whose
width terminals disagree on is held until it is whole, and then placed; a word wider than a
row goes out as it comes and the terminal folds it, as there is no better place.

It counts the rows it made, so the renderer can go back up exactly that many to restyle the
line; `certain` is False when a terminal might disagree with that count (a tab, or a wide
character in a word the terminal folded), and then the line is left as written.
"""

from __future__ import annotations

import re

_PIECES = re.compile(r" +|[^ ]+")


def _cells(text: str) -> int:
    """Columns `text` takes, counting every character whose width terminals disagree on as
    one column wider: a row measured so can never overflow, whoever is right."""
    if text.isascii():
        return len(text)
    from rich.cells import cell_len

    return cell_len(text) + sum(1 for ch in text if cell_len(ch) != 1)


class RowWrap:
    """The rows of one line of prose at `width` columns; feed its parts, then `end()`."""

    def __init__(self, width: int) -> None:
        self.width = max(2, width)
        self.limit = self.width - 1  # columns a row of wrapped prose may use
        self.rows = 1
        self.certain = True
        self._col = 0  # columns used on the current row
        self._spaces = ""  # spaces after the last word, written only when the next word is
        self._word = ""  # the word being streamed
        self._shown = 0  # how much of it is on screen already
        self._long = False  # it is wider than a row and is being written as it comes

    def feed(self, text: str) -> str:
        """Take the next part of the line; return what to write to the terminal now."""
        if "\t" in text:
            self.certain = False  # a tab's width depends on its column
        out: list[str] = []
        for piece in _PIECES.findall(text):
            if piece[0] == " ":
                if self._word and not self._long:
                    out.append(self._place())
                self._word, self._shown, self._long = "", 0, False
                self._spaces += piece
            elif self._long:
                out.append(self._advance(piece))
            else:
                self._word += piece
                if _cells(self._word) > self.limit:
                    out.append(self._start_long())
                elif self._word.isascii():
                    out.append(self._place())
        return "".join(out)

    def end(self) -> str:
        """The line is complete: what is still held (trailing spaces are dropped)."""
        out = self._place() if self._word and not self._long else ""
        self._spaces = self._word = ""
        return out

    def _place(self) -> str:
        """Put the unwritten rest of the word on the row, or the whole word on the next one."""
        word, rest, fresh = self._word, self._word[self._shown:], self._shown == 0
        self._shown = len(word)
        if not rest:
            return ""
        if fresh:  # nothing of the word is on screen yet
            spaces, self._spaces = self._spaces, ""
            need = _cells(spaces) + _cells(word)
            if self._col + need <= self.limit:
                self._col += need
                return spaces + word
            if self._col == 0:  # indentation wider than the row allows: drop it
                self._col = _cells(word)
                return word
            self.rows += 1
            self._col = _cells(word)
            return "\n" + word
        if self._col + _cells(rest) <= self.limit:
            self._col += _cells(rest)
            return rest
        shown = word[: len(word) - len(rest)]  # ASCII: written only while it was
        self.rows += 1
        self._col = _cells(word)
        return f"\x1b[{len(shown)}D\x1b[K\n" + word

    def _start_long(self) -> str:
        """A word wider than a row: write it on from here and let the terminal fold it."""
        rest = self._word[self._shown:]
        spaces = "" if self._shown else self._spaces
        self._spaces = ""
        self._shown = len(self._word)
        self._long = True
        return self._advance(spaces + rest)

    def _advance(self, text: str) -> str:
        """Write `text` where the terminal will wrap it itself, and follow where that leaves the cursor."""
        if not text.isascii():
            self.certain = False  # the terminal may give its wide characters another width
        total = self._col + _cells(text)
        if total > self.width:
            extra = (total - 1) // self.width
            self.rows += extra
            total -= extra * self.width
        self._col = total
        return text
