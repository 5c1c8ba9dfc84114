"""Which mailcow.conf keys a mailcow-dockerized checkout of any age expects, read from the checkout itself.

mailcow.conf changed with nearly every release, so a fixed key list is wrong for most checkouts. The
checkout says what it needs, in three places we read as data (nothing of it is run):

- the generator script: the KEY=VALUE lines (active or commented out) of the file it writes, with the
  literal defaults; values it computes (secrets, host name, time zone, detected flags) are ours to fill;
- the update script's option list (in update.sh, or in _modules/ since 2025): every key its migration
  adds when a file lacks it, so a file without one of them gets edited at the next update;
- docker-compose.yml: the variables Compose reads (`${NAME:-default}`), which tells e.g. whether
  HTTP_BIND still defaults to 0.0.0.0 and which ports exist (SOLR_PORT, the XMPP ports of 2021).

Keys are the union of these (plus the base keys every generator wrote), kept in our catalog's order.
Without a generator script the defaults are our catalog's, adjusted by what Compose says.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from mailcow_wizard.conf.schema import BASE_KEYS, CATALOG_BY_NAME, SAFE_CHARS, Schema, build_schema
from mailcow_wizard.fsio import read_text

GENERATOR = "generate_config.sh"
UPDATER = "update.sh"
NEW_OPTIONS = "_modules/scripts/new_options.sh"
MIGRATE_OPTIONS = "_modules/scripts/migrate_options.sh"
COMPOSE = "docker-compose.yml"
READ_LIMIT = 2 * 1024 * 1024
"""No mailcow script comes near this; a bigger file is not one of them and is read only this far."""

_HEREDOC_RE = re.compile(
    r"<<\s*['\"]?(?P<tag>[A-Z_]+)['\"]?\s*>\s*mailcow\.conf[^\n]*\n(?P<body>.*?)\n(?P=tag)\n", re.DOTALL)
_CONF_LINE_RE = re.compile(r"(?P<hash>#?)(?P<key>[A-Z][A-Z0-9_]*)=(?P<value>[^\n]*)\Z")
_ARRAY_RE = re.compile(r"\bCONFIG_ARRAY=\((?P<body>.*?)\)", re.DOTALL)
_KEYS_RE = re.compile(r"\bKEYS=\((?P<body>.*?)\)", re.DOTALL)
_NAME_RE = re.compile(r"[A-Z][A-Z0-9_]*")
_COMPOSE_VAR_RE = re.compile(r"\$\{(?P<name>[A-Z][A-Z0-9_]*)(?::?-(?P<default>[^}]*))?\}")
_SOLR_MARKERS = ("SKIP_SOLR", "SOLR_HEAP", "SOLR_PORT")


@dataclass
class CheckoutKeys:
    """What one checkout's own files say about mailcow.conf (empty parts: that file is absent or unread)."""

    generator: dict[str, tuple[bool, str | None]] = field(default_factory=dict)
    """KEY -> (written commented out, literal default or None when the generator computes it)."""
    update_options: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    """Keys the checkout's update migration deletes from an older file."""
    compose_vars: dict[str, str | None] = field(default_factory=dict)
    """Variable -> its default in docker-compose.yml (None when it has none)."""
    sources: list[str] = field(default_factory=list)

    @property
    def found(self) -> bool:
        return bool(self.generator or self.update_options)


def _read(path: Path) -> str | None:
    try:
        if not path.is_file():
            return None
        return read_text(path, READ_LIMIT)
    except OSError:
        return None


def parse_generator(text: str) -> dict[str, tuple[bool, str | None]]:
    """The keys of the file a generator script writes: KEY -> (commented out, literal default or None).

    A key written both ways counts as active (the commented lines are examples of it). A value with `$`,
    a backtick or quotes is computed or free text: None.
    """
    m = _HEREDOC_RE.search(text)
    if not m:
        return {}
    out: dict[str, tuple[bool, str | None]] = {}
    for line in m.group("body").splitlines():
        lm = _CONF_LINE_RE.match(line.strip())
        if not lm:
            continue
        key, commented, value = lm.group("key"), lm.group("hash") == "#", lm.group("value")
        literal = value if all(c in SAFE_CHARS for c in value) else None
        if key in out and not out[key][0]:
            continue  # already active
        if key in out and commented:
            continue  # keep the first commented form
        out[key] = (commented, None if commented else literal)
    return out


