"""What a person sees of focus, scrolling and long text at 80x24 and 60x20, read from the drawn screen.

- Every Tab stop on every step (and in the dialogs) shows the focus bar (▌) down its left edge while it
  has the focus and loses it when the focus moves on: a mark that reads without colour.
- A page with diffs scrolls with one scrollbar (the page's, or the open dialog's), and PgUp / PgDn
  scroll it from the button that has the focus, no Tab first.
- Long paths wrap after a path separator or at a space, never mid-word where such a break exists; text
  that stays on one line ends in an ellipsis where it is cut.

Each step is opened directly on a demo copy prepared as a person arriving there would have it
(mailcow_wizard/demo/states.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.geometry import Region
from textual.scrollbar import ScrollBar
from textual.widget import Widget
from textual.widgets import DataTable, Static

from mailcow_wizard.demo.states import STEPS_IN_ORDER, demo_app, settle
from mailcow_wizard.tui.app import WizardApp
from tests.ui.test_flow import wait_for

FOCUS_BAR = "▌"
SMALL = (60, 20)


def drawn_rows(app: WizardApp) -> list[str]:
    """The text of every row of the terminal as drawn (the top screen over what shows beneath it)."""
    return [strip.text for strip in app.screen._compositor.render_strips()]


def visible_region(app: WizardApp, widget: Widget) -> Region:
    geometry = app.screen.find_widget(widget)
    return geometry.region.intersection(geometry.clip)


def has_bar(app: WizardApp, widget: Widget) -> bool:
    """Whether every visible row of `widget` (a top or bottom border aside) starts with the focus bar."""
    region = visible_region(app, widget)
    inner = widget.content_region
    ys = range(max(region.y, inner.y), min(region.bottom, inner.bottom))
    rows = drawn_rows(app)
    return bool(ys) and all(rows[y][region.x:region.x + 1] == FOCUS_BAR for y in ys)


def widget_rows(widget: Widget) -> list[str]:
    """The rows of a widget's content as it is drawn at its width (all of them, scrolled in or not)."""
    return [strip.text.rstrip() for strip in widget.render_lines(Region(0, 0, widget.size.width,
                                                                        widget.size.height))]


def drawn_scrollbars(app: WizardApp) -> list[Widget]:
    """The widgets whose scrollbar is drawn now, on the top screen and on any screen seen beneath it."""
    owners: list[Widget] = []
    for screen in [*app._background_screens, app.screen]:
        owners += [bar.parent for bar in screen._compositor.full_map
                   if isinstance(bar, ScrollBar) and bar.parent is not None]
    return owners


async def walk_focus(pilot, app: WizardApp, key: str) -> list[Widget]:
    """Press `key` (tab / shift+tab) until the focus comes back round; every stop must show the bar,
    and the stop it left must not."""
    stops: list[Widget] = []
    for _ in range(40):
        focused = app.screen.focused
        assert focused is not None, f"nothing has the focus after {key} on {app.current_step}"
        if focused in stops:
            return stops
        assert has_bar(app, focused), (
            f"{app.current_step}: {type(focused).__name__}#{focused.id} has the focus but shows no bar")
        if stops and stops[-1] in app.screen._compositor.visible_widgets:
            previous = stops[-1]
            assert not has_bar(app, previous), f"#{previous.id} keeps the bar after losing the focus"
        stops.append(focused)
        await pilot.press(key)
        await settle(pilot)
    pytest.fail(f"the focus did not come round on {app.current_step}")


# -- 1. a focus mark on every Tab stop -------------------------------------------------------------
@pytest.mark.parametrize("step", STEPS_IN_ORDER)
async def test_every_tab_stop_shows_the_focus_bar(step: str, tmp_path: Path) -> None:
    """Tab through the step and back with Shift+Tab at 60x20: each stop shows the bar (▌) at its left
    edge while it has the focus, the scrolling page and the checks' detail pane included."""
    app = demo_app(step, tmp_path / "demo")
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        forward = await walk_focus(pilot, app, "tab")
        assert len(forward) >= 2
        backward = await walk_focus(pilot, app, "shift+tab")
        assert set(backward) == set(forward), "Shift+Tab reaches the same stops"


