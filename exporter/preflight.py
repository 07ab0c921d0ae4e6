"""Checks, before build_pack.py does any work, that this machine can build the pack: the Python packages of
exporter/requirements.txt, and the RAM, GPU memory and disk that each step needs.  Every problem is reported in one
message, so an operator does not find the third one after a two-hour export.

Standard library only: it runs before torch is imported, so a missing torch is one of the problems it names.

What each step needs comes from how the code allocates (the figures are in docs/real-model.md, "What it needs"):

- DiT: the shards are read whole into RAM (``load_state``), then copied to the export device in bf16 and merged there
  (``build_model``; the module takes those tensors, no second copy); the shards are freed before the trace.  The
  legacy ONNX exporter serialises the weights on the CPU in the pack dtype, and ``export_onnx`` reloads and rewrites
  them, so RAM holds up to two pack-dtype copies then, and the disk the exporter's temporary graph beside the final one.
  On a CPU-only machine the bf16 copy and the model also live in RAM.
- text encoder (umT5-XXL, bf16 checkpoint): the same pattern at 5.7 B parameters, never the peak.
- quantisation (``--quant``): the fp16 graph loaded whole beside the quantised one it builds.
- VAE (127 M parameters) and the preview fit: small.
"""
from __future__ import annotations

import importlib.metadata
import json
import os
import re
import shutil
import struct
import sys
from dataclasses import dataclass, field
from typing import Callable, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
REQUIREMENTS = os.path.join(HERE, "requirements.txt")
GB = 1e9
# packages needed only to convert google/umt5-xxl/spiece.model when the folder has no tokenizer.json
SPIECE_ONLY = {"transformers", "sentencepiece", "protobuf"}
TEST_ONLY = {"pytest"}
BYTES = {"fp16": 2, "fp32": 4}
QUANT_BYTES = {"int8": 1.0, "int4": 0.5}
SAFETENSORS_BYTES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1,
                     "BOOL": 1, "F8_E4M3": 1, "F8_E5M2": 1}
HEADROOM = 1.15  # allocator slack, the CUDA context, LoRA merge temporaries: the figures above are lower bounds
T5_CHECKPOINT = "models_t5_umt5-xxl-enc-bf16.pth"


@dataclass(frozen=True)
class Requirement:
    name: str
    version: str


@dataclass
class Needs:
    """Bytes the build needs, worst step first, with the step that sets each figure."""
    ram_with_gpu: float
    gpu: float
    ram_cpu_only: float
    disk: float
    steps: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Machine:
    ram_available: float
    disk_free: float
    gpu_free: Optional[float]  # None: no CUDA GPU that torch can use
    gpu_name: str = ""


def read_requirements(path: str = REQUIREMENTS) -> list:
    reqs = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            m = re.fullmatch(r"([A-Za-z0-9_.\-]+)==([0-9][A-Za-z0-9.]*)", line)
            if not m:
                raise ValueError(f"{path}: expected 'name==version', got {line!r}")
            reqs.append(Requirement(m.group(1), m.group(2)))
    return reqs


def _release(version: str) -> tuple:
    """'2.11.0+cu130' -> (2, 11, 0): local labels (CUDA builds) and pre-release tags do not change the API."""
    return tuple(int(p) for p in re.findall(r"\d+", version.split("+", 1)[0])[:3])


def check_packages(reqs: list, installed: Callable[[str], Optional[str]], need_spiece: bool,
                   python: tuple = tuple(sys.version_info[:2])) -> list:
    """Problems with the Python side: too old a Python, missing packages, packages of another major.minor than the
    pin (the exporter was verified with the pins; a patch release or a CUDA build label is accepted)."""
    problems = []
    if python < (3, 10):
        problems.append(f"Python {python[0]}.{python[1]} is too old: the exporter needs Python 3.10 or newer")
    for r in reqs:
        if r.name in TEST_ONLY or (r.name in SPIECE_ONLY and not need_spiece):
            continue
        have = installed(r.name)
        if have is None:
            problems.append(f"{r.name} is not installed (tested with {r.version})")
        elif _release(have)[:2] != _release(r.version)[:2]:
            problems.append(f"{r.name} {have} is installed; the exporter was verified with {r.version}")
    return problems


def installed_version(name: str) -> Optional[str]:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def safetensors_params(path: str) -> int:
    """Parameter count of a .safetensors file, from its JSON header alone (no weights read)."""
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
    total = 0
    for key, t in header.items():
        if key == "__metadata__":
            continue
        count = 1
        for d in t["shape"]:
            count *= d
        total += count
    return total


