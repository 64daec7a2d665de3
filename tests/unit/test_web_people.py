"""How the people pages read endpoints and events (pure helpers)."""

from __future__ import annotations

from typing import Any

from renraku.domain.endpoints import Endpoint
from renraku.web.pages_people import delivery_states, describe_event, group_people, profile


def _ep(eid: str, user: str | None, **attrs: list[str]) -> Endpoint:
    return Endpoint(
        app_id="a",
        id=eid,
        channel_type="SMS",
        address="+819012345678",
        user_id=user,
        user_attributes=attrs,
    )


def test_found_endpoints_are_grouped_by_user_and_lone_endpoints_stand_alone() -> None:
    people = group_people([_ep("e1", "u1"), _ep("e2", None), _ep("e3", "u1"), _ep("e4", None)])
    assert [(p["UserId"], [e.id for e in p["Endpoints"]]) for p in people] == [
        ("u1", ["e1", "e3"]),
        (None, ["e2"]),
        (None, ["e4"]),
    ]


def test_an_event_reads_as_its_outcome_digits_and_reason() -> None:
    event: dict[str, Any] = {
        "Kind": "call.completed",
        "Data": {"Outcome": "ANSWERED", "Digits": "1", "Reason": None, "CallId": "c"},
    }
    assert describe_event(event) == "Outcome ANSWERED · Digits 1"
    assert describe_event({"Kind": "journey.entered", "Data": {}}) == ""


def test_each_send_shows_the_latest_provider_report_about_it() -> None:
    events = [
        {"Kind": "send.sent", "SendKey": "k1"},
        {"Kind": "sms.sent", "SendKey": "k1"},
        {"Kind": "sms.delivered", "SendKey": "k1"},
        {"Kind": "send.sent", "SendKey": "k2"},
        {"Kind": "email.bounced", "SendKey": "k2"},
        {"Kind": "endpoint.opted_out", "SendKey": None},
    ]
    assert delivery_states(events) == {"k1": "delivered", "k2": "bounced"}


def test_the_profile_comes_from_the_first_endpoint_with_user_attributes() -> None:
    eps = [_ep("e1", "u1"), _ep("e2", "u1", Name=["山田 太郎"], Plan=["A", "B"])]
    assert profile(eps) == {"Name": "山田 太郎", "Plan": "A, B"}
    assert profile([_ep("e1", "u1")]) == {}
