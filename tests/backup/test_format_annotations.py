import copy

import pytest

from cvat_lite.backup.format import (
    JobAnnotationsSpec,
    build_annotations_json,
    max_frame,
    parse_annotations_json,
)
from cvat_lite.errors import ArchiveError

from .archives import LABELS, job_annotations


def _doc():
    return build_annotations_json([job_annotations(0), job_annotations(3)])


def _parse(doc, job_count=2):
    return parse_annotations_json(doc, labels=LABELS, job_count=job_count)


def _refused(doc, job_count=2) -> str:
    with pytest.raises(ArchiveError) as caught:
        _parse(doc, job_count)
    assert caught.value.code == "invalid_backup"
    return caught.value.message


def test_round_trip():
    jobs = [job_annotations(0), job_annotations(3)]
    doc = build_annotations_json(jobs)
    assert list(doc[0]) == ["version", "tags", "shapes", "tracks"]
    assert _parse(copy.deepcopy(doc)) == jobs
    assert build_annotations_json(_parse(doc)) == doc


def test_cvat_key_order_and_defaults():
    doc = [
        {
            "tags": [{"label": "dog", "frame": 1}],
            "shapes": [{"label": "cat", "type": "polygon", "frame": 2, "points": [1, 2, 3, 4]}],
            "tracks": [
                {
                    "label": "cat",
                    "frame": 4,
                    "shapes": [{"type": "rectangle", "frame": 4, "points": [0, 0, 1, 1]}],
                    "id": 17,  # unknown keys are dropped, as CVAT does
                }
            ],
        }
    ]
    (job,) = _parse(doc, job_count=1)
    assert job.version == 0
    assert job.tags == [
        {"frame": 1, "group": 0, "source": "manual", "attributes": [], "label": "dog"}
    ]
    assert list(job.shapes[0]) == [
        "type", "occluded", "outside", "z_order", "rotation", "points", "frame", "group",
        "source", "attributes", "elements", "label",
    ]  # fmt: skip
    assert job.shapes[0]["rotation"] == 0.0
    assert list(job.tracks[0]) == [
        "frame", "group", "source", "shapes", "attributes", "elements", "label",
    ]  # fmt: skip
    assert list(job.tracks[0]["shapes"][0]) == [
        "type", "occluded", "outside", "z_order", "rotation", "points", "frame", "attributes",
    ]  # fmt: skip
    assert max_frame(job) == 4


def test_numbers_in_attribute_values_become_strings():
    doc = _doc()
    doc[0]["tags"][0]["attributes"][0]["value"] = 3
    assert _parse(doc)[0].tags[0]["attributes"] == [{"value": "3", "name": "fluffy"}]


def test_max_frame():
    assert max_frame(JobAnnotationsSpec()) is None
    job = job_annotations(2)
    job.tracks[0]["shapes"].append({**job.tracks[0]["shapes"][0], "frame": 9})
    job.shapes[0]["elements"][0]["frame"] = 7
    assert max_frame(job) == 9


