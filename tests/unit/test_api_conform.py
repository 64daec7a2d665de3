"""Pinpoint answers cut to the model's shapes: unknown members and None values dropped, at every
depth (structures, lists, maps), anything that is not the shape's kind passed through."""

from __future__ import annotations

from renraku.api.aws.pinpoint.model import conform, pinpoint_model


def test_answers_keep_only_the_models_members_at_every_depth() -> None:
    shape = pinpoint_model().operations["GetUserEndpoints"].output_payload_shape()
    assert shape is not None
    endpoint = {
        "Id": "e1",
        "ApplicationId": "app",
        "Address": None,  # None: dropped
        "CreationDate": "2026-01-01T00:00:00Z",
        "Attributes": {"CallStatus": ["Pending", None], "Empty": None},
        "User": {"UserId": "u1", "Internal": "x"},
        "Location": {"City": "Kyoto", "Latitude": 35.0, "Geohash": "xn0m"},
        "ShardKey": 7,  # renraku's own field: not in Pinpoint's EndpointResponse
    }
    answer = conform({"Item": [endpoint, None], "NextPage": "p"}, shape)
    assert answer == {
        "Item": [
            {
                "Id": "e1",
                "ApplicationId": "app",
                "CreationDate": "2026-01-01T00:00:00Z",
                "Attributes": {"CallStatus": ["Pending"]},
                "User": {"UserId": "u1"},
                "Location": {"City": "Kyoto", "Latitude": 35.0},
            }
        ]
    }
    # Not the shape's kind: passed through unchanged (the caller's own answer, not a crash).
    assert conform("text", shape) == "text"
    assert conform({"Item": "not a list"}, shape) == {"Item": "not a list"}
    # A second call uses the compiled walk and answers the same.
    assert conform({"Item": [endpoint, None], "NextPage": "p"}, shape) == answer
