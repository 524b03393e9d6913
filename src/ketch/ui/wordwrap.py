"""Breaking one streamed line of prose into rows at spaces, as it arrives (never mid-word).

The terminal would wrap a long line wherever the right edge falls, cutting words in two.
`RowWrap` writes a line break in place of the space before a word that would not fit, and
holds only the word being streamed until it is whole (or longer than a row: then it goes
out at once and the terminal wraps it, as there is no better place). It counts the rows it
made, so the renderer can go back up exactly that many to restyle the line; `certain` is
False when a terminal might disagree with that count (a tab, or a wide character inside a
word that the terminal had to wrap), and then the line is left as written.
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
        self.width = max(1, width)
        self.rows = 1
        self.certain = True
        self._col = 0  # columns used on the current row (== width: the terminal's pending wrap)
        self._spaces = ""  # spaces after the last word placed, written only if a word follows on the row
        self._word = ""  # the word being streamed, not yet written
        self._long = False  # the current word is longer than a row and is being written as it comes

    def feed(self, text: str) -> str:
        """Take the next part of the line; return what to write to the terminal now."""
        if "\t" in text:
            self.certain = False  # a tab's width depends on its column
        out: list[str] = []
        for piece in _PIECES.findall(text):
            if piece[0] == " ":
                if self._word:
                    out.append(self._place())
                self._long = False
                self._spaces += piece
            elif self._long:
                out.append(self._advance(piece))
            else:
                self._word += piece
                if _cells(self._word) > self.width:
                    out.append(self._start_long())
        return "".join(out)

    def end(self) -> str:
        """The line is complete: what is still held (trailing spaces are dropped)."""
        out = self._place() if self._word else ""
        self._spaces = ""
        return out

    def _place(self) -> str:
        word, spaces = self._word, self._spaces
        self._word = self._spaces = ""
        n, s = _cells(word), _cells(spaces)
        if self._col + s + n <= self.width:
            self._col += s + n
            return spaces + word
        if self._col == 0:  # indentation wider than the row allows: drop it
            self._col = n
            return word
        self.rows += 1
        self._col = n
        return "\n" + word

    def _start_long(self) -> str:
        """A word wider than a row: write it on from here and let the terminal fold it."""
        word, spaces = self._word, self._spaces
        self._word = self._spaces = ""
        self._long = True
        return self._advance(spaces + word)

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
