"""contract 5.1: /api/tasks/{id}/annotations/ and /api/jobs/{id}/annotations/."""

from __future__ import annotations

import copy

import pytest

from cvat_lite.engine.models import JobAnnotations, StorageChoice
from cvat_lite.engine.services.annotations import store
from tests.engine.factories import label_ids, make_cloud_storage, make_task, sdk_model, spec_ids

pytestmark = pytest.mark.django_db


def _jobs(task):
    return [job for segment in task.segments.order_by("start_frame") for job in segment.jobs.all()]


def _document(task, *, frame=0, track_frames=(0, 1)):
    """Every kind of object, in CVAT's full shape (as GET returns it), without ids."""
    ids, specs = label_ids(task), spec_ids(task)
    point = {"occluded": False, "outside": False, "z_order": 0, "rotation": 0.0}
    return {
        "version": 0,
        "tags": [
            {
                "frame": frame,
                "label_id": ids["car"],
                "group": None,
                "source": "manual",
                "attributes": [{"spec_id": specs["car.color"], "value": "blue"}],
            }
        ],
        "shapes": [
            {
                "type": "rectangle",
                "frame": frame,
                "label_id": ids["car"],
                "group": 1,
                "source": "auto",
                **{**point, "rotation": 12.5, "z_order": 3},
                "points": [1.0, 2.0, 30.5, 40.0],
                "attributes": [
                    {"spec_id": specs["car.color"], "value": "red"},
                    {"spec_id": specs["car.speed"], "value": "10"},
                ],
                "score": 0.75,
                "elements": [],
            },
            {
                "type": "skeleton",
                "frame": frame,
                "label_id": ids["body"],
                "group": None,
                "source": "manual",
                **point,
                "points": [],
                "attributes": [],
                "elements": [
                    {
                        "type": "points",
                        "frame": frame,
                        "label_id": ids["body/head"],
                        "group": None,
                        "source": "manual",
                        **point,
                        "points": [5.0, 5.0],
                        "attributes": [],
                    }
                ],
            },
        ],
        "tracks": [
            {
                "frame": track_frames[0],
                "label_id": ids["person"],
                "group": None,
                "source": "manual",
                "attributes": [],
                "shapes": [
                    {
                        "type": "polygon",
                        "frame": f,
                        **point,
                        "outside": f == track_frames[-1],
                        "points": [0.0, 0.0, 1.0, 0.0, 1.0, 1.0],
                        "attributes": [],
                    }
                    for f in track_frames
                ],
                "elements": [],
            }
        ],
    }


def _objects(data):
    """Every object of a document, nested ones (track shapes, elements) included."""
    stack = [obj for kind in ("tags", "shapes", "tracks") for obj in data[kind]]
    while stack:
        obj = stack.pop(0)
        yield obj
        stack.extend([*obj.get("shapes", []), *obj.get("elements", [])])


def _without_ids(data):
    data = copy.deepcopy(data)
    for obj in _objects(data):
        obj.pop("id", None)
    data.pop("version")
    return data


def _all_ids(data):
    return [obj["id"] for obj in _objects(data)]


@pytest.mark.parametrize("suffix", ["annotations", "annotations/"])
def test_job_round_trip(api, user, suffix):
    task = make_task(user, size=4)
    (job,) = _jobs(task)
    document = _document(task)

    response = api.put(f"/api/jobs/{job.id}/{suffix}", document, format="json")

    assert response.status_code == 200, response.json()
    put = response.json()
    assert put["version"] == 1
    ids = _all_ids(put)
    assert all(isinstance(i, int) for i in ids) and len(set(ids)) == len(ids) == 7

    got = api.get(f"/api/jobs/{job.id}/{suffix}").json()
    assert got == put
    assert _without_ids(got) == _without_ids(document)
    sdk_model(got, "LabeledData")

    # What a client got is what it can put back: same content, new ids, next version.
    again = api.put(f"/api/jobs/{job.id}/{suffix}", got, format="json").json()
    assert _without_ids(again) == _without_ids(document)
    assert again["version"] == 2
    assert set(_all_ids(again)).isdisjoint(ids)


