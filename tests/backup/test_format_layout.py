import pytest

from cvat_lite.backup.archive import ArchiveReader, Limits
from cvat_lite.backup.format import (
    ProjectSpec,
    build_project_json,
    check_task_layout,
    read_annotations_json,
    read_project_json,
    read_task_json,
    task_folder,
    task_folders,
)
from cvat_lite.errors import ArchiveError, ManifestError

from .archives import LABELS, Backup, task_backup, task_spec


def _layout(path, **kwargs):
    with ArchiveReader(path, limits=kwargs.pop("limits", None)) as reader:
        layout = check_task_layout(reader, **kwargs)
        annotations = read_annotations_json(reader, spec=layout.spec)
        reader.verify_checksums()
        return layout, annotations


def _refused(path, error=ArchiveError, **kwargs):
    with pytest.raises(error) as caught:
        _layout(path, **kwargs)
    return caught.value


@pytest.mark.parametrize("lightweight", [False, True])
def test_valid_task_backups(tmp_path, lightweight):
    backup = task_backup(5, lightweight=lightweight)
    layout, annotations = _layout(backup.write(tmp_path / "a.zip"))
    assert layout.prefix == ""
    assert layout.lightweight is lightweight
    assert layout.spec == task_spec(5, lightweight=lightweight)
    assert layout.image_count == 5
    assert len(annotations) == 2
    data_members = sorted(name for name in backup.members if name.startswith("data/"))
    expected = ["data/manifest.jsonl"]
    if not lightweight:
        expected = [f"data/img{i}.png" for i in range(5)] + expected
    assert data_members == sorted(expected)


def test_lightweight_expected_or_not(tmp_path):
    full = task_backup().write(tmp_path / "full.zip")
    light = task_backup(lightweight=True).write(tmp_path / "light.zip")
    assert _layout(full, lightweight_expected=False)[0].lightweight is False
    assert _layout(light, lightweight_expected=True)[0].lightweight is True
    message = "The backup is a full one; a lightweight backup was expected."
    assert _refused(full, lightweight_expected=True).message == message
    message = "The backup is a lightweight one; a full backup was expected."
    assert _refused(light, lightweight_expected=False).message == message


def test_other_cvat_members_are_tolerated(tmp_path):
    backup = task_backup()
    backup.members |= {
        "task/preview.jpeg": b"jpeg",
        "annotation_guide.md": b"# guide",
        "assets/a.png": b"png",
        "data/index.json": b"{}",
        "data/related_images/img0_png/ctx.png": b"png",
    }
    assert _layout(backup.write(tmp_path / "a.zip"))[0].image_count == 3


@pytest.mark.parametrize("name", ["task.json", "annotations.json", "data/manifest.jsonl"])
def test_missing_members(tmp_path, name):
    backup = task_backup()
    del backup.members[name]
    error = _refused(backup.write(tmp_path / "a.zip"))
    assert error.message == f"The archive has no {name}."
    assert error.extra == {"member": name}


def test_lightweight_data_holds_only_the_manifest(tmp_path):
    backup = task_backup(lightweight=True)
    backup.members["data/x.jpg"] = b"jpeg"
    error = _refused(backup.write(tmp_path / "a.zip"))
    assert error.message == (
        "A lightweight backup may only contain data/manifest.jsonl; found 'data/x.jpg'."
    )


def test_full_backup_lacking_media(tmp_path):
    backup = task_backup(4)
    del backup.members["data/img3.png"]
    error = _refused(backup.write(tmp_path / "a.zip"))
    assert error.message == "The backup says it is full but lacks media: 'data/img3.png'."


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (b"{not json", "Manifest line 3: the line is not valid JSON."),
        (
            b'{"name":"../evil","extension":".png","width":1,"height":1}',
            "Manifest line 3: the name '../evil' contains a '..' segment.",
        ),
        (
            b'{"name":"/etc/passwd","extension":"","width":1,"height":1}',
            "Manifest line 3: the name '/etc/passwd' is absolute.",
        ),
    ],
)
def test_bad_manifest_lines(tmp_path, line, message):
    backup = task_backup()
    header, _, rest = backup.members["data/manifest.jsonl"].partition(b'{"name"')
    backup.members["data/manifest.jsonl"] = header + line + b"\n" + b'{"name"' + rest
    error = _refused(backup.write(tmp_path / "a.zip"), ManifestError)
    assert error.code == "invalid_manifest"
    assert error.message == message
    assert error.extra == {"line": 3, "member": "data/manifest.jsonl"}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'{"version": "1.0",', "task.json is not valid JSON."),
        (b"\xff\xfe{}", "task.json is not valid UTF-8."),
        (b"[" * 70 + b"]" * 70, "task.json is nested more than 64 levels deep."),
        (b'{"version": "1.0", "n": ' + b"7" * 40 + b"}",
         "task.json contains a number with more than 30 digits."),
        (b'{"version": "2.0"}', "Unsupported backup version '2.0'."),
        (b'{"version": "1.0", "version": "1.0"}', "task.json has the key 'version' twice in one "
                                                  "object."),
    ],
)  # fmt: skip
def test_bad_task_json(tmp_path, content, message):
    backup = task_backup()
    backup.members["task.json"] = content
    assert _refused(backup.write(tmp_path / "a.zip")).message == message


