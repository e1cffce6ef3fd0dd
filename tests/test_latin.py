"""The Latin-script rule and the value rules (validation.py), without a PDF where possible."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from supportctl.form import latin
from supportctl.form.pdfform import template
from supportctl.form.validation import check_field, unknown_fields, validate_values
from tests import formkit

regex = pytest.importorskip("regex")  # a real Unicode Script property, as the oracle


@pytest.fixture(scope="module")
def chars() -> frozenset[str]:
    if not (formkit.package_root() / "registration-form.pdf").exists():
        pytest.skip("the default form PDF is not built")
    return template(formkit.pkg()).font.chars


@pytest.mark.parametrize("name", formkit.ACCEPT)
def test_accept_list_passes_with_the_forms_font(name: str, chars: frozenset[str]) -> None:
    assert latin.check(latin.normalize(name), chars) == []
    spec = formkit.pkg().field("last_name")
    assert check_field(spec, name, font_chars=chars).value == name


@pytest.mark.parametrize(
    ("value", "first", "suggestion"),
    [
        ("Дмитрий", "U+0414 CYRILLIC CAPITAL LETTER DE", "Dmitriy"),
        ("張偉", "U+5F35 CJK UNIFIED IDEOGRAPH-5F35", "ZhangWei"),
        ("Αλέξης", "U+0391 GREEK CAPITAL LETTER ALPHA", "Alexis"),
        ("Anna\u202eMaria", "U+202E RIGHT-TO-LEFT OVERRIDE", "AnnaMaria"),
    ],
)
def test_refuse_list_names_the_character_and_suggests(
    value: str, first: str, suggestion: str, chars: frozenset[str]
) -> None:
    result = check_field(formkit.pkg().field("last_name"), value, font_chars=chars)
    assert result.value is None and result.finding is not None
    assert result.finding.message.startswith(f'{first} in "last_name"')
    assert result.finding.suggestion == suggestion
    assert result.finding.code == ("control-char" if "\u202e" in value else "not-latin")


def test_the_issues_example_message(chars: frozenset[str]) -> None:
    f = check_field(formkit.pkg().field("last_name"), "Жуков", font_chars=chars).finding
    assert f is not None and 'U+0416 CYRILLIC CAPITAL LETTER ZHE in "last_name"' in f.message
    assert f.suggestion == "Zhukov"


def test_decomposed_input_is_normalised_to_nfc(chars: frozenset[str]) -> None:
    nfd = unicodedata.normalize("NFD", "Dvořák")
    assert nfd != "Dvořák"
    assert check_field(formkit.pkg().field("last_name"), nfd, font_chars=chars).value == "Dvořák"


def test_stored_value_not_in_nfc_is_reported_not_fixed(chars: frozenset[str]) -> None:
    nfd = unicodedata.normalize("NFD", "Dvořák")
    f = check_field(formkit.pkg().field("last_name"), nfd, font_chars=chars, stored=True).finding
    assert f is not None and f.code == "not-nfc" and f.suggestion == "Dvořák"


def test_latin_letter_the_font_cannot_show_is_refused(chars: frozenset[str]) -> None:
    candidates = ["\u2c60", "\ua722", "\u1d00", "\u2c6f", "\ua7b5", "\u1e9e", "\u01c4"]
    ch = next(c for c in candidates if c not in chars)
    assert latin.classify(ch, 0) is None  # Latin, but …
    f = check_field(formkit.pkg().field("city"), f"A{ch}B", font_chars=chars).finding
    assert f is not None and f.code == "font" and f"U+{ord(ch):04X}" in f.message


@pytest.mark.parametrize("ch", ["\u200b", "\u200d", "\ufeff", "\u0007", "\u2028", "\u2066"])
def test_invisible_and_control_characters_are_refused(ch: str) -> None:
    assert [p.code for p in latin.check(f"ab{ch}c")] == ["control-char"]


def test_combining_mark_only_on_a_latin_letter() -> None:
    assert latin.check("q\u0301") == []  # no precomposed form: stays a mark on a Latin letter
    assert [p.code for p in latin.check("\u0436\u0301")] == ["not-latin", "not-latin"]
    assert [p.code for p in latin.check("\u0301x")] == ["not-latin"]


@settings(max_examples=400, deadline=None)
@given(st.text(min_size=0, max_size=30))
def test_random_text_never_crashes_and_never_admits_a_non_latin_letter(text: str) -> None:
    nfc = latin.normalize(text)
    problems = latin.check(nfc)
    refused = {p.index for p in problems}
    for i, ch in enumerate(nfc):
        if i in refused:
            continue
        assert regex.fullmatch(r"[\p{Script=Latin}\p{Script=Common}\p{Script=Inherited}]", ch), ch
        if unicodedata.category(ch).startswith("L"):
            assert regex.fullmatch(r"\p{Script=Latin}", ch), describe(ch)
        assert unicodedata.category(ch) not in ("Cc", "Cf")
    latin.suggest(text)  # never raises


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8", categories=("Lu", "Ll", "Lo", "Lm", "Lt")), min_size=1))
def test_random_letters_accepted_only_if_latin(text: str) -> None:
    nfc = latin.normalize(text)
    refused = {p.index for p in latin.check(nfc)}
    for i, ch in enumerate(nfc):
        if i not in refused and unicodedata.category(ch).startswith("L"):
            assert regex.fullmatch(r"\p{Script=Latin}", ch)


def describe(ch: str) -> str:
    return latin.describe(ch)


# ---------------------------------------------------------------- the other value rules


def field_check(name: str, value: object, **context: object) -> tuple[object, str | None]:
    r = check_field(formkit.pkg().field(name), value, context)
    return r.value, (r.finding.code if r.finding else None)


def test_email_syntax_without_dns() -> None:
    assert field_check("email", "Lukasz@Example.com") == ("Lukasz@example.com", None)
    assert field_check("email", "lukasz@example")[1] == "email"
    assert field_check("email", "no at sign")[1] == "email"


def test_phone_is_international_format_with_the_country_as_region_hint() -> None:
    # As people write it and as the desk reads it on the form: phonenumbers' INTERNATIONAL format (issue 16).
    assert field_check("phone", "030 1234567", country="DE") == ("+49 30 1234567", None)
    assert field_check("phone", "+49301234567") == ("+49 30 1234567", None)
    assert field_check("phone", "+43 1 5134567") == ("+43 1 5134567", None)
    assert field_check("phone", "030 1234567")[1] == "phone"  # no country known and no +
    assert field_check("phone", "+49 12", country="DE")[1] == "phone"


def test_country_is_an_iso_code_phonenumbers_knows() -> None:
    assert field_check("country", "at") == ("AT", None)
    assert field_check("country", "XX")[1] == "country"
    assert field_check("country", "Germany") == (None, "country")


@pytest.mark.parametrize(
    ("raw", "iso"), [("2026-11-25", "2026-11-25"), ("25.11.2026", "2026-11-25"), ("1.2.2026", "2026-02-01")]
)
def test_dates_are_stored_iso(raw: str, iso: str) -> None:
    assert field_check("date", raw) == (iso, None)


@pytest.mark.parametrize("raw", ["31.02.2026", "2026-13-01", "11/25/2026", "tomorrow"])
def test_bad_dates(raw: str) -> None:
    assert field_check("date", raw)[1] == "date"


def test_required_max_length_choice_terms() -> None:
    assert field_check("company", "  ")[1] == "required"
    assert field_check("postal_code", "12345678901")[1] == "max-length"
    assert field_check("program", "msdn") == ("MSDN", None)
    r = check_field(formkit.pkg().field("program"), "MSDNN")
    assert r.finding is not None and r.finding.code == "choice" and r.finding.suggestion == "MSDN"
    assert field_check("terms_accepted", False)[1] == "terms"
    assert field_check("terms_accepted", "yes") == (True, None)


def test_validate_values_reports_every_field_once() -> None:
    values = dict(formkit.GOOD, email="x", date="never", first_name="Дмитрий", terms_accepted=False)
    del values["city"]
    good, findings = validate_values(formkit.pkg(), values)
    assert sorted(f.field or "" for f in findings) == ["city", "date", "email", "first_name", "terms_accepted"]
    assert good["phone"] == "+49 30 1234567" and good["country"] == "DE"


def test_unknown_field_did_you_mean() -> None:
    [f] = unknown_fields(formkit.pkg(), {"lastname": "x", "city": "y"})
    assert f.code == "unknown-field" and 'did you mean "last_name"' in f.message
