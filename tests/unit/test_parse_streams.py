"""Stream readers: CSV, JSON and JSONL text becomes records with their start line, or BadRecords."""

from __future__ import annotations

import io
import json

import pytest

from notifier.sources.export.csv_records import iter_csv_records
from notifier.sources.export.json_records import iter_json_records, iter_jsonl_records
from notifier.sources.export.streams import BadRecord, CsvHeader, Record, Unfinished


def csv_items(text: str, delimiter: str = ",") -> list[object]:
    return list(iter_csv_records(io.BytesIO(text.encode()), delimiter))


def json_items(text: str, chunk_size: int = 64 * 1024) -> list[object]:
    return list(iter_json_records(io.BytesIO(text.encode()), chunk_size=chunk_size))


def test_csv_quoted_fields_with_commas_crlf_and_newlines_keep_start_lines() -> None:
    """A quoted multi-line field counts its lines, so the next row's line number stays right."""
    text = 'id,note\r\n1,"a, b\r\nsecond line"\r\n\r\n2,plain\r\n'
    items = csv_items(text)
    assert items[0] == CsvHeader(("id", "note"))
    assert items[1] == Record(2, {"id": "1", "note": "a, b\r\nsecond line"})
    assert items[2] == Record(5, {"id": "2", "note": "plain"})


def test_csv_wrong_field_count_is_a_bad_record_and_reading_goes_on() -> None:
    """A row with too few or too many fields is reported at its line; later rows still come."""
    items = csv_items("a,b\n1,2\n3\n4,5,6\n7,8\n")
    assert items[2] == BadRecord(3, "expected 2 fields as in the header, found 1")
    assert items[3] == BadRecord(4, "expected 2 fields as in the header, found 3")
    assert items[4] == Record(5, {"a": "7", "b": "8"})


def test_csv_repeated_columns_are_joined() -> None:
    """Jira writes one 'Labels' column per label; all values are kept, joined by newlines."""
    items = csv_items("Key,Labels,Labels\nX-1,vpn,urgent\nX-2,,solo\n")
    assert items[1] == Record(2, {"Key": "X-1", "Labels": "vpn\nurgent"})
    assert items[2] == Record(3, {"Key": "X-2", "Labels": "solo"})


def test_csv_semicolon_delimiter() -> None:
    """GLPI writes ';'-separated files; the delimiter comes from the mapping."""
    items = csv_items('ID;Titre\n12;"Imprimante; bac 2"\n', ";")
    assert items[1] == Record(2, {"ID": "12", "Titre": "Imprimante; bac 2"})


def test_csv_unterminated_quote_at_end_is_unfinished_not_a_half_row() -> None:
    """A file cut inside a quoted field ends with one Unfinished item at the row's start,
    never a crash or a shortened row."""
    items = csv_items('id,note\n1,ok\n2,"cut off\n')
    assert items[1] == Record(2, {"id": "1", "note": "ok"})
    assert isinstance(items[2], Unfinished)
    assert (items[2].line, items[2].start.offset) == (3, len("id,note\n1,ok\n"))
    assert len(items) == 3


def test_jsonl_bad_line_is_reported_and_the_rest_go_on() -> None:
    """A malformed JSONL line or a non-object line is a BadRecord at that line only."""
    text = '{"id": 1}\n{"id": 2,\n\n[1, 2]\n{"id": 3}\n'
    items = list(iter_jsonl_records(io.BytesIO(text.encode())))
    assert items[0] == Record(1, {"id": 1})
    assert isinstance(items[1], BadRecord)
    assert items[1].line == 2
    assert items[1].reason.startswith("bad JSON line:")
    assert items[2] == BadRecord(4, "JSON line is an array, not an object")
    assert items[3] == Record(5, {"id": 3})


PRETTY = json.dumps([{"id": i, "note": "x" * 50} for i in range(1, 6)], indent=2)


