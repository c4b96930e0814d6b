import pytest

from cvat_lite.backup.archive import MAX_JSON_DEPTH, load_json
from cvat_lite.errors import ArchiveError


def _refused(data: bytes) -> str:
    with pytest.raises(ArchiveError) as caught:
        load_json(data, what="task.json")
    assert caught.value.code == "invalid_backup"
    return caught.value.message


def test_valid_json():
    data = '\ufeff{"name": "猫", "points": [1, 2.5, -3e2], "ok": true, "none": null}'.encode()
    assert load_json(data, what="task.json") == {
        "name": "猫",
        "points": [1, 2.5, -300.0],
        "ok": True,
        "none": None,
    }


@pytest.mark.parametrize("data", [b"", b"{", b'{"a": 1,}', b"{'a': 1}", b'{"a": 1} 2', b"[1, 2"])
def test_malformed(data):
    assert _refused(data) == "task.json is not valid JSON."


@pytest.mark.parametrize("data", [b'{"a": "\xff"}', '{"a": "é"}'.encode("utf-16")])
def test_not_utf8(data):
    assert _refused(data) == "task.json is not valid UTF-8."


def test_nesting():
    ok = b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH
    assert load_json(ok, what="task.json") is not None
    message = "task.json is nested more than 64 levels deep."
    assert _refused(b"[" * 65 + b"]" * 65) == message
    assert _refused(b'{"a":' * 65 + b"1" + b"}" * 65) == message
    assert _refused(b"[" * 100_000 + b"]" * 100_000) == message  # past the recursion limit


@pytest.mark.parametrize(
    "number", [b"1" * 31, b"-" + b"9" * 31, b"0." + b"1" * 30, b"1" * 20 + b"." + b"1" * 11]
)
def test_numbers_with_too_many_digits(number):
    assert (
        _refused(b'{"n": ' + number + b"}")
        == "task.json contains a number with more than 30 digits."
    )


def test_numbers_up_to_the_limit():
    assert load_json(b"[" + b"9" * 30 + b", 0.30000000000000004]", what="x") == [
        int("9" * 30),
        0.30000000000000004,
    ]


@pytest.mark.parametrize("number", [b"NaN", b"Infinity", b"-Infinity", b"1e999", b"-1e400"])
def test_not_finite(number):
    assert _refused(b"[" + number + b"]") == "task.json contains NaN or an infinite number."


def test_duplicate_keys():
    assert _refused(b'{"a": {"b": 1, "b": 2}}') == "task.json has the key 'b' twice in one object."
    assert _refused(b'{"{x}": 1, "{x}": 2}') == "task.json has the key '{x}' twice in one object."