@pytest.mark.parametrize("keys", [("f1",), ("ctrl+n",)], ids=["help", "confirmation"])
async def test_dialog_tab_stops_show_the_focus_bar(keys: tuple[str, ...], tmp_path: Path) -> None:
    """The dialogs' buttons and their scrolling text show the same bar (Review at 80x24)."""
    app = demo_app("review", tmp_path / "demo")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press(*keys)
        await settle(pilot)
        assert app.screen.id in ("help-dialog", "apply-dialog")
        stops = await walk_focus(pilot, app, "tab")
        assert {type(w).__name__ for w in stops} >= {"Button", "VerticalScroll"}


# -- 2. one scrollbar on a page with diffs; PgUp / PgDn without Tab ------------------------------------
@pytest.mark.parametrize("size", [(80, 24), SMALL], ids=["80x24", "60x20"])
@pytest.mark.parametrize("step", ["ntp", "mtu", "other", "review"])
async def test_diff_pages_scroll_with_one_scrollbar(step: str, size: tuple[int, int], tmp_path: Path) -> None:
    app = demo_app(step, tmp_path / "demo")
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        body = app.screen.query_one("#body")
        assert drawn_scrollbars(app) == [body], "the page scrolls as a whole, with one scrollbar"
        assert app.screen.focused is app.screen.query_one("#next")
        await pilot.press("pagedown")
        await wait_for(pilot, lambda: body.scroll_y > 0, "PgDn to scroll the page from the Next button")
        await pilot.press("pageup")
        await wait_for(pilot, lambda: body.scroll_y == 0, "PgUp to scroll it back")
        if step == "review":
            await pilot.press("ctrl+n")
        else:
            fix_id = {"other": "hetzner-ipv6"}.get(step, step)
            app.screen.query_one(f"#apply-{fix_id}").focus()
            await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen.id in ("apply-dialog", "confirm-dialog"), "the question")
        await settle(pilot)
        bars = drawn_scrollbars(app)
        assert body not in bars, "the page's scrollbar is not drawn beside the dialog's"
        assert len(bars) <= 1
        if bars:  # the list of changes is longer than the dialog: it scrolls from Cancel
            changes = bars[0]
            assert app.screen.focused is app.screen.query_one("#confirm-no")
            await pilot.press("pagedown")
            await wait_for(pilot, lambda: changes.scroll_y > 0, "PgDn to scroll the dialog's list")
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen.id not in ("apply-dialog", "confirm-dialog"), "Cancel")
        await settle(pilot)
        assert drawn_scrollbars(app) == [body], "the page's scrollbar is back"


# -- 3. long paths wrap at separators; one-line text ends in an ellipsis -----------------------------
def assert_whole(rows: list[str], words: list[str], where: str) -> None:
    """Each of `words` stands whole on one row (a break inside it would be mid-word)."""
    for word in words:
        assert any(word in row for row in rows), f"{word!r} is broken across rows in {where}: {rows}"


def path_parts(path: Path | str) -> list[str]:
    return [part for part in str(path).split("/") if part]


