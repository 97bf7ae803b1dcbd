"""The TUI on a small terminal (80x24) and a usual one (120x40): the safety indicators
and each view's essentials stay on screen; `/` filters the tables, `j ADDR` finds the
mapping holding an address, the map shows the tower or the table below 100 columns;
labels are never cut inside a number.  FakeSource: no process needed."""

from __future__ import annotations

import re

import pytest

from memlab.sizes import human_size
from memlab.tui.app import MemlabApp
from memlab.tui.widgets.memmap import NARROW, legend, locate, parse_address
from memlab.tui.widgets.tower import FLAT_KINDS, KIND_STYLES, Tower
from memlab.tui.widgets.virtual import VirtualTable
from tests.tui import fakes
from tests.tui.conftest import cells, screen_text, settle, started

SIZES = [(80, 24), (120, 40)]
size_ids = pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
LIBC = "/usr/lib/x86_64-linux-gnu/libc.so.6"


def lines(app) -> list[str]:
    return screen_text(app).splitlines()


def paths(table: VirtualTable) -> list[str]:
    return cells(table, "path")


@size_ids
async def test_header_keeps_the_secrets_indicator(size):
    app = MemlabApp(fakes.fake_source())
    async with started(app, size) as pilot:
        assert "secrets masked" in lines(app)[0]
        await pilot.press("v")
        await settle(app, pilot)
        assert "secrets REVEALED" in lines(app)[0]
        assert "live off" in lines(app)[0]


@size_ids
async def test_footer_keeps_reveal_and_screenshot(size):
    app = MemlabApp(fakes.fake_source())
    async with started(app, size):
        footer = lines(app)[-1]
        assert "v Reveal" in footer and "^s" in footer


@size_ids
async def test_maps_table_keeps_kind_and_path(size):
    app = MemlabApp(fakes.fake_source())
    async with started(app, size):
        text = screen_text(app)
        head = next(line for line in text.splitlines() if "perms" in line)
        assert "kind" in head and "path" in head
        # the whole file name of libc is on screen (a long path is cut in the middle)
        lib_lines = [line for line in text.splitlines() if " lib " in line and "7ffff7" in line]
        assert len(lib_lines) == 4
        assert all(line.rstrip().endswith(("/libc.so.6", "64.so.2")) for line in lib_lines)


@size_ids
async def test_map_shows_the_tower_or_the_table_below_100_columns(size):
    app = MemlabApp(fakes.fake_source())
    async with started(app, size) as pilot:
        tower, table = app.query_one(Tower), app.query_one("#regions", VirtualTable)
        right = app.query_one("#map-right")
        if size[0] >= NARROW:
            assert tower.display and right.display
            assert tower.region.width >= Tower.WIDTH  # the tower is not cut
            return
        assert right.display and not tower.display  # the table first: kind and path
        await pilot.press("t")
        await settle(app, pilot)
        assert tower.display and not right.display
        assert "non-canonical hole" in screen_text(app)
        await pilot.press("down")  # the tower has the keyboard
        await settle(app, pilot)
        assert tower.has_focus
        await pilot.press("t")
        await settle(app, pilot)
        assert right.display and not tower.display and table.has_focus
        await pilot.press("t", "slash", *"heap", "enter")  # / brings the table back
        await settle(app, pilot)
        assert right.display and not tower.display and table.row_count == 1


@size_ids
async def test_slash_libc_leaves_only_libcs_lines(size):
    app = MemlabApp(fakes.fake_source())
    async with started(app, size) as pilot:
        table = app.query_one("#regions", VirtualTable)
        total = table.row_count
        await pilot.press("slash", *"libc", "enter")
        await settle(app, pilot)
        assert len(paths(table)) == 3
        assert all(p.startswith("/usr/lib/") and p.endswith("libc.so.6") for p in paths(table))
        assert table.has_focus
        assert f"/libc: 3 of {total}" in screen_text(app)
        # the details follow the cursor, which stays on a line shown
        assert "libc.so.6" in str(app.query_one("#region-details").render())
        await pilot.press("escape")  # Esc on the table clears the filter
        await settle(app, pilot)
        assert table.row_count == total and "/libc:" not in screen_text(app)
        # Esc in the filter bar clears it too
        await pilot.press("slash", *"heap", "escape")
        await settle(app, pilot)
        assert table.row_count == total and table.has_focus


