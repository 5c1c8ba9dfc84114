"""Validation rules of mailcow.conf: each problem names the key and the rule; mailcow's own files pass."""

from __future__ import annotations

import pytest

from mailcow_wizard.conf.document import ConfDocument
from mailcow_wizard.conf.schema import GENERATIONS, detect_generation, get_schema
from mailcow_wizard.conf.validate import ERROR, WARNING, check_value, field_errors, validate_values
from tests.conftest import MAILCOW_FIXTURES

EXAMPLES = {p: MAILCOW_FIXTURES / p / "mailcow.conf" for p in GENERATIONS}


def example_values(generation: str) -> dict[str, str]:
    return ConfDocument.parse(EXAMPLES[generation].read_bytes()).values()


def errors_of(key: str, value: str, generation: str = "current") -> list[str]:
    spec = get_schema(generation).get(key)
    return [i.message for i in check_value(key, value, spec) if i.level == ERROR]


@pytest.mark.parametrize("generation", GENERATIONS)
def test_mailcows_own_example_files_validate(generation: str) -> None:
    issues = validate_values(example_values(generation), get_schema(generation), local=None,
                             strict_addresses=False)
    assert [i for i in issues if i.level == ERROR] == []


@pytest.mark.parametrize("generation", GENERATIONS)
def test_schema_knows_every_key_of_the_example(generation: str) -> None:
    schema = get_schema(generation)
    assert set(example_values(generation)) <= set(schema.names)
    assert {k.name for k in schema.required} == set(example_values(generation))


def test_generation_specific_keys() -> None:
    cur, old = get_schema("current"), get_schema("2020")
    for key in ("SKIP_FTS", "FTS_HEAP", "FTS_PROCS", "REDISPASS", "HTTP_REDIRECT", "ENABLE_IPV6",
                "DOCKER_COMPOSE_VERSION", "SOGO_URL_ENCRYPTION_KEY"):
        assert key in cur and key not in old
    for key in ("SKIP_SOLR", "SOLR_HEAP", "SOLR_PORT"):
        assert key in old and key not in cur
    assert old.get("HTTP_BIND").default == "0.0.0.0" and cur.get("HTTP_BIND").default == ""


def test_detect_generation_from_compose_file(tmp_path) -> None:
    assert detect_generation(None)[0] == "current"
    assert detect_generation(tmp_path)[0] == "current"
    (tmp_path / "docker-compose.yml").write_bytes(
        (MAILCOW_FIXTURES / "2020" / "docker-compose.yml").read_bytes())
    assert detect_generation(tmp_path)[0] == "2020"
    (tmp_path / "docker-compose.yml").write_bytes(
        (MAILCOW_FIXTURES / "current" / "docker-compose.yml").read_bytes())
    generation, reason = detect_generation(tmp_path)
    assert generation == "current" and "SKIP_FTS" in reason


HOSTILE = [
    "mail.example.org$(reboot)",
    "mail.example.org`reboot`",
    "mail.example.org;reboot",
    "a&b", "a|b", "a>b", "a<b",
    "'quoted'", '"quoted"',
    "line\nbreak", "cr\rhere", "nul\0byte",
    "has space", "tab\there",
    "back\\slash",
    "${HOME}", "~", "a#b",
    "mаil.example.org",  # Cyrillic a
    "ｍail.example.org",  # full-width m
    "x" * 600,
]

CHECKED_KEYS = ["MAILCOW_HOSTNAME", "SMTP_PORT", "HTTP_PORT", "HTTP_BIND", "TZ", "DBPASS", "SKIP_CLAMD",
                "IPV4_NETWORK", "IPV6_NETWORK", "ADDITIONAL_SAN", "SOGO_URL_ENCRYPTION_KEY",
                "SOME_UNKNOWN_KEY", "WATCHDOG_NOTIFY_EMAIL", "API_ALLOW_FROM"]


@pytest.mark.parametrize("key", CHECKED_KEYS)
@pytest.mark.parametrize("value", HOSTILE, ids=lambda v: repr(v)[:24])
def test_hostile_values_are_rejected_naming_the_key(key: str, value: str) -> None:
    msgs = errors_of(key, value)
    assert msgs, f"{key}={value!r} accepted"
    assert msgs[0].startswith(f"{key}:")


def test_inert_message_names_the_character() -> None:
    (msg,) = errors_of("MAILCOW_HOSTNAME", "mail.example.org$(reboot)")
    assert "'$'" in msg and "bash" in msg
    (msg,) = errors_of("MAILCOW_HOSTNAME", "mаil.example.org")
    assert "U+0430" in msg


@pytest.mark.parametrize("value", ["25", "127.0.0.1:25", "0.0.0.0:2525", "[::1]:25", "[2001:db8::1]:465",
                                   "65535", "1"])
def test_port_forms_accepted(value: str) -> None:
    assert errors_of("SMTP_PORT", value) == []


@pytest.mark.parametrize("value", ["0", "65536", "abc", "1.2.3.4", "::1:25", "[::1]25", "1.2.3:25",
                                   "[1.2.3.4]:25", "025", "[fe80::1%eth0]:25", ":25", ""])