def _set(path: str, value):
    doc = _doc()
    *parents, key = path.split(".")
    target = doc
    for parent in parents:
        target = target[int(parent)] if parent.isdigit() else target[parent]
    if isinstance(target, list):
        target[int(key)] = value
    elif value is ...:
        del target[key]
    else:
        target[key] = value
    return doc


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({}, "annotations.json must contain a JSON list."),
        (_doc()[:1], "annotations.json: expected one entry per job of task.json (2), found 1."),
        (_set("1", []), "annotations.json: '[1]' must be an object."),
        (_set("0.tags", {}), "annotations.json: '[0].tags' must be a list."),
        (_set("0.tags.0.label", "zebra"), "annotations.json: label 'zebra' is not defined."),
        (_set("0.tags.0.label", ...), "annotations.json: '[0].tags[0].label' is missing."),
        (_set("0.tracks.0.label", "nose"), "annotations.json: label 'nose' is not defined."),
        (_set("0.shapes.0.elements.0.label", "tail"),
         "annotations.json: label 'tail' is not a sublabel of 'person'."),
        (_set("0.shapes.0.elements.0.label", "cat"),
         "annotations.json: label 'cat' is not a sublabel of 'person'."),
        (_set("0.tags.0.attributes.0.name", "color"),
         "annotations.json: attribute 'color' is not defined for label 'cat'."),
        (_set("0.shapes.0.elements.1.attributes", [{"name": "visible", "value": "1"}]),
         "annotations.json: attribute 'visible' is not defined for label 'eye'."),
        (_set("0.tracks.0.shapes.0.attributes.0.name", "visible"),
         "annotations.json: attribute 'visible' is not defined for label 'cat'."),
        (_set("0.tags.0.attributes.0.value", None),
         "annotations.json: '[0].tags[0].attributes[0].value' is missing."),
        (_set("0.tags.0.attributes.0.value", ["x"]),
         "annotations.json: '[0].tags[0].attributes[0].value' must be a string."),
        (_set("0.tags.0.attributes.0.value", "x" * 4097),
         "annotations.json: '[0].tags[0].attributes[0].value' must be at most 4096 characters "
         "long."),
        (_set("0.tags.0.frame", -1), "annotations.json: '[0].tags[0].frame' must be at least 0."),
        (_set("0.tags.0.frame", "1"), "annotations.json: '[0].tags[0].frame' must be an integer."),
        (_set("1.tracks.0.shapes.0.frame", 1.5),
         "annotations.json: '[1].tracks[0].shapes[0].frame' must be an integer."),
        (_set("0.shapes.0.type", "circle"),
         "annotations.json: '[0].shapes[0].type' must be one of 'rectangle', 'polygon', "
         "'polyline', 'points', 'ellipse', 'cuboid', 'mask', 'skeleton'."),
        (_set("0.shapes.0.elements.0.points", [1, "2"]),
         "annotations.json: '[0].shapes[0].elements[0].points[1]' must be a number."),
        (_set("0.shapes.0.elements.0.points", [1, True]),
         "annotations.json: '[0].shapes[0].elements[0].points[1]' must be a number."),
        (_set("0.shapes.0.occluded", "no"),
         "annotations.json: '[0].shapes[0].occluded' must be a boolean."),
        (_set("0.tracks.0.shapes.0.rotation", 361),
         "annotations.json: '[0].tracks[0].shapes[0].rotation' must be at most 360."),
        (_set("0.shapes.0.elements.0.elements", [{"label": "nose"}]),
         "annotations.json: '[0].shapes[0].elements[0].elements' must be empty: elements cannot "
         "have elements."),
        (_set("0.version", "1"), "annotations.json: '[0].version' must be an integer."),
    ],
)  # fmt: skip
def test_refused(doc, message):
    assert _refused(doc) == message


def test_skeleton_tracks():
    doc = _doc()
    element = copy.deepcopy(doc[0]["tracks"][0])
    element.update(label="nose", elements=[])
    element["shapes"][0]["attributes"] = [{"value": "no", "name": "visible"}]
    doc[0]["tracks"][0].update(label="person", elements=[element], attributes=[])
    doc[0]["tracks"][0]["shapes"][0].update(type="skeleton", points=[], attributes=[])
    job = _parse(doc)[0]
    assert job.tracks[0]["elements"][0]["label"] == "nose"
    element["label"] = "cat"
    assert _refused(doc) == "annotations.json: label 'cat' is not a sublabel of 'person'."


def test_a_consumed_document_gives_the_same_specs_in_its_own_lists():
    doc = _doc()
    expected = _parse(copy.deepcopy(doc))
    shapes = doc[0]["shapes"]
    jobs = parse_annotations_json(doc, labels=LABELS, job_count=len(doc), consume=True)
    assert jobs == expected
    assert jobs[0].shapes is shapes  # the document's list, its objects replaced by specs
