"""The keys of mailcow.conf for both mailcow generations: type, default, allowed values, our comment.

Two generations exist in the wild. The Solr era (end of 2020) knows `SKIP_SOLR`, `SOLR_HEAP` and
`SOLR_PORT` and binds HTTP(S) to 0.0.0.0 by default; today's (Flatcurve FTS) has `SKIP_FTS`, `FTS_HEAP`,
`FTS_PROCS`, `REDISPASS`, `ENABLE_IPV6`, `DOCKER_COMPOSE_VERSION` and empty binds. Which one a checkout
is comes from its docker-compose.yml (see `detect_generation`). The comments here are ours; only facts
(names, defaults, formats) come from mailcow.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, replace

from mailcow_wizard.mailcow import GENERATIONS, detect_generation  # noqa: F401 (re-exported)

SAFE_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-:/@,+=%")
"""Characters that mean the same to bash `source`, Docker Compose and python-dotenv in an unquoted value."""

QUOTED_CHARS = frozenset(chr(c) for c in range(0x20, 0x7F)) - frozenset("'\\$`")
"""For the few free-text keys written in single quotes: printable ASCII without ' \\ $ and backtick."""

MAX_VALUE_LENGTH = 512
"""No mailcow value comes near this; longer ones are a paste gone wrong."""


@dataclass(frozen=True)
class KeySpec:
    """One mailcow.conf key: how to check it, what it defaults to, what we write above it."""

    name: str
    kind: str
    """Rule name understood by `validate` (hostname, port, bare_port, bind, yn, ...)."""
    default: str | None
    """Value for a new file; None = must come from the user (hostname) or is generated (secrets)."""
    comment: str
    section: str
    choices: tuple[str, ...] = ()
    length: int = 0
    """Secrets: the length we generate (28, SOGo key 16)."""
    extra_chars: str = ""
    """Characters this key may use beyond SAFE_CHARS (e.g. `*` in ADDITIONAL_SAN)."""
    optional: bool = False
    """mailcow writes this key commented out (`#KEY=`): a new file has the placeholder, not a value."""
    quoted: bool = False
    """Free text written in single quotes (spaces allowed, see QUOTED_CHARS)."""

    @property
    def secret(self) -> bool:
        return self.kind in ("secret", "secret_exact")


SECTIONS: dict[str, str] = {
    "web": "Web interface and the mail host name",
    "db": "Database and Redis credentials (random, generated once, never changed by mailcow-wizard)",
    "http": "Web server ports. HTTP_PORT/HTTPS_PORT take a bare port; an address goes in *_BIND",
    "ports": "Mail and internal ports: PORT, IPv4:PORT or [IPv6]:PORT",
    "system": "Time zone, Compose project and Compose flavour",
    "features": "Optional features and the containers you can switch off (y/n)",
    "watchdog": "Watchdog: restarts unhealthy containers and can send notices",
    "network": "mailcow's internal Docker network",
    "misc": "Everything else",
}


def _k(name: str, kind: str, default: str | None, comment: str, section: str, **kw: object) -> KeySpec:
    return KeySpec(name, kind, default, comment, section, **kw)  # type: ignore[arg-type]


_YN = "yn"


def _port(name: str, default: str, comment: str) -> KeySpec:
    return _k(name, "port", default, comment, "ports", extra_chars="[]")


_HTTP_BIND_COMMENT = ("Address for {what}; empty means every address of this host. "
                      "IPv6 in brackets: [2001:db8::1].")

