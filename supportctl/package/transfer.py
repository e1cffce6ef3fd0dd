"""HTTP(S) for `fetch`: one GET, hop by hop, with the failures named in words.

What this adds over a bare `urlopen`:
- **Credentials** from the URL's userinfo, `.netrc` or `fetch.username`, sent only over https and only to
  the origin they were given for (never along a redirect to another host). No URL is ever shown with
  its password: `redact` is applied to every address that reaches a message or a record.
- **Redirects** followed here, not by urllib: counted per hop, only to http/https, never https -> http.
- **Conditional and resumable**: `If-None-Match`/`If-Modified-Since` from the last fetch (304 = unchanged);
  a connection that breaks off is resumed with `Range`/`If-Range` when the server allows it.
- **Checks before the body**: a web page (`text/html`, or a body starting with `<`) or an unexpected
  `Content-Encoding` is refused before any of it is unpacked.
- **Messages** that name the real cause: the proxy and the variable it came from, the TLS problem
  (protocol too old, wrong host name, expired, untrusted CA), `Retry-After`.
"""

from __future__ import annotations

import http.client
import os
import ssl
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from supportctl.errors import ConfigError, SupportctlError, TransferError, UsageError
from supportctl.i18n import _

CHUNK = 1 << 20
MAX_RESUMES = 3

Progress = Callable[[int, "int | None"], None]
PasswordSource = Callable[[str, str], str]  # (user, host) -> password; may prompt; raises ConfigError


def fallback_hint() -> str:
    return _(
        "check the address and your connection and try again, or ask the registration desk to e-mail the "
        "package: supportctl fetch --request"
    )


def _transfer(message: str, hint: str | None = None) -> TransferError:
    return TransferError(message, hint or fallback_hint())


# ---------------------------------------------------------------- addresses and credentials


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


def _origin(url: str) -> tuple[str, str, int | None]:
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
    scheme, host, _port = _origin(clean)
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
    scheme, host, _port = _origin(url)
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


# ---------------------------------------------------------------- TLS


@dataclass
class Tls:
    """The https context, made only when an https address is met (a broken CA file must not fail http)."""

    ca_bundle: str | None
    _context: ssl.SSLContext | None = None

    def origin_of_bundle(self) -> tuple[str | None, str]:
        if self.ca_bundle:
            return self.ca_bundle, "--ca-bundle"
        env = os.environ.get("SSL_CERT_FILE")
        return (env, "SSL_CERT_FILE") if env else (None, "")

    def context(self) -> ssl.SSLContext:
        if self._context is None:
            cafile, where = self.origin_of_bundle()
            try:
                self._context = ssl.create_default_context(cafile=cafile)
            except (OSError, ssl.SSLError) as exc:
                reason = getattr(exc, "strerror", None) or getattr(exc, "reason", None) or str(exc)
                if where == "SSL_CERT_FILE":
                    raise UsageError(
                        _("cannot read the CA bundle {path} named by SSL_CERT_FILE: {reason}").format(
                            path=cafile, reason=reason
                        ),
                        _("correct SSL_CERT_FILE or unset it to use the system's certificates"),
                    ) from None
                raise UsageError(
                    _("cannot read the CA bundle {path}: {reason}").format(path=cafile, reason=reason),
                    _("give a PEM file of CA certificates with --ca-bundle FILE (setting fetch.ca_bundle)"),
                ) from None
        return self._context


_OLD_PROTOCOL = {
    "TLSV1_ALERT_PROTOCOL_VERSION",
    "UNSUPPORTED_PROTOCOL",
    "WRONG_SSL_VERSION",
    "NO_PROTOCOLS_AVAILABLE",
    "VERSION_TOO_LOW",
}
_HOST_MISMATCH = {62, 64}  # X509_V_ERR_HOSTNAME_MISMATCH, X509_V_ERR_IP_ADDRESS_MISMATCH
_EXPIRED = {10}  # X509_V_ERR_CERT_HAS_EXPIRED
_NOT_YET_VALID = {9}
_UNTRUSTED = {2, 18, 19, 20, 21}  # no issuer here, self-signed (leaf or chain), unable to verify the leaf