@size_ids
async def test_slash_filters_the_env_and_stack_tables(size):
    app = MemlabApp(fakes.fake_source())
    async with started(app, size) as pilot:
        await pilot.press("e")
        await settle(app, pilot)
        env = app.query_one("#env-entries", VirtualTable)
        await pilot.press("slash", *"PATH", "enter")
        await settle(app, pilot)
        assert env.row_count >= 1
        assert all("PATH" in " ".join(c.plain for c in env.get_row_at(i))
                   for i in range(env.row_count))
        assert env.row_count < env.total_count
        await pilot.press("s")
        await settle(app, pilot)
        stack = app.query_one("#stack-table", VirtualTable)
        await pilot.press("slash", *"AT_RANDOM", "enter")
        await settle(app, pilot)
        assert 1 <= stack.row_count < stack.total_count
        assert all("AT_RANDOM" in " ".join(c.plain for c in stack.get_row_at(i))
                   for i in range(stack.row_count))


@size_ids
async def test_j_finds_the_mapping_holding_an_address(size):
    app = MemlabApp(fakes.fake_source())
    async with started(app, size) as pilot:
        table = app.query_one("#regions", VirtualTable)
        heap_start, _ = fakes.HEAP
        await pilot.press("j", *f"{heap_start + 0x123:#x}", "enter")
        await settle(app, pilot)
        assert paths(table)[table.cursor_row] == "[heap]"
        assert app.query_one(Tower).selected == table.index_of(table.cursor_row)
        notes = [str(n.message) for n in app._notifications]
        assert any("is in [heap]" in n and "+0x123" in n for n in notes)
        # an address in no mapping: said so, with the mappings around it
        await pilot.press("j", *"0x1000", "enter")
        await settle(app, pilot)
        notes = [str(n.message) for n in app._notifications]
        assert any(n.startswith("0x1000 is not mapped") for n in notes)
        # a bad address: the prompt stays for a fix, Esc cancels it
        await pilot.press("j", *"zz", "enter")
        await settle(app, pilot)
        box = app.query_one("#map-goto")
        assert box.display and box.has_focus
        await pilot.press("escape")
        await settle(app, pilot)
        assert not box.display and table.has_focus


@size_ids
async def test_j_shows_a_line_the_filter_hid(size):
    app = MemlabApp(fakes.fake_source())
    async with started(app, size) as pilot:
        table = app.query_one("#regions", VirtualTable)
        await pilot.press("slash", *"libc", "enter", "j", *"0x7ffffffde010", "enter")
        await settle(app, pilot)
        assert table.filter_text == "" and paths(table)[table.cursor_row] == "[stack]"


@size_ids
async def test_legend_of_the_kind_colours(size):
    app = MemlabApp(fakes.fake_source())
    async with started(app, size):
        shown = [line for line in lines(app) if line.startswith("kinds")]
        assert shown and all(k in screen_text(app) for k in ("heap", "stack", "lib"))
        # each kind in the colour the tower gives it
        t = legend()
        heap = next(s for s in t.spans if t.plain[s.start:s.end].strip() == "heap")
        assert heap.style == KIND_STYLES["heap"]