async def test_long_paths_wrap_at_separators_at_60_columns(tmp_path: Path) -> None:
    """Review, its confirmation and a fix's diff at 60x20: every path component stays whole."""
    app = demo_app("review", tmp_path / "demo")
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        session = app.session
        target = widget_rows(app.screen.query_one("#review-target", Static))
        assert_whole(target, path_parts(session.conf_path), "the Review's mailcow.conf line")
        planned = widget_rows(app.screen.query_one("#review-planned", Static))
        assert_whole(planned, ["docker-compose.override.yml", "99-disable-network-config.cfg"],
                     "the Review's planned changes")
        assert all(len(row) <= app.screen.query_one("#review-planned").size.width for row in planned)
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: app.screen.id == "apply-dialog", "the confirmation")
        await settle(pilot)
        changes = widget_rows(app.screen.query_one("#confirm-changes", Static))
        assert_whole(changes, [*path_parts(session.conf_path), "docker-compose.override.yml"],
                     "the confirmation's list")
        # A wrapped item's next row lines up under its text, not under the "- " mark.
        continued = [row for row in changes if row and not row.lstrip().startswith("- ")]
        assert continued and all(row.startswith("  ") for row in continued)
    app = demo_app("mtu", tmp_path / "demo2")
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        plan = widget_rows(app.screen.query_one("#fix-plan-mtu", Static))
        assert_whole(plan, ["mailcow-dockerized", "docker-compose.override.yml"], "the MTU fix's diff")


async def test_one_line_text_ends_in_an_ellipsis_at_60_columns(tmp_path: Path) -> None:
    """Tick boxes and table cells that do not fit are cut with an ellipsis, inside their container."""
    app = demo_app("config", tmp_path / "demo")
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        tick = app.screen.query_one("#skip-clamd")
        body = app.screen.query_one("#body")
        assert tick.region.right <= body.content_region.right, "the ClamAV tick box runs past the page"
        row = drawn_rows(app)[tick.region.y]
        assert row.rstrip().endswith("…"), row
    app = demo_app("checks", tmp_path / "demo2")
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        table = app.screen.query_one("#checks-table", DataTable)
        assert not table.show_horizontal_scrollbar, "the columns fit the table"
        rows = drawn_rows(app)
        region = visible_region(app, table)
        cut = [r for r in rows[region.y + 1:region.bottom] if r.rstrip().endswith("…")]
        assert cut, "long results end in an ellipsis"
    app = demo_app("ports", tmp_path / "demo3")
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        table = app.screen.query_one("#conflicts-table", DataTable)
        assert not table.show_horizontal_scrollbar, "the conflict table's columns fit"


@pytest.mark.parametrize("size, resized", [((60, 20), None), ((80, 24), None), ((70, 22), None),
                                           ((100, 32), None), ((80, 24), (60, 20)), ((60, 20), (100, 32))],
                         ids=["60x20", "80x24", "70x22", "100x32", "80x24-to-60x20", "60x20-to-100x32"])
async def test_conflict_table_fits_its_place(size: tuple[int, int], resized: tuple[int, int] | None,
                                             tmp_path: Path) -> None:
    """The Port conflicts table is exactly as wide as its place on the page, at every size and after the
    terminal is resized: no horizontal scrollbar (no row left under the last conflict), and a choice
    longer than its column ends in an ellipsis."""
    app = demo_app("ports", tmp_path / "demo")
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        if resized is not None:
            await pilot.resize_terminal(*resized)
            await settle(pilot)
        table = app.screen.query_one("#conflicts-table", DataTable)
        assert table.virtual_size.width == table.scrollable_content_region.width, "the columns fill the table"
        assert not table.show_horizontal_scrollbar
        region = visible_region(app, table)
        assert region.height == 1 + table.row_count, "a header and one row per conflict, nothing under them"
        assert table.region.right <= app.screen.query_one("#body").content_region.right
        await pilot.press("tab", "enter")  # Stop and disable exim4.service, for port 25
        await settle(pilot)
        columns = list(table.ordered_columns)
        start = region.x + 1 + sum(c.get_render_width(table) for c in columns[:-1]) + table.cell_padding
        shown = drawn_rows(app)[region.y + 1][start:region.right - table.cell_padding].rstrip()
        assert shown == "stop exim4.service" or (shown.endswith("…") and "stop exim4.service".startswith(
            shown[:-1])), shown


