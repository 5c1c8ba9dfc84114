"""The wizard's session without a terminal: resolutions, free ports, the step plan, open conflicts."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from mailcow_wizard.context import Context
from mailcow_wizard.fixes.ports import Resolution
from mailcow_wizard.tui.session import STEPS, WizardSession
from tests.conftest import MAILCOW_FIXTURES, fixture_host

ENV = {"TERM": "xterm-256color"}


@pytest.fixture
def session(tmp_path: Path) -> WizardSession:
    """exim4 on port 25, an empty checkout of today's generation; checks run, options loaded."""
    mdir = tmp_path / "mailcow-dockerized"
    mdir.mkdir()
    shutil.copy(MAILCOW_FIXTURES / "current" / "docker-compose.yml", mdir / "docker-compose.yml")
    s = WizardSession(Context(host=fixture_host("ports-exim"), mailcow_dir=mdir, conf={}), environ=ENV)
    s.run_all_checks()
    s.load_port_options()
    return s


def test_choosing_a_resolution_sets_and_undoes_the_answers(session: WizardSession) -> None:
    assert [c.variable for c in session.unresolved_conflicts()] == ["SMTP_PORT"]
    session.choose_port_resolution("SMTP_PORT", Resolution("move", "2626"))
    assert session.values["SMTP_PORT"] == "2626" and session.unresolved_conflicts() == []
    session.choose_port_resolution("SMTP_PORT", Resolution("stop"))
    assert session.values["SMTP_PORT"] == "25", "switching to stop leaves no moved port behind"
    assert session.planned_steps() == [] and session.plan_fix("ports").commands == [
        "systemctl stop exim4.service", "systemctl disable exim4.service"]
    session.forget_port_resolution("SMTP_PORT")
    assert "SMTP_PORT" not in session.port_choices and session.resolution_open("SMTP_PORT")


def test_a_move_without_a_port_stays_open(session: WizardSession) -> None:
    session.choose_port_resolution("SMTP_PORT", Resolution("move", ""))
    assert [c.variable for c in session.unresolved_conflicts()] == ["SMTP_PORT"]
    assert "name one" in (session.resolution_open("SMTP_PORT") or "")


def test_suggested_ports_leave_out_those_other_answers_use(session: WizardSession) -> None:
    free = session.suggest_free_ports("SMTP_PORT")
    assert free and 25 not in free
    session.set_value("SUBMISSION_PORT", str(free[0]))
    assert free[0] not in session.suggest_free_ports("SMTP_PORT")


def test_a_planned_stop_of_the_owner_frees_the_conflict_and_makes_a_move_needless(
        session: WizardSession) -> None:
    session.plan_on_first_visit(session.plan_fix("mail-services"))
    assert "mail-services" in session.planned_fixes, "a failed check's fix is planned on its first visit"
    assert session.unresolved_conflicts() == [], "exim4 is stopped by the planned mail-services fix"
    session.choose_port_resolution("SMTP_PORT", Resolution("move", "2525"))
    assert any("the move is not needed" in w for w in session.review_warnings())
    session.unplan("mail-services")
    session.plan_on_first_visit(session.plan_fix("mail-services"))
    assert "mail-services" not in session.planned_fixes, "a later visit keeps the person's decision"


def test_the_step_plan_is_fixed_once_the_checks_are_done(session: WizardSession) -> None:
    steps = session.visible_steps()
    assert steps[0] == "welcome" and steps[-1] == "done" and "ports" in steps
    assert set(steps) <= set(STEPS)
    session.findings.pop("mail-services")  # as if a fix made it pass: the plan does not shrink
    assert session.visible_steps() == steps
    session.forget_findings()
    assert session.visible_steps() == STEPS, "while checks run again, every step counts"


def test_choices_survive_another_directory(session: WizardSession, tmp_path: Path) -> None:
    session.choose_port_resolution("SMTP_PORT", Resolution("move", "2626"))
    other = tmp_path / "other"
    other.mkdir()
    shutil.copy(MAILCOW_FIXTURES / "current" / "docker-compose.yml", other / "docker-compose.yml")
    session.change_mailcow_dir(other)
    session.ensure_loaded()
    assert session.port_choices["SMTP_PORT"].value == "2626"
    assert session.values["SMTP_PORT"] == "2626"


def test_properties_never_load(tmp_path: Path) -> None:
    s = WizardSession(Context(host=fixture_host("ports-exim"), mailcow_dir=tmp_path, conf={}), environ=ENV)
    from mailcow_wizard.tui.session import NotLoaded

    for name in ("values", "base_values", "generation"):
        with pytest.raises(NotLoaded):
            getattr(s, name)


def test_the_network_host_name_is_the_answer_unless_typed_on_configuration(tmp_path: Path) -> None:
    """One host name: typed on Network & DNS (even before the answers are planned) it is
    MAILCOW_HOSTNAME; once the person typed one on Configuration, that one stays and both are said."""
    mdir = tmp_path / "mailcow-dockerized"
    mdir.mkdir()
    s = WizardSession(Context(host=fixture_host("ports-exim"), mailcow_dir=mdir,
                              conf={"MAILCOW_HOSTNAME": "old.example.org"}), environ=ENV)
    assert s.network_hostname() == "old.example.org"
    s.carry_network_hostname(" mx1.example.net ")
    s.ensure_loaded()
    assert s.values["MAILCOW_HOSTNAME"] == "mx1.example.net" and s.network_hostname() == "mx1.example.net"
    assert not s.hostname_typed and s.hostname_kept() is None
    s.set_value("MAILCOW_HOSTNAME", "mx1.example.net")  # Configuration drawn with the same name: not typed
    assert not s.hostname_typed
    s.set_value("MAILCOW_HOSTNAME", "mail.example.com")
    assert s.hostname_typed and s.network_hostname() == "mx1.example.net"
    s.carry_network_hostname("mx2.example.net")
    assert s.values["MAILCOW_HOSTNAME"] == "mail.example.com"
    assert s.hostname_kept() == ("mail.example.com", "mx2.example.net")
    s.carry_network_hostname("Mail.Example.com")
    assert s.hostname_kept() is None