def test_wrong_types_in_task_json(tmp_path):
    backup = task_backup().edit_json("task.json", lambda doc: doc["data"].update(chunk_size="36"))
    message = "task.json: 'data.chunk_size' must be an integer."
    assert _refused(backup.write(tmp_path / "a.zip")).message == message


def test_label_not_defined(tmp_path):
    def change(doc):
        doc[1]["shapes"][0]["label"] = "zebra"

    backup = task_backup().edit_json("annotations.json", change)
    message = "annotations.json: label 'zebra' is not defined."
    assert _refused(backup.write(tmp_path / "a.zip")).message == message


def test_json_size_limits(tmp_path):
    path = task_backup().write(tmp_path / "a.zip")
    error = _refused(path, limits=Limits(max_task_json_size=100))
    assert error.message == "The archive member 'task.json' is larger than 100 bytes."
    error = _refused(path, limits=Limits(max_annotations_size=100))
    assert error.message == "The archive member 'annotations.json' is larger than 100 bytes."


def test_checksum_mismatch_of_media(tmp_path):
    backup = task_backup()
    path = backup.write_raw(tmp_path / "a.zip", checksums="auto", tamper={"data/img1.png": b"x"})
    with ArchiveReader(path) as reader:
        check_task_layout(reader)  # the layout is fine; the media are not what was written
        with pytest.raises(ArchiveError) as caught:
            reader.verify_checksums()
    assert caught.value.message == "The archive member 'data/img1.png' does not match its checksum."


def test_checksum_mismatch_of_the_manifest(tmp_path):
    backup = task_backup()
    tampered = backup.members["data/manifest.jsonl"].replace(b'"width":4', b'"width":5')
    path = backup.write_raw(
        tmp_path / "a.zip", checksums="auto", tamper={"data/manifest.jsonl": tampered}
    )
    error = _refused(path)
    assert error.message == "The archive member 'data/manifest.jsonl' does not match its checksum."


def test_project_backup(tmp_path):
    project = Backup()
    project.set_json("project.json", build_project_json(ProjectSpec("zoo", LABELS)))
    for index, lightweight in [(0, False), (1, True), (10, False), (2, True)]:
        task = task_backup(index + 1, lightweight=lightweight, prefix=task_folder(index))
        project.members |= task.members
    path = project.write(tmp_path / "project.zip")
    with ArchiveReader(path) as reader:
        assert read_project_json(reader) == ProjectSpec("zoo", LABELS)
        folders = task_folders(reader)
        assert folders == ["task_0/", "task_1/", "task_2/", "task_10/"]
        layouts = [check_task_layout(reader, folder) for folder in folders]
        assert [layout.lightweight for layout in layouts] == [False, True, True, False]
        assert [layout.image_count for layout in layouts] == [1, 2, 3, 11]
        assert read_task_json(reader, "task_10/").data.stop_frame == 10
        for layout in layouts:
            read_annotations_json(reader, layout.prefix, spec=layout.spec)
        reader.verify_checksums()
        assert reader.names()[-1] == "checksums.sha256"
        with pytest.raises(ArchiveError) as caught:
            check_task_layout(reader, "task_3/")
        assert caught.value.message == "The archive has no task_3/task.json."


def test_project_errors(tmp_path):
    with ArchiveReader(task_backup().write(tmp_path / "task.zip")) as reader:
        assert task_folders(reader) == []
        with pytest.raises(ArchiveError) as caught:
            read_project_json(reader)
        assert (
            caught.value.message == "The archive has no project.json: it is not a project backup."
        )
    project = task_backup(lightweight=True, prefix="task_0/")
    project.members["task_0/data/extra.png"] = b"png"
    project.set_json("project.json", build_project_json(ProjectSpec("zoo", LABELS)))
    reader = ArchiveReader(project.write(tmp_path / "project.zip"))
    with reader, pytest.raises(ArchiveError) as caught:
        check_task_layout(reader, "task_0/")
    assert caught.value.message == (
        "A lightweight backup may only contain task_0/data/manifest.jsonl; "
        "found 'task_0/data/extra.png'."
    )
