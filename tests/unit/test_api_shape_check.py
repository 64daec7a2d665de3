"""The compiled shape check never calls valid what botocore's ParamValidator would refuse, and
calls the requests clients really send valid (so they skip the slow report)."""

from __future__ import annotations

from typing import Any

from botocore.model import ListShape, MapShape, Shape, StructureShape
from botocore.validate import ParamValidator
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from renraku.api.aws.pinpoint.model import pinpoint_model
from renraku.api.aws.pinpoint.shape_check import ShapeChecks

MODEL = pinpoint_model()
OPERATIONS = [
    "UpdateEndpoint",
    "UpdateEndpointsBatch",
    "PutEvents",
    "CreateSegment",
    "CreateJourney",
    "CreateApp",
    "GetUserEndpoints",
    "CreateImportJob",
]
ODD = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=3), st.just([])
)


def _value(data: st.DataObject, shape: Shape, depth: int) -> Any:
    """A value for ``shape``: mostly well-formed, sometimes wrong in one of the ways that count."""
    if data.draw(st.integers(0, 9)) == 0 or depth > 4:
        return data.draw(ODD)
    if isinstance(shape, StructureShape):
        out: dict[str, Any] = {}
        for name, member in shape.members.items():
            required = name in shape.metadata.get("required", ())
            wanted = required or data.draw(st.integers(0, 3)) == 0
            dropped = required and data.draw(st.integers(0, 19)) == 0  # a required one missing
            if wanted and not dropped:
                out[name] = _value(data, member, depth + 1)
        if data.draw(st.integers(0, 19)) == 0:
            out["NotAMember"] = 1
        return out
    if isinstance(shape, ListShape):
        return [_value(data, shape.member, depth + 1) for _ in range(data.draw(st.integers(0, 2)))]
    if isinstance(shape, MapShape):
        return {
            data.draw(st.text(max_size=4)): _value(data, shape.value, depth + 1)
            for _ in range(data.draw(st.integers(0, 2)))
        }
    kind = shape.type_name
    if kind == "string":
        return data.draw(st.text(max_size=5))
    if kind in ("integer", "long"):
        return data.draw(st.integers(-3, 3))
    if kind in ("double", "float"):
        return data.draw(st.one_of(st.floats(allow_nan=False), st.integers()))
    if kind == "boolean":
        return data.draw(st.booleans())
    if kind == "timestamp":
        return data.draw(st.sampled_from(["2026-11-26T00:00:00Z", "yesterday", 5]))
    return data.draw(ODD)


@settings(max_examples=600, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data(), name=st.sampled_from(OPERATIONS))
def test_the_quick_check_never_accepts_what_param_validator_refuses(
    data: st.DataObject, name: str
) -> None:
    shape = MODEL.operations[name].input_shape
    assert shape is not None
    params = _value(data, shape, 0)
    if ShapeChecks().check(shape)(params):
        assert not ParamValidator().validate(params, shape).has_errors()


def test_the_requests_clients_send_pass_the_quick_check() -> None:
    checks = ShapeChecks()
    update = {
        "ApplicationId": "app",
        "EndpointId": "e1",
        "EndpointRequest": {
            "ChannelType": "EMAIL",
            "Address": "a@example.com",
            "User": {"UserId": "u1", "UserAttributes": {"Plan": ["A"]}},
            "Attributes": {"CallStatus": ["Pending"]},
            "Metrics": {"score": 1.5},
            "RequestId": "r1",
        },
    }
    events = {
        "ApplicationId": "app",
        "EventsRequest": {
            "BatchItem": {
                "e1": {
                    "Endpoint": {"ChannelType": "EMAIL", "Address": "a@example.com"},
                    "Events": {"ev1": {"EventType": "x", "Timestamp": "2026-11-26T00:00:00Z"}},
                }
            }
        },
    }
    for name, params in (("UpdateEndpoint", update), ("PutEvents", events)):
        shape = MODEL.operations[name].input_shape
        assert shape is not None
        assert checks.check(shape)(params), name
        assert not ParamValidator().validate(params, shape).has_errors()
    broken = {**update, "EndpointRequest": {**update["EndpointRequest"], "OptOut": 5}}
    shape = MODEL.operations["UpdateEndpoint"].input_shape
    assert shape is not None
    assert not checks.check(shape)(broken)
