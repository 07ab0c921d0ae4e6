"""build_pack.py's preflight (exporter/preflight.py): the packages, inputs and machine it checks, and that it reports
every problem at once.  Standard library only, so these run on any machine (CI's included), without torch."""
import ast
import json
import os
import struct

import pytest

import preflight

GB = 1e9
EXPORTER = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOCS = os.path.join(EXPORTER, "..", "docs")
# import name -> distribution name, where they differ
DISTRIBUTION = {"google": "protobuf"}


def fake_safetensors(path, tensors):
    """A .safetensors file with the real header layout (u64 length + JSON) and zero weights."""
    header, offset = {}, 0
    for name, shape in tensors.items():
        n = 4
        for d in shape:
            n *= d
        header[name] = {"dtype": "F32", "shape": list(shape), "data_offsets": [offset, offset + n]}
        offset += n
    blob = json.dumps(header).encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(blob)) + blob + bytes(offset))


def fake_wan(tmp_path, tokenizer="tokenizer.json", vae=True):
    wan = tmp_path / "Wan2.1-T2V-14B"
    (wan / "google" / "umt5-xxl").mkdir(parents=True)
    fake_safetensors(wan / "diffusion_pytorch_model-00001-of-00002.safetensors", {"a.weight": (64, 32)})
    fake_safetensors(wan / "diffusion_pytorch_model-00002-of-00002.safetensors", {"b.weight": (16,), "c": (2, 2, 2)})
    (wan / preflight.T5_CHECKPOINT).write_bytes(bytes(1000))
    if vae:
        (wan / "Wan2.1_VAE.pth").write_bytes(bytes(10))
    if tokenizer:
        (wan / "google" / "umt5-xxl" / tokenizer).write_text("{}")
    return str(wan)


def test_every_third_party_module_the_exporter_imports_is_pinned():
    pinned = {r.name.lower() for r in preflight.read_requirements()}
    ours = {f[:-3] for f in os.listdir(EXPORTER) if f.endswith(".py")} | {"oracles", "tests"}
    imported = set()
    for name in os.listdir(EXPORTER):
        if not name.endswith(".py"):
            continue
        with open(os.path.join(EXPORTER, name), encoding="utf-8") as f:
            tree = ast.parse(f.read())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                imported |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                imported.add(node.module.split(".")[0])
    import sys
    third_party = {m for m in imported if m not in ours and m not in sys.stdlib_module_names and m != "__future__"}
    assert third_party >= {"torch", "onnx", "onnxruntime", "numpy", "safetensors"}
    missing = {DISTRIBUTION.get(m, m) for m in third_party} - pinned
    assert not missing, f"imported by exporter/*.py but not in exporter/requirements.txt: {sorted(missing)}"


def test_requirements_are_exact_pins():
    for r in preflight.read_requirements():
        assert preflight._release(r.version), r


def test_packages_missing_and_mismatched_are_all_named():
    reqs = [preflight.Requirement("torch", "2.11.0"), preflight.Requirement("onnx", "1.20.1"),
            preflight.Requirement("numpy", "2.3.5"), preflight.Requirement("sentencepiece", "0.2.1")]
    have = {"torch": "2.11.0+cu130", "onnx": "1.17.0"}

    problems = preflight.check_packages(reqs, have.get, need_spiece=False, python=(3, 11))

    assert problems == ["onnx 1.17.0 is installed; the exporter was verified with 1.20.1",
                        "numpy is not installed (tested with 2.3.5)"]
    assert "sentencepiece is not installed (tested with 0.2.1)" in preflight.check_packages(
        reqs, have.get, need_spiece=True, python=(3, 11))
    assert preflight.check_packages(reqs, have.get, need_spiece=False, python=(3, 9))[0].startswith("Python 3.9")


def test_plan_for_the_14b_pack_matches_the_documented_figures():
    # Wan2.1-T2V-14B: 14.29 B DiT parameters in fp32 shards (57.2 GB), the bf16 umT5-XXL checkpoint (11.4 GB)
    needs = preflight.plan(14_290_000_000, 57_160_000_000, 11_400_000_000, "fp16", None)

    assert round(needs.gpu / GB) == 35
    assert round(needs.ram_with_gpu / GB) == 66
    assert round(needs.ram_cpu_only / GB) == 99
    assert round(needs.disk / GB) == 66
    doc = open(os.path.join(DOCS, "real-model.md"), encoding="utf-8").read()
    for figure in ("35 GB", "66 GB", "99 GB"):
        assert figure in doc, f"docs/real-model.md does not state {figure}"

    # the quantiser holds the fp16 graph and the int8 one (42.9 GB): still below reading the shards
    int8 = preflight.plan(14_290_000_000, 57_160_000_000, 11_400_000_000, "fp16", "int8")
    assert round(int8.steps["quantisation (RAM)"] / GB, 1) == 42.9
    assert (int8.ram_with_gpu, int8.disk) == (needs.ram_with_gpu, needs.disk)
    fp32 = preflight.plan(14_290_000_000, 57_160_000_000, 11_400_000_000, "fp32", None)
    assert round(fp32.gpu / GB) == 68 and round(fp32.disk / GB) == 132


