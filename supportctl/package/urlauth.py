"""Who `fetch` logs in as and through which proxy: credentials from the URL's userinfo, `.netrc`
(`NETRC`) or `fetch.username`, and the proxy urllib would use with the variable it came from.

`redact` is the one way an address is shown: a password in it never reaches a message, `--json` or a file.
"""

from __future__ import annotations

import os
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass

from supportctl.errors import ConfigError, UsageError
from supportctl.i18n import _

PasswordSource = Callable[[str, str], str]  # (user, host) -> password; may prompt; raises ConfigError


def redact(url: str) -> str:
    """`https://alice:s3cret@host/x` -> `https://alice:***@host/x`; addresses without a password unchanged."""
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return url
    if "@" not in parts.netloc:
        return url
    userinfo, _sep, hostport = parts.netloc.rpartition("@")
    user, colon, _password = userinfo.partition(":")
    netloc = f"{user}:***@{hostport}" if colon else f"{user}@{hostport}"
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


def split_userinfo(url: str) -> tuple[str, str | None, str | None]:
    """(the URL without userinfo, user, password); user and password percent-decoded, None when absent."""
    parts = urllib.parse.urlsplit(url)
    if "@" not in parts.netloc:
        return url, None, None
    userinfo, _sep, hostport = parts.netloc.rpartition("@")
    user, colon, password = userinfo.partition(":")
    clean = urllib.parse.urlunsplit(parts._replace(netloc=hostport))
    return clean, urllib.parse.unquote(user) or None, urllib.parse.unquote(password) if colon else None


def origin(url: str) -> tuple[str, str, int | None]:
    p = urllib.parse.urlsplit(url)
    default = 443 if p.scheme.lower() == "https" else 80
    return p.scheme.lower(), (p.hostname or "").lower(), p.port or default


@dataclass
class Login:
    """Who to log in as at the first URL's origin, and how the password is had (lazily: a prompt only
    when the server asks)."""

    username: str
    source: str  # "url" | "netrc" | "config": said in messages
    password: Callable[[], str]
    eager: bool  # send before being asked (URL, .netrc) or only on a 401 (fetch.username)

    def header(self) -> str:
        import base64

        token = base64.b64encode(f"{self.username}:{self.password()}".encode()).decode("ascii")
        return "Basic " + token


def _netrc_login(host: str) -> tuple[str, str] | None:
    import netrc

    path = os.environ.get("NETRC") or os.path.join(os.path.expanduser("~"), ".netrc")
    if not os.path.isfile(path):
        return None
    try:
        entry = netrc.netrc(path).authenticators(host)
    except (netrc.NetrcParseError, OSError) as exc:
        where = " (NETRC)" if os.environ.get("NETRC") else ""
        raise ConfigError(
            _("cannot read {path}{where}: {reason}").format(
                path=path, where=where, reason=getattr(exc, "msg", None) or exc
            ),
            _("correct the file or remove the entry"),
        ) from None
    if entry is None or not entry[0]:
        return None
    return entry[0], entry[2] or ""


def login_for(url: str, username: str | None, password_source: PasswordSource | None) -> Login | None:
    """The login for `url`: its userinfo, else `.netrc` (`NETRC`), else `fetch.username` (on a 401)."""
    clean, user, password = split_userinfo(url)
    scheme, host, _port = origin(clean)
    if user is not None:
        if scheme != "https":
            raise UsageError(
                _("{url} carries a user name or password over plain http, where anyone on the way can read it").format(
                    url=redact(url)
                ),
                _("use the https:// address; supportctl sends credentials only over https"),
            )
        if password is not None:
            secret = password
            return Login(user, "url", lambda: secret, eager=True)
        return Login(user, "url", _asking(password_source, user, host), eager=True)
    if scheme != "https":
        return None
    entry = _netrc_login(host)
    if entry is not None:
        n_user, n_password = entry
        return Login(n_user, "netrc", lambda: n_password, eager=True)
    if username:
        return Login(username, "config", _asking(password_source, username, host), eager=False)
    return None


def _asking(source: PasswordSource | None, user: str, host: str) -> Callable[[], str]:
    cache: list[str] = []

    def get() -> str:
        if not cache:
            if source is None:
                raise ConfigError(
                    _("no password for {user} at {host}").format(user=user, host=host),
                    _("set SUPPORTCTL_FETCH_PASSWORD, fetch.password_command, or run on a terminal to be asked"),
                )
            cache.append(source(user, host))
        return cache[0]

    return get


# ---------------------------------------------------------------- proxies


def proxy_for(url: str) -> tuple[str, str] | None:
    """(proxy URL, the environment variable it came from) for `url`, as urllib would choose it."""
    scheme, host, _port = origin(url)
    names = [f"{scheme}_proxy", f"{scheme.upper()}_PROXY"]
    if scheme == "http" and "REQUEST_METHOD" in os.environ:
        names.remove("HTTP_PROXY")  # httpoxy: a CGI request's Proxy: header must not choose our proxy
    for name in names:
        value = os.environ.get(name)
        if value:
            if urllib.request.proxy_bypass(host):  # no_proxy
                return None
            return value, name
    return None
