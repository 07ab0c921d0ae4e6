"""Facts read back from an exported graph, shared by the exporters and the pack builder (the graph, not our intent,
is what the manifest must describe)."""
import onnx

ONNX_TYPES = {1: "float32", 10: "float16", 16: "bfloat16", 7: "int64", 6: "int32"}


def load_graph(path_or_model):
    if isinstance(path_or_model, onnx.ModelProto):
        return path_or_model
    return onnx.load(path_or_model, load_external_data=False)


def op_histogram(path_or_model) -> dict:
    """{"[domain.]OpType": count} over the top-level graph."""
    ops = {}
    for n in load_graph(path_or_model).graph.node:
        key = (n.domain + "." if n.domain else "") + n.op_type
        ops[key] = ops.get(key, 0) + 1
    return ops


def io_spec(path_or_model) -> dict:
    """{inputs, outputs} as the pack manifest wants them: name, dtype, shape with symbolic dims as their names."""
    m = load_graph(path_or_model)

    def one(v):
        t = v.type.tensor_type
        return {"name": v.name, "dtype": ONNX_TYPES[t.elem_type],
                "shape": [d.dim_param if d.dim_param else d.dim_value for d in t.shape.dim]}
    return {"inputs": [one(i) for i in m.graph.input], "outputs": [one(o) for o in m.graph.output]}