def test_bad_port_forms_rejected(value: str) -> None:
    msgs = errors_of("SMTP_PORT", value)
    assert msgs and msgs[0].startswith("SMTP_PORT:")


def test_http_port_ip_port_points_to_bind() -> None:
    (msg,) = errors_of("HTTP_PORT", "127.0.0.1:8080")
    assert "HTTP_BIND" in msg
    (msg,) = errors_of("HTTPS_PORT", "[::1]:8443")
    assert "HTTPS_BIND" in msg


@pytest.mark.parametrize("port", ["8081", "9081", "9082", "65510"])
def test_nginx_internal_ports_rejected(port: str) -> None:
    (msg,) = errors_of("HTTP_PORT", port)
    assert "nginx" in msg
    assert errors_of("HTTPS_PORT", port)


@pytest.mark.parametrize("value,ok", [("", True), ("1.2.3.4", True), ("[::1]", True), ("0.0.0.0", True),
                                      ("[::]", True), ("::1", False), ("2001:db8::1", False),
                                      ("[1.2.3.4]", False), ("1.2.3.4:80", False), ("example.org", False)])
def test_bind(value: str, ok: bool) -> None:
    assert (errors_of("HTTP_BIND", value) == []) is ok


@pytest.mark.parametrize("value,ok", [
    ("mail.example.org", True), ("mx-1.mail.example.co.uk", True), ("a.b.c", True),
    ("mail.example.org.", False), ("localhost", False), ("-mail.example.org", False),
    ("mail-.example.org", False), ("mail..example.org", False), ("mail_x.example.org", False),
    ("1.2.3.4", False), ("mail.example.123", False), ("a" * 64 + ".example.org", False),
    (".".join(["a" * 63] * 4) + ".org", False), ("", False),
])
def test_hostname(value: str, ok: bool) -> None:
    assert (errors_of("MAILCOW_HOSTNAME", value) == []) is ok


def test_hostname_with_one_dot_is_a_warning() -> None:
    issues = check_value("MAILCOW_HOSTNAME", "example.org", get_schema("current").get("MAILCOW_HOSTNAME"))
    assert [i.level for i in issues] == [WARNING]
    assert "mail.example.org" in issues[0].message


@pytest.mark.parametrize("value,ok", [("Europe/Berlin", True), ("UTC", True), ("Etc/UTC", True),
                                      ("America/Argentina/Buenos_Aires", True), ("Mars/Olympus", False),
                                      ("../../etc/passwd", False), ("/etc/localtime", False), ("", False)])
def test_timezone(value: str, ok: bool) -> None:
    assert (errors_of("TZ", value) == []) is ok


@pytest.mark.parametrize("value", ["Y", "N", "yes", "no", "1", "true", ""])
def test_yn_lowercase_only(value: str) -> None:
    (msg,) = errors_of("SKIP_CLAMD", value)
    assert "y or n" in msg


@pytest.mark.parametrize("value,ok", [("172.22.1", True), ("10.0.0", True), ("192.168.55", True),
                                      ("172.31.255", True), ("172.32.1", False), ("8.8.8", False),
                                      ("172.22.1.0", False), ("172.22", False), ("172.022.1", False),
                                      ("10.0.256", False)])
def test_ipv4_network(value: str, ok: bool) -> None:
    assert (errors_of("IPV4_NETWORK", value) == []) is ok


@pytest.mark.parametrize("value,ok", [("fd4d:6169:6c63:6f77::/64", True), ("fc00::/7", True),
                                      ("fd00:1::/48", True), ("2001:db8::/64", False),
                                      ("fd4d:6169:6c63:6f77::", False), ("fd4d::1/64", False)])
def test_ipv6_network(value: str, ok: bool) -> None:
    assert (errors_of("IPV6_NETWORK", value) == []) is ok


def test_secrets() -> None:
    assert errors_of("DBPASS", "A" * 28) == []
    assert errors_of("DBPASS", "short")
    assert errors_of("DBPASS", "A" * 27 + "-")
    assert errors_of("SOGO_URL_ENCRYPTION_KEY", "9uegZEgeu3Jt87PV") == []
    assert errors_of("SOGO_URL_ENCRYPTION_KEY", "9uegZEgeu3Jt87PVx")
    spec = get_schema("current").get("DBPASS")
    assert [i.level for i in check_value("DBPASS", "A" * 20, spec)] == [WARNING]


def test_lists() -> None:
    assert errors_of("ADDITIONAL_SAN", "imap.*,smtp.*,srv1.example.net") == []
    assert errors_of("ADDITIONAL_SAN", "imap.*,,smtp.*")
    assert errors_of("ADDITIONAL_SERVER_NAMES", "a.b.c,d.e.f") == []
    assert errors_of("ADDITIONAL_SERVER_NAMES", "*.example.org")
    assert errors_of("WATCHDOG_NOTIFY_EMAIL", "a@example.com,b@example.com") == []
    assert errors_of("WATCHDOG_NOTIFY_EMAIL", "a@example.com,nope")
    assert errors_of("API_ALLOW_FROM", "172.22.1.1,127.0.0.1,10.0.0.0/8") == []