def test_machine_checks():
    needs = preflight.Needs(ram_with_gpu=66 * GB, gpu=35 * GB, ram_cpu_only=99 * GB, disk=66 * GB)
    roomy = preflight.Machine(ram_available=120 * GB, disk_free=500 * GB, gpu_free=79 * GB, gpu_name="H100")
    assert preflight.check_machine(needs, roomy) == []

    # a 24 GB GPU is too small, so the build would run in RAM: 80 GB is then not enough
    small_gpu = preflight.Machine(ram_available=80 * GB, disk_free=50 * GB, gpu_free=23 * GB, gpu_name="RTX 4090")
    ram, disk = preflight.check_machine(needs, small_gpu)
    assert ram == ("RAM: 80 GB available, the build needs about 99 GB without a GPU of at least 35 GB free "
                   "(RTX 4090 has 23 GB free); with such a GPU it would need 66 GB")
    assert disk.startswith("disk: 50 GB free where the pack is written, the build needs about 66 GB")

    no_gpu = preflight.Machine(ram_available=128 * GB, disk_free=100 * GB, gpu_free=None)
    assert preflight.check_machine(needs, no_gpu) == []
    assert "none found" in preflight.check_machine(needs, preflight.Machine(64 * GB, 100 * GB, None))[0]


def test_plan_reads_parameter_counts_from_the_shard_headers(tmp_path):
    wan = fake_wan(tmp_path)

    needs = preflight.plan_for(wan, "fp32", None)

    params = 64 * 32 + 16 + 8
    assert needs.steps["DiT on the GPU"] == params * 4
    assert needs.steps["DiT load + merge (RAM, GPU export)"] == sum(
        os.path.getsize(p) for p in preflight.dit_shards(wan))


def test_run_reports_every_problem_in_one_message(tmp_path, monkeypatch):
    wan = fake_wan(tmp_path, tokenizer=None, vae=False)
    monkeypatch.setattr(preflight, "installed_version", lambda name: None if name == "onnx" else "0.0.0")
    monkeypatch.setattr(preflight, "read_requirements", lambda path=None: [preflight.Requirement("onnx", "1.20.1")])

    with pytest.raises(SystemExit) as e:
        preflight.run(wan, str(tmp_path / "pack"), "fp16", None, pusa_lora=str(tmp_path / "missing.pt"))

    message = str(e.value)
    assert message.startswith("build_pack.py cannot start on this machine:")
    for part in ("Wan2.1_VAE.pth is missing", "has neither tokenizer.json nor spiece.model",
                 "--pusa-lora", "onnx is not installed", "pip install -r exporter/requirements.txt"):
        assert part in message


def test_spiece_packages_are_needed_only_without_tokenizer_json(tmp_path):
    assert not preflight.needs_spiece(fake_wan(tmp_path / "a"))
    assert preflight.needs_spiece(fake_wan(tmp_path / "b", tokenizer="spiece.model"))
    assert preflight.wan_dir_from_argv(["--out", "x", "--wan-dir", "W"]) == "W"
    assert preflight.wan_dir_from_argv(["--wan-dir=W2"]) == "W2"


def test_a_small_machine_gets_the_machine_problems(tmp_path, monkeypatch):
    wan = fake_wan(tmp_path)
    monkeypatch.setattr(preflight, "check_packages", lambda *a, **k: [])
    monkeypatch.setattr(preflight, "probe_machine",
                        lambda out: preflight.Machine(ram_available=1, disk_free=1, gpu_free=None))

    with pytest.raises(SystemExit) as e:
        preflight.run(wan, str(tmp_path / "new" / "pack"), "fp16", None)

    assert "RAM: 0 GB available" in str(e.value) and "disk: 0 GB free" in str(e.value)


def test_probe_machine_measures_the_nearest_existing_folder(tmp_path):
    m = preflight.probe_machine(str(tmp_path / "not" / "yet"))
    assert m.ram_available > 0 and m.disk_free > 0
