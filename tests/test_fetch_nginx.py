"""`supportctl fetch` against a real nginx on 127.0.0.1 (issue 18): credentials, proxies, web pages and
encodings, redirects, conditional requests and resume, Retry-After, TLS failures in words.

nginx writes an access log of JSON lines (tests/nginx.py), so each test asserts what supportctl sent,
not only what it printed.
"""

from __future__ import annotations

import json
import os
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from supportctl.errors import ExitCode
from supportctl.package import manifest as pkgmod
from tests import nginx as ng
from tests import pkgtools as pt

PASSWORD = ng.PASSWORD


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "no_proxy", "NO_PROXY", "SSL_CERT_FILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.delenv("NETRC", raising=False)


@pytest.fixture(scope="module")
def good_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("pkg")
    return pt.make_zip(pt.make_package(base / "pkg"), base / "pkg.zip")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, good_zip: Path) -> Iterator[ng.Nginx]:
    with ng.run(tmp_path_factory.mktemp("nginx")) as n:
        n.put("pkg.zip", good_zip.read_bytes())
        n.put("private/pkg.zip", good_zip.read_bytes())
        n.put("page.zip", b"<!doctype html><title>Sign in</title>")
        n.put("page-as-zip.zip", b"\n<!DOCTYPE html>\n<html><body>Please log in</body></html>\n")
        n.put("gzipped.zip", good_zip.read_bytes())
        n.put("garbage.zip", b"\x00\x01 this is not a zip archive " * 2000)
        yield n


@pytest.fixture
def ngx(server: ng.Nginx) -> ng.Nginx:
    server.clear_log()
    return server