CATALOG: tuple[KeySpec, ...] = (
    _k("MAILCOW_HOSTNAME", "hostname", None,
       "The full name of this mail server, e.g. mail.example.org (not the bare mail domain). The web "
       "interface starts with the login admin / moohoo: sign in and change that password at once.", "web"),
    _k("MAILCOW_PASS_SCHEME", "pass_scheme", "BLF-CRYPT",
       "How mailbox passwords are hashed; BLF-CRYPT (bcrypt) is mailcow's default.", "web"),
    _k("DBNAME", "name", "mailcow", "Database name used by mailcow's MariaDB.", "db"),
    _k("DBUSER", "name", "mailcow", "Database user mailcow connects as.", "db"),
    _k("DBPASS", "secret", None, "Password of that database user: 28 random letters and digits.", "db",
       length=28),
    _k("DBROOT", "secret", None, "MariaDB root password: 28 random letters and digits.", "db", length=28),
    _k("REDISPASS", "secret", None, "Password for mailcow's Redis: 28 random letters and digits.", "db",
       length=28),
    _k("HTTP_PORT", "bare_port", "80",
       "Port for plain HTTP. A number only; 8081, 9081, 9082 and 65510 are taken inside nginx.", "http",
       extra_chars="[]"),
    _k("HTTP_BIND", "bind", "", _HTTP_BIND_COMMENT.format(what="HTTP"), "http", extra_chars="[]"),
    _k("HTTPS_PORT", "bare_port", "443", "Port for HTTPS. A number only, same reserved ports as above.",
       "http", extra_chars="[]"),
    _k("HTTPS_BIND", "bind", "", _HTTP_BIND_COMMENT.format(what="HTTPS"), "http", extra_chars="[]"),
    _k("HTTP_REDIRECT", _YN, "y", "Send plain HTTP visitors to HTTPS.", "http"),
    _port("SMTP_PORT", "25", "SMTP, where other mail servers deliver to you."),
    _port("SMTPS_PORT", "465", "SMTP over implicit TLS, for your users' mail programs."),
    _port("SUBMISSION_PORT", "587", "SMTP submission with STARTTLS, for your users' mail programs."),
    _port("IMAP_PORT", "143", "IMAP with STARTTLS."),
    _port("IMAPS_PORT", "993", "IMAP over implicit TLS."),
    _port("POP_PORT", "110", "POP3 with STARTTLS."),
    _port("POPS_PORT", "995", "POP3 over implicit TLS."),
    _port("SIEVE_PORT", "4190", "ManageSieve, for server-side filter rules."),
    _port("DOVEADM_PORT", "127.0.0.1:19991", "Dovecot admin API; keep it on loopback."),
    _port("SQL_PORT", "127.0.0.1:13306", "MariaDB, published on loopback for local tools only."),
    _port("SOLR_PORT", "127.0.0.1:18983", "Solr, published on loopback for local tools only."),
    _port("REDIS_PORT", "127.0.0.1:7654", "Redis, published on loopback for local tools only."),
    _port("XMPP_C2S_PORT", "5222", "XMPP chat clients (ejabberd)."),
    _port("XMPP_S2S_PORT", "5269", "XMPP server-to-server (ejabberd)."),
    _port("XMPP_HTTPS_PORT", "5443", "XMPP over HTTPS (ejabberd)."),
    _k("TZ", "tz", None, "Time zone of the containers, an IANA name such as Europe/Berlin.", "system"),
    _k("COMPOSE_PROJECT_NAME", "project", "mailcowdockerized",
       "Compose project name: lowercase letters, digits, - and _. Changing it orphans your volumes.",
       "system"),
    _k("DOCKER_COMPOSE_VERSION", "compose_version", "native",
       "native = the `docker compose` plugin, standalone = the `docker-compose` binary. "
       "mailcow's scripts need one of the two.", "system", choices=("native", "standalone")),
    _k("ACL_ANYONE", "choice", "disallow",
       "allow = mailbox folders can be shared with every signed-in user.", "features",
       choices=("allow", "disallow")),
    _k("MAILDIR_GC_TIME", "int", "7200",
       "Minutes a deleted mailbox or domain waits in the garbage folder before it is removed.", "features"),
    _k("ADDITIONAL_SAN", "sanlist", "",
       "Extra names for the TLS certificate, comma separated, no spaces; * stands for each mail "
       "domain (imap.*,smtp.*).", "features", extra_chars="*"),
    _k("AUTODISCOVER_SAN", _YN, "y", "Also get certificates for autodiscover.* and autoconfig.*.",
       "features"),
    _k("ADDITIONAL_SERVER_NAMES", "namelist", "",
       "Further names the web interface answers to, comma separated, no spaces.", "features"),
    _k("SKIP_LETS_ENCRYPT", _YN, "n", "y = do not request Let's Encrypt certificates.", "features"),
    _k("ACME_DNS_CHALLENGE", _YN, "n", "y = prove domain ownership by DNS-01 instead of HTTP.",
       "features"),
    _k("ACME_DNS_PROVIDER", "dns_provider", "dns_xxx", "acme.sh DNS provider name for DNS-01.",
       "features"),
    _k("ACME_ACCOUNT_EMAIL", "email", "me@example.com", "Contact address of the ACME account.",
       "features"),
    *(_k(f"AZUREDNS_{part}", "text", "", f"DNS-01 with Azure DNS: {what} (an example of provider settings).",
         "features", optional=True, quoted=True)
      for part, what in (("SUBSCRIPTIONID", "subscription id"), ("TENANTID", "tenant id"),
                         ("APPID", "application id"), ("CLIENTSECRET", "client secret"),
                         ("RESOURCEGROUP", "resource group"), ("ZONE", "zone name"))),
    _k("ENABLE_SSL_SNI", _YN, "n", "y = one certificate per domain (needed beyond 100 domains).",
       "features"),
    _k("SKIP_IP_CHECK", _YN, "n", "y = the ACME client skips its public IPv4 check.", "features"),
    _k("SKIP_HTTP_VERIFICATION", _YN, "n", "y = the ACME client skips its own HTTP pre-check.", "features"),
    _k("SKIP_UNBOUND_HEALTHCHECK", _YN, "n", "y = no health check for the DNS resolver (not advised).",
       "features"),
    _k("SKIP_CLAMD", _YN, "n", "y = no ClamAV virus scanner (saves about 1 GiB of RAM).", "features"),
    _k("SKIP_OLEFY", _YN, "n", "y = no scanner for macros in Office documents.", "features"),
    _k("SKIP_SOGO", _YN, "n", "y = no SOGo: no webmail, calendars, contacts or ActiveSync.", "features"),
    _k("SKIP_SOLR", _YN, "n", "y = no Solr full-text search (Solr needs well over 2 GiB of RAM).",
       "features"),
    _k("SOLR_HEAP", "int", "1024", "Java heap of Solr, in MB.", "features"),
    _k("SKIP_FTS", _YN, "n", "y = no full-text search index for mailboxes (saves RAM and CPU).", "features"),
    _k("FTS_HEAP", "int", "128", "Memory limit of the full-text indexer, in MB.", "features"),
    _k("FTS_PROCS", "int", "1", "How many full-text indexer processes may run at once.", "features"),
    _k("ALLOW_ADMIN_EMAIL_LOGIN", _YN, "n", "y = admins may open SOGo as any mailbox user.", "features"),
    _k("USE_WATCHDOG", _YN, "y", "Restart containers that stop answering.", "watchdog"),
    _k("WATCHDOG_NOTIFY_EMAIL", "emaillist", "",
       "Addresses for watchdog notices, comma separated. Use addresses outside this server: the notices "
       "leave unsigned (no DKIM) from watchdog@ this host name, so with DMARC give that name its own "
       "relaxed policy (p=none).", "watchdog", optional=True),
    _k("WATCHDOG_NOTIFY_WEBHOOK", "url", "", "URL that receives watchdog notices as JSON POSTs.",
       "watchdog", optional=True),
    _k("WATCHDOG_NOTIFY_WEBHOOK_BODY", "text", "",
       "JSON body for the webhook, kept in single quotes; SUBJECT and BODY are filled in.", "watchdog",
       optional=True, quoted=True),
    _k("WATCHDOG_NOTIFY_BAN", _YN, "n", "Send a notice for each banned IP address.", "watchdog"),
    _k("WATCHDOG_NOTIFY_START", _YN, "y", "Send a notice when the watchdog starts.", "watchdog"),
    _k("WATCHDOG_SUBJECT", "text", "", "Subject of watchdog mails.", "watchdog", optional=True,
       quoted=True),
    _k("WATCHDOG_EXTERNAL_CHECKS", _YN, "n", "Let an outside service test whether you are an open relay.",
       "watchdog"),
    _k("WATCHDOG_VERBOSE", _YN, "n", "More detailed watchdog logs.", "watchdog"),
    _k("LOG_LINES", "int", "9999", "Log lines kept per service in Redis.", "watchdog"),
    _k("IPV4_NETWORK", "ipv4_network", "172.22.1",
       "First three octets of mailcow's private IPv4 /24 network.", "network"),
    _k("IPV6_NETWORK", "ipv6_network", "fd4d:6169:6c63:6f77::/64",
       "mailcow's private IPv6 network, inside fc00::/7.", "network"),
    _k("SNAT_TO_SOURCE", "ipv4_or_empty", "", "IPv4 address for outgoing connections.", "network",
       optional=True),
    _k("SNAT6_TO_SOURCE", "ipv6_or_empty", "", "IPv6 address for outgoing connections.", "network",
       optional=True),
    _k("ENABLE_IPV6", "truefalse", "true",
       "true/false: IPv6 inside mailcow. Only true when this host's IPv6 works end to end: a half-made "
       "IPv6 setup can turn mailcow into an open relay. Changing it needs `docker compose down` and up.",
       "network"),
    _k("DISABLE_NETFILTER_ISOLATION_RULE", _YN, "n",
       "y = do not fence mailcow's network off from neighbours (not advised).", "network"),
    _k("API_KEY", "apikey", "", "Read-write API key (letters, digits, -); needs API_ALLOW_FROM.", "misc",
       optional=True),
    _k("API_KEY_READ_ONLY", "apikey", "", "Read-only API key (letters, digits, -).", "misc", optional=True),
    _k("API_ALLOW_FROM", "iplist", "", "Addresses or networks allowed to use the API, comma separated.",
       "misc", optional=True),
    _k("MAILDIR_SUB", "maildir_sub", "Maildir", "Sub-folder of each mail home that holds the mail.", "misc"),
    _k("SOGO_EXPIRE_SESSION", "int", "480", "Minutes until an idle SOGo session ends.", "misc"),
    _k("SOGO_URL_ENCRYPTION_KEY", "secret_exact", None,
       "Key SOGo encrypts addresses in its URLs with: exactly 16 letters and digits.", "misc", length=16),
    _k("DOVECOT_MASTER_USER", "alnum_or_empty", "",
       "Dovecot master user; leave empty to let mailcow make one at start.", "misc"),
    _k("DOVECOT_MASTER_PASS", "alnum_or_empty", "", "Its password; leave empty together with the user.",
       "misc"),
    _k("ACME_CONTACT", "emaillist", "", "Contact address given to Let's Encrypt at the first order.",
       "misc"),
    _k("WEBAUTHN_ONLY_TRUSTED_VENDORS", _YN, "n", "y = accept only security keys of known vendors.", "misc"),
    _k("SPAMHAUS_DQS_KEY", "alnum_or_empty", "", "Spamhaus DQS key, if you have one.", "misc"),
)
"""Every key mailcow.conf has had since the end of 2020, in the order a new file lists them."""

