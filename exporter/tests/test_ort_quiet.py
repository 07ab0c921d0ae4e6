"""The exporter's onnxruntime records no telemetry by default (ort_quiet.py), as the Node side (docs/deploy.md)."""
import os
import subprocess
import sys

import pytest

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = """
import sys; sys.path.insert(0, %r)
import onnx
from onnx import TensorProto, helper
from ort_quiet import load
ort = load()
g = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g",
                      [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                      [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]); m.ir_version = 8
import numpy
ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": numpy.ones(1, "float32")})
""" % HERE


def test_no_telemetry_files_by_default(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "ORT_DISABLE_TELEMETRY"}
    env["HOME"] = str(tmp_path)
    subprocess.run([sys.executable, "-c", SCRIPT], env=env, check=True, timeout=120)
    written = [os.path.join(d, f) for d, _, fs in os.walk(tmp_path / ".cache") for f in fs] if (tmp_path / ".cache").exists() else []
    assert written == [], written
