"""The engine cache: keys, rebuilds of what changed, and builds from two processes at once."""

from __future__ import annotations

import json
import multiprocessing
import os

import pytest

pytest.importorskip("filelock")  # a dependency of trtpipe; absent where installed with --no-deps

from onnx_models import write_conv_net
from trtpipe.engine_cache import EngineCache, default_cache_dir
from trtpipe.engine_info import sha256_file, sidecar_path
from trtpipe.errors import BackendUnavailableError, InputError

pytestmark = pytest.mark.tensorrt


@pytest.fixture(autouse=True)
def _needs_builder():
    from trtpipe.tensorrt_flavour import find_flavour

    try:
        find_flavour()
    except BackendUnavailableError as exc:
        pytest.skip(str(exc))


def test_default_cache_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("TRTPIPE_CACHE_DIR", str(tmp_path / "c"))
    assert default_cache_dir() == tmp_path / "c"
    monkeypatch.delenv("TRTPIPE_CACHE_DIR")
    assert default_cache_dir().parts[-2:] == (".cache", "trtpipe")


def test_second_call_reuses_the_engine(tmp_path):
    cache = EngineCache(tmp_path / "cache")
    model = write_conv_net(tmp_path / "m.onnx", batch="N")
    first = cache.get_or_build(model, profiles="1:2:4")
    second = cache.get_or_build(model, profiles="1:2:4")
    assert first.built and not second.built
    assert first.path == second.path and first.path.parent == tmp_path / "cache"
    assert second.metadata.engine_sha256 == sha256_file(first.path)


def test_every_key_part_gives_its_own_engine(tmp_path):
    cache = EngineCache(tmp_path / "cache")
    model = write_conv_net(tmp_path / "m.onnx", batch="N")
    paths = {
        cache.get_or_build(model, profiles="1:2:4").path,
        cache.get_or_build(model, profiles="1:2:8").path,
        cache.get_or_build(model, profiles="1:2:4", precision="fp32").path,
        cache.get_or_build(model, profiles="1:2:4", optimization="fastest").path,
        cache.get_or_build(model, profiles="1:2:4", workspace=1 << 26).path,
        cache.get_or_build(model, profiles="1:2:4", compute_capabilities=["8.6"]).path,
    }
    assert len(paths) == 6


def test_changed_model_is_rebuilt(tmp_path):
    cache = EngineCache(tmp_path / "cache")
    model = tmp_path / "m.onnx"
    write_conv_net(model, seed=0)
    old = cache.get_or_build(model)
    write_conv_net(model, seed=1)  # same file name, new weights
    new = cache.get_or_build(model)
    assert new.built and new.path != old.path
    assert new.metadata.onnx_sha256 == sha256_file(model) != old.metadata.onnx_sha256


@pytest.mark.parametrize("damage", ["truncate", "drop_sidecar", "foreign_sidecar"])
def test_damaged_or_foreign_entries_are_rebuilt(tmp_path, damage):
    cache = EngineCache(tmp_path / "cache")
    model = write_conv_net(tmp_path / "m.onnx")
    entry = cache.get_or_build(model)
    if damage == "truncate":  # a build that died half-way through writing, or a bad copy
        entry.path.write_bytes(entry.path.read_bytes()[:100])
    elif damage == "drop_sidecar":
        sidecar_path(entry.path).unlink()
    else:  # an engine copied in from a cache built with other options
        data = json.loads(sidecar_path(entry.path).read_text())
        data["options"]["precision"] = "int8"
        sidecar_path(entry.path).write_text(json.dumps(data))
    again = cache.get_or_build(model)
    assert again.built and again.path == entry.path
    assert again.metadata.engine_sha256 == sha256_file(entry.path)


def test_refresh_rebuilds_a_stale_engine_in_place(tmp_path):
    from trtpipe.build import build_engine

    model = tmp_path / "m.onnx"
    write_conv_net(model, batch="N", seed=0)
    engine = tmp_path / "m.engine"
    build_engine(model, profiles="1:2:4", output=engine)
    cache = EngineCache(tmp_path / "cache")
    assert not cache.refresh(engine).built  # fresh: left alone

    write_conv_net(model, batch="N", seed=3)
    refreshed = cache.refresh(engine)
    assert refreshed.built and refreshed.metadata.onnx_sha256 == sha256_file(model)
    assert refreshed.metadata.options["batch"] == [1, 2, 4]  # the recorded options are kept

    data = json.loads(sidecar_path(engine).read_text())
    data["flavour_version"] = "0.0.1"  # as if built by an older TensorRT
    sidecar_path(engine).write_text(json.dumps(data))
    assert cache.refresh(engine).built

    with pytest.raises(InputError, match="sidecar"):
        sidecar_path(engine).unlink()
        cache.refresh(engine)


def _build_in_child(root: str, model: str, barrier, results) -> None:
    barrier.wait()
    entry = EngineCache(root).get_or_build(model, profiles="1:4:8")
    results.put((os.getpid(), str(entry.path), entry.built))


def test_two_processes_build_one_engine(tmp_path):
    model = write_conv_net(tmp_path / "m.onnx", batch="N", size=64)
    root = tmp_path / "cache"
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(2), ctx.Queue()
    children = [
        ctx.Process(target=_build_in_child, args=(str(root), str(model), barrier, results))
        for _ in range(2)
    ]
    for child in children:
        child.start()
    outcomes = [results.get(timeout=120) for _ in children]
    for child in children:
        child.join(timeout=60)
        assert child.exitcode == 0
    paths = {path for _, path, _ in outcomes}
    assert len(paths) == 1
    assert sorted(built for _, _, built in outcomes) == [False, True]  # built once, reused once
    (path,) = paths
    assert json.loads(sidecar_path(path).read_text())["engine_sha256"] == sha256_file(path)
    # Nothing half-written is left behind.
    assert not [p for p in root.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.parametrize(
    "text", ["[]", "null", "5", '{"format": 1, "profiles": [{"min": [], "opt": [], "max": []}]}']
)
def test_an_entry_whose_sidecar_is_json_of_another_shape_is_rebuilt(tmp_path, caplog, text):
    cache = EngineCache(tmp_path / "cache")
    model = write_conv_net(tmp_path / "m.onnx")
    entry = cache.get_or_build(model)
    sidecar_path(entry.path).write_text(text)
    again = cache.get_or_build(model)
    assert again.built and again.path == entry.path
    assert again.metadata.engine_sha256 == sha256_file(entry.path)
    assert json.loads(sidecar_path(entry.path).read_text())["engine_sha256"] == sha256_file(
        entry.path
    )  # a valid sidecar again
    assert f"rebuilding {entry.path.name}: {entry.path.name}.json is unreadable" in caplog.text
    sidecar_path(entry.path).write_text(text)
    with pytest.raises(InputError, match="sidecar"):  # refresh needs a valid one
        cache.refresh(entry.path)