CATALOG_BY_NAME: dict[str, KeySpec] = {k.name: k for k in CATALOG}

BASE_KEYS: tuple[str, ...] = (
    "MAILCOW_HOSTNAME", "DBNAME", "DBUSER", "DBPASS", "DBROOT", "HTTP_PORT", "HTTP_BIND", "HTTPS_PORT",
    "HTTPS_BIND", "SMTP_PORT", "SMTPS_PORT", "SUBMISSION_PORT", "IMAP_PORT", "IMAPS_PORT", "POP_PORT",
    "POPS_PORT", "SIEVE_PORT", "TZ")
"""Keys every generation's generator writes; update scripts never list them (there from the start)."""

_CURRENT_NAMES = frozenset(CATALOG_BY_NAME) - {
    "SOLR_PORT", "XMPP_C2S_PORT", "XMPP_S2S_PORT", "XMPP_HTTPS_PORT", "SKIP_SOLR", "SOLR_HEAP",
    "ACME_CONTACT"}
"""Today's keys (mailcow-dockerized of 2026-08), used when there is no checkout to read."""

_2020_NAMES = frozenset(BASE_KEYS) | {
    "MAILCOW_PASS_SCHEME", "DOVEADM_PORT", "SQL_PORT", "SOLR_PORT", "REDIS_PORT", "COMPOSE_PROJECT_NAME",
    "ACL_ANYONE", "MAILDIR_GC_TIME", "ADDITIONAL_SAN", "SKIP_LETS_ENCRYPT", "ENABLE_SSL_SNI", "SKIP_IP_CHECK",
    "SKIP_HTTP_VERIFICATION", "SKIP_CLAMD", "SKIP_SOGO", "SKIP_SOLR", "SOLR_HEAP", "ALLOW_ADMIN_EMAIL_LOGIN",
    "USE_WATCHDOG", "WATCHDOG_NOTIFY_EMAIL", "WATCHDOG_NOTIFY_BAN", "WATCHDOG_EXTERNAL_CHECKS", "LOG_LINES",
    "IPV4_NETWORK", "IPV6_NETWORK", "SNAT_TO_SOURCE", "SNAT6_TO_SOURCE", "API_KEY", "API_KEY_READ_ONLY",
    "API_ALLOW_FROM", "MAILDIR_SUB", "SOGO_EXPIRE_SESSION", "DOVECOT_MASTER_USER", "DOVECOT_MASTER_PASS"}