@pytest.mark.parametrize("chunk_size", [1, 7, 64, 65536])
def test_json_array_records_and_start_lines_do_not_depend_on_chunk_size(chunk_size: int) -> None:
    """The incremental reader gives the same records and lines however the text is chunked."""
    items = json_items(PRETTY, chunk_size)
    assert [item.data["id"] for item in items if isinstance(item, Record)] == [1, 2, 3, 4, 5]
    assert [item.line for item in items if isinstance(item, Record)] == [2, 6, 10, 14, 18]


@pytest.mark.parametrize("chunk_size", [3, 65536])
def test_json_numbers_and_literals_split_across_chunks(chunk_size: int) -> None:
    """A number or literal cut by a chunk boundary is read whole, not truncated."""
    items = json_items('[{"n": 1234567890123, "b": false, "z": null}]', chunk_size)
    assert items == [Record(1, {"n": 1234567890123, "b": False, "z": None})]


@pytest.mark.parametrize("key", ["result", "records", "tickets"])
def test_json_object_holding_the_array(key: str) -> None:
    """ServiceNow {"result": [...]}, list export {"records": [...]}, Zendesk {"tickets": [...]}."""
    text = json.dumps({"count": 2, key: [{"id": 1}, {"id": 2}], "next_page": None}, indent=1)
    items = json_items(text, 5)
    assert [item.data for item in items if isinstance(item, Record)] == [{"id": 1}, {"id": 2}]
    assert not [item for item in items if isinstance(item, BadRecord)]


def test_json_single_object_and_concatenated_objects_are_records() -> None:
    """A lone ticket object, or objects one per line (Zendesk full export), are records too."""
    assert json_items('{"id": 1}') == [Record(1, {"id": 1})]
    assert json_items('{"id": 1}\n{"id": 2}\n') == [Record(1, {"id": 1}), Record(2, {"id": 2})]


@pytest.mark.parametrize(
    "text",
    [
        '[\n{"id": 1},\n{"id": 2},\n{"id": 3, "note": "cut',
        '[\n{"id": 1},\n{"id": 2},\n{"id": 3}',
        '[\n{"id": 1},\n{"id": 2},\n{"id": 3},',
        '{"result": [\n{"id": 1},\n{"id": 2},\n{"id": 3}',
    ],
)
def test_truncated_json_array_keeps_complete_records_and_ends_unfinished(text: str) -> None:
    """A file cut mid-array yields the complete records (closing brace read), then one
    Unfinished item starting just after the last of them."""
    items = json_items(text, 4)
    records = [item for item in items if isinstance(item, Record)]
    assert [r.data["id"] for r in records][:2] == [1, 2]
    assert not [item for item in items if isinstance(item, BadRecord)]
    tail = items[-1]
    assert isinstance(tail, Unfinished)
    assert tail.reason.startswith("truncated JSON")
    assert tail.line == 4
    assert tail.start == records[-1].end


def test_malformed_json_record_reports_its_line() -> None:
    """A syntax error inside the array is reported at the record it is in."""
    items = json_items('[\n{"id": 1},\n{"id": tru},\n{"id": 3}\n]')
    assert items[0] == Record(2, {"id": 1})
    assert isinstance(items[1], BadRecord)
    assert items[1].line == 3
    assert "malformed JSON" in items[1].reason


def test_json_array_item_that_is_not_an_object() -> None:
    """A scalar inside the record array is rejected alone; the next record still comes."""
    items = json_items('[{"id": 1}, 42, {"id": 2}]')
    assert items == [
        Record(1, {"id": 1}),
        BadRecord(1, "array item is a number, not an object"),
        Record(1, {"id": 2}),
    ]


def test_json_garbage_start_is_reported() -> None:
    """A file that is not JSON at all gives one problem at line 1."""
    items = json_items("id,name\n1,x\n")
    assert len(items) == 1
    assert isinstance(items[0], BadRecord)
    assert items[0].line == 1


def test_empty_json_file_gives_nothing() -> None:
    """An empty export (or only whitespace) has no records and no problem."""
    assert json_items("  \n") == []
