"""The annotation document validator: pure, no database."""

from __future__ import annotations

import pytest

from cvat_lite import errors
from cvat_lite.engine.services.annotations import schema

FULL_SHAPE = {
    "id": 7,
    "type": "rectangle",
    "frame": 1,
    "label_id": 3,
    "group": 0,
    "source": "manual",
    "occluded": False,
    "outside": False,
    "z_order": 2,
    "rotation": 45.0,
    "points": [1.0, 2.0, 3.5, 4.0],
    "attributes": [{"spec_id": 4, "value": "red"}],
    "elements": [],
}


def test_full_objects_are_kept_as_they_are():
    document = schema.parse_document({"shapes": [FULL_SHAPE]})
    assert document == {"tags": [], "shapes": [FULL_SHAPE], "tracks": []}


def test_missing_optional_keys_get_cvat_defaults_and_unknown_keys_go():
    document = schema.parse_document(
        {
            "version": 3,
            "tags": [{"frame": 0, "label_id": 1, "color": "blue"}],
            "shapes": [{"type": "points", "frame": 0, "label_id": 1, "points": [1, 2]}],
            "tracks": [{"frame": 0, "label_id": 1, "shapes": [{"type": "points", "frame": 0}]}],
        }
    )
    assert document["tags"] == [
        {"id": None, "frame": 0, "label_id": 1, "group": None, "source": "manual", "attributes": []}
    ]
    shape = document["shapes"][0]
    assert shape["points"] == [1.0, 2.0]
    assert (shape["occluded"], shape["outside"], shape["z_order"], shape["rotation"]) == (
        False,
        False,
        0,
        0.0,
    )
    assert shape["elements"] == [] and "score" not in shape
    track = document["tracks"][0]
    assert track["elements"] == []
    assert track["shapes"][0]["attributes"] == []


def test_score_is_kept_when_given():
    shape = {"type": "mask", "frame": 0, "label_id": 1, "score": 0.5}
    assert schema.parse_document({"shapes": [shape]})["shapes"][0]["score"] == 0.5


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ([], schema.DOCUMENT_NOT_OBJECT),
        ({"tags": {}}, "tags: expected a list."),
        ({"tags": [1]}, "tags[0]: expected an object."),
        ({"tags": [{"label_id": 1}]}, "tags[0].frame: this field is required."),
        ({"tags": [{"frame": "1", "label_id": 1}]}, "tags[0].frame: expected an integer."),
        ({"tags": [{"frame": True, "label_id": 1}]}, "tags[0].frame: expected an integer."),
        ({"tags": [{"frame": -1, "label_id": 1}]}, "tags[0].frame: -1 is out of range."),
        (
            {"tags": [{"frame": 0, "label_id": 1, "attributes": [{"spec_id": 1, "value": 2}]}]},
            "tags[0].attributes[0].value: expected a string.",
        ),
        (
            {"shapes": [{"type": "blob", "frame": 0, "label_id": 1}]},
            "shapes[0].type: unknown shape type 'blob'.",
        ),
        (
            {"shapes": [{"type": "points", "frame": 0, "label_id": 1, "points": ["x"]}]},
            "shapes[0].points[0]: expected a number.",
        ),
        (
            {"shapes": [{"type": "points", "frame": 0, "label_id": 1, "rotation": 400}]},
            "shapes[0].rotation: 400 is out of range.",
        ),
        (
            {"shapes": [{"type": "points", "frame": 0, "label_id": 1, "occluded": "no"}]},
            "shapes[0].occluded: expected a boolean.",
        ),
        (
            {"tracks": [{"frame": 0, "label_id": 1}]},
            "tracks[0].shapes: this field is required.",
        ),
        (
            {"tracks": [{"frame": 0, "label_id": 1, "shapes": []}]},
            "tracks[0]: a track needs at least one shape.",
        ),
    ],
)
def test_bad_documents(document, message):
    with pytest.raises(errors.BadRequest) as error:
        schema.parse_document(document)
    assert error.value.message == message


def test_ids_required_and_unique_for_updates():
    tag = {"frame": 0, "label_id": 1}
    with pytest.raises(errors.BadRequest) as error:
        schema.parse_document({"tags": [tag]}, ids_required=True)
    assert error.value.message == "tags[0].id: an id is required for this action."
    with pytest.raises(errors.BadRequest) as error:
        schema.parse_ids({"tags": [{"id": 1}, {"id": 1}]})
    assert error.value.message == "tags[1].id: the id 1 is given more than once."


def test_labels_and_attributes_must_belong_to_the_task():
    labels = {1: schema.LabelSpec(frozenset({10})), 2: schema.LabelSpec(frozenset())}
    good = schema.parse_document(
        {"tags": [{"frame": 0, "label_id": 1, "attributes": [{"spec_id": 10, "value": "x"}]}]}
    )
    schema.check_labels(good, labels)

    unknown = schema.parse_document({"tags": [{"frame": 0, "label_id": 5}]})
    with pytest.raises(errors.BadRequest) as error:
        schema.check_labels(unknown, labels)
    assert error.value.message == "tags[0].label_id: label 5 is not a label of this task."

    foreign = schema.parse_document(
        {"tags": [{"frame": 0, "label_id": 2, "attributes": [{"spec_id": 10, "value": "x"}]}]}
    )
    with pytest.raises(errors.BadRequest) as error:
        schema.check_labels(foreign, labels)
    assert error.value.message == (
        "tags[0].attributes: attribute 10 is not an attribute of label 2."
    )


def test_ids_and_frames_helpers():
    track = schema.parse_document(
        {
            "tracks": [
                {
                    "frame": 2,
                    "label_id": 1,
                    "shapes": [{"type": "points", "frame": 2}, {"type": "points", "frame": 4}],
                    "elements": [
                        {"frame": 2, "label_id": 2, "shapes": [{"type": "points", "frame": 5}]}
                    ],
                }
            ]
        }
    )["tracks"][0]
    assert sorted(set(schema.frames_of(track))) == [2, 4, 5]
    assert schema.fits(track, range(2, 6)) and not schema.fits(track, range(2, 5))
    schema.assign_ids(track, schema.Ids(100))
    assert schema.nested_ids(track) == {100, 101, 102, 103, 104}


def test_in_place_parsing_gives_the_same_document_in_the_callers_lists():
    source = {
        "tags": [{"frame": 0, "label_id": 1, "color": "blue"}],
        "shapes": [{"type": "points", "frame": 0, "label_id": 1, "points": [1, 2]}, FULL_SHAPE],
    }
    copied = schema.parse_document(source)
    shapes = source["shapes"]
    in_place = schema.parse_document(source, in_place=True)
    assert in_place == copied
    assert in_place["shapes"] is shapes  # the caller's list, its objects replaced
    assert shapes[0]["points"] == [1.0, 2.0] and shapes[0]["rotation"] == 0.0