"""The Solr era's keys as of the end of 2020 (HTTP(S)_BIND then defaulted to 0.0.0.0)."""


def generic_spec(name: str, default: str, commented: bool) -> KeySpec:
    """A key a checkout expects that mailcow-wizard has no entry for: kept at the checkout's default."""
    return KeySpec(name, "text", default, "A setting this mailcow checkout expects; its default is kept "
                   "(see mailcow's documentation).", "misc", optional=commented)


def build_schema(generation: str, names: Collection[str], *, defaults: Mapping[str, str] | None = None,
                 commented: Mapping[str, bool] | None = None, source: str = "") -> Schema:
    """A Schema of `names` in catalog order (unknown names last), with per-checkout defaults/comment state."""
    defaults = dict(defaults or {})
    commented = dict(commented or {})
    wanted = set(names)
    keys: list[KeySpec] = []
    for spec in CATALOG:
        if spec.name not in wanted:
            continue
        changes: dict[str, object] = {}
        if spec.name in defaults and spec.default is not None and defaults[spec.name] != spec.default:
            changes["default"] = defaults[spec.name]
        if spec.name in commented and commented[spec.name] != spec.optional:
            changes["optional"] = commented[spec.name]
        keys.append(replace(spec, **changes) if changes else spec)  # type: ignore[arg-type]
    for name in names:
        if name not in CATALOG_BY_NAME:
            keys.append(generic_spec(name, defaults.get(name, ""), commented.get(name, False)))
    return Schema(generation, tuple(keys), source)