def test_quoted_text_keys_allow_spaces_but_not_dollar() -> None:
    assert errors_of("WATCHDOG_SUBJECT", "Watchdog ALERT on mail") == []
    assert errors_of("WATCHDOG_NOTIFY_WEBHOOK_BODY", '{"username": "mailcow", "content": "x"}') == []
    assert errors_of("WATCHDOG_NOTIFY_WEBHOOK_BODY", '{"content": "${SUBJECT}"}')
    assert errors_of("WATCHDOG_SUBJECT", "it's")


def base(generation: str = "current", **over: str) -> dict[str, str]:
    values = example_values(generation)
    values.update(over)
    return values


def test_collisions_bare_and_addressed() -> None:
    schema = get_schema("current")
    errs = field_errors(base(IMAP_PORT="25"), schema, local=None, strict_addresses=False)
    assert "SMTP_PORT" in errs and "IMAP_PORT" in errs
    assert "collides with IMAP_PORT" in errs["SMTP_PORT"][0]
    # Different specific addresses do not collide.
    ok = base(SMTP_PORT="127.0.0.1:2525", IMAP_PORT="127.0.0.2:2525")
    assert field_errors(ok, schema, local=None, strict_addresses=False) == {}
    # 0.0.0.0 collides with every IPv4 address, but not with an IPv6 one.
    assert "IMAP_PORT" in field_errors(base(SMTP_PORT="0.0.0.0:2525", IMAP_PORT="127.0.0.1:2525"), schema,
                                       local=None, strict_addresses=False)
    assert field_errors(base(SMTP_PORT="0.0.0.0:2525", IMAP_PORT="[::1]:2525"), schema, local=None,
                        strict_addresses=False) == {}
    # :: collides with every IPv6 address.
    assert "IMAP_PORT" in field_errors(base(SMTP_PORT="[::]:2525", IMAP_PORT="[::1]:2525"), schema,
                                       local=None, strict_addresses=False)
    # HTTP_BIND + HTTP_PORT against a mail port; and the internal ports count too.
    errs = field_errors(base(HTTP_BIND="127.0.0.1", HTTP_PORT="13306"), schema, local=None,
                        strict_addresses=False)
    assert "SQL_PORT" in errs and "HTTP_PORT" in errs
    assert "HTTPS_PORT" in field_errors(base(HTTPS_PORT="80"), schema, local=None, strict_addresses=False)
    # Different binds do not help HTTP(S): inside nginx's container both listen on that number.
    errs = field_errors(base(HTTP_BIND="127.0.0.1", HTTPS_BIND="[::1]", HTTPS_PORT="80"), schema, local=None,
                        strict_addresses=False)
    assert "must differ" in errs["HTTP_PORT"][0] and "HTTPS_PORT" in errs


def test_bind_address_must_be_on_this_host() -> None:
    schema = get_schema("current")
    local = frozenset({"127.0.0.1", "::1", "192.0.2.10"})
    values = base(SMTP_PORT="198.51.100.7:25", HTTP_BIND="192.0.2.10")
    errs = field_errors(values, schema, local=local, strict_addresses=True)
    assert list(errs) == ["SMTP_PORT"] and "cannot assign requested address" in errs["SMTP_PORT"][0]
    # Under --root: a warning, never an error.
    issues = validate_values(values, schema, local=None, strict_addresses=False)
    assert [i.level for i in issues if i.rule == "bind_address"] == [WARNING, WARNING]
    relaxed = validate_values(values, schema, local=local, strict_addresses=False)
    assert [i.level for i in relaxed if i.rule == "bind_address"] == [WARNING]


def test_field_errors_reports_every_bad_key_at_once() -> None:
    bad = base(MAILCOW_HOSTNAME="x$(id)", TZ="Nowhere/Else", SKIP_CLAMD="Y", HTTP_PORT="1.2.3.4:80")
    errs = field_errors(bad, get_schema("current"), local=None, strict_addresses=False)
    assert set(errs) == {"MAILCOW_HOSTNAME", "TZ", "SKIP_CLAMD", "HTTP_PORT"}


def test_missing_required_key_is_named() -> None:
    values = base()
    del values["MAILCOW_HOSTNAME"]
    errs = field_errors(values, get_schema("current"))
    assert "is missing" in errs["MAILCOW_HOSTNAME"][0]


@pytest.mark.parametrize(("typed", "example"), [
    ("mail", "mail.example.org"), ("mx1", "mx1.example.org"), ("example", "mail.example.org"),
    ("mail.org", "mx.mail.org"), ("example.org", "mail.example.org"), ("mx.org", "mail.mx.org"),
])
def test_the_hostname_example_never_doubles_mail(typed: str, example: str) -> None:
    """The example follows what was typed ("e.g. mail.example.org"), never "mail.mail.org"."""
    (issue,) = check_value("MAILCOW_HOSTNAME", typed, get_schema("current").get("MAILCOW_HOSTNAME"))
    assert issue.message.endswith(f"e.g. {example}") and "mail.mail." not in issue.message
