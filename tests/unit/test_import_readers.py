"""CSV and NDJSON readers over in-memory bytes: headers, encodings, and every malformed input."""

from __future__ import annotations

import codecs
import io
from typing import Any

import pytest

from renraku.errors import ImportRejected
from renraku.importing.readers import Reader, SourceRecord, open_reader
from renraku.importing.sources import CountingReader, Piece
from renraku.importing.text import detect_encoding

SEED = (
    "Channel,Address,User.UserID,Attributes.CallStatus,Attributes.Index\n"
    "CUSTOM,+819011111111,User1,Pending,User1-Custom\n"
    "SMS,+819011111111,User1,Pending,User1-SMS\n"
    "EMAIL,test@example.com,User1,Pending,User1-EMAIL\n"
)


def _piece(data: bytes, name: str = "list.csv") -> Piece:
    return Piece(name, len(data), "v1", lambda: CountingReader(io.BytesIO(data)))


def _reader(data: bytes | str, fmt: str = "CSV", encoding: str | None = None) -> Reader:
    raw = data.encode("utf-8") if isinstance(data, str) else data
    return open_reader(_piece(raw, "list.csv" if fmt == "CSV" else "list.ndjson"), fmt, encoding)


def _records(
    data: bytes | str, fmt: str = "CSV", encoding: str | None = None
) -> list[SourceRecord]:
    reader = _reader(data, fmt, encoding)
    try:
        return list(reader.records())
    finally:
        reader.close()


def _requests(data: bytes | str, **kwargs: Any) -> list[dict[str, Any]]:
    return [r.request for r in _records(data, **kwargs)]


def test_the_seed_csv_reads_with_its_channel_and_user_userid_spellings() -> None:
    records = _records(SEED)
    assert [r.line for r in records] == [2, 3, 4]
    assert records[0].request == {
        "ChannelType": "CUSTOM",
        "Address": "+819011111111",
        "User": {"UserId": "User1"},
        "Attributes": {"CallStatus": ["Pending"], "Index": ["User1-Custom"]},
    }
    assert all(r.issues == [] for r in records)


def test_header_matching_ignores_case_and_surrounding_spaces() -> None:
    data = " channeltype , ADDRESS ,user.userid, attributes.Plan \nEMAIL,a@example.com,u1,gold\n"
    assert _requests(data) == [
        {
            "ChannelType": "EMAIL",
            "Address": "a@example.com",
            "User": {"UserId": "u1"},
            "Attributes": {"Plan": ["gold"]},
        }
    ]


def test_repeated_attribute_headers_give_several_values_and_empty_cells_none() -> None:
    data = "ChannelType,Address,Attributes.Tag,Attributes.Tag,Attributes.Tag\nEMAIL,a@x.jp,a,,b\n"
    assert _requests(data)[0]["Attributes"] == {"Tag": ["a", "b"]}


def test_all_pinpoint_column_families_are_read() -> None:
    data = (
        "ChannelType,Address,Id,User.UserId,User.UserAttributes.Plan,Metrics.score,"
        "Demographic.timezone,Location.City,OptOut,EffectiveDate,EndpointStatus\n"
        "SMS,+819011111111,ep-1,u1,gold,2.5,Asia/Tokyo,東京,ALL,2026-01-01,INACTIVE\n"
    )
    record = _records(data)[0]
    assert record.endpoint_id == "ep-1"
    assert record.request == {
        "ChannelType": "SMS",
        "Address": "+819011111111",
        "User": {"UserId": "u1", "UserAttributes": {"Plan": ["gold"]}},
        "Metrics": {"score": "2.5"},
        "Demographic": {"Timezone": "Asia/Tokyo"},
        "Location": {"City": "東京"},
        "OptOut": "ALL",
        "EffectiveDate": "2026-01-01",
        "EndpointStatus": "INACTIVE",
    }


def test_unknown_and_output_only_columns_are_noted_on_the_header_line_not_imported() -> None:
    reader = _reader("ChannelType,Address,Nickname,CreationDate\nEMAIL,a@x.jp,Taro,2020-01-01\n")
    records = list(reader.records())
    reader.close()
    assert records[0].request == {"ChannelType": "EMAIL", "Address": "a@x.jp"}
    assert [(n.line, n.column) for n in reader.notes] == [(1, "Nickname"), (1, "CreationDate")]
    assert "unknown column" in reader.notes[0].reason


def test_semicolon_and_tab_delimited_files_are_read() -> None:
    assert _requests("ChannelType;Address\nEMAIL;a@x.jp\n")[0]["Address"] == "a@x.jp"
    assert _requests("ChannelType\tAddress\nEMAIL\ta@x.jp\n")[0]["Address"] == "a@x.jp"


def test_malformed_quoting_rejects_that_row_with_its_line_and_reading_goes_on() -> None:
    data = 'ChannelType,Address\nEMAIL,"a@x.jp"z\nEMAIL,b@x.jp\n'
    records = _records(data)
    assert records[0].line == 2
    assert "malformed CSV" in records[0].issues[0].reason
    assert records[1].request["Address"] == "b@x.jp"
    assert records[1].line == 3


def test_an_unterminated_quote_reports_the_lines_it_swallowed() -> None:
    data = 'ChannelType,Address\nEMAIL,a@x.jp\nEMAIL,"b@x.jp\nEMAIL,c@x.jp\n'
    records = _records(data)
    assert records[0].request["Address"] == "a@x.jp"
    assert "lines 3-4" in records[1].issues[0].reason


