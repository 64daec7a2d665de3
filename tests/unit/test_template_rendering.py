"""Pinpoint-style templates: variables, defaults, create-time checks and the sandbox."""

from __future__ import annotations

import pytest

from renraku.domain.endpoints import Endpoint
from renraku.domain.templates import RenderError, check, parse_defaults, render

ENDPOINT = Endpoint(
    app_id="app1",
    id="ep-email",
    channel_type="EMAIL",
    address="taro@example.jp",
    user_id="User1",
    attributes={"CallStatus": ["Pending"], "Index": ["User1-EMAIL"]},
    user_attributes={"FirstName": ["太郎"]},
    demographic={"Timezone": "Asia/Tokyo"},
)


def test_pinpoint_variables_render_from_the_endpoint() -> None:
    parts = {
        "Subject": "{{User.UserAttributes.FirstName}}様へのお知らせ",
        "TextPart": "{{Address}} / {{Attributes.CallStatus}} / {{User.UserId}} / {{Demographic.Timezone}}",
    }
    out = render("EMAIL", parts, ENDPOINT)
    assert out.parts["Subject"] == "太郎様へのお知らせ"
    assert out.parts["TextPart"] == "taro@example.jp / Pending / User1 / Asia/Tokyo"
    assert out.missing == ()


def test_missing_variables_fall_back_to_default_substitutions_flat_or_nested() -> None:
    parts = {
        "Body": "Hi {{User.UserAttributes.LastName}}, {{Attributes.Plan}}",
        "DefaultSubstitutions": '{"User.UserAttributes.LastName": "customer", "Attributes": {"Plan": "basic"}}',
    }
    assert render("SMS", parts, ENDPOINT).parts["Body"] == "Hi customer, basic"


def test_a_variable_without_value_or_default_renders_empty_and_is_reported() -> None:
    out = render("SMS", {"Body": "Hi {{User.UserAttributes.LastName}}!"}, ENDPOINT)
    assert out.parts["Body"] == "Hi !"
    assert out.missing == ("User.UserAttributes.LastName",)


def test_endpoint_values_win_over_defaults() -> None:
    parts = {
        "Body": "{{Attributes.CallStatus}}",
        "DefaultSubstitutions": {"Attributes.CallStatus": "x"},
    }
    assert render("SMS", parts, ENDPOINT).parts["Body"] == "Pending"


def test_html_part_escapes_values_but_text_part_does_not() -> None:
    endpoint = Endpoint(
        app_id="a", id="e", channel_type="EMAIL", address="a@b.c", attributes={"Name": ["<b>&</b>"]}
    )
    parts = {
        "Subject": "s",
        "HtmlPart": "<p>{{Attributes.Name}}</p>",
        "TextPart": "{{Attributes.Name}}",
    }
    out = render("EMAIL", parts, endpoint)
    assert out.parts["HtmlPart"] == "<p>&lt;b&gt;&amp;&lt;/b&gt;</p>"
    assert out.parts["TextPart"] == "<b>&</b>"


def test_dict_methods_are_not_reachable_through_dotted_names() -> None:
    out = render("SMS", {"Body": "[{{Attributes.items}}]"}, ENDPOINT)
    assert out.parts["Body"] == "[]"


@pytest.mark.parametrize(
    "body",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ Address.__class__ }}x{{ ''.__class__ }}",
        "{{ (1).__class__.__subclasses__() }}",
        "{{ [].__class__.__base__ }}",
    ],
)
def test_the_sandbox_refuses_to_reach_python_internals(body: str) -> None:
    with pytest.raises(RenderError, match="refused by the template sandbox"):
        render("SMS", {"Body": body}, ENDPOINT)


def test_jinja_globals_are_shadowed_by_message_variables_and_render_empty() -> None:
    out = render("SMS", {"Body": "[{{ cycler.__init__.__globals__ }}]"}, ENDPOINT)
    assert out.parts["Body"] == "[]"


def test_check_flags_unknown_fields_with_where_and_why() -> None:
    problems = check(
        "EMAIL", {"Subject": "Hi {{FirstName}}", "TextPart": "{{User.Name}} {{Location.Planet}}"}
    )
    messages = [f"{p.path}: {p.message}" for p in problems]
    assert any(m.startswith("Subject: {{FirstName}}: unknown field 'FirstName'") for m in messages)
    assert any("{{User.Name}}" in m and "User.UserAttributes.NAME" in m for m in messages)
    assert any("Location has no field 'Planet'" in m for m in messages)


def test_check_flags_syntax_errors_with_the_line() -> None:
    problems = check("SMS", {"Body": "ok\n{% if %}"})
    assert [p.path for p in problems] == ["Body:2"]
    assert "template syntax" in problems[0].message


def test_check_flags_private_attribute_access_and_missing_parts() -> None:
    problems = check("EMAIL", {"TextPart": "{{ ''.__class__ }}"})
    paths = {p.path for p in problems}
    assert "Subject" in paths
    assert any("'__class__' is not allowed" in p.message for p in problems)


def test_check_accepts_a_valid_email_template_with_headers() -> None:
    parts = {
        "Subject": "{{Attributes.CallStatus}}",
        "HtmlPart": "<a href='{{UnsubscribeUrl}}'>stop</a>",
        "Headers": [{"Name": "X-Campaign", "Value": "{{Attributes.Index}}"}],
        "DefaultSubstitutions": '{"Attributes.CallStatus": "Pending"}',
    }
    assert check("EMAIL", parts) == []


def test_check_rejects_malformed_default_substitutions() -> None:
    problems = check("SMS", {"Body": "x", "DefaultSubstitutions": "{not json"})
    assert problems[0].path == "DefaultSubstitutions"


def test_default_substitutions_join_list_values() -> None:
    assert parse_defaults({"Attributes": {"Tags": ["a", "b"]}}) == {"Attributes.Tags": "a, b"}


def test_rendered_headers_may_not_contain_line_breaks() -> None:
    endpoint = Endpoint(
        app_id="a",
        id="e",
        channel_type="EMAIL",
        address="a@b.c",
        attributes={"Evil": ["x\r\nBcc: victim@example.com"]},
    )
    parts = {
        "Subject": "s",
        "TextPart": "t",
        "Headers": [{"Name": "X-A", "Value": "{{Attributes.Evil}}"}],
    }
    with pytest.raises(RenderError, match="line break"):
        render("EMAIL", parts, endpoint)


def test_a_subject_with_line_breaks_is_folded_to_one_line() -> None:
    endpoint = Endpoint(
        app_id="a",
        id="e",
        channel_type="EMAIL",
        address="a@b.c",
        attributes={"Evil": ["x\r\nBcc: victim@example.com"]},
    )
    out = render("EMAIL", {"Subject": "{{Attributes.Evil}}", "TextPart": "t"}, endpoint)
    assert out.parts["Subject"] == "x Bcc: victim@example.com"


def test_attribute_names_with_hyphens_are_one_variable_as_in_pinpoint() -> None:
    endpoint = Endpoint(
        app_id="a",
        id="e",
        channel_type="SMS",
        address="+819011111111",
        attributes={"Call-Status": ["Pending"]},
        user_attributes={"first-name": ["太郎"]},
    )
    parts = {"Body": "{{User.UserAttributes.first-name}}: {{ Attributes.Call-Status }}"}
    assert check("SMS", parts) == []
    assert render("SMS", parts, endpoint).parts["Body"] == "太郎: Pending"