def _tls_error(exc: ssl.SSLError, shown: str, host: str, tls: Tls) -> TransferError:
    request = _("or ask the registration desk to e-mail the package: supportctl fetch --request")
    if isinstance(exc, ssl.SSLCertVerificationError):
        code = exc.verify_code
        if code in _HOST_MISMATCH:
            return TransferError(
                _("download of {url} failed: the server's certificate is not valid for the name {host}").format(
                    url=shown, host=host
                ),
                _("check the address (the host name must be the one the certificate names), {request}").format(
                    request=request
                ),
            )
        if code in _EXPIRED:
            return TransferError(
                _("download of {url} failed: the server's certificate has expired").format(url=shown),
                _("check this computer's date and time; otherwise the site must renew it; {request}").format(
                    request=request
                ),
            )
        if code in _NOT_YET_VALID:
            return TransferError(
                _("download of {url} failed: the server's certificate is not valid yet").format(url=shown),
                _("check this computer's date and time; {request}").format(request=request),
            )
        if code in _UNTRUSTED:
            cafile, where = tls.origin_of_bundle()
            if cafile:
                hint = _("the CA that signed it is not in {path} ({where}): give the right file, {request}").format(
                    path=cafile, where=where, request=request
                )
            else:
                hint = _(
                    "if your network uses its own CA, pass it with --ca-bundle FILE or SSL_CERT_FILE; {request}"
                ).format(request=request)
            return TransferError(
                _(
                    "download of {url} failed: the server's certificate is signed by a CA this computer does not trust"
                ).format(url=shown),
                hint,
            )
        return TransferError(
            _("download of {url} failed: the server's certificate could not be verified ({reason})").format(
                url=shown, reason=exc.verify_message or exc.reason
            ),
            fallback_hint(),
        )
    if exc.reason in _OLD_PROTOCOL:
        return TransferError(
            _(
                "download of {url} failed: the server only offers an outdated TLS version that is no longer "
                "considered secure (supportctl needs TLS 1.2 or newer)"
            ).format(url=shown),
            _("ask the site's operator to enable TLS 1.2 or 1.3, {request}").format(request=request),
        )
    return _transfer(
        _("download of {url} failed: the secure connection could not be set up ({reason})").format(
            url=shown, reason=exc.reason or exc
        )
    )


# ---------------------------------------------------------------- one GET, hop by hop


@dataclass(frozen=True)
class Validators:
    etag: str | None = None
    last_modified: str | None = None

    def __bool__(self) -> bool:
        return bool(self.etag or self.last_modified)


@dataclass(frozen=True)
class Outcome:
    unchanged: bool  # 304: nothing was transferred
    bytes: int
    sha256: str
    validators: Validators
    resumed: int  # how many times a broken-off transfer was resumed


@dataclass(frozen=True)
class Request:
    url: str  # may carry userinfo: never shown, see redact
    timeout: float = 30.0
    max_size: int = 100 * 1000 * 1000
    max_redirects: int = 5
    ca_bundle: str | None = None
    login: Login | None = None
    conditional: Validators | None = None


class _Passthrough(urllib.request.HTTPErrorProcessor):
    """Every status comes back as a response: redirects, 304, 401 and errors are handled by `get`."""

    def http_response(self, request: Any, response: Any) -> Any:
        return response

    https_response = http_response


class _Broke(Exception):
    """The connection broke off after `done` bytes: resumable, if the server allows it."""

    def __init__(self, error: TransferError, done: int) -> None:
        self.error = error
        self.done = done