def test_partial_objects_get_cvat_defaults(api, user):
    task = make_task(user, size=2)
    (job,) = _jobs(task)
    car = label_ids(task)["car"]
    response = api.put(
        f"/api/jobs/{job.id}/annotations/",
        {"shapes": [{"type": "points", "frame": 1, "label_id": car, "points": [1, 2]}]},
        format="json",
    )
    assert response.status_code == 200
    (shape,) = response.json()["shapes"]
    assert shape == {
        "id": shape["id"],
        "type": "points",
        "frame": 1,
        "label_id": car,
        "group": None,
        "source": "manual",
        "occluded": False,
        "outside": False,
        "z_order": 0,
        "rotation": 0.0,
        "points": [1.0, 2.0],
        "attributes": [],
        "elements": [],
    }


def test_patch_actions(api, user):
    task = make_task(user, size=4)
    (job,) = _jobs(task)
    url = f"/api/jobs/{job.id}/annotations"
    ids = label_ids(task)
    api.put(url, _document(task), format="json")

    created = api.patch(
        f"{url}?action=create",
        {"tags": [{"frame": 3, "label_id": ids["person"]}]},
        format="json",
    ).json()
    assert created["version"] == 2
    (new_tag,) = created["tags"]
    assert created["shapes"] == created["tracks"] == []

    current = api.get(url).json()
    assert len(current["tags"]) == 2
    rectangle = current["shapes"][0]
    track = current["tracks"][0]
    rectangle["points"] = [9.0, 9.0, 10.0, 10.0]
    track["shapes"][0]["points"] = [1.0, 1.0, 2.0, 2.0, 3.0, 1.0]

    updated = api.patch(
        f"{url}/?action=update", {"shapes": [rectangle], "tracks": [track]}, format="json"
    )
    assert updated.status_code == 200, updated.json()
    assert updated.json()["shapes"] == [rectangle]
    assert updated.json()["tracks"] == [track]  # nested ids are kept
    after = api.get(url).json()
    assert after["shapes"][0] == rectangle
    assert after["tracks"] == [track]
    assert after["version"] == 3

    deleted = api.patch(f"{url}?action=delete", {"tags": [new_tag]}, format="json").json()
    assert deleted["tags"] == [new_tag]
    assert [tag["id"] for tag in api.get(url).json()["tags"]] == [current["tags"][0]["id"]]


@pytest.mark.parametrize(
    ("action", "body", "message"),
    [
        ("", {"tags": []}, store.ACTION_UNKNOWN),
        ("merge", {"tags": []}, store.ACTION_UNKNOWN),
        ("update", {"tags": [{"frame": 0, "label_id": 1}]}, "tags[0].id: an id is required"),
        ("update", {"tags": [{"id": 999, "frame": 0, "label_id": "LABEL"}]}, "tags[0].id: there"),
        ("delete", {"shapes": [{"id": 999}]}, "shapes[0].id: there is no shapes object"),
        ("create", {"tags": [{"frame": 9, "label_id": "LABEL"}]}, "tags[0].frame: frame 9"),
    ],
)
def test_bad_patches_change_nothing(api, user, action, body, message):
    task = make_task(user, size=4)
    (job,) = _jobs(task)
    url = f"/api/jobs/{job.id}/annotations/"
    api.put(url, _document(task), format="json")
    before = api.get(url).json()
    for tag in body.get("tags", []):
        if tag.get("label_id") == "LABEL":
            tag["label_id"] = label_ids(task)["car"]

    response = api.patch(f"{url}?action={action}", body, format="json")

    assert response.status_code == 400
    assert response.json()["message"].startswith(message)
    assert api.get(url).json() == before


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d, t: d["tags"][0].update(label_id=99999), "tags[0].label_id: label 99999"),
        (
            lambda d, t: d["shapes"][1]["elements"][0].update(label_id=99999),
            "shapes[1].elements[0].label_id: label 99999",
        ),
        (
            lambda d, t: d["tags"][0]["attributes"].append(
                {"spec_id": spec_ids(t)["car.color"] + 1000, "value": "x"}
            ),
            "tags[0].attributes: attribute",
        ),
        (lambda d, t: d["shapes"][0].update(frame=4), "shapes[0].frame: frame 4 is outside"),
        (
            lambda d, t: d["tracks"][0]["shapes"][1].update(frame=7),
            "tracks[0].frame: frame 7 is outside",
        ),
        (lambda d, t: d["shapes"][0].update(points="1,2"), "shapes[0].points: expected a list."),
        (lambda d, t: d.update(tags="none"), "tags: expected a list."),
    ],
)
def test_bad_put_saves_nothing(api, user, mutate, message):
    task = make_task(user, size=4)
    (job,) = _jobs(task)
    url = f"/api/jobs/{job.id}/annotations"
    api.put(url, _document(task), format="json")
    before = api.get(url).json()

    document = _document(task)
    mutate(document, task)
    response = api.put(url, document, format="json")

    assert response.status_code == 400
    assert response.json()["message"].startswith(message), response.json()
    assert api.get(url).json() == before


