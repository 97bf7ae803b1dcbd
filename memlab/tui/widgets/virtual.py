"""Virtual widgets: only the lines on screen are ever formatted.

A process chooses how big its environment and its address space are (100,000
variables, 60,000 mappings): a widget that built one row per entry up front (DataTable,
a Static holding the whole dump) took seconds to minutes of the event loop and
gigabytes, and `q` waited for it.  These widgets hold a count and a function that
formats line i; Textual's Line API (ScrollView.render_line) asks only for the visible
lines, so the cost of a frame is the height of the screen, whatever the count.
"""

from __future__ import annotations

from bisect import bisect_left
from typing import Callable, Sequence

from rich.text import Text
from textual.actions import SkipAction
from textual.binding import Binding
from textual.events import Click
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

# Rows measured when rows are set, to size the columns; a wider cell met later while
# scrolling widens its column then (up to MAX_COLUMN).
MEASURED_ROWS = 200
MAX_COLUMN = 200


class VirtualLines(ScrollView, can_focus=True):
    """`line_count` lines, line y formatted by `line_at(y)` when it is drawn."""

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self.line_count = 0
        self.line_width = 0
        self._line_at: Callable[[int], Text] | None = None

    def set_lines(self, count: int, line_at: Callable[[int], Text] | None,
                  width: int) -> None:
        self.line_count, self._line_at, self.line_width = count, line_at, width
        self.virtual_size = Size(width, count)
        self.refresh()

    def line_text(self, y: int) -> Text:
        """Line y as Text (tests and screenshots read it)."""
        return self._line_at(y) if self._line_at is not None else Text()

    def render_line(self, y: int) -> Strip:
        line = int(self.scroll_offset.y) + y
        width = self.size.width
        if line >= self.line_count or self._line_at is None:
            return Strip.blank(width, self.rich_style)
        return self._strip(self._line_at(line), width)

    def _strip(self, text: Text, width: int, style=None) -> Strip:
        x = int(self.scroll_offset.x)
        strip = Strip(list(text.render(self.app.console))).crop(x, x + width)
        return strip.extend_cell_length(width, style or self.rich_style)


