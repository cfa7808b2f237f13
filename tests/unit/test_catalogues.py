"""Every catalogue under consentlib/locale: complete, faithful to the template's placeholders,
and compiled (the JSON the server and the banner load is the .po's)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from consentlib.errors import ConfigurationError
from consentlib.locale import check, compile as locale, po

LOCALE = Path(locale.__file__).parent
LANGUAGES = sorted(po.sources(LOCALE))
ENGLISH = locale.shipped_english()


def test_the_shipped_languages():
    # The brief's three translations beside English and Simplified Chinese; the
    # translators' languages join this list by adding their .po files.
    assert {"en", "zh-Hans", "de", "fr", "ar"} <= set(LANGUAGES)
    assert len(ENGLISH) >= 130


@pytest.mark.parametrize("tag", LANGUAGES)
def test_catalogue_is_complete(tag):
    catalogue = po.read(po.sources(LOCALE)[tag])
    assert catalogue.language == tag, f"{tag}: the header says Language: {catalogue.language}"
    assert catalogue.english == ENGLISH, f"{tag}: the msgids differ from consentlib.pot; merge the template in"
    assert check.problems(catalogue.texts, ENGLISH) == []


@pytest.mark.parametrize("tag", LANGUAGES)
def test_compiled_catalogue_is_up_to_date(tag):
    compiled = locale.compiled(po.read(po.sources(LOCALE)[tag]), tag, ENGLISH)
    path = locale.COMPILED / f"{tag}.json"
    assert path.is_file() and path.read_text("utf-8") == locale.render(compiled), (
        f"{path.name} is not the compiled {tag}.po: run `python -m consentlib.locale` (or `npm run build` in js/)")


def test_no_compiled_catalogue_without_its_source():
    assert sorted(p.stem for p in locale.COMPILED.glob("*.json")) == LANGUAGES


def test_english_is_the_template():
    assert po.read(po.sources(LOCALE)["en"]).texts == ENGLISH


@pytest.mark.parametrize("tag, direction", [
    pytest.param("ar", "rtl", id="ar"), pytest.param("he", "rtl", id="he"), pytest.param("fa-IR", "rtl", id="fa-IR"),
    pytest.param("de", "ltr", id="de"), pytest.param("az-Arab", "rtl", id="arabic-script"),
    pytest.param("zh-Hans", "ltr", id="zh-Hans"), pytest.param("arn", "ltr", id="not-ar-prefix"),
])
def test_direction(tag, direction):
    assert locale.direction(tag) == direction


def _doctored(text: str, key: str, new: str) -> str:
    """``text`` (a .po) with the msgstr of ``key`` replaced by ``new`` (None: entry removed)."""
    blocks = text.split("\n\n")
    for i, block in enumerate(blocks):
        if f'msgctxt "{key}"\n' in block:
            lines = block.splitlines()
            blocks[i] = "" if new is None else "\n".join(
                [*(line for line in lines if not line.startswith("msgstr")), f'msgstr "{new}"'])
    return "\n\n".join(blocks)


@pytest.mark.parametrize("key, new, expected", [
    pytest.param("unsubscribe_question", "Möchten Sie abbestellen?", "unsubscribe_question: the placeholders",
                 id="placeholder-dropped"),
    pytest.param("unsubscribe_question", "{list} {liste}?", "unsubscribe_question: the placeholders",
                 id="placeholder-misspelt"),
    pytest.param("accept_all", "", "accept_all: empty", id="empty"),
    pytest.param("reject_all", None, "reject_all: missing", id="missing"),
])
def test_a_doctored_catalogue_fails(key, new, expected):
    text = _doctored(po.sources(LOCALE)["de"].read_text("utf-8"), key, new)
    found = check.problems(po.parse(text, "de.po").texts, ENGLISH)
    assert any(p.startswith(expected) for p in found), found


def test_an_extra_entry_fails():
    text = po.sources(LOCALE)["fr"].read_text("utf-8") + '\nmsgctxt "made_up"\nmsgid "x"\nmsgstr "y"\n'
    assert "made_up: not in the template; remove it" in check.problems(po.parse(text, "fr.po").texts, ENGLISH)


@pytest.mark.parametrize("text, message", [
    pytest.param('msgctxt "a"\nmsgid "b"\nmsgstr "c\\q"\n', "unknown escape", id="bad-escape"),
    pytest.param('msgid "b"\nmsgstr "c"\n', "has no msgctxt", id="no-key"),
    pytest.param('msgctxt "a"\nmsgid "b"\nmsgstr[0] "c"\n', "line 3", id="plural"),
    pytest.param('msgctxt "a"\nmsgid "b"\n', "needs a msgid and a msgstr", id="no-msgstr"),
])
def test_po_reader_refuses_what_it_cannot_read(text, message):
    with pytest.raises(ConfigurationError, match=message):
        po.parse(text, "x.po")


def test_po_reader_joins_continued_lines_and_unescapes():
    catalogue = po.parse('msgid ""\nmsgstr ""\n"Language: pt_BR\\n"\n\nmsgctxt "k"\nmsgid "a"\n"b"\n'
                         'msgstr "say \\"hi\\"\\n"\n"again"\n', "x.po")
    assert catalogue.language == "pt-BR" and catalogue.english == {"k": "ab"}
    assert catalogue.texts == {"k": 'say "hi"\nagain'}


def test_site_locale_dir_with_wrong_placeholders_is_refused(tmp_path):
    target = tmp_path / "de" / "LC_MESSAGES"
    target.mkdir(parents=True)
    text = _doctored(po.sources(LOCALE)["de"].read_text("utf-8"), "use_methods", "Verwenden Sie {methods}.")
    (target / "consentlib.po").write_text(text, "utf-8")
    with pytest.raises(ConfigurationError, match=r"use_methods: the placeholders must be \['allow'\]"):
        locale.compile_directory(tmp_path, ENGLISH)


def test_compiled_json_shape():
    arabic = json.loads((locale.COMPILED / "ar.json").read_text("utf-8"))
    assert arabic["language"] == "ar" and arabic["dir"] == "rtl" and set(arabic["texts"]) == set(ENGLISH)