def test_label_of_another_task_is_refused(api, user):
    task = make_task(user, size=4)
    other = make_task(user, name="other", size=4, labels=[{"name": "car"}])
    (job,) = _jobs(task)
    response = api.put(
        f"/api/jobs/{job.id}/annotations",
        {"tags": [{"frame": 0, "label_id": label_ids(other)["car"]}]},
        format="json",
    )
    assert response.status_code == 400
    assert JobAnnotations.objects.get(job=job).version == 0


def test_task_put_splits_into_jobs(api, user):
    task = make_task(user, size=6, segment_size=3)
    first, second = _jobs(task)
    ids = label_ids(task)
    document = {
        "tags": [{"frame": 0, "label_id": ids["car"]}, {"frame": 4, "label_id": ids["car"]}],
        "shapes": [{"type": "points", "frame": 5, "label_id": ids["person"], "points": [1, 1]}],
        "tracks": _document(task, track_frames=(3, 5))["tracks"],
    }

    for suffix in ("annotations", "annotations/"):
        response = api.put(f"/api/tasks/{task.id}/{suffix}", document, format="json")
        assert response.status_code == 200, response.json()
    result = response.json()
    sdk_model(result, "LabeledData")

    one = api.get(f"/api/jobs/{first.id}/annotations").json()
    two = api.get(f"/api/jobs/{second.id}/annotations").json()
    assert [tag["frame"] for tag in one["tags"]] == [0]
    assert one["shapes"] == one["tracks"] == []
    assert [tag["frame"] for tag in two["tags"]] == [4]
    assert [shape["frame"] for shape in two["shapes"]] == [5]
    assert len(two["tracks"]) == 1
    whole = api.get(f"/api/tasks/{task.id}/annotations/").json()
    assert whole == result
    assert whole["tags"] == one["tags"] + two["tags"]
    assert whole["version"] == max(one["version"], two["version"])


def test_task_patch_finds_objects_by_id(api, user):
    task = make_task(user, size=6, segment_size=3)
    first, second = _jobs(task)
    ids = label_ids(task)
    url = f"/api/tasks/{task.id}/annotations"
    put = api.put(
        url,
        {"tags": [{"frame": 1, "label_id": ids["car"]}, {"frame": 4, "label_id": ids["car"]}]},
        format="json",
    ).json()
    early, late = put["tags"]

    created = api.patch(
        f"{url}?action=create", {"tags": [{"frame": 5, "label_id": ids["person"]}]}, format="json"
    ).json()
    assert [tag["frame"] for tag in created["tags"]] == [5]

    late["label_id"] = ids["person"]
    response = api.patch(f"{url}/?action=update", {"tags": [late]}, format="json")
    assert response.status_code == 200
    assert response.json()["tags"] == [late]

    response = api.patch(f"{url}?action=delete", {"tags": [{"id": early["id"]}]}, format="json")
    assert response.status_code == 200
    assert api.get(f"/api/jobs/{first.id}/annotations").json()["tags"] == []
    assert [
        t["label_id"] for t in api.get(f"/api/jobs/{second.id}/annotations").json()["tags"]
    ] == [
        ids["person"],
        ids["person"],
    ]


