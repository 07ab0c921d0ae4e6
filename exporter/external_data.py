"""Writing an exported graph's weights into one external-data file beside it, tensor by tensor."""
from __future__ import annotations

import os


def gather_external_data(src: str, path: str, threshold: int = 1024, model=None):
    """Save the exported graph `src` as `path` with every initializer of ≥ `threshold` bytes in one `<path>.data`.
    `model`: that graph already loaded (without its external data) and changed in memory (exporter/fp8.py): its
    external initializers are still read from beside `src`, its new ones from their raw bytes.

    Streams tensor by tensor: past 2 GB the exporter has already written each weight to its own file beside `src`,
    and loading them all into one protobuf (onnx.load + save_as_external_data) would hold the whole model in memory
    twice and put the 2.1 GB fp16 embedding into a single protobuf bytes field."""
    import onnx
    m = model if model is not None else onnx.load(src, load_external_data=False)
    src_dir = os.path.dirname(os.path.abspath(src))
    location = os.path.basename(path) + ".data"
    from onnx.external_data_helper import _get_all_tensors
    with open(path + ".data", "wb") as out:
        # every tensor, not only the initializers: past 2 GB the exporter also writes Constant nodes' values to
        # files of their own, which must come along too (they live in the exporter's temporary folder)
        for t in _get_all_tensors(m):
            offset = out.tell()
            if t.data_location == onnx.TensorProto.EXTERNAL:
                info = {e.key: e.value for e in t.external_data}
                with open(os.path.join(src_dir, info["location"]), "rb") as f:
                    f.seek(int(info.get("offset", 0)))
                    left = int(info["length"]) if "length" in info else None
                    while left is None or left > 0:
                        chunk = f.read(1 << 26 if left is None else min(1 << 26, left))
                        if not chunk:
                            break
                        out.write(chunk)
                        if left is not None:
                            left -= len(chunk)
                del t.external_data[:]
            elif len(t.raw_data) >= threshold:
                out.write(t.raw_data)
                t.ClearField("raw_data")
            else:
                continue  # small, or stored in typed fields: stays inline
            for key, value in (("location", location), ("offset", str(offset)), ("length", str(out.tell() - offset))):
                entry = t.external_data.add()
                entry.key, entry.value = key, value
            t.data_location = onnx.TensorProto.EXTERNAL
    onnx.save(m, path)
    # no onnx.checker (it loads the data into memory); loading in onnxruntime is the check (verify / tests)