def parse_option_list(text: str, pattern: re.Pattern[str] = _ARRAY_RE) -> list[str]:
    """Names in a bash array literal such as the update script's option list."""
    m = pattern.search(text)
    if not m:
        return []
    body = "\n".join(line.split("#", 1)[0] for line in m.group("body").splitlines())
    return _NAME_RE.findall(body)


def parse_compose_vars(text: str) -> dict[str, str | None]:
    """Variables a Compose file reads, with their `:-` / `-` default (the first one seen)."""
    out: dict[str, str | None] = {}
    for m in _COMPOSE_VAR_RE.finditer(text):
        out.setdefault(m.group("name"), m.group("default"))
    return out


def read_checkout(mailcow_dir: Path | str) -> CheckoutKeys:
    """Read the three sources from a checkout; missing files leave their part empty."""
    d = Path(mailcow_dir)
    facts = CheckoutKeys()
    gen = _read(d / GENERATOR)
    if gen is not None:
        facts.generator = parse_generator(gen)
        if facts.generator:
            facts.sources.append(GENERATOR)
    for name in (NEW_OPTIONS, UPDATER):
        text = _read(d / name)
        if text is not None:
            opts = parse_option_list(text)
            if opts:
                facts.update_options = opts
                facts.sources.append(name)
                break
    migrate = _read(d / MIGRATE_OPTIONS)
    if migrate is not None:
        facts.removed = parse_option_list(migrate, _KEYS_RE)
    compose = _read(d / COMPOSE)
    if compose is not None:
        facts.compose_vars = parse_compose_vars(compose)
        if facts.compose_vars:
            facts.sources.append(COMPOSE)
    return facts


def schema_from_keys(facts: CheckoutKeys) -> Schema | None:
    """The Schema a checkout's files describe (None when they describe nothing: no generator, no options)."""
    if not facts.found:
        return None
    names: list[str] = list(facts.generator)
    seen = set(names)
    extra = [*BASE_KEYS, *facts.update_options,
             *(v for v in facts.compose_vars if v in CATALOG_BY_NAME)]
    if "ACME_DNS_PROVIDER" in seen or "ACME_DNS_PROVIDER" in extra:
        extra += [k for k in CATALOG_BY_NAME if k.startswith("AZUREDNS_")]
    for name in extra:
        if name not in seen and name not in facts.removed:
            names.append(name)
            seen.add(name)
    defaults: dict[str, str] = {}
    commented: dict[str, bool] = {}
    for key, (is_commented, literal) in facts.generator.items():
        commented[key] = is_commented
        if literal is not None:
            defaults[key] = literal
    for bind in ("HTTP_BIND", "HTTPS_BIND"):
        # Until 2021-01 the generator wrote 0.0.0.0 and Compose defaulted to the same.
        if bind not in defaults and facts.compose_vars.get(bind) == "0.0.0.0":
            defaults[bind] = "0.0.0.0"
    generation = "2020" if any(m in seen for m in _SOLR_MARKERS) else "current"
    era = "Solr era" if generation == "2020" else "Flatcurve era"
    n_commented = sum(1 for k in names if commented.get(k, CATALOG_BY_NAME[k].optional
                                                       if k in CATALOG_BY_NAME else False))
    source = (f"the checkout's {', '.join(facts.sources)}: {len(names) - n_commented} keys and "
              f"{n_commented} commented out, {era}")
    return build_schema(generation, names, defaults=defaults, commented=commented, source=source)


def checkout_schema(mailcow_dir: Path | str | None) -> tuple[Schema, str]:
    """The schema for `mailcow_dir` and why; today's built-in list when the checkout says nothing."""
    from mailcow_wizard.conf.schema import detect_generation, get_schema

    if mailcow_dir is not None:
        schema = schema_from_keys(read_checkout(mailcow_dir))
        if schema is not None:
            return schema, schema.source
    generation, reason = detect_generation(Path(mailcow_dir) if mailcow_dir is not None else None)
    schema = get_schema(generation)
    return schema, f"{reason}; keys from {schema.source}"