def one_error_line(stderr: str) -> str:
    lines = [ln for ln in stderr.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


def fails(cli, *args: str, code: ExitCode = ExitCode.TRANSFER) -> str:
    r = cli("fetch", *args, "--timeout", "5")
    assert r.exit_code == code, (r.exit_code, r.stderr)
    line = one_error_line(r.stderr)
    if code == ExitCode.TRANSFER:
        assert "supportctl fetch --request" in line
    return line


def no_secret_anywhere(*texts: str, roots: tuple[Path, ...] = ()) -> None:
    for text in texts:
        assert PASSWORD not in text
    for root in roots:
        for p in root.rglob("*"):
            if p.is_file():
                assert PASSWORD.encode() not in p.read_bytes(), p


# ---------------------------------------------------------------- credentials


def test_userinfo_is_sent_as_basic_auth_over_https_and_never_shown(cli, ngx: ng.Nginx, isolated: Path) -> None:
    url = ngx.url("/private/pkg.zip", "https").replace("https://", f"https://alice:{PASSWORD}@")
    r = cli("fetch", url, "--ca-bundle", str(ngx.ca_pem), "--json")
    assert r.exit_code == 0, r.stderr
    data = r.json()["data"]
    shown = ngx.url("/private/pkg.zip", "https").replace("https://", "https://alice:***@")
    assert data["source"] == shown
    (entry,) = ngx.log()
    assert entry["status"] == 200 and entry["user"] == "alice"  # sent at once: the URL asked for it
    no_secret_anywhere(r.stdout, r.stderr, roots=(Path("registration-package"), isolated))
    assert json.loads(Path("registration-package/.supportctl-source.json").read_text())["url"] == shown


def test_wrong_password_in_the_url_is_refused_without_showing_it(cli, ngx: ng.Nginx) -> None:
    url = ngx.url("/private/pkg.zip", "https").replace("https://", "https://alice:wrong-one@")
    line = fails(cli, url, "--ca-bundle", str(ngx.ca_pem))
    assert "the server refused the login of alice (from the URL)" in line
    assert "wrong-one" not in line and "alice:***@" in line


def test_userinfo_over_plain_http_is_a_usage_error_and_nothing_is_sent(cli, ngx: ng.Nginx) -> None:
    url = ngx.url("/private/pkg.zip").replace("http://", f"http://alice:{PASSWORD}@")
    r = cli("fetch", url, "--json")
    assert r.exit_code == ExitCode.USAGE
    no_secret_anywhere(r.stdout, r.stderr)
    err = r.json()["errors"][0]
    assert "over plain http" in err["message"] and "alice:***@" in err["message"]
    assert ngx.log() == []


def test_401_says_how_to_give_credentials(cli, ngx: ng.Nginx) -> None:
    line = fails(cli, ngx.url("/private/pkg.zip", "https"), "--ca-bundle", str(ngx.ca_pem))
    assert "asks for a user name and password (401 Unauthorized)" in line
    assert "https://USER@host/" in line and ".netrc" in line and "fetch.username" in line


def test_netrc_from_the_netrc_variable(cli, ngx: ng.Nginx, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    netrc = tmp_path / "my-netrc"
    netrc.write_text(f"machine 127.0.0.1 login alice password {PASSWORD}\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    r = cli("fetch", ngx.url("/private/pkg.zip", "https"), "--ca-bundle", str(ngx.ca_pem))
    assert r.exit_code == 0, r.stderr
    assert [e["user"] for e in ngx.log()] == ["alice"]
    # Never over plain http: the same .netrc entry is not sent there.
    fails(cli, ngx.url("/private/pkg.zip"), "--dest", "other")
    assert [e["authorization"] for e in ngx.log()] == [ngx.log()[0]["authorization"], ""]


@pytest.mark.parametrize("how", ["env", "command"])
def test_fetch_username_with_a_password_from_the_secret_sources(
    cli, ngx: ng.Nginx, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, how: str
) -> None:
    monkeypatch.setenv("SUPPORTCTL_FETCH_USERNAME", "alice")
    if how == "env":
        monkeypatch.setenv("SUPPORTCTL_FETCH_PASSWORD", PASSWORD)
    else:
        script = tmp_path / "pw.sh"
        script.write_text(f"#!/bin/sh\necho {PASSWORD}\n")
        script.chmod(0o700)
        monkeypatch.setenv("SUPPORTCTL_FETCH_PASSWORD_COMMAND", str(script))
    r = cli("fetch", ngx.url("/private/pkg.zip", "https"), "--ca-bundle", str(ngx.ca_pem))
    assert r.exit_code == 0, r.stderr
    # Configured credentials go only where the server asks for them: first without, then with.
    assert [(e["status"], e["user"]) for e in ngx.log()] == [(401, ""), (200, "alice")]
    no_secret_anywhere(r.stdout, r.stderr)


def test_fetch_username_is_not_sent_to_a_server_that_does_not_ask(
    cli, ngx: ng.Nginx, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SUPPORTCTL_FETCH_USERNAME", "alice")
    monkeypatch.setenv("SUPPORTCTL_FETCH_PASSWORD", PASSWORD)
    r = cli("fetch", ngx.url("/pkg.zip", "https"), "--ca-bundle", str(ngx.ca_pem))
    assert r.exit_code == 0, r.stderr
    assert [e["authorization"] for e in ngx.log()] == [""]


def test_password_in_the_config_file_is_refused(cli, ngx: ng.Nginx, isolated: Path) -> None:
    cfg = isolated / ".config" / "supportctl" / "config.toml"
    cfg.parent.mkdir(parents=True)
    cfg.write_text(f'[fetch]\nusername = "alice"\npassword = "{PASSWORD}"\n')
    r = cli("fetch", ngx.url("/private/pkg.zip", "https"))
    assert r.exit_code == ExitCode.CONFIG
    assert "fetch.password" in one_error_line(r.stderr)
    no_secret_anywhere(r.stdout, r.stderr)


def test_password_prompt_on_a_terminal(ngx: ng.Nginx, tmp_path: Path, isolated: Path) -> None:
    pexpect = pytest.importorskip("pexpect")
    from tests.conftest import ROOT

    env = dict(os.environ, PYTHONPATH=str(ROOT), TERM="xterm", SUPPORTCTL_FETCH_USERNAME="alice")
    env.pop("SUPPORTCTL_FETCH_PASSWORD", None)
    child = pexpect.spawn(
        sys.executable,
        ["-m", "supportctl", "fetch", ngx.url("/private/pkg.zip", "https"), "--ca-bundle", str(ngx.ca_pem)],
        env=env,
        cwd=str(tmp_path),
        encoding="utf-8",
        timeout=30,
    )
    child.expect("Password for alice at 127.0.0.1: ")
    child.sendline(PASSWORD)
    child.expect("Fetched package supportctl-default")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert PASSWORD not in (child.before or "")
    assert [e["user"] for e in ngx.log()] == ["", "alice"]


# ---------------------------------------------------------------- proxies


def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = int(s.getsockname()[1])
    s.close()
    return port


@pytest.mark.parametrize("variable", ["https_proxy", "HTTPS_PROXY"])
def test_a_dead_proxy_is_named_with_its_variable(
    cli, ngx: ng.Nginx, monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    port = _closed_port()
    monkeypatch.setenv(variable, f"http://bob:proxy-secret@127.0.0.1:{port}")
    line = fails(cli, ngx.url("/pkg.zip", "https"), "--ca-bundle", str(ngx.ca_pem))
    assert f"the proxy http://bob:***@127.0.0.1:{port} (from {variable}) did not work: Connection refused" in line
    assert f"correct {variable} or unset it" in line and "proxy-secret" not in line
    assert ngx.log() == []
    # no_proxy still reaches the server directly.
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    r = cli("fetch", ngx.url("/pkg.zip", "https"), "--ca-bundle", str(ngx.ca_pem))
    assert r.exit_code == 0, r.stderr


def test_through_a_working_proxy_and_its_answer_named(cli, ngx: ng.Nginx, monkeypatch: pytest.MonkeyPatch) -> None:
    proxy = f"http://127.0.0.1:{ngx.ports['proxy']}"
    monkeypatch.setenv("http_proxy", proxy)
    r = cli("fetch", ngx.url("/pkg.zip"))
    assert r.exit_code == 0, r.stderr
    assert [e["uri"] for e in ngx.log()] == ["/pkg.zip", "/pkg.zip"]  # the proxy's request and the server's
    line = fails(cli, f"http://127.0.0.1:{_closed_port()}/pkg.zip", "--dest", "other")
    assert f"the server answered 502 Bad Gateway (through the proxy {proxy} from http_proxy)" in line


# ---------------------------------------------------------------- what the server sent


def test_html_page_is_named_before_the_body(cli, ngx: ng.Nginx) -> None:
    line = fails(cli, ngx.url("/page.zip"))
    assert "the server sent a web page (text/html), not the package" in line
    assert len(ngx.log()) == 1


def test_html_body_with_a_zip_content_type(cli, ngx: ng.Nginx) -> None:
    line = fails(cli, ngx.url("/page-as-zip.zip"))
    assert "the server sent a web page (its text starts with <), not the package" in line
    assert len(ngx.log()) == 1


def test_unexpected_content_encoding_is_named(cli, ngx: ng.Nginx) -> None:
    line = fails(cli, ngx.url("/gzipped.zip"))
    assert "encoded as 'gzip' although supportctl asked for it unencoded (Accept-Encoding: identity)" in line
    (entry,) = ngx.log()
    assert entry["accept_encoding"] == "identity"


def test_a_body_that_is_not_a_zip_is_requested_once(cli, ngx: ng.Nginx) -> None:
    line = fails(cli, ngx.url("/garbage.zip"), code=ExitCode.INVALID_INPUT)
    assert "is not a zip archive" in line
    assert [e["uri"] for e in ngx.log()] == ["/garbage.zip"]


# ---------------------------------------------------------------- redirects


def test_five_redirects_are_followed_six_are_not(cli, ngx: ng.Nginx) -> None:
    r = cli("fetch", ngx.url("/chain-5"))
    assert r.exit_code == 0, r.stderr
    assert len(ngx.log()) == 6
    ngx.clear_log()
    line = fails(cli, ngx.url("/chain-6"), "--dest", "other")
    assert "more than 5 redirects (the last one to" in line and "/chain-0" not in line
    assert len(ngx.log()) == 6  # the sixth redirect was not followed


def test_a_loop_is_counted_per_hop(cli, ngx: ng.Nginx) -> None:
    line = fails(cli, ngx.url("/loop-a"))
    assert "more than 5 redirects (a redirect loop: " in line
    assert [e["uri"] for e in ngx.log()] == ["/loop-a", "/loop-b"] * 3  # 1 request + 5 hops, not 10


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/to-file", "redirects to a file on this computer (file:///etc/passwd); refusing"),
        ("/to-ftp", "redirects to ftp://127.0.0.1/pkg.zip, which fetch does not follow (only https:// and http://)"),
    ],
)
def test_redirects_to_other_schemes_say_what_they_were(cli, ngx: ng.Nginx, path: str, message: str) -> None:
    assert message in fails(cli, ngx.url(path))
    assert len(ngx.log()) == 1


def test_https_to_http_redirect_is_refused(cli, ngx: ng.Nginx) -> None:
    line = fails(cli, ngx.url("/to-http", "https"), "--ca-bundle", str(ngx.ca_pem))
    assert "redirects from https to an insecure address http://127.0.0.1:" in line
    assert [e["uri"] for e in ngx.log()] == ["/to-http"]


def test_credentials_go_along_redirects_only_on_their_own_origin(cli, ngx: ng.Nginx) -> None:
    url = ngx.url("/chain-2", "https").replace("https://", f"https://alice:{PASSWORD}@")
    r = cli("fetch", url, "--ca-bundle", str(ngx.ca_pem))
    assert r.exit_code == 0, r.stderr
    assert [e["user"] for e in ngx.log()] == ["alice"] * 3  # the same origin: sent on every hop
    ngx.clear_log()
    url = ngx.url("/to-other-origin", "https").replace("https://", f"https://alice:{PASSWORD}@")
    r = cli("fetch", url, "--ca-bundle", str(ngx.ca_pem), "--dest", "other")
    assert r.exit_code == 0, r.stderr
    # Another port is another origin: the login is not sent there.
    assert [(e["uri"], e["authorization"] != "") for e in ngx.log()] == [
        ("/to-other-origin", True),
        ("/pkg.zip", False),
    ]


# ---------------------------------------------------------------- conditional requests and resume


def test_unchanged_package_is_not_downloaded_again(cli, ngx: ng.Nginx, good_zip: Path, isolated: Path) -> None:
    url = ngx.url("/pkg.zip", "https")
    r = cli("fetch", url, "--ca-bundle", str(ngx.ca_pem), "--json")
    assert r.exit_code == 0, r.stderr
    assert r.json()["data"]["unchanged"] is False
    dest = Path("registration-package").absolute()
    before = {p: (p.stat().st_mtime_ns, p.stat().st_ino) for p in dest.rglob("*")}
    before_dest = dest.stat().st_ino
    r = cli("fetch", url, "--ca-bundle", str(ngx.ca_pem), "--json")
    assert r.exit_code == 0, r.stderr
    data = r.json()["data"]
    assert data["unchanged"] is True and data["sha256"] == pt.sha256(good_zip)
    assert data["package"]["name"] == "supportctl-default"
    first, second = ngx.log()
    assert first["if_none_match"] == "" and first["status"] == 200
    assert second["status"] == 304 and second["if_none_match"].startswith('"')
    assert second["if_modified_since"] != ""
    assert {p: (p.stat().st_mtime_ns, p.stat().st_ino) for p in dest.rglob("*")} == before
    assert dest.stat().st_ino == before_dest
    r = cli("fetch", url, "--ca-bundle", str(ngx.ca_pem))
    assert r.exit_code == 0 and "is unchanged on the server; nothing was downloaded" in r.stderr
    # --force-download asks without conditions and rewrites the package.
    r = cli("fetch", url, "--ca-bundle", str(ngx.ca_pem), "--force-download", "--json")
    assert r.exit_code == 0 and r.json()["data"]["unchanged"] is False
    assert ngx.log()[-1]["if_none_match"] == "" and ngx.log()[-1]["status"] == 200


def test_changed_package_is_downloaded(cli, ngx: ng.Nginx, good_zip: Path, tmp_path: Path) -> None:
    url = ngx.url("/pkg.zip")
    assert cli("fetch", url).exit_code == 0
    other = pt.make_zip(pt.make_package(tmp_path / "v2", terms="NEW TERMS"), tmp_path / "v2.zip")
    path = ngx.put("pkg.zip", other.read_bytes())
    st = path.stat()
    os.utime(path, (st.st_atime, st.st_mtime + 10))
    try:
        r = cli("fetch", url, "--json")
        assert r.exit_code == 0, r.stderr
        assert r.json()["data"]["unchanged"] is False and r.json()["data"]["sha256"] == pt.sha256(other)
        assert [e["status"] for e in ngx.log()] == [200, 200]
        assert ngx.log()[1]["if_none_match"] != ""  # asked conditionally, got the new one
    finally:
        ngx.put("pkg.zip", good_zip.read_bytes())


def test_damaged_local_package_is_downloaded_again(cli, ngx: ng.Nginx) -> None:
    url = ngx.url("/pkg.zip")
    assert cli("fetch", url).exit_code == 0
    with open("registration-package/registration-form.pdf", "ab") as fh:
        fh.write(b"edited")
    r = cli("fetch", url, "--json")
    assert r.exit_code == 0, r.stderr
    assert r.json()["data"]["unchanged"] is False
    assert [e["if_none_match"] for e in ngx.log()] == ["", ""]  # no conditional request for a damaged copy
    pkgmod.verify_documents(pkgmod.load(Path("registration-package")))


def test_interrupted_download_resumes_with_range(cli, ngx: ng.Nginx, good_zip: Path) -> None:
    size = good_zip.stat().st_size
    assert size > 3000
    with ng.cutting_forwarder(ngx.ports["http"], cut_after=1500) as (port, _counts):
        url = f"http://127.0.0.1:{port}/pkg.zip"
        r = cli("fetch", url, "--sha256", pt.sha256(good_zip), "--json", "--timeout", "5")
    assert r.exit_code == 0, r.stderr
    data = r.json()["data"]
    assert data["resumed"] == 1 and data["bytes"] == size and data["sha256"] == pt.sha256(good_zip)
    first, second = ngx.log()
    assert second["status"] == 206 and second["range"].startswith("bytes=") and second["range"].endswith("-")
    got = int(second["range"][len("bytes=") : -1])
    assert 0 < got < size and second["bytes"] == size - got
    assert first["status"] == 200 and second["if_range"] == etag_of(ngx.url("/pkg.zip"))
    pkgmod.verify_documents(pkgmod.load(Path("registration-package")))


def test_package_changed_during_the_resume_is_not_mixed(cli, ngx: ng.Nginx, good_zip: Path, tmp_path: Path) -> None:
    other = pt.make_zip(pt.make_package(tmp_path / "v2", terms="NEW TERMS"), tmp_path / "v2.zip")

    def replace() -> None:
        path = ngx.put("pkg.zip", other.read_bytes())
        st = path.stat()
        os.utime(path, (st.st_atime, st.st_mtime + 10))

    try:
        with ng.cutting_forwarder(ngx.ports["http"], cut_after=1500, on_cut=replace) as (port, _counts):
            line = fails(cli, f"http://127.0.0.1:{port}/pkg.zip")
    finally:
        ngx.put("pkg.zip", good_zip.read_bytes())
    assert "and the package changed on the server since" in line and "run the same fetch again" in line
    _first, second = ngx.log()
    assert second["if_range"] != "" and second["status"] == 200  # If-Range did not match: the whole new file
    assert not Path("registration-package").exists()


def etag_of(url: str) -> str:
    import urllib.request

    with urllib.request.urlopen(urllib.request.Request(url, method="HEAD")) as resp:
        return str(resp.headers["ETag"])


# ---------------------------------------------------------------- Retry-After


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/busy", "the server answered 503 Service Temporarily Unavailable and asks to try again in 120 s"),
        ("/limited", "the server answered 429 Too Many Requests and asks to try again in 30 s"),
    ],
)
def test_retry_after_is_shown(cli, ngx: ng.Nginx, path: str, message: str) -> None:
    assert message in fails(cli, ngx.url(path))


# ---------------------------------------------------------------- TLS in words


def test_wrong_host_name(cli, ngx: ng.Nginx) -> None:
    line = fails(cli, ngx.url("/pkg.zip", "wronghost"), "--ca-bundle", str(ngx.ca_pem))
    assert "the server's certificate is not valid for the name 127.0.0.1" in line
    assert "--ca-bundle" not in line and "SSL_CERT_FILE" not in line


def test_expired_certificate(cli, ngx: ng.Nginx) -> None:
    line = fails(cli, ngx.url("/pkg.zip", "expired"), "--ca-bundle", str(ngx.ca_pem))
    assert "the server's certificate has expired" in line and "date and time" in line
    assert "--ca-bundle" not in line


def test_outdated_tls_version(cli, ngx: ng.Nginx) -> None:
    line = fails(cli, ngx.url("/pkg.zip", "tls10"), "--ca-bundle", str(ngx.ca_pem))
    assert "only offers an outdated TLS version" in line and "TLS 1.2" in line
    assert "_ssl.c" not in line and "--ca-bundle" not in line


def test_untrusted_ca_with_and_without_a_bundle(cli, ngx: ng.Nginx, tmp_path: Path) -> None:
    line = fails(cli, ngx.url("/pkg.zip", "https"))
    assert "signed by a CA this computer does not trust" in line and "--ca-bundle FILE or SSL_CERT_FILE" in line
    import trustme

    other = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other))
    line = fails(cli, ngx.url("/pkg.zip", "https"), "--ca-bundle", str(other))
    assert f"the CA that signed it is not in {other} (--ca-bundle)" in line


def test_broken_ssl_cert_file_is_named_and_does_not_break_http(
    cli, ngx: ng.Nginx, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "missing.pem"))
    r = cli("fetch", ngx.url("/pkg.zip"))
    assert r.exit_code == 0, r.stderr  # plain http needs no CA file
    line = fails(cli, ngx.url("/pkg.zip", "https"), "--dest", "other", code=ExitCode.USAGE)
    assert f"cannot read the CA bundle {tmp_path / 'missing.pem'} named by SSL_CERT_FILE" in line
    assert "correct SSL_CERT_FILE or unset it" in line