@dataclass(frozen=True)
class Schema:
    """The keys of one generation, in the order a new file lists them."""

    generation: str
    """"current" (Flatcurve full-text search) or "2020" (the Solr era): what recommendations apply."""
    keys: tuple[KeySpec, ...]
    source: str = ""
    """Where the key list came from (a checkout's files, or mailcow-wizard's built-in list)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_name", {k.name: k for k in self.keys})

    def get(self, name: str) -> KeySpec | None:
        return self._by_name.get(name)  # type: ignore[attr-defined]

    def __contains__(self, name: object) -> bool:
        return name in self._by_name  # type: ignore[attr-defined]

    @property
    def names(self) -> list[str]:
        return [k.name for k in self.keys]

    @property
    def required(self) -> list[KeySpec]:
        """Keys every file of this generation sets (the commented-out ones excluded)."""
        return [k for k in self.keys if not k.optional]

    @property
    def commented(self) -> list[KeySpec]:
        """Keys mailcow writes commented out (`#KEY=`): present, but unset until someone fills them in."""
        return [k for k in self.keys if k.optional]


_SCHEMAS: dict[str, Schema] = {}


def get_schema(generation: str) -> Schema:
    """The schema of `generation` ("current" or "2020"); ValueError for anything else."""
    if generation not in GENERATIONS:
        raise ValueError(f"unknown mailcow generation {generation!r} (choose current or 2020)")
    if generation not in _SCHEMAS:
        if generation == "current":
            _SCHEMAS[generation] = build_schema(generation, _CURRENT_NAMES,
                                             source="mailcow-wizard's list of today's keys")
        else:
            _SCHEMAS[generation] = build_schema(generation, _2020_NAMES,
                                             defaults={"HTTP_BIND": "0.0.0.0", "HTTPS_BIND": "0.0.0.0"},
                                             source="mailcow-wizard's list of the Solr era's keys (2020)")
    return _SCHEMAS[generation]

