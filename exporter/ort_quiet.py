"""onnxruntime without telemetry, as the Node side loads it (worker/runtime/onnxruntime.ts, docs/deploy.md#telemetry).

onnxruntime 1.29+ records a device id and usage events under ~/.cache/Microsoft unless told not to; its native code
reads ORT_DISABLE_TELEMETRY once, when it initialises, so the variable is set before the first import.  An operator
who wants telemetry sets ORT_DISABLE_TELEMETRY=0 themselves."""
import os


def load():
    os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
    import onnxruntime
    if os.environ["ORT_DISABLE_TELEMETRY"] != "0" and hasattr(onnxruntime, "disable_telemetry_events"):
        onnxruntime.disable_telemetry_events()
    return onnxruntime
