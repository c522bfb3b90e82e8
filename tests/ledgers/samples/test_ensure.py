"""`ensure_sample_datastore` writes only when the folder is missing, incomplete or from another sample."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ledgers.samples import MARKER_NAME, SampleFolderError, ensure_sample_datastore, write_sample_datastore
from ledgers.samples import writer as sample_writer


def _mtimes(folder: Path) -> dict[Path, int]:
    return {path: path.stat().st_mtime_ns for path in folder.rglob("*") if path.is_file()}


def test_second_call_writes_nothing(tmp_path: Path) -> None:
    first = ensure_sample_datastore(tmp_path)
    before = _mtimes(tmp_path)
    second = ensure_sample_datastore(tmp_path)
    assert _mtimes(tmp_path) == before
    assert second == first


def test_rewrites_after_a_version_change(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ensure_sample_datastore(tmp_path)
    monkeypatch.setattr(sample_writer, "SAMPLE_VERSION", "test-next")
    info = ensure_sample_datastore(tmp_path)
    assert info.version == "test-next"
    assert json.loads((tmp_path / MARKER_NAME).read_text())["sample_version"] == "test-next"


def test_rewrites_a_missing_object_and_drops_stale_ones(tmp_path: Path) -> None:
    info = ensure_sample_datastore(tmp_path)
    objects = sorted(tmp_path.rglob("*.xdr.zst"))
    objects[0].unlink()
    ensure_sample_datastore(tmp_path)
    assert sorted(tmp_path.rglob("*.xdr.zst")) == objects
    shorter = ensure_sample_datastore(tmp_path, ledgers=2)
    assert shorter.last_ledger == info.first_ledger + 1
    assert len(list(tmp_path.rglob("*.xdr.zst"))) == 2


def test_refuses_to_overwrite_a_foreign_datastore(tmp_path: Path) -> None:
    config = tmp_path / ".config.json"
    config.write_text('{"networkPassphrase": "Public Global Stellar Network ; September 2015"}')
    with pytest.raises(SampleFolderError):
        ensure_sample_datastore(tmp_path)
    with pytest.raises(SampleFolderError):
        write_sample_datastore(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".config.json"]


def test_a_corrupt_marker_means_rewrite(tmp_path: Path) -> None:
    ensure_sample_datastore(tmp_path)
    (tmp_path / MARKER_NAME).write_text("{not json")
    info = ensure_sample_datastore(tmp_path)
    assert json.loads((tmp_path / MARKER_NAME).read_text())["info"]["last_ledger"] == info.last_ledger
