"""`supportctl fetch` against a real HTTP(S) server on 127.0.0.1: success, every fault, safe zips.

Every failure must be one clear line, the documented exit code, no partial files, and the previous
package left exactly as it was.
"""

from __future__ import annotations

import hashlib
import os
import ssl
import stat
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from supportctl.errors import ExitCode
from supportctl.package import fetch as core
from supportctl.package import manifest as pkgmod
from tests import pkgtools as pt


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "all_proxy", "SSL_CERT_FILE"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture(scope="session")
def good_pkg(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return pt.make_package(tmp_path_factory.mktemp("pkg") / "pkg")


@pytest.fixture(scope="session")
def good_zip(good_pkg: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return pt.make_zip(good_pkg, tmp_path_factory.mktemp("zip") / "pkg.zip")


@pytest.fixture
def server() -> Iterator[pt.Server]:
    with pt.serve() as s:
        yield s


@pytest.fixture
def old(tmp_path: Path, good_pkg: Path) -> tuple[Path, dict[str, bytes]]:
    """A previous package in work/registration-package, fetched for real; the snapshot of work/."""
    work = tmp_path / "work"
    dest = work / "registration-package"
    core.fetch(str(good_pkg), core.FetchOptions(dest=dest))
    return dest, pt.snapshot(work)


def assert_untouched(old: tuple[Path, dict[str, bytes]]) -> None:
    dest, before = old
    assert pt.snapshot(dest.parent) == before  # old package intact, nothing partial beside it
    assert pkgmod.last_fetched_record().read_text().strip() == str(dest)


def one_error_line(stderr: str) -> str:
    lines = [ln for ln in stderr.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


# ---------------------------------------------------------------- success


def test_default_fetch_without_network_writes_the_bundled_package(cli, tmp_path: Path) -> None:
    bundled = pkgmod.load(pkgmod.bundled_root())
    try:
        pkgmod.verify_documents(bundled)
    except Exception:
        pytest.skip("the bundled package's PDFs are not built yet")
    r = cli("fetch", "--json")
    assert r.exit_code == 0, r.stderr
    dest = tmp_path / "registration-package"
    data = r.json()["data"]
    assert data["kind"] == "bundled" and data["dest"] == str(dest)
    assert (dest / "package.toml").is_file() and (dest / "registration-form.pdf").is_file()
    pkgmod.verify_documents(pkgmod.load(dest))
    assert pkgmod.last_fetched_record().read_text().strip() == str(dest)


def test_fetch_zip_over_http_with_sha256(cli, server: pt.Server, good_zip: Path, tmp_path: Path) -> None:
    server.routes["/pkg.zip"] = pt.body(good_zip.read_bytes())
    digest = pt.sha256(good_zip)
    r = cli("fetch", server.url("/pkg.zip"), "--sha256", digest, "--json")
    assert r.exit_code == 0, r.stderr
    assert "plain http" in r.stderr  # the http:// warning
    data = r.json()["data"]
    assert data["sha256"] == digest and data["bytes"] == good_zip.stat().st_size
    dest = tmp_path / "registration-package"
    assert pt.sha256(dest / "registration-form.pdf") == pkgmod.load(dest).document("registration-form").sha256
    # Later commands use the fetched package and say so.
    r = cli("show", "terms")
    assert r.exit_code == 0 and pt.TERMS_MARKER in r.stdout
    assert "(last fetched)" in r.stderr


def test_refetch_replaces_our_package_and_no_leftovers(cli, server: pt.Server, good_zip: Path, old) -> None:
    dest, _before = old
    server.routes["/pkg.zip"] = pt.body(good_zip.read_bytes())
    r = cli("fetch", server.url("/pkg.zip"), "--dest", str(dest))
    assert r.exit_code == 0, r.stderr
    assert sorted(p.name for p in dest.parent.iterdir()) == ["registration-package"]
    # A file the package never listed is not ours to delete: it is moved aside.
    (dest / "stale.txt").write_text("not from any package")
    r = cli("fetch", server.url("/pkg.zip"), "--dest", str(dest))
    assert r.exit_code == 0, r.stderr
    assert not (dest / "stale.txt").exists()
    names = sorted(p.name for p in dest.parent.iterdir())
    assert names[0] == "registration-package" and names[1].startswith("registration-package.replaced-")
    assert len(names) == 2 and (dest.parent / names[1] / "stale.txt").is_file()


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> tuple[ssl.SSLContext, Path]:
    import trustme

    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    cert.configure_cert(ctx)
    bundle = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    return ctx, bundle


def test_fetch_over_https_with_ca_bundle(cli, tls, good_zip: Path, tmp_path: Path) -> None:
    ctx, bundle = tls
    with pt.serve(ctx) as s:
        s.routes["/pkg.zip"] = pt.body(good_zip.read_bytes())
        r = cli("fetch", s.url("/pkg.zip"), "--sha256", pt.sha256(good_zip), "--ca-bundle", str(bundle))
    assert r.exit_code == 0, r.stderr
    assert "plain http" not in r.stderr
    assert (tmp_path / "registration-package" / "package.toml").is_file()
    assert "registration-form" in r.stdout


def test_https_ca_from_ssl_cert_file(cli, tls, good_zip: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ctx, bundle = tls
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    with pt.serve(ctx) as s:
        s.routes["/pkg.zip"] = pt.body(good_zip.read_bytes())
        r = cli("fetch", s.url("/pkg.zip"))
    assert r.exit_code == 0, r.stderr


def test_untrusted_certificate_is_refused(cli, tls, good_zip: Path, old) -> None:
    ctx, _bundle = tls
    with pt.serve(ctx) as s:
        s.routes["/pkg.zip"] = pt.body(good_zip.read_bytes())
        r = cli("fetch", s.url("/pkg.zip"), "--dest", str(old[0]))
    assert r.exit_code == ExitCode.TRANSFER
    line = one_error_line(r.stderr)
    assert "signed by a CA this computer does not trust" in line and "--ca-bundle FILE or SSL_CERT_FILE" in line
    assert "supportctl fetch --request" in line
    assert_untouched(old)


def test_https_to_a_plain_http_port_says_so_in_words(cli, server: pt.Server, old) -> None:
    """Was: "the secure connection could not be set up (WRONG_VERSION_NUMBER)", OpenSSL's word."""
    line = _fails(cli, server.url("/pkg.zip").replace("http://", "https://"), old)
    assert "the server does not speak TLS on that port" in line and "http:// address" in line
    assert "WRONG_VERSION_NUMBER" not in line


def test_fetch_from_local_directory_and_zip(cli, good_pkg: Path, good_zip: Path, tmp_path: Path) -> None:
    r = cli("fetch", str(good_pkg), "--dest", "a", "--json")
    assert r.exit_code == 0, r.stderr
    assert r.json()["data"]["kind"] == "directory"
    r = cli("fetch", str(good_zip), "--dest", "b", "--json")
    assert r.exit_code == 0, r.stderr
    assert r.json()["data"]["kind"] == "zip"
    assert pt.snapshot(tmp_path / "a") == pt.snapshot(tmp_path / "b")


def test_zip_with_a_top_level_directory(cli, good_pkg: Path, tmp_path: Path) -> None:
    z = tmp_path / "nested.zip"
    with zipfile.ZipFile(z, "w") as zf:
        for p in good_pkg.iterdir():
            zf.write(p, "pkg-2026/" + p.name)
    r = cli("fetch", str(z))
    assert r.exit_code == 0, r.stderr
    assert (tmp_path / "registration-package" / "package.toml").is_file()


def test_package_option_accepts_a_zip(cli, good_zip: Path, isolated: Path) -> None:
    r = cli("show", "terms", "--package", str(good_zip))
    assert r.exit_code == 0, r.stderr
    assert pt.TERMS_MARKER in r.stdout
    cached = list((isolated / ".cache" / "supportctl" / "packages").iterdir())
    assert [c.name for c in cached] == [hashlib.sha256(good_zip.read_bytes()).hexdigest()]
    r = cli("show", "fields", "--package", str(good_zip))  # second use: from the cache
    assert r.exit_code == 0 and "membership_id" in r.stdout


def test_destination_not_from_fetch_needs_force(cli, good_pkg: Path, tmp_path: Path) -> None:
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("precious")
    r = cli("fetch", str(good_pkg), "--dest", str(mine))
    assert r.exit_code == ExitCode.ERROR
    assert "--force" in one_error_line(r.stderr)
    assert (mine / "notes.txt").read_text() == "precious"
    r = cli("fetch", str(good_pkg), "--dest", str(mine), "--force")
    assert r.exit_code == 0, r.stderr
    assert not (mine / "notes.txt").exists()
    (aside,) = tmp_path.glob("mine.replaced-*")  # moved aside, never deleted
    assert (aside / "notes.txt").read_text() == "precious"
    assert str(aside) in r.stderr


def test_refetch_keeps_a_file_the_user_put_into_the_package(cli, good_pkg: Path, tmp_path: Path) -> None:
    dest = tmp_path / "pkg"
    assert cli("fetch", str(good_pkg), "--dest", str(dest)).exit_code == 0
    (dest / "thesis.txt").write_text("three years of work")
    r = cli("fetch", str(good_pkg), "--dest", str(dest))
    assert r.exit_code == 0, r.stderr
    (aside,) = tmp_path.glob("pkg.replaced-*")
    assert (aside / "thesis.txt").read_text() == "three years of work"
    assert f"the files that were in {dest} and not written by supportctl are now in {aside}" in r.stderr
    assert not (dest / "thesis.txt").exists() and (dest / pkgmod.MANIFEST).is_file()
    r = cli("fetch", str(good_pkg), "--dest", str(dest))  # only its own files inside: replaced, nothing aside
    assert r.exit_code == 0 and len(list(tmp_path.glob("pkg.replaced-*"))) == 1


def test_progress_callback_and_flat_chunks(server: pt.Server, good_zip: Path, tmp_path: Path) -> None:
    server.routes["/pkg.zip"] = pt.body(good_zip.read_bytes())
    seen: list[tuple[int, int | None]] = []
    core.fetch(
        server.url("/pkg.zip"), core.FetchOptions(dest=tmp_path / "p"), progress=lambda d, t: seen.append((d, t))
    )
    assert seen[-1] == (good_zip.stat().st_size, good_zip.stat().st_size)


@pytest.mark.parametrize(
    ("text", "value"), [("100MB", 100_000_000), ("1.5GiB", 1_610_612_736), ("4096", 4096), ("64 KiB", 65536)]
)
def test_parse_size(text: str, value: int) -> None:
    assert core.parse_size(text) == value


def test_bad_size_is_usage_error(cli) -> None:
    r = cli("fetch", "--max-size", "lots")
    assert r.exit_code == ExitCode.USAGE and "100MB" in one_error_line(r.stderr)


# ---------------------------------------------------------------- transfer faults (exit 5)


def _fails(cli, url: str, old, *extra: str, code: ExitCode = ExitCode.TRANSFER) -> str:
    r = cli("fetch", url, "--dest", str(old[0]), "--timeout", "1", *extra)
    assert r.exit_code == code, (r.exit_code, r.stderr)
    line = one_error_line(r.stderr)
    if code == ExitCode.TRANSFER:
        assert "supportctl fetch --request" in line
    assert_untouched(old)
    return line


def test_404(cli, server: pt.Server, old) -> None:
    assert "answered 404" in _fails(cli, server.url("/missing.zip"), old)


def test_500(cli, server: pt.Server, good_zip: Path, old) -> None:
    server.routes["/pkg.zip"] = pt.body(b"oops", status=500)
    assert "answered 500" in _fails(cli, server.url("/pkg.zip"), old)


def test_connection_reset_mid_body(cli, server: pt.Server, good_zip: Path, old) -> None:
    server.routes["/pkg.zip"] = pt.reset_mid_body(good_zip.read_bytes())
    assert "broke off" in _fails(cli, server.url("/pkg.zip"), old)


def test_body_shorter_than_content_length(cli, server: pt.Server, good_zip: Path, old) -> None:
    data = good_zip.read_bytes()
    server.routes["/pkg.zip"] = pt.body(data[:1000], length=len(data))
    line = _fails(cli, server.url("/pkg.zip"), old)
    assert f"received 1000 of {len(data)} bytes" in line


def test_stalled_server_times_out(cli, server: pt.Server, good_zip: Path, old) -> None:
    import time

    server.routes["/pkg.zip"] = pt.stall(good_zip.read_bytes(), server.stop)
    t0 = time.monotonic()
    line = _fails(cli, server.url("/pkg.zip"), old)
    assert time.monotonic() - t0 < 5
    assert "no data for 1 s after 100 bytes" in line


def test_redirect_loop(cli, server: pt.Server, old) -> None:
    server.routes["/a"] = pt.redirect("/b")
    server.routes["/b"] = pt.redirect("/a")
    assert "redirects" in _fails(cli, server.url("/a"), old)


def test_redirect_is_followed(cli, server: pt.Server, good_zip: Path, tmp_path: Path) -> None:
    server.routes["/old"] = pt.redirect("/pkg.zip")
    server.routes["/pkg.zip"] = pt.body(good_zip.read_bytes())
    r = cli("fetch", server.url("/old"))
    assert r.exit_code == 0, r.stderr


def test_an_address_pasted_with_spaces_and_umlauts_is_sent_percent_encoded(
    cli, server: pt.Server, good_zip: Path
) -> None:
    """As a browser's address bar shows it: `/Pakete Ü/pkg.zip`, with a non-breaking space pasted in front;
    a redirect to `/neu/Pakete Ü/…` as some servers send it. Was: "URL can't contain control characters"."""
    server.routes["/Pakete%20%C3%9C/pkg.zip"] = pt.body(good_zip.read_bytes())
    server.routes["/old"] = pt.redirect("/Pakete %C3%9C/pkg.zip")
    r = cli("fetch", "\u00a0" + server.url("/Pakete Ü/pkg.zip"), "--dest", "a")
    assert r.exit_code == 0, r.stderr
    r = cli("fetch", server.url("/old"), "--dest", "b")
    assert r.exit_code == 0, r.stderr
    assert server.httpd.hits == ["/Pakete%20%C3%9C/pkg.zip", "/old", "/Pakete%20%C3%9C/pkg.zip"]  # type: ignore[attr-defined]


def test_oversized_download_by_content_length(cli, server: pt.Server, old) -> None:
    server.routes["/big.zip"] = pt.body(b"x" * 300_000)
    line = _fails(cli, server.url("/big.zip"), old, "--max-size", "100KB")
    assert "larger than the limit of 100000 bytes" in line and "--max-size" in line


def test_oversized_download_without_content_length(cli, server: pt.Server, old) -> None:
    server.routes["/big.zip"] = pt.body(b"x" * 300_000, length=None)
    assert "larger than the limit" in _fails(cli, server.url("/big.zip"), old, "--max-size", "100KB")


def test_unreachable_server(cli, old) -> None:
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    assert "failed" in _fails(cli, f"http://127.0.0.1:{port}/pkg.zip", old)


# ---------------------------------------------------------------- invalid packages (exit 3)


def test_wrong_sha256(cli, server: pt.Server, good_zip: Path, old) -> None:
    server.routes["/pkg.zip"] = pt.body(good_zip.read_bytes())
    line = _fails(cli, server.url("/pkg.zip"), old, "--sha256", "0" * 64, code=ExitCode.INVALID_INPUT)
    assert "does not match --sha256" in line


def _bad_zip(tmp_path: Path, good_pkg: Path, name: str, extra, skip=()) -> Path:
    return pt.make_zip(good_pkg, tmp_path / name, extra, skip)


def _symlink(name: str, target: str) -> tuple[zipfile.ZipInfo, bytes]:
    info = zipfile.ZipInfo(name)
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info, target.encode()


def _device(name: str) -> tuple[zipfile.ZipInfo, bytes]:
    info = zipfile.ZipInfo(name)
    info.external_attr = (stat.S_IFCHR | 0o666) << 16
    return info, b""


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ([("../evil.txt", b"x")], "points outside the package"),
        ([("docs/../../evil.txt", b"x")], "points outside the package"),
        ([("/etc/evil.txt", b"x")], "absolute path"),
        ([_symlink("link.pdf", "/etc/passwd")], "symbolic link"),
        ([_device("dev")], "device or special file"),
    ],
    ids=["zip-slip", "zip-slip-nested", "absolute", "symlink", "device"],
)
def test_unsafe_zip_members(cli, server: pt.Server, good_pkg: Path, tmp_path: Path, old, extra, message) -> None:
    z = _bad_zip(tmp_path, good_pkg, "bad.zip", extra)
    server.routes["/pkg.zip"] = pt.body(z.read_bytes())
    assert message in _fails(cli, server.url("/pkg.zip"), old, code=ExitCode.INVALID_INPUT)
    assert not (tmp_path / "evil.txt").exists() and not (tmp_path / "work" / "evil.txt").exists()


def test_zip_bomb(cli, good_pkg: Path, tmp_path: Path, old) -> None:
    z = tmp_path / "bomb.zip"
    pt.make_zip(good_pkg, z)
    with zipfile.ZipFile(z, "a", zipfile.ZIP_DEFLATED) as zf:
        with zf.open("zeros.bin", "w", force_zip64=True) as fh:
            block = b"\0" * (1 << 20)
            for _ in range(50):  # 50 MB of zeros, ~50 KB compressed
                fh.write(block)
    assert z.stat().st_size < 1_000_000
    assert "zip bomb" in _fails(cli, str(z), old, code=ExitCode.INVALID_INPUT)


def test_too_many_members(good_pkg: Path, tmp_path: Path) -> None:
    from supportctl.errors import InvalidInputError
    from supportctl.package import safezip

    z = pt.make_zip(good_pkg, tmp_path / "many.zip", [(f"f{i}", b"") for i in range(20)])
    target = tmp_path / "t"
    target.mkdir()
    with pytest.raises(InvalidInputError, match="more than the limit of 10"):
        safezip.extract(z, target, safezip.Limits(max_files=10))
    assert list(target.iterdir()) == []


def test_a_web_page_sent_as_the_package_is_named(cli, server: pt.Server, old) -> None:
    # No Content-Type saying so: the body starting with `<` gives it away, before anything is unpacked.
    server.routes["/pkg.zip"] = pt.body(b"  <html>captive portal</html>")
    line = _fails(cli, server.url("/pkg.zip"), old)
    assert "the server sent a web page (its text starts with <), not the package" in line
    assert server.httpd.hits == ["/pkg.zip"]  # type: ignore[attr-defined]


def test_not_a_zip_is_requested_once(cli, server: pt.Server, old) -> None:
    server.routes["/pkg.zip"] = pt.body(b"\x00\x01 not a zip at all " * 1000)
    assert "is not a zip archive" in _fails(cli, server.url("/pkg.zip"), old, code=ExitCode.INVALID_INPUT)
    assert server.httpd.hits == ["/pkg.zip"]  # type: ignore[attr-defined]  # never twice


def test_manifest_missing(cli, server: pt.Server, good_pkg: Path, tmp_path: Path, old) -> None:
    z = _bad_zip(tmp_path, good_pkg, "nomanifest.zip", [], skip=("package.toml",))
    server.routes["/pkg.zip"] = pt.body(z.read_bytes())
    assert "package.toml is missing" in _fails(cli, server.url("/pkg.zip"), old, code=ExitCode.INVALID_INPUT)


def test_manifest_invalid(cli, server: pt.Server, good_pkg: Path, tmp_path: Path, old) -> None:
    broken = pt.copy_tree(good_pkg, tmp_path / "broken")
    text = (broken / "package.toml").read_text().replace('request_address = "regform', "request_address = 42 #")
    (broken / "package.toml").write_text(text)
    z = pt.make_zip(broken, tmp_path / "broken.zip")
    server.routes["/pkg.zip"] = pt.body(z.read_bytes())
    line = _fails(cli, server.url("/pkg.zip"), old, code=ExitCode.INVALID_INPUT)
    assert "process.request_address" in line


def test_document_hash_mismatch(cli, server: pt.Server, good_pkg: Path, tmp_path: Path, old) -> None:
    altered = pt.copy_tree(good_pkg, tmp_path / "altered")
    with open(altered / "registration-form.pdf", "ab") as fh:
        fh.write(b"% appended\n")
    z = pt.make_zip(altered, tmp_path / "altered.zip")
    server.routes["/pkg.zip"] = pt.body(z.read_bytes())
    line = _fails(cli, server.url("/pkg.zip"), old, code=ExitCode.INVALID_INPUT)
    assert "registration-form" in line and "does not match the manifest's sha256" in line


def test_document_missing_from_directory(cli, good_pkg: Path, tmp_path: Path, old) -> None:
    partial = pt.copy_tree(good_pkg, tmp_path / "partial")
    (partial / "service-description.pdf").unlink()
    line = _fails(cli, str(partial), old, code=ExitCode.INVALID_INPUT)
    assert "service-description.pdf is missing" in line


# ---------------------------------------------------------------- destination (exit 1)


def test_destination_not_writable(cli, good_pkg: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    r = cli("fetch", str(good_pkg), "--dest", str(blocker / "registration-package"))
    assert r.exit_code == ExitCode.ERROR
    assert "cannot write the package" in one_error_line(r.stderr)
    assert blocker.read_text() == "not a directory"


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write into read-only directories")
def test_destination_in_read_only_directory(cli, good_pkg: Path, old) -> None:
    dest, _ = old
    dest.parent.chmod(0o555)
    try:
        r = cli("fetch", str(good_pkg), "--dest", str(dest))
    finally:
        dest.parent.chmod(0o755)
    assert r.exit_code == ExitCode.ERROR
    assert "cannot write the package" in one_error_line(r.stderr)
    assert_untouched(old)


def test_json_error_envelope(cli, server: pt.Server, old) -> None:
    r = cli("fetch", server.url("/nothing.zip"), "--dest", str(old[0]), "--json")
    assert r.exit_code == ExitCode.TRANSFER
    env = r.json()
    assert env["ok"] is False and env["errors"][0]["code"] == "transfer" and env["errors"][0]["exit_code"] == 5


# ---------------------------------------------------------------- unpacking while downloading


def test_zip_is_unpacked_while_it_streams(server: pt.Server, good_zip: Path, tmp_path: Path) -> None:
    server.routes["/pkg.zip"] = pt.body(good_zip.read_bytes())
    core.fetch(server.url("/pkg.zip"), core.FetchOptions(dest=tmp_path / "p"))
    assert server.httpd.hits == ["/pkg.zip"]  # type: ignore[attr-defined]  # one download, no fallback


@pytest.mark.parametrize("keep", [core.KEEP_FOR_FALLBACK, 0], ids=["spooled", "downloaded-again"])
def test_zip_with_data_descriptors_falls_back_to_a_file(
    server: pt.Server, good_pkg: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, keep: int
) -> None:
    import io

    class Unseekable(io.RawIOBase):
        def __init__(self) -> None:
            self.buf = bytearray()

        def writable(self) -> bool:
            return True

        def write(self, b) -> int:  # type: ignore[override]
            self.buf += b
            return len(b)

    sink = Unseekable()
    with zipfile.ZipFile(sink, "w", zipfile.ZIP_DEFLATED) as zf:  # not seekable: data descriptors
        for p in sorted(good_pkg.iterdir()):
            zf.write(p, p.name)
    server.routes["/pkg.zip"] = pt.body(bytes(sink.buf))
    monkeypatch.setattr(core, "KEEP_FOR_FALLBACK", keep)
    result = core.fetch(server.url("/pkg.zip"), core.FetchOptions(dest=tmp_path / "p"))
    assert result.sha256 == hashlib.sha256(bytes(sink.buf)).hexdigest()
    # The start was still in memory: the same response is written to a file. Only a zip found to need
    # random access after the kept bytes is downloaded a second time.
    hits = ["/pkg.zip"] if keep else ["/pkg.zip", "/pkg.zip"]
    assert server.httpd.hits == hits  # type: ignore[attr-defined]
    pkgmod.verify_documents(pkgmod.load(tmp_path / "p"))


def test_streamed_zip_bomb(cli, server: pt.Server, good_pkg: Path, tmp_path: Path, old) -> None:
    z = pt.make_zip(good_pkg, tmp_path / "bomb.zip")
    with zipfile.ZipFile(z, "a", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("zeros.bin", b"\0" * (20 << 20))
    server.routes["/pkg.zip"] = pt.body(z.read_bytes())
    assert "zip bomb" in _fails(cli, server.url("/pkg.zip"), old, code=ExitCode.INVALID_INPUT)


def test_local_headers_that_contradict_the_table_of_contents(cli, server: pt.Server, good_zip: Path, old) -> None:
    data = bytearray(good_zip.read_bytes())
    first = data.index(b"PK\x03\x04")
    name_at = first + 30
    assert data[name_at : name_at + 12] == b"package.toml"
    data[name_at : name_at + 12] = b"package.tomx"  # the central directory still says package.toml
    server.routes["/pkg.zip"] = pt.body(bytes(data))
    line = _fails(cli, server.url("/pkg.zip"), old, code=ExitCode.INVALID_INPUT)
    assert "table of contents does not match" in line


def test_corrupted_member_data(cli, server: pt.Server, good_pkg: Path, tmp_path: Path, old) -> None:
    z = tmp_path / "stored.zip"
    with zipfile.ZipFile(z, "w", zipfile.ZIP_STORED) as zf:
        for p in sorted(good_pkg.iterdir()):
            zf.write(p, p.name)
    data = bytearray(z.read_bytes())
    at = data.index(b"%PDF") + 10
    data[at] ^= 0xFF
    server.routes["/pkg.zip"] = pt.body(bytes(data))
    assert "checksum or size does not match" in _fails(cli, server.url("/pkg.zip"), old, code=ExitCode.INVALID_INPUT)


def test_https_redirect_to_http_is_refused(cli, tls, server: pt.Server, good_zip: Path, old) -> None:
    ctx, bundle = tls
    server.routes["/pkg.zip"] = pt.body(good_zip.read_bytes())
    with pt.serve(ctx) as s:
        s.routes["/pkg.zip"] = pt.redirect(server.url("/pkg.zip"))
        line = _fails(cli, s.url("/pkg.zip"), old, "--ca-bundle", str(bundle))
    assert "from https to an insecure address" in line
    assert server.httpd.hits == []  # type: ignore[attr-defined]


@given(st.text(max_size=60))
def test_member_path_never_escapes(name: str) -> None:
    from supportctl.package.safezip import member_path

    p = member_path(name)
    if p is not None:
        assert not p.is_absolute() and ".." not in p.parts and p.parts
        base = Path("/base")
        assert (base / p).resolve().is_relative_to(base)
        assert "\\" not in str(p) and "\x00" not in str(p)


@pytest.mark.slow
def test_fetch_on_a_terminal_with_the_progress_bar(server: pt.Server, good_zip: Path, tmp_path: Path) -> None:
    import sys

    pexpect = pytest.importorskip("pexpect")
    from tests.conftest import ROOT

    server.routes["/pkg.zip"] = pt.body(good_zip.read_bytes())
    env = dict(os.environ, PYTHONPATH=str(ROOT), TERM="xterm")
    env.pop("NO_COLOR", None)
    child = pexpect.spawn(
        sys.executable,
        ["-m", "supportctl", "fetch", server.url("/pkg.zip")],
        env=env,
        cwd=str(tmp_path),
        encoding="utf-8",
        timeout=20,
    )
    child.expect("Fetched package supportctl-default")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert (tmp_path / "registration-package" / "package.toml").is_file()


def test_package_url_setting_is_the_default_source(cli, server: pt.Server, good_zip: Path, monkeypatch) -> None:
    server.routes["/configured.zip"] = pt.body(good_zip.read_bytes())
    monkeypatch.setenv("SUPPORTCTL_PACKAGE_URL", server.url("/configured.zip"))
    r = cli("fetch", "--json")
    assert r.exit_code == 0, r.stderr
    assert r.json()["data"]["kind"] == "url" and r.json()["data"]["source"] == server.url("/configured.zip")


# ---------------------------------------------------------------- no stale manifest cache entries


def test_fetch_leaves_no_manifest_cache_entry_for_its_temporary_directories(
    cli, server: pt.Server, good_pkg: Path, good_zip: Path, tmp_path: Path
) -> None:
    import json

    from supportctl import paths

    server.routes["/pkg.zip"] = pt.body(good_zip.read_bytes())
    for source in (str(good_pkg), str(good_zip), server.url("/pkg.zip"), str(good_pkg)):
        r = cli("fetch", source, "--dest", str(tmp_path / "dest"))
        assert r.exit_code == 0, r.stderr
    r = cli("show", "fields", "--package", str(good_zip), "--json")  # a zip opened through the package cache
    assert r.exit_code == 0, r.stderr
    entries = list((paths.cache_dir() / "manifests").glob("*.json"))
    cached = {json.loads(p.read_text())["key"][0] for p in entries}
    # Only directories that still exist: the source package (copied twice) and the unpacked zip, never a
    # fetch's or an unpacking's temporary directory.
    assert cached and all(Path(c).exists() for c in cached), cached
    assert len(entries) == len(cached) <= 2
    # Normal loads still use the cache: the fetched package gets one entry, and it is used next time.
    pkgmod.load(tmp_path / "dest")
    key = str((tmp_path / "dest" / pkgmod.MANIFEST).resolve())
    assert key in {json.loads(p.read_text())["key"][0] for p in (paths.cache_dir() / "manifests").glob("*.json")}


# ---------------------------------------------------------------- fetch --request through the outbox


@pytest.fixture
def smtp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    from tests import smtpserver

    srv = smtpserver.start(tmp_path)
    yield srv
    srv.stop()


def test_request_is_sent_through_the_outbox_when_smtp_is_configured(
    cli, smtp, good_pkg: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import email
    from email import policy

    from supportctl.mail import outbox

    for k, v in smtp.env().items():  # type: ignore[attr-defined]
        monkeypatch.setenv(k, v)
    r = cli("fetch", "--request", "--package", str(good_pkg), "--json")  # SMTP configured: sent by default
    assert r.exit_code == 0, r.stderr
    data = r.json()["data"]
    assert data["sent"] is True and data["result"]["state"] == "sent"
    assert not Path("package-request.eml").exists()
    (got,) = smtp.handler.messages  # type: ignore[attr-defined]
    msg = email.message_from_bytes(got["data"], policy=policy.default)
    assert got["to"] == ["regform@msdirectservices.com"] and got["from"] == "alice@example.org"
    assert msg["Message-ID"] == data["message_id"] and "Registrierungsunterlagen" in msg["Subject"]
    assert [e.state for e in outbox.entries()] == ["sent"]
    # --eml still writes the file and sends nothing; --send with a display name in --from works too.
    r = cli("fetch", "--request", "--package", str(good_pkg), "--eml", "req.eml")
    assert r.exit_code == 0 and Path("req.eml").exists() and smtp.count() == 1  # type: ignore[attr-defined]
    r = cli("fetch", "--request", "--send", "--from", "Łukasz <lukasz@example.com>", "--package", str(good_pkg))
    assert r.exit_code == 0, r.stderr
    assert smtp.wait_count(2) == 2 and smtp.handler.messages[1]["from"] == "lukasz@example.com"  # type: ignore[attr-defined]
    # A refusal is exit 6 with the server's reason; the message stays in the outbox as failed.
    smtp.mode = "rcpt550"  # type: ignore[attr-defined]
    r = cli("fetch", "--request", "--package", str(good_pkg))
    assert r.exit_code == ExitCode.MAIL_REFUSED, r.stderr
    assert "550" in r.stderr and "--request --send" in r.stderr
    assert sorted(e.state for e in outbox.entries()) == ["failed", "sent", "sent"]


def test_request_without_smtp_writes_the_eml_and_says_so_once(cli, good_pkg: Path) -> None:
    r = cli("fetch", "--request", "--from", "lukasz@example.com", "--package", str(good_pkg))
    assert r.exit_code == 0, r.stderr
    assert Path("package-request.eml").exists()
    assert sum("SMTP is not configured" in line for line in r.stderr.splitlines()) == 1
    # --send without a server is a configuration error (exit 8) and queues nothing.
    r = cli("fetch", "--request", "--send", "--from", "lukasz@example.com", "--package", str(good_pkg))
    assert r.exit_code == ExitCode.CONFIG and "no SMTP server configured" in r.stderr
    from supportctl.mail import outbox

    assert outbox.entries() == []
    r = cli("fetch", "--request", "--send", "--eml", "x.eml", "--package", str(good_pkg))
    assert r.exit_code == ExitCode.USAGE
    r = cli("fetch", "--send")
    assert r.exit_code == ExitCode.USAGE and "--request" in r.stderr


# ---------------------------------------------------------------- no password is ever shown


def test_package_url_with_a_password_is_shown_redacted(cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUPPORTCTL_PACKAGE_URL", "https://alice:s3cret@packages.example/pkg.zip")
    r = cli("config", "show", "--json")
    assert r.exit_code == 0, r.stderr
    assert r.json()["data"]["settings"]["package_url"]["value"] == "https://alice:***@packages.example/pkg.zip"
    r = cli("config", "show")
    assert "s3cret" not in r.stdout + r.stderr and "alice:***@packages.example" in r.stdout


def test_a_mailbox_address_with_a_password_is_shown_redacted(cli, monkeypatch: pytest.MonkeyPatch) -> None:
    """`inbox` and `status` refuse a password in an imaps:// address; `config show` must not print it either."""
    monkeypatch.setenv("SUPPORTCTL_STATUS_MAILBOX", "imaps://me:s3cret@mail.example/INBOX")
    monkeypatch.setenv("SUPPORTCTL_INBOX_MAILBOX", "imaps://desk:s3cret@mail.example/INBOX")
    r = cli("config", "show", "--json")
    settings = r.json()["data"]["settings"]
    assert settings["status.mailbox"]["value"] == "imaps://me:***@mail.example/INBOX"
    assert settings["inbox.mailbox"]["value"] == "imaps://desk:***@mail.example/INBOX"
    r = cli("config", "show")
    assert "s3cret" not in r.stdout + r.stderr and "me:***@mail.example" in r.stdout


@given(
    user=st.text(
        alphabet=st.characters(blacklist_characters="@/:?#[]\r\n\t ", blacklist_categories=("Cs",)), min_size=1
    ),
    password=st.text(min_size=1, max_size=30),
)
def test_redact_never_shows_the_password(user: str, password: str) -> None:
    from urllib.parse import quote

    from supportctl.package.urlauth import redact, split_userinfo

    url = f"https://{quote(user, safe='')}:{quote(password, safe='')}@host.example:8443/p/pkg.zip?x=1"
    shown = redact(url)
    assert shown == f"https://{quote(user, safe='')}:***@host.example:8443/p/pkg.zip?x=1"
    clean, u, p = split_userinfo(url)
    assert (clean, u, p) == ("https://host.example:8443/p/pkg.zip?x=1", user, password)


def test_retry_after_as_a_date(cli, server: pt.Server, old) -> None:
    def busy(h) -> None:  # type: ignore[no-untyped-def]
        h.send_response(503)
        h.send_header("Retry-After", "Wed, 02 Dec 2026 07:28:00 GMT")
        h.send_header("Content-Length", "0")
        h.end_headers()

    server.routes["/pkg.zip"] = busy
    line = _fails(cli, server.url("/pkg.zip"), old)
    assert "answered 503 Service Unavailable and asks to try again after 2026-12-02 07:28 UTC" in line


def test_redirect_without_location(cli, server: pt.Server, old) -> None:
    def nowhere(h) -> None:  # type: ignore[no-untyped-def]
        h.send_response(302)
        h.send_header("Content-Length", "0")
        h.end_headers()

    server.routes["/pkg.zip"] = nowhere
    assert "answered 302 without saying where to (no Location)" in _fails(cli, server.url("/pkg.zip"), old)