async def test_checks_table_fits_after_a_resize(tmp_path: Path) -> None:
    """The System checks table follows the terminal from 80x24 down to 60x20: no sideways scrolling."""
    app = demo_app("checks", tmp_path / "demo")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.resize_terminal(*SMALL)
        await settle(pilot)
        table = app.screen.query_one("#checks-table", DataTable)
        assert table.virtual_size.width == table.scrollable_content_region.width, "the columns fill the table"
        assert not table.show_horizontal_scrollbar


async def test_port_fields_hint_and_meaning_fit_at_60_columns(tmp_path: Path) -> None:
    """On the Ports step each empty field's hint fits inside the field (a cell left for the cursor) and
    each meaning inside its column, so the bind rows read "empty: ..." and then what the field is."""
    from rich.cells import cell_len
    from textual.widgets import Input

    app = demo_app("remap", tmp_path / "demo")
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        fields = list(app.screen.query(Input))
        assert fields
        for field in fields:
            assert cell_len(field.placeholder) < field.content_region.width, (field.id, field.placeholder)
            meaning = field.parent.query_one(".field-meaning", Static)
            text = str(meaning.render())
            assert cell_len(text) <= meaning.content_region.width, (field.id, text)
        bind = app.screen.query_one("#field-HTTP_BIND", Input)
        bind.scroll_visible()
        await settle(pilot)
        row = drawn_rows(app)[visible_region(app, bind).y]
        assert row.split() == ["HTTP_BIND", *bind.placeholder.split(), "HTTP", "bind", "address"], row


async def test_network_lists_hang_under_their_items_and_the_status_is_never_cut(tmp_path: Path) -> None:
    """Network & DNS at 60x20: a contacted item or a remedy's item that takes two rows goes on under its
    text, not under its "- "; a status longer than the room between the buttons ends in an ellipsis."""
    app = demo_app("network", tmp_path / "demo")
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        await pilot.press("r")
        await settle(pilot)
        for part in ("#net-contacts", "#net-results"):
            rows = widget_rows(app.screen.query_one(part, Static))
            items = [i for i, row in enumerate(rows) if row.startswith("- ")]
            assert items, part
            for i in items:
                if i + 1 < len(rows) and rows[i + 1] and not rows[i + 1].startswith("- "):
                    assert rows[i + 1].startswith("  "), (part, rows[i:i + 2])
        status = app.screen.query_one("#nav-status", Static)
        app.screen.set_status("A status far too long to fit between the two buttons at sixty columns")
        await settle(pilot)
        row = drawn_rows(app)[visible_region(app, status).y]
        assert "…" in row and "Next" in row, row


async def test_done_written_rows_go_on_indented(tmp_path: Path) -> None:
    """Done at 60x20: a written file's line too long for a row goes on two cells in, so "-> mailcow.conf"
    reads as part of the link above it, not as a line of its own."""
    app = demo_app("done", tmp_path / "demo")
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        written = app.screen.query_one("#done-written", Static)
        lines = str(written.render()).split("\n")
        rows = widget_rows(written)
        assert len(rows) > len(lines), "some line wraps at 60 columns"
        starts = [row for row in rows if any(line.startswith(row) for line in lines)]
        assert len(starts) == len(lines), (starts, lines)
        assert all(row.startswith("  ") for row in rows if row not in starts), rows



async def test_done_lists_what_it_wrote_under_labels(tmp_path: Path) -> None:
    """Done: every line of what was written starts with its label, capitalised as "Written:" is (the
    .env link reads "Created: .../.env -> mailcow.conf", not "created ...")."""
    app = demo_app("done", tmp_path / "demo")
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        lines = str(app.screen.query_one("#done-written", Static).render()).split("\n")
        assert any(line.startswith("Written: ") for line in lines), lines
        link = [line for line in lines if line.endswith(".env -> mailcow.conf")]
        assert link and link[0].startswith("Created: "), lines
        for line in lines:
            label = line.split(": ", 1)[0]
            assert ": " in line and label[:1].isupper(), line