@size_ids
async def test_tower_labels_are_never_cut_inside_a_number(size):
    app = MemlabApp(fakes.fake_source())
    async with started(app, size):
        tower = app.query_one(Tower)
        text = tower.build().plain.splitlines()
        for b in tower.blocks:
            size_text = human_size(b.size)
            assert any(line.rstrip().endswith(size_text) or f" {size_text} " in line
                       for line in text), (b.label, size_text)
        assert any("non-canonical hole" in line and "16.0 EiB" in line for line in text)
        assert any(re.search(r"\[vvar\]\s+16\.0 KiB", line) for line in text)
        # the flat lines (gaps) fit the tower's width: nothing cut at its edge
        flat = [tower.line_text(y).plain for y in range(tower.line_count)
                if tower.blocks[tower._lines[y][0]].kind in FLAT_KINDS]
        assert flat and all(len(line) <= Tower.WIDTH for line in flat)


@size_ids
async def test_every_pane_scrolls_with_the_keyboard(size):
    """The map table, the tower, the env hex dump and the stack table move with the
    arrow/page keys when focused."""
    app = MemlabApp(fakes.fake_source())
    async with started(app, size) as pilot:
        table = app.query_one("#regions", VirtualTable)
        table.focus()
        start = table.cursor_row
        await pilot.press("up")
        await settle(app, pilot)
        assert table.cursor_row == start - 1
        if size[0] < NARROW:
            await pilot.press("t")
            await settle(app, pilot)
        tower = app.query_one(Tower)
        tower.focus()
        before = tower.selected
        await pilot.press("down")
        await settle(app, pilot)
        assert tower.selected != before
        await pilot.press("e")
        await settle(app, pilot)
        dump = app.query_one("#env-hex")
        dump.focus()
        y = dump.scroll_offset.y
        await pilot.press("pagedown")
        await settle(app, pilot)
        assert dump.scroll_offset.y > y or dump.max_scroll_y == 0


def test_parse_address_and_locate():
    assert parse_address("0x7ffd_1234") == 0x7FFD1234 and parse_address("ff") == 0xFF
    assert parse_address("") is None and parse_address("0xzz") is None
    assert parse_address("1" * 17) is None
    regions = fakes.build()[0].regions
    index, sentence = locate(regions, fakes.HEAP[0])
    assert regions[index].path == "[heap]" and "+0x0" in sentence
    index, sentence = locate(regions, 0x10)
    assert index is None and "gap from 0x0 to 0x555555554000" in sentence
    index, sentence = locate(regions, 1 << 63)
    assert index is None and "top of the address space" not in sentence  # vsyscall above


@size_ids
async def test_configmap_editor_shows_its_yaml(size):
    """The demo ConfigMap (about 8 lines) fits the editor, even at 80x24."""
    app = MemlabApp(fakes.fake_source())
    async with started(app, size) as pilot:
        await pilot.press("k")
        await settle(app, pilot)
        editor = app.query_one("#pod-yaml")
        assert editor.content_region.height >= 7


@size_ids
async def test_pod_env_and_files_tables_start_on_one_row(size, tmp_path):
    """The two tables of the Pod view sit side by side: their headers on the same row,
    however long the volume heading (the ..data target) is."""
    from memlab.tui.source import LiveSource
    from tests.helpers import wait_until_async

    source = LiveSource(pod_root=str(tmp_path))
    try:
        app = MemlabApp(source)
        async with app.run_test(size=size) as pilot:
            await pilot.press("k")
            view = app.query_one("PodView")
            view.run_pod()
            await wait_until_async(lambda: view.state is not None, pilot.pause,
                                   what="the pod runs")
            await settle(app, pilot)
            env, files = app.query_one("#pod-env"), app.query_one("#pod-files")
            assert env.region.y == files.region.y
            assert app.query_one("#pod-yaml").content_region.height >= 7
    finally:
        source.stop()


@size_ids
async def test_hex_jump_to_an_unmapped_address_says_where_it_is(size):
    app = MemlabApp(fakes.fake_source())
    async with started(app, size) as pilot:
        await pilot.press("x", "j", *"0x1000", "enter")
        await settle(app, pilot)
        notes = [str(n.message) for n in app._notifications]
        assert any("0x1000 is not mapped: it lies in the gap from 0x0 to 0x555555554000"
                   in n for n in notes)