def dit_shards(wan_dir: str) -> list:
    """The same files export_dit.shard_files reads (index json first), without importing torch."""
    for name in sorted(os.listdir(wan_dir)):
        if name.startswith("diffusion_pytorch_model") and name.endswith(".safetensors.index.json"):
            with open(os.path.join(wan_dir, name)) as f:
                return [os.path.join(wan_dir, n) for n in sorted(set(json.load(f)["weight_map"].values()))]
    return [os.path.join(wan_dir, n) for n in sorted(os.listdir(wan_dir))
            if n.startswith("diffusion_pytorch_model") and n.endswith(".safetensors")]


def plan(dit_params: int, dit_shard_bytes: int, t5_bytes: int, dtype: str, quant: Optional[str]) -> Needs:
    """What the build needs, from the model sizes; see the module docstring for where each term comes from."""
    w = BYTES[dtype]
    dit = dit_params * w  # the DiT graph in the pack dtype
    t5_params = t5_bytes / 2  # the official checkpoint is bf16
    t5 = t5_params * w
    quantized = dit_params * QUANT_BYTES[quant] if quant else 0.0
    steps = {
        "DiT load + merge (RAM, GPU export)": dit_shard_bytes,
        "DiT ONNX write (RAM)": 2 * dit,
        "DiT load + merge (RAM, CPU export)": dit_shard_bytes + dit_params * 2,
        "DiT ONNX write (RAM, CPU export)": 3 * dit,
        "DiT on the GPU": dit_params * max(2, w),
        "text encoder (RAM)": t5_bytes + 2 * t5,
        "quantisation (RAM)": dit + quantized if quant else 0.0,  # onnx.load of the fp16 graph + the quantised one
        "disk: DiT graph written twice": 2 * dit,
        "disk: DiT + quantised copy": dit + quantized if quant else 0.0,
        "disk: DiT + text encoder written twice": (quantized or dit) + 2 * t5,
    }
    ram_gpu = max(steps["DiT load + merge (RAM, GPU export)"], steps["DiT ONNX write (RAM)"],
                  steps["text encoder (RAM)"], steps["quantisation (RAM)"])
    ram_cpu = max(steps["DiT load + merge (RAM, CPU export)"], steps["DiT ONNX write (RAM, CPU export)"],
                  steps["text encoder (RAM)"], steps["quantisation (RAM)"])
    disk = max(steps["disk: DiT graph written twice"], steps["disk: DiT + quantised copy"],
               steps["disk: DiT + text encoder written twice"]) + 0.5 * GB  # VAE graphs, tokenizer, manifest
    return Needs(ram_with_gpu=ram_gpu * HEADROOM, gpu=steps["DiT on the GPU"] * HEADROOM + 2 * GB,
                 ram_cpu_only=ram_cpu * HEADROOM, disk=disk * HEADROOM, steps=steps)


def plan_for(wan_dir: str, dtype: str, quant: Optional[str]) -> Needs:
    shards = dit_shards(wan_dir)
    t5 = os.path.join(wan_dir, T5_CHECKPOINT)
    return plan(sum(safetensors_params(s) for s in shards), sum(os.path.getsize(s) for s in shards),
                os.path.getsize(t5) if os.path.exists(t5) else 0, dtype, quant)


def check_inputs(wan_dir: str, pusa_lora: Optional[str], lightx2v: Optional[str]) -> list:
    if not os.path.isdir(wan_dir):
        return [f"--wan-dir {wan_dir} is not a folder (download Wan-AI/Wan2.1-T2V-14B first, docs/real-model.md)"]
    problems = []
    if not dit_shards(wan_dir):
        problems.append(f"no diffusion_pytorch_model*.safetensors in {wan_dir}")
    for name in ("Wan2.1_VAE.pth", T5_CHECKPOINT):
        if not os.path.exists(os.path.join(wan_dir, name)):
            problems.append(f"{wan_dir}/{name} is missing (part of the official Wan2.1-T2V-14B download)")
    tok = os.path.join(wan_dir, "google", "umt5-xxl")
    if not any(os.path.exists(os.path.join(tok, n)) for n in ("tokenizer.json", "spiece.model")):
        problems.append(f"{tok}/ has neither tokenizer.json nor spiece.model")
    for flag, path in (("--pusa-lora", pusa_lora), ("--lightx2v", lightx2v)):
        if path and not os.path.isfile(path):
            problems.append(f"{flag} {path} does not exist")
    return problems


