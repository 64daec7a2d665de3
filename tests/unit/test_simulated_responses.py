"""The response model of simulated people: seeded, at the configured rates, within the delays."""

from __future__ import annotations

from renraku.domain.timefmt import parse_iso
from renraku.simulation.config import ResponseModel
from renraku.simulation.forecast import stat
from renraku.simulation.responses import draw
from renraku.store.reach import SentMessage

SENT_AT = "2026-12-01T01:00:00.000Z"


def message(i: int, channel: str = "SMS") -> SentMessage:
    return SentMessage(f"key-{i}", "app", f"User{i}", f"User{i}-{channel}", channel, SENT_AT)


def test_the_same_seed_and_message_always_give_the_same_response_and_another_seed_may_not() -> None:
    model = ResponseModel()
    first = [draw(model, 1, message(i)) for i in range(200)]
    assert first == [draw(model, 1, message(i)) for i in range(200)]
    assert first != [draw(model, 2, message(i)) for i in range(200)]


def test_sms_replies_and_stops_come_at_about_their_rates_and_within_the_delay_window() -> None:
    model = ResponseModel(sms_reply_rate=0.3, sms_stop_rate=0.1, delay_minutes_min=2,
                          delay_minutes_max=45)  # fmt: skip
    drawn = [draw(model, 5, message(i)) for i in range(4000)]
    kinds = [d.kind for d in drawn if d is not None]
    assert 0.27 < kinds.count("sms-reply") / 4000 < 0.33
    assert 0.08 < kinds.count("sms-stop") / 4000 < 0.12
    for d in drawn:
        if d is not None:
            minutes = (parse_iso(d.at) - parse_iso(SENT_AT)).total_seconds() / 60
            assert 2 <= minutes <= 45


def test_emails_get_clicks_and_unsubscribes_and_calls_get_no_drawn_response() -> None:
    model = ResponseModel(email_click_rate=1.0, email_unsubscribe_rate=0.0)
    assert {draw(model, 1, message(i, "EMAIL")).kind for i in range(50)} == {"email-click"}  # type: ignore[union-attr]
    assert draw(model, 1, message(1, "VOICE")) is None
    nobody = ResponseModel(sms_reply_rate=0.0, sms_stop_rate=0.0)
    assert all(draw(nobody, 3, message(i)) is None for i in range(100))


def test_a_figure_over_seeds_is_summarised_as_mean_min_max_and_spread() -> None:
    s = stat([2, 4, 6])
    assert (s.mean, s.low, s.high) == (4, 2, 6)
    assert round(s.stdev, 3) == 1.633
    assert stat([5]).stdev == 0.0


def test_a_forecast_warns_when_its_peaks_exceed_the_configured_capacity() -> None:
    from renraku.settings import Settings
    from renraku.simulation.forecast import capacity_warnings

    settings = Settings(
        voice={"capacity": {"max_concurrent_calls": 10}}, journeys={"channel_rates": {"SMS": 0.01}}
    )
    stats = {"PeakConcurrentCalls": stat([8, 12]), "PeakSendsPerHour/SMS": stat([30, 40])}
    warnings = capacity_warnings(stats, settings)
    assert any("12 calls at once" in w and "max_concurrent_calls = 10" in w for w in warnings)
    assert any("40 SMS sends in an hour" in w for w in warnings)
    assert capacity_warnings({"PeakConcurrentCalls": stat([3])}, settings) == []
