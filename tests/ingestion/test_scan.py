"""Finding images: recursive, case-insensitive, never leaving the folder or looping; any file name works."""

from __future__ import annotations

import os

from mmrag_lab.ingestion.scan import as_path, display_path, hash_files, list_images, scan_images, to_fs_path


def touch(path, data: bytes = b"x") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def test_recursive_case_insensitive_sorted(tmp_path):
    for rel in [
        "b/two.PNG",
        "a/one.jpg",
        "a/deep/er/three.TiF",
        "c.webp",
        "d.Jpeg",
        "e.bmp",
        "f.gif",
        "g.tiff",
    ]:
        touch(tmp_path / rel)
    touch(tmp_path / "notes.txt")
    touch(tmp_path / ".ipynb_checkpoints" / "old.jpg")
    touch(tmp_path / "._resource-fork.jpg")
    result = scan_images(tmp_path)
    assert [f.rel for f in result.files] == [
        "a/deep/er/three.TiF", "a/one.jpg", "b/two.PNG", "c.webp", "d.Jpeg", "e.bmp", "f.gif", "g.tiff",
    ]  # fmt: skip
    assert result.problems == []
    assert all(f.size == 1 and f.display.startswith(result.root) for f in result.files)


def test_symlinks_never_leave_the_folder_nor_loop(tmp_path):
    root, outside = tmp_path / "root", tmp_path / "outside"
    touch(root / "real" / "a.jpg")
    touch(outside / "b.jpg")
    os.symlink(root, root / "real" / "loop")  # loop back to the root
    os.symlink(outside, root / "outside-folder")
    os.symlink(outside / "b.jpg", root / "outside-file.jpg")
    os.symlink(root / "real" / "a.jpg", root / "alias.jpg")  # inside: kept, hashing will call it a duplicate
    result = scan_images(root)
    assert [f.rel for f in result.files] == ["alias.jpg", "real/a.jpg"]
    reasons = {p["path"].rsplit("/", 1)[-1]: p["reason"] for p in result.problems}
    assert set(reasons) == {"outside-folder", "outside-file.jpg"}
    assert all("outside the folder" in reason for reason in reasons.values())
    assert len(set(hash_files(result.files))) == 1


def test_non_utf8_names_round_trip_through_the_display_form(tmp_path):
    raw = os.path.join(os.fsencode(tmp_path), b"r\xe9sum\xe9.jpg")
    with open(raw, "wb") as handle:
        handle.write(b"data")
    [found] = scan_images(tmp_path).files
    assert found.path == raw
    assert found.display.endswith("r\\xe9sum\\xe9.jpg")
    found.display.encode("utf-8")  # storable in Milvus and JSON
    assert to_fs_path(found.display) == raw
    assert as_path(found.display).read_bytes() == b"data"


def test_a_literal_backslash_x_name_is_not_unescaped(tmp_path):
    touch(tmp_path / "odd\\xe9name.jpg", b"literal")
    [found] = scan_images(tmp_path).files
    assert to_fs_path(found.display) == os.fsencode(tmp_path / "odd\\xe9name.jpg")
    assert display_path(found.path) == found.display


def test_unreadable_entries_are_problems_not_files(tmp_path):
    touch(tmp_path / "ok.jpg")
    os.symlink(tmp_path / "missing.jpg", tmp_path / "dangling.jpg")
    os.mkfifo(tmp_path / "pipe.png")
    (tmp_path / "folder.jpg").mkdir()  # a folder with an image name is walked, not read
    touch(tmp_path / "folder.jpg" / "inner.jpg")
    result = scan_images(tmp_path)
    assert [f.rel for f in result.files] == ["folder.jpg/inner.jpg", "ok.jpg"]
    reasons = {p["path"].rsplit("/", 1)[-1]: p["reason"] for p in result.problems}
    assert reasons == {
        "dangling.jpg": "dangling symlink: its target does not exist",
        "pipe.png": "not a regular file (a FIFO, socket or device)",
    }


def test_list_images_is_the_scan_below_the_folder_as_given(tmp_path):
    for rel in ["b/two.PNG", "a/one.jpg", ".ipynb_checkpoints/one-checkpoint.jpg", "a/.hidden.jpg", "x.txt"]:
        touch(tmp_path / rel)
    link = tmp_path.parent / f"{tmp_path.name}-link"
    link.symlink_to(tmp_path)
    assert list_images(link) == [link / "a" / "one.jpg", link / "b" / "two.PNG"]
    assert list_images(tmp_path / "missing") == []