def check_machine(needs: Needs, m: Machine) -> list:
    """With a GPU that has room, the DiT is merged and traced there and RAM needs only hold the shards; otherwise
    everything happens in RAM (much slower, much more RAM)."""
    problems = []
    gpu_ok = m.gpu_free is not None and m.gpu_free >= needs.gpu
    ram_need = needs.ram_with_gpu if gpu_ok else needs.ram_cpu_only
    if m.ram_available < ram_need:
        gpu_note = (f"with the GPU ({m.gpu_name}, {m.gpu_free / GB:.0f} GB free)" if gpu_ok else
                    "without a GPU of at least %.0f GB free (%s)" % (
                        needs.gpu / GB, "none found" if m.gpu_free is None else
                        f"{m.gpu_name} has {m.gpu_free / GB:.0f} GB free"))
        problems.append(f"RAM: {m.ram_available / GB:.0f} GB available, the build needs about {ram_need / GB:.0f} GB "
                        f"{gpu_note}" + ("" if gpu_ok else
                                         f"; with such a GPU it would need {needs.ram_with_gpu / GB:.0f} GB"))
    if m.disk_free < needs.disk:
        problems.append(f"disk: {m.disk_free / GB:.0f} GB free where the pack is written, the build needs about "
                        f"{needs.disk / GB:.0f} GB (the exporter writes each large graph twice before deleting one)")
    return problems


def probe_machine(out_dir: str) -> Machine:
    ram = _mem_available()
    probe_dir = os.path.abspath(out_dir)
    while not os.path.exists(probe_dir):  # the pack folder may not exist yet: its nearest existing parent's disk
        probe_dir = os.path.dirname(probe_dir)
    disk = shutil.disk_usage(probe_dir).free
    gpu_free, name = None, ""
    try:
        import torch  # only reached when the package check passed
        if torch.cuda.is_available():
            gpu_free, _ = torch.cuda.mem_get_info(0)
            name = torch.cuda.get_device_name(0)
    except Exception:  # a broken CUDA install: the build runs on the CPU, and RAM is checked for that
        gpu_free = None
    return Machine(ram_available=ram, disk_free=disk, gpu_free=gpu_free, gpu_name=name)


def _mem_available() -> float:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")


def needs_spiece(wan_dir: str) -> bool:
    tok = os.path.join(wan_dir, "google", "umt5-xxl")
    return not os.path.exists(os.path.join(tok, "tokenizer.json")) and os.path.exists(os.path.join(tok, "spiece.model"))


def fail(problems: list) -> None:
    if problems:
        raise SystemExit("build_pack.py cannot start on this machine:\n" + "\n".join(f"  - {p}" for p in problems) +
                         "\nPython packages: pip install -r exporter/requirements.txt; hardware: docs/real-model.md"
                         " ('What it needs'). --skip-preflight runs anyway.")


def wan_dir_from_argv(argv: list) -> Optional[str]:
    """--wan-dir's value, read before argparse runs (it decides whether the spiece converter's packages are needed)."""
    for i, arg in enumerate(argv):
        if arg == "--wan-dir" and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--wan-dir="):
            return arg.split("=", 1)[1]
    return None


def require_packages(wan_dir: Optional[str] = None) -> None:
    """The package part alone, before build_pack.py imports torch."""
    fail(check_packages(read_requirements(), installed_version, bool(wan_dir) and os.path.isdir(wan_dir) and
                        needs_spiece(wan_dir)))


def run(wan_dir: str, out_dir: str, dtype: str, quant: Optional[str], pusa_lora: Optional[str] = None,
        lightx2v: Optional[str] = None) -> Needs:
    """Everything: inputs, packages, then the machine (only once torch is known to be importable)."""
    problems = check_inputs(wan_dir, pusa_lora, lightx2v)
    packages = check_packages(read_requirements(), installed_version, os.path.isdir(wan_dir) and needs_spiece(wan_dir))
    problems += packages
    needs = plan_for(wan_dir, dtype, quant) if os.path.isdir(wan_dir) and dit_shards(wan_dir) else None
    # the GPU is asked through torch: without a usable torch the machine check would misreport a CPU-only build
    if needs is not None and not any(p.startswith("torch ") for p in packages):
        problems += check_machine(needs, probe_machine(out_dir))
    fail(problems)
    return needs
