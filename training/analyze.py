"""Text-to-video checker: does a single-object clip show the prompt's colour and direction?

Algorithm (re-implemented in TypeScript; keep the two in step), on frames as uint8 RGB [T,H,W,3]:
 1. Background colour of each frame = per-channel median of its border pixels (the outermost BORDER=4 rows and
    columns; each border pixel counted once).
 2. Object mask of a frame = pixels whose Euclidean RGB distance (0..255 scale) to that frame's background colour
    exceeds MASK_DIST=60.
 3. A frame is valid when its mask has >= MIN_AREA=20 pixels. Its centroid (cx, cy) = mean pixel column/row of the
    mask (pixel centres at integer + 0.5, y downwards). Fewer than half the frames valid -> verdict "none".
 4. Colour = the palette name (data.COLORS) nearest (Euclidean RGB) to the mean RGB of all mask pixels of all
    valid frames.
 5. Least-squares line through the valid frames' (t, cx) and (t, cy), t = frame index: slopes bx, by (px/frame).
    Displacement dx = bx*(T-1), dy = by*(T-1). If max(|dx|,|dy|) < MIN_MOVE=4 px -> direction "static".
    Else horizontal part = "left"/"right" by the sign of dx when |dx| >= DIAG*max(|dx|,|dy|) (DIAG=0.4), vertical
    part = "up"/"down" by the sign of dy (negative = up) under the same rule; direction = "moves" + vertical part +
    horizontal part, e.g. "moves up left", "moves right".
 6. A sample passes when colour == prompt colour and direction == prompt motion.
"""
import numpy as np

from data import COLORS

BORDER, MASK_DIST, MIN_AREA, MIN_MOVE, DIAG = 4, 60.0, 20, 4.0, 0.4


def analyze(frames):
    fr = frames.astype(np.float32)
    T, H, W, _ = fr.shape
    border = np.ones((H, W), bool)
    border[BORDER:H - BORDER, BORDER:W - BORDER] = False
    ts, cxs, cys, cols = [], [], [], []
    yy, xx = np.mgrid[0:H, 0:W]
    for t in range(T):
        bg = np.median(fr[t][border], axis=0)
        mask = np.linalg.norm(fr[t] - bg, axis=-1) > MASK_DIST
        if mask.sum() >= MIN_AREA:
            ts.append(t)
            cxs.append((xx[mask] + 0.5).mean())
            cys.append((yy[mask] + 0.5).mean())
            cols.append(fr[t][mask])
    if len(ts) < T / 2 or len(ts) < 2:
        return {"color": None, "direction": "none", "dx": 0.0, "dy": 0.0}
    mean = np.concatenate(cols).mean(0)
    names = list(COLORS)
    color = names[int(np.argmin([np.linalg.norm(mean - np.array(COLORS[n])) for n in names]))]
    t = np.array(ts, np.float64)
    bx = np.polyfit(t, np.array(cxs), 1)[0]
    by = np.polyfit(t, np.array(cys), 1)[0]
    dx, dy = bx * (T - 1), by * (T - 1)
    big = max(abs(dx), abs(dy))
    if big < MIN_MOVE:
        return {"color": color, "direction": "static", "dx": dx, "dy": dy}
    parts = ["moves"]
    if abs(dy) >= DIAG * big:
        parts.append("up" if dy < 0 else "down")
    if abs(dx) >= DIAG * big:
        parts.append("left" if dx < 0 else "right")
    return {"color": color, "direction": " ".join(parts), "dx": float(dx), "dy": float(dy)}


def to_uint8(video):
    """[3,T,H,W] in [-1,1] (torch or numpy) -> uint8 [T,H,W,3], truncating like spec A.6."""
    v = video.detach().float().cpu().numpy() if hasattr(video, "detach") else video
    return np.clip((v + 1) * 127.5, 0, 255).astype(np.uint8).transpose(1, 2, 3, 0)
