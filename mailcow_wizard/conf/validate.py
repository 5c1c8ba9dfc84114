"""Validation of mailcow.conf values: every problem names the key and the rule it breaks.

mailcow.conf is read twice: bash `source`s it and Docker Compose reads it as `.env`. So besides each
key's own rule, every value must be *inert*: no character that bash or Compose would treat as syntax
(see `schema.SAFE_CHARS`). `validate_values` also looks across keys (port collisions, bind addresses
that this host does not have). `field_errors` gives the errors per key, as a form shows them.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass

from mailcow_wizard.conf.schema import MAX_VALUE_LENGTH, QUOTED_CHARS, SAFE_CHARS, KeySpec, Schema
from mailcow_wizard.mailcow import NGINX_INTERNAL_PORTS, published_ports, split_port_spec

ERROR = "error"
WARNING = "warning"

_KEY_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")

ENVIRONMENT_NAMES: dict[str, frozenset[str]] = {
    "bash": frozenset({
        "BASHOPTS", "BASHPID", "CDPATH", "CHILD_MAX", "COLUMNS", "DIRSTACK", "EMACS", "ENV", "EPOCHREALTIME",
        "EPOCHSECONDS", "EUID", "EXECIGNORE", "FCEDIT", "FIGNORE", "FUNCNAME", "FUNCNEST", "GLOBIGNORE",
        "GLOBSORT", "GROUPS", "HISTCMD", "HISTCONTROL", "HISTFILE", "HISTFILESIZE", "HISTIGNORE",
        "HISTSIZE", "HISTTIMEFORMAT", "HOME", "HOSTFILE", "HOSTNAME", "HOSTTYPE", "IFS", "IGNOREEOF",
        "INPUTRC", "INSIDE_EMACS", "LINENO", "LINES", "MACHTYPE", "MAIL", "MAILCHECK", "MAILPATH",
        "OLDPWD", "OPTARG", "OPTERR", "OPTIND", "OSTYPE", "PATH", "PIPESTATUS", "POSIXLY_CORRECT", "PPID",
        "PROMPT_COMMAND", "PROMPT_DIRTRIM", "PS0", "PS1", "PS2", "PS3", "PS4", "PWD", "RANDOM", "REPLY",
        "SECONDS", "SHELL", "SHELLOPTS", "SHLVL", "SRANDOM", "TIMEFORMAT", "TMOUT", "TMPDIR", "UID",
        "AUTO_RESUME", "HISTCHARS", "USER", "LOGNAME",
    }),
    "POSIX sh": frozenset({"ENV", "FCEDIT", "HISTFILE", "HISTSIZE", "HOME", "IFS", "LINENO", "MAIL",
                           "MAILCHECK", "MAILPATH", "NLSPATH", "OPTARG", "OPTIND", "PATH", "PPID", "PS1",
                           "PS2", "PS4", "PWD"}),
    "the dynamic loader and libc": frozenset({"GCONV_PATH", "GLIBC_TUNABLES", "HOSTALIASES", "LOCALDOMAIN",
                                             "RES_OPTIONS", "TZDIR", "NLSPATH", "MALLOC_CHECK_"}),
    "locale settings": frozenset({"LANG", "LANGUAGE", "LOCPATH", "LC_ALL"}),
    "Docker and Compose": frozenset({"BUILDKIT_PROGRESS", "BUILDX_BUILDER"}),
    "OpenSSL and TLS clients": frozenset({"SSL_CERT_FILE", "SSL_CERT_DIR", "OPENSSL_CONF", "OPENSSL_MODULES",
                                          "OPENSSL_ENGINES", "RANDFILE", "CURL_CA_BUNDLE", "CURL_HOME",
                                          "REQUESTS_CA_BUNDLE", "SSLKEYLOGFILE", "WGETRC"}),
    "proxy settings": frozenset({"HTTP_PROXY", "HTTPS_PROXY", "FTP_PROXY", "ALL_PROXY", "NO_PROXY",
                                 "RSYNC_PROXY", "SOCKS_PROXY", "SOCKS5_SERVER"}),
    "terminals and pagers": frozenset({"TERM", "TERMINFO", "TERMINFO_DIRS", "TERMCAP", "COLORTERM", "PAGER",
                                       "EDITOR", "VISUAL", "LESS", "LESSOPEN", "LESSCLOSE", "LESSSECURE",
                                       "MANPAGER", "BROWSER", "DISPLAY", "NO_COLOR", "FORCE_COLOR",
                                       "CLICOLOR", "CLICOLOR_FORCE"}),
    "other interpreters and tools": frozenset({"NODE_OPTIONS", "NODE_PATH", "RUBYOPT", "RUBYLIB",
                                               "JAVA_TOOL_OPTIONS", "_JAVA_OPTIONS", "JDK_JAVA_OPTIONS",
                                               "SUDO_ASKPASS", "SSH_ASKPASS", "SSH_AUTH_SOCK",
                                               "DEBIAN_FRONTEND", "APT_CONFIG", "UMASK", "CC", "MAKEFLAGS",
                                               "PKG_CONFIG_PATH", "GNUPGHOME", "KRB5CCNAME", "NETRC"}),
}
"""Names a program reads from its environment, by family. mailcow's scripts `source` mailcow.conf as
root and Docker Compose reads it as `.env`, so a line setting one of these would change which programs
run or how (PATH=/tmp/x, PROMPT_COMMAND, http_proxy, PERL5OPT), not configure mailcow. Matched without
regard to case (http_proxy is read in lower case too)."""
ENVIRONMENT_PREFIXES: dict[str, tuple[str, ...]] = {
    "bash": ("BASH", "BASH_FUNC", "COMP_", "READLINE_", "HIST"),
    "the dynamic loader and libc": ("LD_", "MALLOC_"),
    "locale settings": ("LC_",),
    "Docker and Compose": ("COMPOSE_", "DOCKER_", "BUILDKIT_", "BUILDX_"),
    "git": ("GIT_",),
    "OpenSSL and TLS clients": ("OPENSSL_", "SSL_"),
    "Perl": ("PERL",),
    "Python": ("PYTHON", "PIP_", "VIRTUAL_ENV"),
    "systemd and session managers": ("SYSTEMD_", "XDG_", "DBUS_", "SUDO_", "SSH_"),
    "terminals and pagers": ("LESS", "TERM"),
    "other interpreters and tools": ("NODE_", "NPM_", "RUBY", "GEM_", "JAVA_", "GPG_", "GNUPG", "WGET",
                                     "CURL_"),
}


def environment_family(key: str) -> str | None:
    """Which family of programs acts on environment variable `key` (None: no known one)."""
    name = key.upper()
    if name.endswith("_PROXY"):
        return "proxy settings"
    for family, names in ENVIRONMENT_NAMES.items():
        if name in names:
            return family
    for family, prefixes in ENVIRONMENT_PREFIXES.items():
        if name.startswith(prefixes):
            return family
    return None
_LABEL_RE = re.compile(r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\Z")
_SAN_LABEL_RE = re.compile(r"(\*|[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)\Z")
_EMAIL_RE = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+\Z")
_URL_RE = re.compile(r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~:/@,+=%-]*)?\Z")
_COMMON_SCHEMES = {"BLF-CRYPT", "SSHA", "SSHA256", "SSHA512", "MD5-CRYPT", "SHA256-CRYPT", "SHA512-CRYPT",
                   "ARGON2I", "ARGON2ID", "SHA1", "SHA256", "SHA512"}
_PRIVATE_V4 = (ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("172.16.0.0/12"),
               ipaddress.ip_network("192.168.0.0/16"))
_ULA = ipaddress.ip_network("fc00::/7")


@dataclass(frozen=True)
class Issue:
    """One problem with one key (or one line of the file)."""

    key: str
    rule: str
    """Short name of the rule, e.g. `inert`, `port`, `collision`, `hostname`."""
    message: str
    """A sentence that starts with the key and says what is wrong and what is allowed."""
    level: str = ERROR

    @property
    def is_error(self) -> bool:
        """Errors block the write (and Next in the wizard); warnings do not."""
        return self.level == ERROR

    def __str__(self) -> str:
        return self.message


def _err(key: str, rule: str, text: str, level: str = ERROR) -> Issue:
    return Issue(key, rule, f"{key}: {text}", level)


def _describe(ch: str) -> str:
    names = {"\n": "a newline", "\r": "a carriage return", "\t": "a tab", "\0": "a NUL byte", " ": "a space",
             "$": "'$'", "`": "a backtick", "'": "a quote (')", '"': 'a quote (")', "\\": "a backslash"}
    if ch in names:
        return names[ch]
    if not ch.isascii():
        return f"the non-ASCII character {ch!r} (U+{ord(ch):04X}; look-alike letters are not allowed)"
    if not ch.isprintable():
        return f"the control character U+{ord(ch):04X}"
    return repr(ch)


def check_inert(key: str, value: str, spec: KeySpec | None = None) -> Issue | None:
    """The value must mean the same to bash `source`, Compose and python-dotenv; None when it does."""
    if len(value) > MAX_VALUE_LENGTH:
        return _err(key, "length", f"{len(value)} characters is too long (at most {MAX_VALUE_LENGTH})")
    extra = spec.extra_chars if spec else ""
    quoted = spec is not None and spec.quoted
    allowed = QUOTED_CHARS if quoted else SAFE_CHARS | frozenset(extra)
    for ch in value:
        if ch not in allowed:
            what = ("printable ASCII without ' \\ $ and backticks" if quoted
                    else "letters, digits and " + " ".join(sorted(set("._-:/@,+=%") | set(extra))))
            return _err(key, "inert", f"contains {_describe(ch)}; bash and Docker Compose must read this "
                        f"value the same way, so it may use only {what}")
    return None


# -- single-key rules ------------------------------------------------------------------------------

def _hostname(key: str, v: str) -> list[Issue]:
    if not v:
        return [_err(key, "required", "is required (the mail server's full name, e.g. mail.example.org)")]
    if v.endswith("."):
        return [_err(key, "hostname", "must not end with a dot")]
    if len(v) > 253:
        return [_err(key, "hostname", f"is {len(v)} characters long; a host name has at most 253")]
    try:
        ipaddress.ip_address(v)
        return [_err(key, "hostname", "is an IP address; mailcow needs a host name such as mail.example.org")]
    except ValueError:
        pass
    labels = v.split(".")
    for label in labels:
        if not label:
            return [_err(key, "hostname", "has an empty label (two dots in a row)")]
        if len(label) > 63:
            return [_err(key, "hostname", f"label {label[:20]}... is longer than 63 characters")]
        if not _LABEL_RE.match(label):
            return [_err(key, "hostname", f"label {label!r} may use only letters, digits and inner hyphens")]
    if labels[-1].isdigit():
        return [_err(key, "hostname", "the last label must not be all digits")]
    if len(labels) < 2:
        return [_err(key, "hostname", f"{v!r} is not fully qualified; use the full name, e.g. "
                     f"{example_hostname(v)}")]
    if len(labels) == 2:
        return [_err(key, "hostname", f"{v!r} looks like a bare domain; mailcow expects the mail host's own "
                     f"name, e.g. {example_hostname(v)}", WARNING)]
    return []


HOST_LABELS = ("mail", "mx", "smtp", "imap", "mailcow", "webmail")
"""First labels that already name a mail host (mail, mx1, smtp2): an example keeps them, never "mail.mail"."""


def example_hostname(name: str) -> str:
    """A full host name to show as an example for what was typed, never doubling "mail.".

    A single host label (mail, mx1) gets a domain (mail.example.org); any other single label is taken
    as the domain's name (example -> mail.example.org); a bare domain gets a host in front (example.org
    -> mail.example.org), "mx." where its first label says mail already (mail.org -> mx.mail.org).
    """
    labels = [x for x in name.strip().strip(".").lower().split(".") if x]
    first = labels[0] if labels else ""
    is_host = first.rstrip("0123456789-") in HOST_LABELS
    if len(labels) <= 1:
        return f"{first}.example.org" if is_host else f"mail.{first or 'example'}.org"
    return f"{'mx' if first.rstrip('0123456789-') == 'mail' else 'mail'}.{'.'.join(labels)}"


def _port(key: str, v: str) -> list[Issue]:
    if "%" in v:
        return [_err(key, "port", "an address with a zone (%) cannot be published; use PORT, IPv4:PORT or "
                     "[IPv6]:PORT")]
    if re.search(r"(^|:)0[0-9]+$", v):
        return [_err(key, "port", "the port must not have leading zeros")]
    try:
        split_port_spec(v)
    except ValueError as exc:
        return [_err(key, "port", f"{exc}; use PORT, IPv4:PORT or [IPv6]:PORT with a port from 1 to 65535")]
    if v != v.strip():
        return [_err(key, "port", "must not have surrounding spaces")]
    return []


def _bare_port(key: str, v: str) -> list[Issue]:
    bind = key.replace("_PORT", "_BIND")
    if ":" in v:
        return [_err(key, "bare_port", f"takes a port number only; put the address in {bind} "
                     f"(e.g. {bind}=1.2.3.4 and {key}=8080)")]
    if not v.isascii() or not v.isdigit() or v.startswith("0"):
        return [_err(key, "bare_port", f"{v!r} is not a port number (1-65535)")]
    port = int(v)
    if not 1 <= port <= 65535:
        return [_err(key, "bare_port", f"port {port} is outside 1-65535")]
    if port in NGINX_INTERNAL_PORTS:
        used = ", ".join(str(p) for p in sorted(NGINX_INTERNAL_PORTS))
        return [_err(key, "reserved_port",
                     f"port {port} is used inside mailcow's nginx ({used}); pick another")]
    return []


def _bind(key: str, v: str) -> list[Issue]:
    if v == "":
        return []
    if "%" in v:
        return [_err(key, "bind", "an address with a zone (%) cannot be published")]
    bracketed = v.startswith("[") and v.endswith("]")
    try:
        ip = ipaddress.ip_address(v[1:-1] if bracketed else v)
    except ValueError:
        return [_err(key, "bind", f"{v!r} is not an IP address (IPv6 in brackets, e.g. [2001:db8::1]); "
                     "leave it empty for every address")]
    if ip.version == 6 and not bracketed:
        # Compose splits "ADDR:PORT:PORT" at colons; only a bracketed IPv6 address survives that.
        return [_err(key, "bind", f"write the IPv6 address in brackets, [{v}], or Docker Compose cannot "
                     "read the port mapping")]
    if ip.version == 4 and bracketed:
        return [_err(key, "bind", f"write the IPv4 address without brackets, {v[1:-1]}")]
    return []


def _yn(key: str, v: str) -> list[Issue]:
    if v in ("y", "n"):
        return []
    hint = " (lowercase: mailcow compares with 'y' literally)" if v.lower() in ("y", "n", "yes", "no") else ""
    return [_err(key, "yn", f"must be y or n, not {v!r}{hint}")]


def _truefalse(key: str, v: str) -> list[Issue]:
    return [] if v in ("true", "false") else [_err(key, "truefalse", f"must be true or false, not {v!r}")]


_TZ_RE = re.compile(r"[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9][A-Za-z0-9_+-]*){0,2}\Z")
_NOT_ZONES = {"localtime", "posixrules", "Factory"}


@functools.lru_cache(maxsize=256)
def zone_exists(name: str) -> bool:
    """An IANA zone name that this system's tz database has (one file read, unlike listing them all)."""
    if not _TZ_RE.match(name) or name in _NOT_ZONES or name.split("/", 1)[0] in ("posix", "right"):
        return False
    import zoneinfo

    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return name == "UTC"
    return True


