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
- **A total deadline** (`Request.deadline`, `--deadline`): `timeout` bounds each connect and read only, so
  a server dripping a byte every few seconds would never trip it; `_Watchdog` shuts the socket down at the
  deadline.
- **Messages** that name the real cause: the proxy and the variable it came from, the TLS problem
  (protocol too old, wrong host name, expired, untrusted CA), `Retry-After` (see `transfer_errors`).

Who logs in and through which proxy: `urlauth`.
"""

from __future__ import annotations

import http.client
import ssl
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from supportctl.errors import SupportctlError, TransferError
from supportctl.i18n import _
from supportctl.package.transfer_errors import (
    Tls,
    proxy_error,
    status_error,
    tls_error,
    too_large,
    transfer_error,
    unauthorized,
    web_page,
)
from supportctl.package.urlauth import Login, origin, proxy_for, redact, split_userinfo

CHUNK = 1 << 20
MAX_RESUMES = 3

Progress = Callable[[int, "int | None"], None]


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
    deadline: float = 600.0  # the whole GET, all hops and resumptions
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
    h = BackgroundHash()
    watchdog = _Watchdog(req.deadline)
    watchdog.start()
    try:
        return _get(req, sink, where, progress, watchdog, h)
    except SupportctlError:
        if watchdog.expired:  # whatever the shut-down socket looked like to the reader
            raise watchdog.error(shown) from None
        raise
    finally:
        watchdog.cancel()
        h.close()


def _get(
    req: Request, sink: Callable[[bytes], object], where: Path, progress: Progress | None, watchdog: _Watchdog, h: Any
) -> Outcome:
    shown = redact(req.url)
    current, _user, _pw = split_userinfo(req.url)
    first_origin = origin(current)
    tls = Tls(req.ca_bundle)
    seen = [current]
    asked = False  # a 401 answered: send the (lazy) login from now on
    done = 0
    total: int | None = None
    validators = Validators()
    resumable = strong = False
    resumes = 0
    while True:
        headers = {"User-Agent": "supportctl", "Accept-Encoding": "identity"}
        if req.conditional and done == 0:
            if req.conditional.etag:
                headers["If-None-Match"] = req.conditional.etag
            if req.conditional.last_modified:
                headers["If-Modified-Since"] = req.conditional.last_modified
        if done:
            headers["Range"] = f"bytes={done}-"
            # If-Range needs a strong validator: a weak ETag could match different bytes.
            headers["If-Range"] = (validators.etag if strong else validators.last_modified) or ""
        login = req.login
        use_login = (
            login is not None
            and origin(current) == first_origin
            and first_origin[0] == "https"
            and (login.eager or asked)
        )
        if use_login:
            assert login is not None
            headers["Authorization"] = login.header()
        sent_login = use_login
        resp = _open(current, headers, req, tls, shown, watchdog)
        try:
            code = resp.status
            if code in (301, 302, 303, 307, 308):
                current = _next_hop(resp, current, shown, req, seen)
                continue
            if code == 304 and req.conditional and done == 0:
                return Outcome(True, 0, "", req.conditional, 0)
            if code == 401:
                if login is not None and not sent_login and not asked and origin(current) == first_origin:
                    asked = True
                    continue
                raise unauthorized(shown, current, login if sent_login else None)
            if code >= 300 or code < 200:
                raise status_error(resp, shown, current)
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
                if watchdog.expired or not resumable or resumes >= MAX_RESUMES:
                    raise broke.error from None
                done = broke.done
                resumes += 1
                continue
            if watchdog.expired:  # the watchdog ended the body: not the end of the file
                raise watchdog.error(shown)
            return Outcome(False, done, h.hexdigest(), validators, resumes)
        finally:
            resp.close()


def _open(url: str, headers: dict[str, str], req: Request, tls: Tls, shown: str, watchdog: _Watchdog) -> Any:
    scheme, host, _port = origin(url)
    proxy = proxy_for(url)
    handlers: list[Any] = [urllib.request.ProxyHandler({scheme: proxy[0]} if proxy else {}), _Passthrough()]
    handlers.append(watchdog.http_handler())
    if scheme == "https":
        handlers.append(watchdog.https_handler(tls.context()))
    opener = urllib.request.build_opener(*handlers)
    request = urllib.request.Request(as_uri(url), headers=headers)
    try:
        return opener.open(request, timeout=req.timeout)
    except urllib.error.URLError as exc:
        raise _open_failed(exc.reason, shown, host, tls, proxy, req.timeout) from None
    except ssl.SSLError as exc:
        raise tls_error(exc, shown, host, tls) from None
    except (TimeoutError, ConnectionError, http.client.HTTPException, OSError) as exc:
        raise _open_failed(exc, shown, host, tls, proxy, req.timeout) from None


def as_uri(url: str) -> str:
    """The address as a browser sends it: a space or an umlaut in the path or query (as pasted from the
    address bar, or in a server's Location) percent-encoded; `%XX` escapes and the host stay as they are."""
    parts = urllib.parse.urlsplit(url)
    safe = "/%:@!$&'()*+,;=~"
    path = urllib.parse.quote(parts.path, safe=safe)
    query = urllib.parse.quote(parts.query, safe=safe + "?")
    return urllib.parse.urlunsplit(parts._replace(path=path, query=query))


def _open_failed(
    reason: object, shown: str, host: str, tls: Tls, proxy: tuple[str, str] | None, timeout: float
) -> TransferError:
    """Why the connection or the request failed, in one sentence: TLS, the proxy, no answer, the OS's reason."""
    if isinstance(reason, ssl.SSLError):
        return tls_error(reason, shown, host, tls)
    if proxy is not None:
        return proxy_error(proxy, reason, shown)
    if isinstance(reason, TimeoutError):
        return transfer_error(
            _("download of {url} failed: no answer within {seconds} s").format(url=shown, seconds=f"{timeout:g}")
        )
    text = getattr(reason, "strerror", None) or str(reason) or type(reason).__name__
    return transfer_error(_("download of {url} failed: {reason}").format(url=shown, reason=text))


def _next_hop(resp: Any, current: str, shown: str, req: Request, seen: list[str]) -> str:
    location = resp.headers.get("Location")
    if not location:
        raise transfer_error(
            _("download of {url} failed: the server answered {code} without saying where to (no Location)").format(
                url=shown, code=resp.status
            )
        )
    new = urllib.parse.urljoin(current, str(location).strip())
    new_shown = redact(new)
    scheme = urllib.parse.urlsplit(new).scheme.lower()
    if scheme == "file":
        raise transfer_error(
            _("{url} redirects to a file on this computer ({new}); refusing").format(url=shown, new=new_shown)
        )
    if scheme not in ("http", "https"):
        raise transfer_error(
            _("{url} redirects to {new}, which fetch does not follow (only https:// and http://)").format(
                url=shown, new=new_shown
            )
        )
    if current.lower().startswith("https://") and scheme != "https":
        raise transfer_error(
            _("{url} redirects from https to an insecure address {new}; refusing").format(url=shown, new=new_shown)
        )
    if len(seen) > req.max_redirects:
        loop = new in seen
        if loop:
            cycle = [*seen[seen.index(new) :], new]
            detail = _("a redirect loop: {chain}").format(chain=" → ".join(redact(u) for u in cycle))
        else:
            detail = _("the last one to {new}").format(new=new_shown)
        raise transfer_error(
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
        raise transfer_error(
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


def _check_resumed(resp: Any, done: int, total: int | None, shown: str) -> None:
    """The answer to a `Range` request must continue exactly where the broken one stopped."""
    import re

    m = re.fullmatch(r"\s*bytes\s+(\d+)-(\d+)/(\d+|\*)\s*", resp.headers.get("Content-Range") or "")
    same = (
        resp.status == 206
        and m is not None
        and int(m.group(1)) == done
        and (total is None or m.group(3) == "*" or int(m.group(3)) == total)
    )
    if not same:  # a 200 means If-Range did not match: the package changed on the server
        raise transfer_error(
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
    except TimeoutError:
        raise transfer_error(
            _("download of {url} stalled: no data for {seconds} s after {done} bytes").format(
                url=shown, seconds=f"{req.timeout:g}", done=done
            )
        ) from None
    except (ConnectionError, http.client.HTTPException, ssl.SSLError) as exc:
        if isinstance(exc, http.client.IncompleteRead):  # the server closed before Content-Length was reached
            message = _("download of {url} broke off: received {done} of {total} bytes").format(
                url=shown, done=done, total=total
            )
        else:
            reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
            message = _("download of {url} broke off after {done} bytes: {reason}").format(
                url=shown, done=done, reason=reason
            )
        raise _Broke(transfer_error(message), done) from None
    return done


class _Watchdog:
    """The total deadline of a download. At the deadline a timer thread shuts the connection's socket down,
    which ends a blocked read at once; the reader then reports the deadline, not what the socket looked like.

    (A TLS handshake in progress is bounded by `timeout` per read only: its socket is not reachable then.)
    """

    def __init__(self, seconds: float) -> None:
        import threading

        self.seconds = seconds
        self.expired = False
        self._lock = threading.Lock()
        self._conns: list[Any] = []
        self._socks: list[Any] = []
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def start(self) -> None:
        self._timer.start()

    def cancel(self) -> None:
        self._timer.cancel()

    def _expire(self) -> None:
        import socket

        with self._lock:
            self.expired = True
            # A connection's socket while it connects and reads headers; the response's socket while the body
            # streams (http.client drops `conn.sock` once it has the response, the response keeps the socket).
            for sock in [c.sock for c in self._conns] + self._socks:
                try:
                    if sock is not None:
                        sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def _watch(self, conn: Any = None, sock: Any = None) -> None:
        with self._lock:
            if conn is not None:
                self._conns.append(conn)
            if sock is not None:
                self._socks.append(sock)
        if self.expired:
            self._expire()

    def error(self, shown: str) -> TransferError:
        return TransferError(
            _("download of {url} did not finish within {seconds} s").format(url=shown, seconds=f"{self.seconds:g}"),
            _(
                "raise the limit with --deadline SECONDS (setting fetch.deadline) on a slow connection, or ask for "
                "the package: supportctl fetch --request"
            ),
        )

    def _connection_class(self, base: type) -> Any:
        dog = self

        class Watched(http.client.HTTPConnection):
            def connect(self) -> None:
                dog._watch(conn=self)
                super().connect()

            def getresponse(self) -> Any:
                # Taken before: getresponse() drops `self.sock` of a response that closes the connection.
                dog._watch(sock=self.sock)  # TLS-wrapped by now
                return super().getresponse()

        if base is http.client.HTTPConnection:
            return Watched
        # HTTPSConnection first: its connect() calls super().connect(), which is Watched's, then wraps TLS.
        return type("WatchedHTTPS", (base, Watched), {})

    def http_handler(self) -> Any:
        dog = self

        class Handler(urllib.request.HTTPHandler):
            def do_open(self, http_class: Any, req: Any, **kw: Any) -> Any:
                return super().do_open(dog._connection_class(http_class), req, **kw)

        return Handler()

    def https_handler(self, context: Any) -> Any:
        dog = self

        class Handler(urllib.request.HTTPSHandler):
            def do_open(self, http_class: Any, req: Any, **kw: Any) -> Any:
                return super().do_open(dog._connection_class(http_class), req, **kw)

        return Handler(context=context)