def get(
    req: Request,
    sink: Callable[[bytes], object],
    where: Path,
    progress: Progress | None = None,
) -> Outcome:
    """GET `req.url` into `sink` chunk by chunk, hashing as it goes.

    `where` is the directory the sink writes to, named when writing fails. Raises SupportctlError subclasses
    with the failure in words.
    """
    from supportctl.package.zipstream import BackgroundHash

    shown = redact(req.url)
    current, _user, _pw = split_userinfo(req.url)
    first_origin = _origin(current)
    tls = Tls(req.ca_bundle)
    seen = [current]
    asked = False  # a 401 answered: send the (lazy) login from now on
    h = BackgroundHash()
    done = 0
    total: int | None = None
    validators = Validators()
    resumable = False
    resumes = 0
    try:
        while True:
            headers = {"User-Agent": "supportctl", "Accept-Encoding": "identity"}
            if req.conditional and done == 0:
                if req.conditional.etag:
                    headers["If-None-Match"] = req.conditional.etag
                if req.conditional.last_modified:
                    headers["If-Modified-Since"] = req.conditional.last_modified
            if done:
                headers["Range"] = f"bytes={done}-"
                headers["If-Range"] = validators.etag or validators.last_modified or ""
            login = req.login
            use_login = (
                login is not None
                and _origin(current) == first_origin
                and first_origin[0] == "https"
                and (login.eager or asked)
            )
            if use_login:
                assert login is not None
                headers["Authorization"] = login.header()
            sent_login = use_login
            resp = _open(current, headers, req, tls, shown)
            try:
                code = resp.status
                if code in (301, 302, 303, 307, 308):
                    current = _next_hop(resp, current, shown, req, seen)
                    continue
                if code == 304 and req.conditional and done == 0:
                    return Outcome(True, 0, "", req.conditional, 0)
                if code == 401:
                    if login is not None and not sent_login and not asked and _origin(current) == first_origin:
                        asked = True
                        continue
                    raise _unauthorized(shown, current, login if sent_login else None)
                if code >= 300 or code < 200:
                    raise _status_error(resp, shown, current)
                if done:
                    _check_resumed(resp, done, total, shown)
                else:
                    total = _content_length(resp)
                    validators = Validators(resp.headers.get("ETag"), resp.headers.get("Last-Modified"))
                    strong = bool(validators.etag) and not (validators.etag or "").startswith("W/")
                    resumable = resp.headers.get("Accept-Ranges", "").lower() == "bytes" and (
                        strong or bool(validators.last_modified)
                    )
                    _check_before_body(resp, shown)
                    if total is not None and total > req.max_size:
                        raise too_large(shown, total, req.max_size)
                try:
                    done = _stream(resp, sink, where, h, done, total, req, shown, progress)
                except _Broke as broke:
                    if not resumable or resumes >= MAX_RESUMES:
                        raise broke.error from None
                    done = broke.done
                    resumes += 1
                    continue
                return Outcome(False, done, h.hexdigest(), validators, resumes)
            finally:
                resp.close()
    finally:
        h.close()


def _open(url: str, headers: dict[str, str], req: Request, tls: Tls, shown: str) -> Any:
    scheme, host, _port = _origin(url)
    proxy = proxy_for(url)
    handlers: list[Any] = [urllib.request.ProxyHandler({scheme: proxy[0]} if proxy else {}), _Passthrough()]
    if scheme == "https":
        handlers.append(urllib.request.HTTPSHandler(context=tls.context()))
    opener = urllib.request.build_opener(*handlers)
    request = urllib.request.Request(url, headers=headers)
    try:
        return opener.open(request, timeout=req.timeout)
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, ssl.SSLError):
            raise _tls_error(reason, shown, host, tls) from None
        if proxy is not None:
            raise _proxy_error(proxy, reason, shown) from None
        if isinstance(reason, TimeoutError):
            raise _transfer(
                _("download of {url} failed: no answer within {seconds} s").format(
                    url=shown, seconds=f"{req.timeout:g}"
                )
            ) from None
        text = getattr(reason, "strerror", None) or str(reason)
        raise _transfer(_("download of {url} failed: {reason}").format(url=shown, reason=text)) from None
    except ssl.SSLError as exc:
        raise _tls_error(exc, shown, host, tls) from None
    except (TimeoutError, ConnectionError, http.client.HTTPException, OSError) as exc:
        if proxy is not None:
            raise _proxy_error(proxy, exc, shown) from None
        if isinstance(exc, TimeoutError):
            raise _transfer(
                _("download of {url} failed: no answer within {seconds} s").format(
                    url=shown, seconds=f"{req.timeout:g}"
                )
            ) from None
        text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        raise _transfer(_("download of {url} failed: {reason}").format(url=shown, reason=text)) from None