def _tz(key: str, v: str) -> list[Issue]:
    if not v:
        return [_err(key, "required", "is required (an IANA time zone such as Europe/Berlin)")]
    if zone_exists(v):
        return []
    return [_err(key, "tz", f"{v!r} is not a known IANA time zone (e.g. Europe/Berlin, America/New_York, "
                 "UTC)")]


def _ipv4_network(key: str, v: str) -> list[Issue]:
    parts = v.split(".")
    if len(parts) != 3 or not all(p.isascii() and p.isdigit() and (p == "0" or not p.startswith("0"))
                                  and int(p) <= 255 for p in parts):
        return [_err(key, "ipv4_network", f"{v!r} must be the first three octets of a /24, e.g. 172.22.1")]
    net = ipaddress.ip_network(f"{v}.0/24")
    if not any(net.subnet_of(p) for p in _PRIVATE_V4):
        return [_err(key, "ipv4_network", f"{v}.0/24 is not a private range (10/8, 172.16/12, 192.168/16)")]
    return []


def _ipv6_network(key: str, v: str) -> list[Issue]:
    if "/" not in v:
        return [_err(key, "ipv6_network", "needs a prefix length, e.g. fd4d:6169:6c63:6f77::/64")]
    try:
        net = ipaddress.IPv6Network(v, strict=True)
    except ValueError as exc:
        return [_err(key, "ipv6_network", f"{v!r} is not an IPv6 network ({exc})")]
    if not net.subnet_of(_ULA):
        return [_err(key, "ipv6_network", f"{v} is not inside fc00::/7 (unique local addresses)")]
    return []


