"""The one rule for long text in narrow places (mailcow_wizard/tui/widgets/wrap.py)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from rich.text import Text

from mailcow_wizard.tui.widgets.diff import diff_text
from mailcow_wizard.tui.widgets.wrap import Wrapped, break_offsets, ellipsis, indent_of


def rows(line: str, width: int, hang: int = 0) -> list[str]:
    cuts = [0, *break_offsets(line, width, hang), len(line)]
    return [line[a:b].rstrip() for a, b in zip(cuts, cuts[1:])]


def test_a_path_longer_than_a_row_breaks_after_its_last_separator_that_fits() -> None:
    line = ("mailcow.conf: /tmp/mailcow-wizard-demo-n8h6qlb9/root/opt/mailcow-dockerized/mailcow.conf"
            "  (a new file)")
    assert rows(line, 56) == ["mailcow.conf: /tmp/mailcow-wizard-demo-n8h6qlb9/root/",
                              "opt/mailcow-dockerized/mailcow.conf  (a new file)"]


def test_a_word_that_fits_on_a_row_of_its_own_moves_there_whole() -> None:
    assert rows("- edit /opt/mailcow-dockerized/docker-compose.override.yml", 54, 2) == [
        "- edit", "/opt/mailcow-dockerized/docker-compose.override.yml"]
    assert rows("This wizard checks this host for mailcow", 20) == [
        "This wizard checks", "this host for", "mailcow"]


def test_without_a_path_separator_other_separators_then_the_edge() -> None:
    assert rows("+NTP=0.pool.ntp.org,1.pool.ntp.org,2.pool.ntp.org", 24, 3) == [
        "+NTP=0.pool.ntp.org,", "1.pool.ntp.org,", "2.pool.ntp.org"]
    assert rows("x" * 25, 10) == ["x" * 10, "x" * 10, "x" * 5]
    assert rows("/" + "y" * 12, 10) == ["/" + "y" * 9, "y" * 3], "never a row of a lone leading /"


@given(st.text(alphabet=st.sampled_from("ab /-."), max_size=80), st.integers(4, 40), st.integers(0, 3))
def test_rows_fit_and_lose_nothing_but_spaces_at_breaks(line: str, width: int, hang: int) -> None:
    got = rows(line, width, hang)
    assert len(got[0]) <= width and all(len(r) <= width - hang for r in got[1:])
    assert "".join(got).replace(" ", "") == line.replace(" ", "")


def test_continuation_rows_keep_the_indent_and_the_diff_mark() -> None:
    assert indent_of("  port 80 is held") == "  " and indent_of("- edit x") == "  "
    assert indent_of("    run  systemctl") == "    " and indent_of("2. Open https:") == "   "
    wrapped = Wrapped(Text("- create /tmp/a-long-directory-name/and/another/file.conf"))
    assert [r.plain for r in wrapped.rows(30)] == ["- create /tmp/", "  a-long-directory-name/and/",
                                                   "  another/file.conf"]
    diff = diff_text("+++ b/x\n+NTP=0.pool.ntp.org 1.pool.ntp.org 2.pool.ntp.org\n")
    shown = [r.plain for r in diff.rows(36)]
    assert shown[1:3] == ["+NTP=0.pool.ntp.org 1.pool.ntp.org", "+  2.pool.ntp.org"]
    assert str(diff).startswith("+++ b/x\n+NTP=0.pool.ntp.org 1.pool")


def test_ellipsis_marks_every_cut() -> None:
    assert ellipsis("stop exim4.service", 30) == "stop exim4.service"
    assert ellipsis("stop exim4.service", 8) == "stop ex…"
