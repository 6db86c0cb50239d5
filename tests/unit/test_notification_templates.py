"""Templates: kept as files in Chinese and English, rendered strictly (a missing variable is an error)."""

from __future__ import annotations

import pytest

from services.notification.domain.templates import (
    LANGUAGES,
    MissingTemplateVariable,
    TemplateBook,
    UnknownTemplate,
)

BOOK = TemplateBook()


def test_every_template_exists_in_chinese_and_english_with_the_same_variables():
    names = BOOK.names("zh-CN")
    assert names and names == BOOK.names("en")
    for name in names:
        assert BOOK.variables(name, "zh-CN") == BOOK.variables(name, "en"), name


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_template_renders_a_subject_and_a_body_when_given_its_variables(language):
    for name in BOOK.names(language):
        variables = {v: f"<{v}>" for v in BOOK.variables(name, language)}
        rendered = BOOK.render(name, language, variables)
        assert rendered.subject and rendered.body, name
        assert all(f"<{v}>" in rendered.subject + rendered.body for v in variables), name


def test_a_missing_variable_is_an_error_never_an_empty_string():
    variables = {v: "x" for v in BOOK.variables("concierge_introduced", "zh-CN")} | {
        "concierge_contact": None
    }
    del variables["concierge_contact"]
    with pytest.raises(MissingTemplateVariable, match="concierge_contact"):
        BOOK.render("concierge_introduced", "zh-CN", variables)


def test_chinese_is_the_default_and_an_unknown_language_falls_back_to_it():
    variables = {v: "格力电器" for v in BOOK.variables("case_resolved", "zh-CN")}
    assert BOOK.render("case_resolved", "fr", variables).language == "zh-CN"
    assert "已办结" in BOOK.render("case_resolved", "zh-CN", variables).subject
    assert "resolved" in BOOK.render("case_resolved", "en", variables).subject


def test_an_unknown_template_says_so():
    with pytest.raises(UnknownTemplate):
        BOOK.render("no_such_template", "zh-CN", {})