def _secret(key: str, v: str, spec: KeySpec) -> list[Issue]:
    if not v:
        return [_err(key, "secret", f"is empty; it needs {spec.length} random letters and digits")]
    if not (v.isascii() and v.isalnum()):
        return [_err(key, "secret", "may use only the letters A-Z, a-z and the digits 0-9")]
    if spec.kind == "secret_exact" and len(v) != spec.length:
        return [_err(key, "secret", f"must be exactly {spec.length} characters, not {len(v)}")]
    if len(v) < 16:
        return [_err(key, "secret",
                     f"is {len(v)} characters; at least 16 are needed ({spec.length} advised)")]
    if len(v) != spec.length:
        return [_err(key, "secret", f"is {len(v)} characters; mailcow generates {spec.length}", WARNING)]
    return []


def _int(key: str, v: str) -> list[Issue]:
    if not v.isascii() or not v.isdigit() or (v.startswith("0") and v != "0") or int(v) < 1 or len(v) > 9:
        return [_err(key, "int", f"{v!r} must be a whole number from 1 to 999999999")]
    return []


def _hostlist(key: str, v: str, wildcard: bool) -> list[Issue]:
    if v == "":
        return []
    for entry in v.split(","):
        if not entry:
            return [_err(key, "list",
                         "has an empty entry (a comma too many); separate names by single commas")]
        pattern = _SAN_LABEL_RE if wildcard else _LABEL_RE
        if len(entry) > 253 or not all(pattern.match(label) for label in entry.split(".")):
            return [_err(key, "list", f"{entry!r} is not a host name"
                         + (" (a * may stand for a whole label)" if wildcard else ""))]
    return []