def _proxy_error(proxy: tuple[str, str], reason: object, shown: str) -> TransferError:
    address, variable = proxy
    text = getattr(reason, "strerror", None) or str(reason) or type(reason).__name__
    if isinstance(reason, TimeoutError):
        text = _("no answer")
    return TransferError(
        _("download of {url} failed: the proxy {proxy} (from {variable}) did not work: {reason}").format(
            url=shown, proxy=redact(address), variable=variable, reason=text
        ),
        _(
            "check that the proxy is running, correct {variable} or unset it (no_proxy lists hosts to reach "
            "directly); or ask for the package: supportctl fetch --request"
        ).format(variable=variable),
    )


def _next_hop(resp: Any, current: str, shown: str, req: Request, seen: list[str]) -> str:
    location = resp.headers.get("Location")
    if not location:
        raise _transfer(
            _("download of {url} failed: the server answered {code} without saying where to (no Location)").format(
                url=shown, code=resp.status
            )
        )
    new = urllib.parse.urljoin(current, str(location).strip())
    new_shown = redact(new)
    scheme = urllib.parse.urlsplit(new).scheme.lower()
    if scheme == "file":
        raise _transfer(
            _("{url} redirects to a file on this computer ({new}); refusing").format(url=shown, new=new_shown)
        )
    if scheme not in ("http", "https"):
        raise _transfer(
            _("{url} redirects to {new}, which fetch does not follow (only https:// and http://)").format(
                url=shown, new=new_shown
            )
        )
    if current.lower().startswith("https://") and scheme != "https":
        raise _transfer(
            _("{url} redirects from https to an insecure address {new}; refusing").format(url=shown, new=new_shown)
        )
    if len(seen) > req.max_redirects:
        loop = new in seen
        if loop:
            cycle = [*seen[seen.index(new) :], new]
            detail = _("a redirect loop: {chain}").format(chain=" → ".join(redact(u) for u in cycle))
        else:
            detail = _("the last one to {new}").format(new=new_shown)
        raise _transfer(
            _("download of {url} failed: more than {n} redirects ({detail})").format(
                url=shown, n=req.max_redirects, detail=detail
            )
        )
    seen.append(new)
    return new


def _content_length(resp: Any) -> int | None:
    length = resp.headers.get("Content-Length")
    return int(length) if length and length.strip().isdigit() else None


def _check_before_body(resp: Any, shown: str) -> None:
    encoding = (resp.headers.get("Content-Encoding") or "").strip().lower()
    if encoding not in ("", "identity"):
        raise _transfer(
            _(
                "download of {url} failed: the server sent the package encoded as {encoding!r} although "
                "supportctl asked for it unencoded (Accept-Encoding: identity)"
            ).format(url=shown, encoding=encoding),
            _(
                "the server is misconfigured; tell its operator, or ask the registration desk to e-mail the "
                "package: supportctl fetch --request"
            ),
        )
    ctype = (resp.headers.get_content_type() or "").lower()
    if ctype in ("text/html", "application/xhtml+xml"):
        raise web_page(shown, ctype)


def web_page(shown: str, what: str) -> TransferError:
    return TransferError(
        _("download of {url} failed: the server sent a web page ({what}), not the package").format(
            url=shown, what=what
        ),
        _(
            "it may need a login in the browser or the address may be wrong; open it in a browser, or ask "
            "the registration desk to e-mail the package: supportctl fetch --request"
        ),
    )


def _check_resumed(resp: Any, done: int, total: int | None, shown: str) -> None:
    import re

    m = re.fullmatch(r"\s*bytes\s+(\d+)-(\d+)/(\d+|\*)\s*", resp.headers.get("Content-Range") or "")
    if resp.status != 206 or m is None or int(m.group(1)) != done:
        raise _transfer(
            _("download of {url} broke off after {done} bytes and the package changed on the server since").format(
                url=shown, done=done
            ),
            _("run the same fetch again, or ask for the package: supportctl fetch --request"),
        )
    if total is not None and m.group(3) != "*" and int(m.group(3)) != total:
        raise _transfer(
            _("download of {url} broke off after {done} bytes and the package changed on the server since").format(
                url=shown, done=done
            ),
            _("run the same fetch again, or ask for the package: supportctl fetch --request"),
        )


