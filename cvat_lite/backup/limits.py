"""Size limits for reading backup archives (contract 9: every limit is a setting with a documented
default).

The defaults are generous for real tasks and small enough to stop a ZIP bomb or a memory
exhaustion attempt before anything is extracted. The importer builds ``Limits`` from settings;
tests pass small ones.
"""

from __future__ import annotations

from dataclasses import dataclass

KiB = 1024
MiB = 1024 * KiB
GiB = 1024 * MiB


@dataclass(frozen=True, slots=True)
class Limits:
    # Members in the archive, directory entries included. A 100,000-image full backup has
    # ~100,004; a project of many such tasks stays well below.
    max_members: int = 2_000_000
    # Uncompressed size of any one member (one image, annotations.json, ...).
    max_member_size: int = 2 * GiB
    # Uncompressed size of all members together.
    max_total_size: int = 50 * GiB
    # Largest allowed uncompressed:compressed ratio, for each member larger than
    # ``ratio_threshold`` (tiny members compress absurdly well and are harmless) and for the
    # archive as a whole (its content against the file's size on disk). JSON deflates ~10:1;
    # deflate cannot exceed ~1032:1; a ZIP bomb is far above 200:1.
    max_ratio: int = 200
    ratio_threshold: int = 1 * MiB
    # annotations.json is read whole (its objects one at a time), so its size bounds a restore's
    # memory: about 10x the member (docs/security.md, "Import limits").
    max_annotations_size: int = 512 * MiB
    # task.json and project.json, read whole too. Larger than labels need: with custom
    # segments or a ground-truth pool, CVAT lists every frame's file name in each job.
    max_task_json_size: int = 64 * MiB
    # UTF-8 bytes of a member's name: ``task_<i>/data/`` + an object key of up to 1,024 bytes.
    max_name_length: int = 1280
    # Counts inside the documents (contract 9), checked on the parsed JSON before any spec is
    # built, so that the rows a restore writes stay bounded (docs/security.md lists them).
    # Jobs of one task: 1,000,000 images in jobs of 100 frames with one consensus replica. Task
    # creation refuses more (``segments_create``), so that every task's backup restores.
    max_jobs: int = 20_000
    # Labels of a task or project, skeleton sublabels included (ImageNet-21k has ~21,800).
    max_labels: int = 25_000
    # Attributes of one label.
    max_attributes: int = 1_000
    # Values of one attribute: CVAT stores them joined by newlines in 4,096 characters, so a
    # CVAT archive has at most 2,048.
    max_attribute_values: int = 4_096
    # Annotation objects of the whole archive (every task of a project): tags, shapes, tracks,
    # the shapes of tracks and skeleton elements (one database row each).
    max_objects: int = 5_000_000
    # Numbers in one shape's ``points`` (x, y pairs; a mask's run lengths).
    max_points: int = 1_000_000
    # Shapes of one track: at most one per frame of the largest task.
    max_track_shapes: int = 1_000_000