def _emaillist(key: str, v: str, single: bool) -> list[Issue]:
    if v == "" and not single:
        return []
    entries = [v] if single else v.split(",")
    for entry in entries:
        if not _EMAIL_RE.match(entry):
            return [_err(key, "email", f"{entry!r} is not an e-mail address")]
    return []


def _iplist(key: str, v: str) -> list[Issue]:
    if v == "":
        return []
    for entry in v.split(","):
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            return [_err(key, "iplist", f"{entry!r} is not an IP address or network")]
    return []


def _ip_or_empty(key: str, v: str, version: int) -> list[Issue]:
    if v in ("", "n"):
        return []
    try:
        if ipaddress.ip_address(v).version == version:
            return []
    except ValueError:
        pass
    return [_err(key, "ip", f"{v!r} is not an IPv{version} address")]


def _pattern(key: str, v: str, regex: str, what: str, allow_empty: bool = False) -> list[Issue]:
    if (allow_empty and v == "") or re.fullmatch(regex, v):
        return []
    return [_err(key, "format", f"{v!r} is not valid: {what}")]


def check_value(key: str, value: str, spec: KeySpec | None) -> list[Issue]:
    """The rules of one key alone (inertness first, then its own rule); [] when the value is fine."""
    if not _KEY_RE.match(key):
        return [Issue(key, "key", f"{key!r} is not a valid variable name (letters, digits, _)")]
    family = environment_family(key) if spec is None else None
    if family is not None:
        return [Issue(key, "key", f"{key}: not a mailcow setting but a name {family} read from the "
                      "environment; bash sources mailcow.conf and Compose reads it as .env, so it would "
                      "change how programs run. Remove it")]
    bad = check_inert(key, value, spec)
    if bad is not None:
        return [bad]
    if spec is None:
        return []
    v = value
    kind = spec.kind
    if kind == "hostname":
        return _hostname(key, v)
    if kind == "port":
        return _port(key, v)
    if kind == "bare_port":
        return _bare_port(key, v)
    if kind == "bind":
        return _bind(key, v)
    if kind == "yn":
        return _yn(key, v)
    if kind == "truefalse":
        return _truefalse(key, v)
    if kind == "tz":
        return _tz(key, v)
    if kind == "ipv4_network":
        return _ipv4_network(key, v)
    if kind == "ipv6_network":
        return _ipv6_network(key, v)
    if kind in ("secret", "secret_exact"):
        return _secret(key, v, spec)
    if kind == "int":
        return _int(key, v)
    if kind in ("choice", "compose_version"):
        if v in spec.choices:
            return []
        if kind == "compose_version" and v == "":
            return [_err(key, "choice", "is empty; mailcow's backup script needs native or standalone",
                         WARNING)]
        return [_err(key, "choice", f"must be one of {', '.join(spec.choices)}, not {v!r}")]
    if kind == "sanlist":
        return _hostlist(key, v, wildcard=True)
    if kind == "namelist":
        return _hostlist(key, v, wildcard=False)
    if kind == "email":
        return _emaillist(key, v, single=True)
    if kind == "emaillist":
        return _emaillist(key, v, single=False)
    if kind == "iplist":
        return _iplist(key, v)
    if kind == "ipv4_or_empty":
        return _ip_or_empty(key, v, 4)
    if kind == "ipv6_or_empty":
        return _ip_or_empty(key, v, 6)
    if kind == "url":
        return _pattern(key, v, _URL_RE.pattern, "an http:// or https:// URL", allow_empty=True)
    if kind == "name":
        return _pattern(key, v, r"[A-Za-z0-9_]{1,64}", "1-64 letters, digits or _")
    if kind == "project":
        return _pattern(key, v, r"[a-z0-9][a-z0-9_-]{0,62}", "lowercase letters, digits, - and _, "
                        "starting with a letter or digit")
    if kind == "pass_scheme":
        issues = _pattern(key, v, r"[A-Z0-9-]{2,32}", "an upper-case hash scheme name such as BLF-CRYPT")
        if not issues and v not in _COMMON_SCHEMES:
            issues = [_err(key, "format", f"{v!r} is not a scheme we know; check mailcow's docs", WARNING)]
        return issues
    if kind == "dns_provider":
        return _pattern(key, v, r"dns_[A-Za-z0-9_]{1,60}", "an acme.sh provider name such as dns_cf")
    if kind == "alnum_or_empty":
        return _pattern(key, v, r"[A-Za-z0-9]{1,128}", "letters and digits only", allow_empty=True)
    if kind == "apikey":
        return _pattern(key, v, r"[A-Za-z0-9-]{1,128}", "letters, digits and - only", allow_empty=True)
    if kind == "maildir_sub":
        return _pattern(key, v, r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}",
                        "a folder name (letters, digits, . _ -)", allow_empty=True)
    return []  # "text": inertness is its whole rule