def test_multiline_quoted_cells_keep_the_line_the_record_starts_on() -> None:
    data = 'ChannelType,Address,Attributes.Note\nEMAIL,a@x.jp,"two\nlines"\nEMAIL,b@x.jp,x\n'
    records = _records(data)
    assert [r.line for r in records] == [2, 4]
    assert records[0].request["Attributes"] == {"Note": ["two\nlines"]}


def test_rows_with_the_wrong_number_of_cells_are_rejected_but_trailing_empties_allowed() -> None:
    data = "ChannelType,Address\nEMAIL,a@x.jp,extra\nEMAIL,b@x.jp,,\nEMAIL\n"
    records = _records(data)
    assert "3 cells" in records[0].issues[0].reason
    assert records[1].request["Address"] == "b@x.jp"
    assert "1 cells" in records[2].issues[0].reason


def test_blank_lines_and_all_empty_rows_are_skipped() -> None:
    data = "ChannelType,Address\n\nEMAIL,a@x.jp\n,\n,,\n"
    assert [r.line for r in _records(data)] == [3]


def test_formula_looking_values_are_kept_as_data() -> None:
    data = "ChannelType,Address,Attributes.Name\nEMAIL,a@x.jp,\"=cmd|' /C calc'!A0\"\n"
    assert _requests(data)[0]["Attributes"] == {"Name": ["=cmd|' /C calc'!A0"]}


def test_utf8_with_bom_reads_the_first_header() -> None:
    data = codecs.BOM_UTF8 + SEED.encode("utf-8")
    assert _requests(data)[0]["ChannelType"] == "CUSTOM"


def test_cp932_is_detected_and_reads_like_utf8() -> None:
    text = "ChannelType,Address,Attributes.Name\nEMAIL,a@x.jp,山田 太郎\n"
    reader = _reader(text.encode("cp932"))
    records = list(reader.records())
    reader.close()
    assert reader.encoding == "cp932"
    assert records[0].request == _requests(text)[0]


def test_encoding_can_be_forced_and_shift_jis_means_cp932() -> None:
    text = "ChannelType,Address,Attributes.Name\nEMAIL,a@x.jp,髙橋 ①\n"
    assert _requests(text.encode("cp932"), encoding="Shift_JIS")[0]["Attributes"] == {
        "Name": ["髙橋 ①"]
    }


def test_a_wrong_encoding_rejects_only_the_rows_it_garbles_with_a_hint() -> None:
    # UTF-8 throughout the detection sample, then one row saved in CP932.
    good = "".join(f"EMAIL,u{i}@x.jp,山田 太郎\n" for i in range(3000))
    data = ("ChannelType,Address,Attributes.Name\n" + good).encode()
    data += "EMAIL,b@x.jp,山田\n".encode("cp932")
    records = _records(data)
    assert len(records) == 3001
    assert all(r.issues == [] for r in records[:3000])
    assert records[3000].line == 3002
    issue = records[3000].issues[0]
    assert issue.field == "Attributes.Name"
    assert "not valid utf-8" in issue.reason
    assert "--encoding" in issue.reason
    assert "\\x" in (issue.value or "")


def test_detect_encoding_tells_utf8_bom_and_cp932_apart() -> None:
    assert detect_encoding("名前".encode()) == "utf-8"
    assert detect_encoding(codecs.BOM_UTF8 + b"a") == "utf-8-sig"
    assert detect_encoding("名前".encode("cp932")) == "cp932"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "the file is empty"),
        (b"\n\n", "the file is empty"),
        (b"CUSTOM,+819011111111,User1,Pending\n", "no header row"),
        (b"Name,Phone,Mail\nTaro,090,t@x.jp\n", "no column renraku can use"),
        (b"ChannelType,User.UserId\nEMAIL,u1\n", "no Address column"),
        (b"Address,User.UserId\na@x.jp,u1\n", r"no ChannelType \(or Channel\) column"),
        (b"Channel,ChannelType,Address\nEMAIL,EMAIL,a@x.jp\n", "both give ChannelType"),
        (b"PK\x03\x04\x14\x00\x00\x00", "Excel workbook"),
        (b"\x00\x01\x02binary", "binary"),
    ],
)
def test_unreadable_files_are_rejected_whole_with_a_clear_message(
    data: bytes, message: str
) -> None:
    with pytest.raises(ImportRejected, match=message):
        _reader(data)


def test_ndjson_reads_pinpoint_objects_with_line_numbers() -> None:
    data = (
        '{"ChannelType":"EMAIL","Address":"a@x.jp","Id":"e1","User":{"UserId":"u1"},'
        '"Attributes":{"CallStatus":["PENDING"]},"ApplicationId":"ignored","CohortId":"3"}\n'
        "\n"
        "not json\n"
        "[1,2]\n"
        '{"ChannelType":"SMS","Address":"+819011111111","Id":5}\n'
    )
    records = _records(data, fmt="JSON")
    assert [r.line for r in records] == [1, 3, 4, 5]
    assert records[0].endpoint_id == "e1"
    assert records[0].request == {
        "ChannelType": "EMAIL",
        "Address": "a@x.jp",
        "User": {"UserId": "u1"},
        "Attributes": {"CallStatus": ["PENDING"]},
    }
    assert "not valid JSON" in records[1].issues[0].reason
    assert "JSON object" in records[2].issues[0].reason
    assert records[3].issues[0].field == "Id"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"  \n", "empty"),
        (b'[{"ChannelType":"EMAIL"}]', "JSON array"),
        (b"ChannelType,Address\n", "not newline-delimited JSON"),
    ],
)
def test_unreadable_ndjson_is_rejected_whole(data: bytes, message: str) -> None:
    with pytest.raises(ImportRejected, match=message):
        _reader(data, fmt="JSON")