class VirtualTable(VirtualLines):
    """A table whose rows are formatted when drawn: `set_rows(count, row_at)` with
    row_at(i) -> the cells of row i (Text).  A subset of DataTable's interface
    (row_count, cursor_row, move_cursor, get_row_at, clear), its look, and its keys.

    `set_filter(text)` keeps only the rows whose cells contain text (case-insensitive):
    row numbers (row_count, cursor_row, get_row_at) are then those of the rows shown;
    `index_of(row)` / `move_to_index(i)` translate to and from the index row_at was
    given (RowHighlighted.index carries it too)."""

    DEFAULT_CSS = """
    VirtualTable {
        background: $surface;
        color: $foreground;
        height: auto;
        max-height: 100%;
        &:focus {
            background-tint: $foreground 5%;
            & > .vtable--cursor {
                background: $block-cursor-background;
                color: $block-cursor-foreground;
                text-style: $block-cursor-text-style;
            }
        }
        &:dark > .vtable--even-row { background: $surface-darken-1 40%; }
        & > .vtable--header { text-style: bold; background: $panel; color: $foreground; }
        & > .vtable--even-row { background: $surface-lighten-1 50%; }
        & > .vtable--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
    }
    """
    COMPONENT_CLASSES = {"vtable--header", "vtable--cursor", "vtable--even-row"}
    BINDINGS = [
        Binding("up", "cursor(-1)", "Up", show=False),
        Binding("down", "cursor(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "cursor_to(0)", "Top", show=False),
        Binding("end", "cursor_to(-1)", "Bottom", show=False),
        Binding("enter", "select", "Select", show=False),
        Binding("escape", "clear_filter", "Clear filter", show=False),
    ]

    class RowHighlighted(Message):
        def __init__(self, table: VirtualTable, cursor_row: int) -> None:
            super().__init__()
            self.table = table
            self.cursor_row = cursor_row
            self.index = table.index_of(cursor_row)  # in row_at's numbering

        @property
        def control(self) -> VirtualTable:
            return self.table

    class RowSelected(RowHighlighted):
        pass

    def __init__(self, *columns: str, zebra_stripes: bool = False, **kw) -> None:
        super().__init__(**kw)
        self.columns = list(columns)
        self.zebra_stripes = zebra_stripes
        self.row_count = 0
        self.total_count = 0  # rows before the filter
        self.cursor_row = 0
        self.filter_text = ""
        self._visible: list[int] | None = None  # row_at indexes shown (a filter is set)
        self._row_at: Callable[[int], Sequence[Text]] | None = None
        self._text_at: Callable[[int], str] | None = None
        self._widths = [len(c) for c in columns]

    # -- the rows -------------------------------------------------------------------
    def set_rows(self, count: int, row_at: Callable[[int], Sequence[Text]] | None,
                 text_at: Callable[[int], str] | None = None) -> None:
        """`text_at(i)`: what the filter searches in row i, when it is cheaper than
        formatting the row (default: the row's cells)."""
        self.total_count, self._row_at, self._text_at = count, row_at, text_at
        self._apply_filter()
        self._widths = [len(c) for c in self.columns]
        for i in range(min(self.row_count, MEASURED_ROWS)):
            self._measure(self.get_row_at(i))
        self.cursor_row = min(self.cursor_row, max(0, self.row_count - 1))
        self._resize()

    def clear(self) -> None:
        self.set_rows(0, None)

    def set_filter(self, text: str) -> None:
        """Show only the rows holding `text` in any cell ("" shows every row)."""
        keep = self.index_of(self.cursor_row) if self.row_count else None
        self.filter_text = text
        self.set_rows(self.total_count, self._row_at, self._text_at)
        if keep is not None:
            self.move_to_index(keep, nearest=True)

    def _apply_filter(self) -> None:
        needle = self.filter_text.casefold()
        if not needle or self._row_at is None:
            self._visible, self.row_count = None, self.total_count
            return
        row_at = self._row_at
        text_at = self._text_at or (lambda i: " ".join(c.plain for c in row_at(i)))
        self._visible = [i for i in range(self.total_count)
                         if needle in text_at(i).casefold()]
        self.row_count = len(self._visible)

    def index_of(self, row: int) -> int:
        """The row_at index of shown row `row`."""
        return self._visible[row] if self._visible is not None else row

    def move_to_index(self, index: int, *, nearest: bool = False) -> bool:
        """Put the cursor on row_at's row `index`; False when the filter hides it (then,
        with nearest, on the shown row closest below it)."""
        if self._visible is None:
            self.move_cursor(row=index)
            return 0 <= index < self.row_count
        pos = bisect_left(self._visible, index)
        found = pos < len(self._visible) and self._visible[pos] == index
        if found or nearest:
            self.move_cursor(row=min(pos, self.row_count - 1))
        return found

    def action_clear_filter(self) -> None:
        if not self.filter_text:
            raise SkipAction()  # Esc means something else here
        self.set_filter("")

    def get_row_at(self, row: int) -> Sequence[Text]:
        if not 0 <= row < self.row_count or self._row_at is None:
            raise IndexError(f"row {row} of {self.row_count}")
        return self._row_at(self.index_of(row))

    def _measure(self, cells: Sequence[Text]) -> bool:
        grew = False
        for n, cell in enumerate(cells):
            width = min(cell.cell_len, MAX_COLUMN)
            if width > self._widths[n]:
                self._widths[n], grew = width, True
        return grew

    def _resize(self) -> None:
        width = sum(w + 2 for w in self._widths)
        self.set_lines(self.row_count + 1, self._line, width)  # + the header line

    # -- drawing --------------------------------------------------------------------
    def _cells(self, cells: Sequence[Text], style) -> Text:
        line = Text(no_wrap=True, overflow="crop", style=style or "")
        for cell, width in zip(cells, self._widths):
            cell = cell.copy()
            cell.truncate(width, overflow="ellipsis", pad=True)
            line.append(" ")
            line.append_text(cell)
            line.append(" ")
        return line

    def _line(self, y: int) -> Text:
        return self._cells(self.get_row_at(y - 1) if y else [Text(c) for c in self.columns],
                           None)

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        if y == 0:  # the header stays put
            style = self.get_component_rich_style("vtable--header")
            strip = self._strip(self._cells([Text(c) for c in self.columns], style),
                                width, style)
            if self.filter_text:  # at the right edge: the headings stay over their column
                tag = Text(f" /{self.filter_text}: {self.row_count} of "
                           f"{self.total_count}, Esc clears ", style="bold reverse",
                           no_wrap=True, overflow="crop")
                tag.truncate(width)
                strip = Strip.join([strip.crop(0, width - tag.cell_len),
                                    Strip(list(tag.render(self.app.console)))])
            return strip
        row = int(self.scroll_offset.y) + y - 1
        if row >= self.row_count or self._row_at is None:
            return Strip.blank(width, self.rich_style)
        cells = self.get_row_at(row)
        if self._measure(cells):
            self.call_after_refresh(self._resize)
        style = self.rich_style
        if row == self.cursor_row:
            style = self.get_component_rich_style("vtable--cursor")
        elif self.zebra_stripes and row % 2:
            style = style + self.get_component_rich_style("vtable--even-row")
        return self._strip(self._cells(cells, style), width, style)

    # -- the cursor -----------------------------------------------------------------
    @property
    def _page(self) -> int:
        return max(1, self.scrollable_content_region.height - 1)  # less the header

    def move_cursor(self, *, row: int) -> None:
        if not self.row_count:
            return
        self.cursor_row = max(0, min(self.row_count - 1, row))
        self._show_cursor()
        self.refresh()
        self.post_message(self.RowHighlighted(self, self.cursor_row))

    def _show_cursor(self) -> None:
        """Scroll just enough for the cursor row to be on screen."""
        top = int(self.scroll_offset.y)
        if self.cursor_row < top:
            self.scroll_to(y=self.cursor_row, animate=False, immediate=True)
        elif self.cursor_row >= top + self._page:
            self.scroll_to(y=self.cursor_row - self._page + 1, animate=False,
                           immediate=True)

    def on_resize(self) -> None:
        self.call_after_refresh(self._show_cursor)  # a smaller table keeps its cursor

    def action_cursor(self, step: int) -> None:
        self.move_cursor(row=self.cursor_row + step)

    def action_page(self, pages: int) -> None:
        self.move_cursor(row=self.cursor_row + pages * self._page)

    def action_cursor_to(self, row: int) -> None:
        self.move_cursor(row=row if row >= 0 else self.row_count - 1)

    def action_select(self) -> None:
        if self.row_count:
            self.post_message(self.RowSelected(self, self.cursor_row))

    def on_click(self, event: Click) -> None:
        row = int(self.scroll_offset.y) + event.y - 1
        if event.y >= 1 and 0 <= row < self.row_count:
            if row == self.cursor_row:
                self.action_select()
            else:
                self.move_cursor(row=row)