# -- across keys -----------------------------------------------------------------------------------

def published_addresses(values: Mapping[str, str]) -> dict[str, tuple[str | None, int]]:
    """(address or None for all, port) of every port key that is set and readable."""
    return published_ports(values, as_written=True)


def _overlap(a: str | None, b: str | None) -> bool:
    """Would Docker publish both on a common address? None is every address of both families."""
    if a is None or b is None:
        return True
    ia, ib = ipaddress.ip_address(a), ipaddress.ip_address(b)
    if ia.version != ib.version:
        return False
    return ia == ib or ia.is_unspecified or ib.is_unspecified


def local_addresses() -> frozenset[str]:
    """Addresses assigned on this machine's interfaces (psutil), as compressed strings."""
    import socket

    import psutil

    found: set[str] = set()
    for addrs in psutil.net_if_addrs().values():
        for a in addrs:
            if a.family in (socket.AF_INET, socket.AF_INET6):
                found.add(str(ipaddress.ip_address(a.address.split("%", 1)[0])))
    return frozenset(found)


def _address_issues(values: Mapping[str, str], local: Collection[str] | None, strict: bool) -> list[Issue]:
    issues: list[Issue] = []
    for key, (addr, _port_no) in published_addresses(values).items():
        if addr is None:
            continue
        ip = ipaddress.ip_address(addr)
        if ip.is_unspecified or ip.is_loopback:
            continue
        src = key.replace("_PORT", "_BIND") if key in ("HTTP_PORT", "HTTPS_PORT") else key
        if local is None:
            issues.append(_err(src, "bind_address", f"{addr} must be assigned on the target host, or Docker "
                               "fails with 'cannot assign requested address' (not checked under --root)",
                               WARNING))
        elif str(ip) not in local:
            issues.append(_err(src, "bind_address", f"{addr} is not assigned on this host; Docker would fail "
                               "with 'cannot assign requested address'", ERROR if strict else WARNING))
    # Deduplicate (HTTP_BIND is reported once even though only one port uses it).
    seen: set[tuple[str, str]] = set()
    unique = []
    for i in issues:
        if (i.key, i.message) not in seen:
            seen.add((i.key, i.message))
            unique.append(i)
    return unique