def _stream(
    resp: Any,
    sink: Callable[[bytes], object],
    where: Path,
    h: Any,
    done: int,
    total: int | None,
    req: Request,
    shown: str,
    progress: Progress | None,
) -> int:
    """Read the body into `sink` from byte `done` on; returns the bytes in total. A broken connection
    raises _Broke (resumable), everything else its error."""
    first = done == 0
    try:
        while chunk := resp.read1(CHUNK):
            if first:
                if chunk.lstrip()[:1] == b"<":
                    raise web_page(shown, _("its text starts with <"))
                first = False
            done += len(chunk)
            if done > req.max_size:
                raise too_large(shown, done, req.max_size)
            h.update(chunk)
            try:
                sink(chunk)
            except OSError as exc:
                raise SupportctlError(
                    _("cannot write the package to {path}: {reason}").format(path=where, reason=exc.strerror or exc),
                    _("choose another place with --dest DIR"),
                ) from None
            if progress:
                progress(done, total)
        if total is not None and done < total:
            raise http.client.IncompleteRead(b"", total - done)
    except http.client.IncompleteRead:
        raise _Broke(
            _transfer(
                _("download of {url} broke off: received {done} of {total} bytes").format(
                    url=shown, done=done, total=total
                )
            ),
            done,
        ) from None
    except TimeoutError:
        raise _transfer(
            _("download of {url} stalled: no data for {seconds} s after {done} bytes").format(
                url=shown, seconds=f"{req.timeout:g}", done=done
            )
        ) from None
    except (ConnectionError, http.client.HTTPException, ssl.SSLError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        raise _Broke(
            _transfer(
                _("download of {url} broke off after {done} bytes: {reason}").format(
                    url=shown, done=done, reason=reason
                )
            ),
            done,
        ) from None
    return done


def too_large(source: str, size: int, limit: int) -> TransferError:
    return TransferError(
        _("{source} is larger than the limit of {limit} bytes ({size} bytes or more)").format(
            source=source, limit=limit, size=size
        ),
        _(
            "raise the limit with --max-size if you trust the source, "
            "or ask for the package: supportctl fetch --request"
        ),
    )


def _retry_after(resp: Any) -> str:
    value = (resp.headers.get("Retry-After") or "").strip()
    if not value:
        return ""
    if value.isdigit():
        return " " + _("and asks to try again in {seconds} s").format(seconds=int(value))
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return ""
    return " " + _("and asks to try again after {time}").format(time=when.strftime("%Y-%m-%d %H:%M %Z").strip())


def _status_error(resp: Any, shown: str, current: str) -> TransferError:
    via = ""
    if redact(current) != shown:
        via = " " + _("(redirected to {url})").format(url=redact(current))
    proxy = proxy_for(current)
    if proxy is not None and _origin(current)[0] == "http":  # the answer may be the proxy's own
        via += " " + _("(through the proxy {proxy} from {variable})").format(proxy=redact(proxy[0]), variable=proxy[1])
    extra = _retry_after(resp) if resp.status in (429, 503) else ""
    return _transfer(
        _("download of {url} failed: the server answered {code} {reason}{extra}{via}").format(
            url=shown, code=resp.status, reason=resp.reason, extra=extra, via=via
        )
    )


def _unauthorized(shown: str, current: str, sent: Login | None) -> TransferError:
    if sent is not None:
        where = {"url": _("the URL"), "netrc": ".netrc", "config": "fetch.username"}.get(sent.source, sent.source)
        return TransferError(
            _("download of {url} failed: the server refused the login of {user} (from {where})").format(
                url=shown, user=sent.username, where=where
            ),
            _("check the user name and password, or ask for the package: supportctl fetch --request"),
        )
    if not current.lower().startswith("https://"):
        return TransferError(
            _("download of {url} failed: the server asks for a login over plain http").format(url=shown),
            _(
                "supportctl sends passwords only over https: use the https:// address, "
                "or ask for the package: supportctl fetch --request"
            ),
        )
    return TransferError(
        _("download of {url} failed: the server asks for a user name and password (401 Unauthorized)").format(
            url=shown
        ),
        _(
            "give them in the URL (https://USER@host/…: the password is then taken from "
            "SUPPORTCTL_FETCH_PASSWORD, the keyring, fetch.password_command or asked), in ~/.netrc, or set "
            "fetch.username; or ask for the package: supportctl fetch --request"
        ),
    )
