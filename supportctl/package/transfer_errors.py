"""The failures of a download in words: TLS (protocol too old, wrong host name, expired, untrusted CA),
proxies (which one, from which variable), HTTP statuses (with `Retry-After`), logins, web pages instead
of the package. Every message names the address redacted, and the hint fits the cause.
"""

from __future__ import annotations

import os
import ssl
from dataclasses import dataclass
from typing import Any

from supportctl.errors import NOT_TLS, TransferError, UsageError
from supportctl.i18n import _
from supportctl.package.urlauth import Login, origin, proxy_for, redact


def fallback_hint() -> str:
    return _(
        "check the address and your connection and try again, or ask the registration desk to e-mail the "
        "package: supportctl fetch --request"
    )


def transfer_error(message: str, hint: str | None = None) -> TransferError:
    return TransferError(message, hint or fallback_hint())


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


def tls_error(exc: ssl.SSLError, shown: str, host: str, tls: Tls) -> TransferError:
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
    if exc.reason in NOT_TLS:
        return TransferError(
            _("download of {url} failed: the server does not speak TLS on that port").format(url=shown),
            _("check the address: it may be an http:// address, or another port; {request}").format(request=request),
        )
    return transfer_error(
        _("download of {url} failed: the secure connection could not be set up ({reason})").format(
            url=shown, reason=exc.reason or exc
        )
    )


def proxy_error(proxy: tuple[str, str], reason: object, shown: str) -> TransferError:
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


def status_error(resp: Any, shown: str, current: str) -> TransferError:
    via = ""
    if redact(current) != shown:
        via = " " + _("(redirected to {url})").format(url=redact(current))
    proxy = proxy_for(current)
    if proxy is not None and origin(current)[0] == "http":  # the answer may be the proxy's own
        via += " " + _("(through the proxy {proxy} from {variable})").format(proxy=redact(proxy[0]), variable=proxy[1])
    extra = _retry_after(resp) if resp.status in (429, 503) else ""
    return transfer_error(
        _("download of {url} failed: the server answered {code} {reason}{extra}{via}").format(
            url=shown, code=resp.status, reason=resp.reason, extra=extra, via=via
        )
    )


def unauthorized(shown: str, current: str, sent: Login | None) -> TransferError:
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