def test_task_put_refusals(api, user):
    task = make_task(user, size=6, segment_size=3)
    url = f"/api/tasks/{task.id}/annotations"
    ids = label_ids(task)
    api.put(url, {"tags": [{"frame": 1, "label_id": ids["car"]}]}, format="json")
    before = api.get(url).json()

    response = api.put(url, {"tags": [{"frame": 6, "label_id": ids["car"]}]}, format="json")
    assert response.status_code == 400
    assert response.json()["message"] == store.FRAME_OUT_OF_TASK.format(path="tags[0]", frame=6)

    spanning = _document(task, track_frames=(1, 4))
    response = api.put(url, {"tracks": spanning["tracks"]}, format="json")
    assert response.status_code == 400
    assert response.json()["message"] == store.SPANS_JOBS.format(path="tracks[0]")
    assert api.get(url).json() == before


def test_delete(api, user):
    task = make_task(user, size=6, segment_size=3)
    first, _ = _jobs(task)
    api.put(f"/api/tasks/{task.id}/annotations", _document(task), format="json")

    assert api.delete(f"/api/jobs/{first.id}/annotations").status_code == 204
    job_data = api.get(f"/api/jobs/{first.id}/annotations").json()
    assert job_data["tags"] == job_data["shapes"] == job_data["tracks"] == []

    api.put(f"/api/tasks/{task.id}/annotations", _document(task, frame=4), format="json")
    assert api.delete(f"/api/tasks/{task.id}/annotations/").status_code == 204
    whole = api.get(f"/api/tasks/{task.id}/annotations").json()
    assert whole["tags"] == whole["shapes"] == whole["tracks"] == []


def test_a_task_without_data(api, user):
    task = make_task(user, size=0)
    url = f"/api/tasks/{task.id}/annotations"
    assert api.get(url).json() == {"version": 0, "tags": [], "shapes": [], "tracks": []}
    assert api.put(url, {"tags": []}, format="json").status_code == 200
    response = api.put(url, _document(task), format="json")
    assert response.status_code == 400


def test_works_for_a_task_whose_cloud_storage_is_gone(api, user):
    task = make_task(user, size=2, storage=StorageChoice.CLOUD_STORAGE)
    storage = make_cloud_storage(user)
    task.data.cloud_storage = storage
    task.data.save()
    storage.delete()  # the task is now unlinked (contract 5.3)
    (job,) = _jobs(task)

    document = _document(task)
    assert api.put(f"/api/tasks/{task.id}/annotations", document, format="json").status_code == 200
    assert api.get(f"/api/tasks/{task.id}/annotations").status_code == 200
    assert api.get(f"/api/jobs/{job.id}/annotations").status_code == 200
    assert (
        api.patch(
            f"/api/jobs/{job.id}/annotations?action=create", {"tags": []}, format="json"
        ).status_code
        == 200
    )


def test_visibility(api, other_api, admin_api, user):
    task = make_task(user, size=2)
    (job,) = _jobs(task)
    api.put(f"/api/jobs/{job.id}/annotations", _document(task), format="json")
    for url in (f"/api/tasks/{task.id}/annotations", f"/api/jobs/{job.id}/annotations"):
        assert other_api.get(url).status_code == 404
        assert other_api.put(url, {"tags": []}, format="json").status_code == 404
        assert other_api.patch(f"{url}?action=delete", {}, format="json").status_code == 404
        assert other_api.delete(url).status_code == 404
        assert admin_api.get(url).status_code == 200
    assert len(api.get(f"/api/jobs/{job.id}/annotations").json()["tags"]) == 1