def collisions(values: Mapping[str, str]) -> list[Issue]:
    """Two keys publishing the same port on an overlapping address: both keys get an issue."""
    pub = list(published_addresses(values).items())
    issues: list[Issue] = []
    for i, (ka, (aa, pa)) in enumerate(pub):
        for kb, (ab, pb) in pub[i + 1:]:
            if pa == pb and _overlap(aa, ab):
                where = aa or ab or "every address"
                issues.append(_err(ka, "collision", f"port {pa} collides with {kb} on {where}"))
                issues.append(_err(kb, "collision", f"port {pb} collides with {ka} on {where}"))
    return issues


def validate_values(values: Mapping[str, str], schema: Schema, *,
                    local: Collection[str] | None = None, strict_addresses: bool = True) -> list[Issue]:
    """Every problem with a complete set of values: per key, then across keys.

    `local` is the set of addresses of the host that will run mailcow (None = unknown, e.g. --root);
    an address not in it is an error when `strict_addresses`, else a warning.
    """
    issues: list[Issue] = []
    for key, value in values.items():
        issues.extend(check_value(key, value, schema.get(key)))
    for spec in schema.required:
        if spec.name not in values and spec.default is None:
            issues.append(_err(spec.name, "required", "is missing"))
    issues.extend(collisions(values))
    http, https = values.get("HTTP_PORT"), values.get("HTTPS_PORT")
    if http and http == https and not any(i.rule == "collision" and i.key == "HTTP_PORT" for i in issues):
        # mailcow's nginx listens on these same numbers inside its container, whatever the binds.
        issues.append(_err("HTTP_PORT", "collision", f"port {http} is also HTTPS_PORT; nginx listens on both "
                           "inside its container, so they must differ"))
        issues.append(_err("HTTPS_PORT", "collision", f"port {https} is also HTTP_PORT; they must differ"))
    issues.extend(_address_issues(values, local, strict_addresses))
    return issues


def field_errors(values: Mapping[str, str], schema: Schema, *, local: Collection[str] | None = None,
                 strict_addresses: bool = True) -> dict[str, list[str]]:
    """Errors per key for a form (the TUI): {key: [message, ...]}, warnings left out."""
    out: dict[str, list[str]] = {}
    for issue in validate_values(values, schema, local=local, strict_addresses=strict_addresses):
        if issue.level == ERROR:
            out.setdefault(issue.key, []).append(issue.message)
    return out