async def test_done_records_and_commands_go_on_under_themselves(tmp_path: Path) -> None:
    """Done at 60x20: a DNS record (or the start command) too long for its row goes on two cells further
    in than it starts, so the next row is not read as another record."""
    app = demo_app("done", tmp_path / "demo")
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        records, ptr = app.session.dns_records()
        rows = widget_rows(app.screen.query_one("#done-next", Static))
        wrapped_items = 0
        for item in records + ptr:
            first = next(i for i, row in enumerate(rows)
                         if row.startswith("   ") and item.startswith(row[3:]))
            rest = rows[first + 1:]
            taken = [rows[first]]
            while " ".join(r.strip() for r in taken) != item:
                assert rest and rest[0].startswith("     ") and rest[0][5:6] != " ", \
                    (item, rows[first:first + 3])
                taken.append(rest.pop(0))
            wrapped_items += len(taken) > 1
        assert wrapped_items, "some record wraps at 60 columns"


async def test_done_footer_names_only_what_its_keys_do(tmp_path: Path) -> None:
    """Done: no "Back" and no "Next" in the footer (there is no way back, and the forward key quits);
    Quit and Help are there, and Ctrl+N leaves as the Quit button does."""
    app = demo_app("done", tmp_path / "demo")
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        footer = drawn_rows(app)[-1]
        assert "Quit" in footer and "Help" in footer, footer
        assert "Next" not in footer and "Back" not in footer, footer
        await pilot.press("ctrl+n")
        await pilot.pause(0.1)
        assert app.return_code == 0 and not app.is_running


async def test_clock_verdict_reads_in_normal_case_without_colour(tmp_path: Path) -> None:
    """Clock (NTP): the check's verdict says "not synchronised" in plain case, and its state still reads
    without colour, from the FAIL mark in front of it."""
    app = demo_app("ntp", tmp_path / "demo")
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        rows = drawn_rows(app)
        verdict = [row for row in rows if "synchronised" in row]
        assert verdict and "FAIL" in verdict[0] and "Clock is not synchronised" in verdict[0], rows
        assert not any("NOT" in row for row in rows), rows


@pytest.mark.parametrize("size", [(80, 24), SMALL])
async def test_other_fixes_start_on_the_first_row(size: tuple[int, int], tmp_path: Path) -> None:
    """Other fixes: the first fix's name is on the row under the step's title, no empty row above it."""
    app = demo_app("other", tmp_path / "demo")
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        first = app.session.other_fix_ids()[0]
        title = next(s.title for s in app.session.check_specs() if s.id == first)
        rows = drawn_rows(app)
        assert rows[1].strip().startswith(title), rows[:3]

# -- the other points of the small-terminal walk, at 60x20 ----------------------------------------------
async def test_help_keys_and_the_zone_list_at_60_columns(tmp_path: Path) -> None:
    """F1's keys paragraph is reached with PgDn from Close; Esc in the open zone list closes only it."""
    app = demo_app("config", tmp_path / "demo")
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        zone = app.screen.query_one("#timezone")
        zone.focus()
        await pilot.press("ctrl+u", *"berl", "down")
        matches = app.screen.query_one("#tz-matches")
        await wait_for(pilot, lambda: matches.display and app.screen.focused is matches, "the open list")
        await pilot.press("escape")
        await settle(pilot)
        assert app.current_step == "config" and not matches.display and app.screen.focused is zone
        await pilot.press("f1")
        await wait_for(pilot, lambda: app.screen.id == "help-dialog", "help")
        await settle(pilot)
        keys = app.screen.query(".dialog-body .dim").first()
        assert app.screen.focused is app.screen.query_one("#help-close")
        for _ in range(6):
            if visible_region(app, keys).height == keys.region.height:
                break
            await pilot.press("pagedown")
            await settle(pilot)
        assert visible_region(app, keys).height == keys.region.height, "the keys paragraph is in view"
        assert any("Keys: Tab" in row for row in drawn_rows(app))
        assert visible_region(app, app.screen.query_one("#help-close")).height == 1
