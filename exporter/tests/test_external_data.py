"""external_data.gather_external_data: an exported graph's weights, initializers and Constant values alike, end up in
one `<path>.data` beside it (past 2 GB the exporter writes Constant node values to files of their own in its temporary
folder; leaving those behind broke the 40-block pack of 2026-12-04's third session)."""
import os
import shutil

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402
from onnx.external_data_helper import convert_model_to_external_data  # noqa: E402

from external_data import gather_external_data  # noqa: E402


def test_constant_values_and_initializers_move_with_the_graph(tmp_path):
    src_dir, out_dir = tmp_path / "export-tmp", tmp_path / "pack"
    src_dir.mkdir()
    out_dir.mkdir()
    w = np.arange(2048, dtype=np.float32).reshape(32, 64) / 1000
    c = np.linspace(-1, 1, 2048, dtype=np.float32).reshape(32, 64)
    nodes = [helper.make_node("Constant", [], ["c"], value=numpy_helper.from_array(c, "c_value"), name="/model/Constant_18"),
             helper.make_node("Add", ["x", "w"], ["xw"]), helper.make_node("Mul", ["xw", "c"], ["y"])]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [32, 64])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [32, 64])],
                          [numpy_helper.from_array(w, "w")])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    # as torch writes a big model: every tensor in a file of its own, the Constant's value included
    convert_model_to_external_data(m, all_tensors_to_one_file=False, size_threshold=0, convert_attribute=True)
    onnx.save(m, str(src_dir / "g.onnx"))
    assert len(os.listdir(src_dir)) == 3
    gather_external_data(str(src_dir / "g.onnx"), str(out_dir / "dit.onnx"))
    shutil.rmtree(src_dir)  # the exporter removes its temporary folder
    assert sorted(os.listdir(out_dir)) == ["dit.onnx", "dit.onnx.data"]
    back = onnx.load(str(out_dir / "dit.onnx"))  # loads every tensor's data from dit.onnx.data
    const = next(n for n in back.graph.node if n.op_type == "Constant").attribute[0].t
    assert np.array_equal(numpy_helper.to_array(const), c)
    assert np.array_equal(numpy_helper.to_array(back.graph.initializer[0]), w)
