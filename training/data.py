"""Procedural caption+video generator for pusa-mini (deterministic by seed, vectorised in torch).

A clip is 1..3 anti-aliased shapes (signed-distance rendering) over a plain or gradient background.
Every parameter is drawn per clip from a torch.Generator seeded with `seed`, so `make_batch(seed, n, T)`
returns the same clips on any device. The caption is built from the same parameters.
"""
import math
import torch

H = W = 128
FPS = 16

# name -> RGB in 0..255. Chosen far apart in RGB so the analyzer can name a colour by nearest neighbour.
COLORS = {
    "red": (225, 35, 35), "green": (40, 190, 60), "blue": (45, 90, 240), "yellow": (245, 225, 40),
    "orange": (250, 140, 20), "purple": (150, 50, 210), "white": (245, 245, 245), "cyan": (40, 225, 235),
}
COLOR_NAMES = list(COLORS)
# Backgrounds are dark/neutral so every shape colour stands out against every background.
BACKGROUNDS = {
    "black": (8, 8, 8), "dark blue": (15, 25, 80), "dark green": (15, 60, 25), "gray": (95, 95, 95),
    "brown": (85, 50, 25), "dark purple": (50, 20, 65),
}
BG_NAMES = list(BACKGROUNDS)
SHAPES = ["circle", "square", "triangle", "star", "ring", "diamond"]
# (caption words, unit direction in image coords: +x right, +y down)
MOVES = [
    ("moves left", (-1, 0)), ("moves right", (1, 0)), ("moves up", (0, -1)), ("moves down", (0, 1)),
    ("moves up left", (-1, -1)), ("moves up right", (1, -1)), ("moves down left", (-1, 1)),
    ("moves down right", (1, 1)),
]
OTHER = ["bounces", "grows", "shrinks", "rotates", "turns"]  # "turns" is followed by the new colour name
MOTIONS = [m[0] for m in MOVES] + OTHER
PANS = ["left", "right", "up", "down"]


def vocabulary():
    words = set("a an and on background gradient the camera pans , vertical horizontal".split())
    for n in COLOR_NAMES + BG_NAMES + SHAPES + MOTIONS + PANS:
        words.update(n.split())
    return sorted(words)


def _u(g, n, lo, hi):
    return lo + (hi - lo) * torch.rand(n, generator=g)


def sample_params(seed, n, max_shapes=3, force=None):
    """Draw clip parameters on CPU (cheap). `force` overrides fields (used by evaluation prompts)."""
    g = torch.Generator().manual_seed(int(seed))
    S = max_shapes
    p = {
        "nshape": torch.randint(1, S + 1, (n,), generator=g),
        "bg": torch.randint(0, len(BG_NAMES), (n,), generator=g),
        "grad": torch.randint(0, 3, (n,), generator=g),  # 0 plain, 1 vertical, 2 horizontal
        "pan": torch.where(torch.rand(n, generator=g) < 0.12, torch.randint(0, 4, (n,), generator=g), -1),
        "pan_speed": _u(g, n, 0.5, 1.0),
        "shape": torch.randint(0, len(SHAPES), (n, S), generator=g),
        "color": torch.randint(0, len(COLOR_NAMES), (n, S), generator=g),
        "color2": torch.randint(0, len(COLOR_NAMES), (n, S), generator=g),
        "motion": torch.randint(0, len(MOTIONS), (n, S), generator=g),
        "size": _u(g, (n, S), 9.0, 16.0),
        "speed": _u(g, (n, S), 0.8, 1.6),  # px per frame
        "cx": _u(g, (n, S), 30, 98), "cy": _u(g, (n, S), 30, 98),
        "angle0": _u(g, (n, S), 0, 2 * math.pi),
        "spin": _u(g, (n, S), 0.05, 0.12) * torch.where(torch.rand((n, S), generator=g) < 0.5, -1.0, 1.0),
        "bounce_period": _u(g, (n, S), 10, 18),
    }
    if force:
        for k, v in force.items():
            p[k] = v.clone() if torch.is_tensor(v) else torch.as_tensor(v).expand_as(p[k]).clone()
    # Never two identical colours in one clip (captions would be ambiguous); "turns" must change colour.
    c = p["color"]
    for j in range(1, S):
        for i in range(j):
            c[:, j] = torch.where(c[:, j] == c[:, i], (c[:, j] + 1 + i) % len(COLOR_NAMES), c[:, j])
    p["color2"] = torch.where(p["color2"] == c, (c + 3) % len(COLOR_NAMES), p["color2"])
    # Circles/rings look the same when rotated: give them a different motion instead.
    rot = MOTIONS.index("rotates")
    round_ = (p["shape"] == 0) | (p["shape"] == 4)
    p["motion"] = torch.where(round_ & (p["motion"] == rot), MOTIONS.index("grows"), p["motion"])
    return p


def caption(p, i):
    parts = []
    for j in range(int(p["nshape"][i])):
        m = MOTIONS[int(p["motion"][i, j])]
        if m == "turns":
            m = "turns " + COLOR_NAMES[int(p["color2"][i, j])]
        c = COLOR_NAMES[int(p["color"][i, j])]
        parts.append(f"{'an' if c[0] in 'aeiou' else 'a'} {c} {SHAPES[int(p['shape'][i, j])]} {m}")
    bg = BG_NAMES[int(p["bg"][i])]
    gr = ["", " vertical gradient", " horizontal gradient"][int(p["grad"][i])]
    s = " and ".join(parts) + f" on a {bg}{gr} background"
    if int(p["pan"][i]) >= 0:
        s += f", the camera pans {PANS[int(p['pan'][i])]}"
    return s


def _sdf(kind, px, py, s):
    """Approximate signed distance (pixels) for each shape kind; px,py in the shape's local frame."""
    r = torch.sqrt(px * px + py * py + 1e-6)
    if kind == 0:  # circle
        return r - s
    if kind == 1:  # square
        b = s * 0.85
        qx, qy = px.abs() - b, py.abs() - b
        return torch.sqrt(qx.clamp(min=0) ** 2 + qy.clamp(min=0) ** 2) + torch.maximum(qx, qy).clamp(max=0)
    if kind == 2:  # equilateral triangle pointing up (iq's sdf), y flipped for image coords
        k = math.sqrt(3.0)
        rr = s * 1.05
        x, y = px.abs() - rr, -py + rr / k
        cond = x + k * y > 0
        x2, y2 = torch.where(cond, (x - k * y) / 2, x), torch.where(cond, (-k * x - y) / 2, y)
        x2 = x2 - torch.maximum(x2, -2 * rr).clamp(max=0.0)
        return -torch.sqrt(x2 * x2 + y2 * y2) * torch.sign(y2)
    if kind == 3:  # 5-point star, radius interpolated in polar angle
        a = torch.atan2(py, px) + math.pi / 2
        f = torch.remainder(a / (2 * math.pi / 5), 1.0)
        tri = (f - 0.5).abs() * 2  # 1 at the points
        return (r - (s * 0.6 + s * 0.6 * tri)) * 0.8
    if kind == 4:  # ring
        return (r - s * 0.8).abs() - s * 0.28
    # diamond: taller than wide so it never looks like a rotated square
    return (px.abs() * 1.35 + py.abs() * 0.85 - s * 1.1) / 1.6


@torch.no_grad()
def render(p, T, device="cpu", t0=0):
    """Render frames t0..t0+T-1 of every clip. Returns float [n,3,T,H,W] in [-1,1]."""
    n, S = p["shape"].shape
    dev = torch.device(device)
    P = {k: v.to(dev) for k, v in p.items()}
    t = torch.arange(t0, t0 + T, device=dev, dtype=torch.float32).view(1, T, 1, 1)
    ys = torch.arange(H, device=dev, dtype=torch.float32).view(1, 1, H, 1) + 0.5
    xs = torch.arange(W, device=dev, dtype=torch.float32).view(1, 1, 1, W) + 0.5
    # camera pan: everything (shapes + gradient) shifts opposite to the pan direction
    pan = P["pan"].view(n, 1, 1, 1)
    ps = P["pan_speed"].view(n, 1, 1, 1) * t
    offx = torch.where(pan == 0, ps, torch.where(pan == 1, -ps, torch.zeros_like(ps)))
    offy = torch.where(pan == 2, ps, torch.where(pan == 3, -ps, torch.zeros_like(ps)))
    offx, offy = torch.where(pan >= 0, offx, 0.0), torch.where(pan >= 0, offy, 0.0)

    bgc = torch.tensor([BACKGROUNDS[b] for b in BG_NAMES], device=dev, dtype=torch.float32)[P["bg"]] / 255
    bgc = bgc.view(n, 3, 1, 1, 1)
    gv = ((ys - offy) / H).unsqueeze(1)  # [n,1,T,H,1]
    gh = ((xs - offx) / W).unsqueeze(1)
    grad = P["grad"].view(n, 1, 1, 1, 1)
    ramp = torch.where(grad == 1, gv.expand(n, 1, T, H, W), torch.where(grad == 2, gh.expand(n, 1, T, H, W), 0.5))
    # gradient: from 1.6x the colour (+ a lift) to 0.4x, so even "black" shows a gradient
    img = torch.where(grad > 0, (bgc * (1.6 - 1.2 * ramp) + 0.1 * (1 - ramp)).clamp(0, 1), bgc.expand(n, 3, T, H, W))

    palette = torch.tensor([COLORS[c] for c in COLOR_NAMES], device=dev, dtype=torch.float32) / 255
    for j in range(S):
        active = (P["nshape"] > j).view(n, 1, 1, 1)
        m = P["motion"][:, j].view(n, 1, 1, 1)
        spd = P["speed"][:, j].view(n, 1, 1, 1)
        dirs = torch.tensor([d for _, d in MOVES] + [(0, 0)] * len(OTHER), device=dev, dtype=torch.float32)
        dvec = dirs[P["motion"][:, j]]
        dvec = dvec / dvec.norm(dim=1, keepdim=True).clamp(min=1e-6)
        # start so that the middle of a 45-frame clip is near the drawn centre
        cx = P["cx"][:, j].view(n, 1, 1, 1) + dvec[:, 0].view(n, 1, 1, 1) * spd * (t - 22)
        cy = P["cy"][:, j].view(n, 1, 1, 1) + dvec[:, 1].view(n, 1, 1, 1) * spd * (t - 22)
        size = P["size"][:, j].view(n, 1, 1, 1).expand(n, T, 1, 1)
        bnc = MOTIONS.index("bounces")
        per = P["bounce_period"][:, j].view(n, 1, 1, 1)
        cy = torch.where(m == bnc, cy + 18 - 36 * torch.sin(math.pi * t / per).abs(), cy)
        grow = torch.exp(0.022 * (t - 22)).clamp(0.45, 2.2)
        size = torch.where(m == MOTIONS.index("grows"), size * grow, size)
        size = torch.where(m == MOTIONS.index("shrinks"), size / grow, size)
        ang = P["angle0"][:, j].view(n, 1, 1, 1) * torch.ones_like(t)
        ang = torch.where(m == MOTIONS.index("rotates"), ang + P["spin"][:, j].view(n, 1, 1, 1) * t, ang)
        ca, sa = torch.cos(ang), torch.sin(ang)
        dx, dy = xs - (cx + offx), ys - (cy + offy)
        lx, ly = ca * dx + sa * dy, -sa * dx + ca * dy
        d = torch.zeros(n, T, H, W, device=dev)
        for k in range(len(SHAPES)):
            sel = P["shape"][:, j] == k
            if sel.any():
                d[sel] = _sdf(k, lx[sel], ly[sel], size[sel])
        alpha = ((0.5 - d).clamp(0, 1) * active).unsqueeze(1)  # 1-px anti-aliasing
        c1 = palette[P["color"][:, j]].view(n, 3, 1, 1, 1)
        c2 = palette[P["color2"][:, j]].view(n, 3, 1, 1, 1)
        # colour change runs across the whole 45-frame base clip
        mix = ((t.view(1, 1, T, 1, 1) - 8) / 28).clamp(0, 1)
        col = torch.where((m == MOTIONS.index("turns")).view(n, 1, 1, 1, 1), c1 + (c2 - c1) * mix, c1)
        img = img * (1 - alpha) + col * alpha
    return img * 2 - 1


def make_batch(seed, n, T, device="cpu", max_shapes=3, force=None):
    p = sample_params(seed, n, max_shapes, force)
    return render(p, T, device), [caption(p, i) for i in range(n)], p


if __name__ == "__main__":
    import sys
    v, caps, _ = make_batch(int(sys.argv[1]) if len(sys.argv) > 1 else 0, 8, 17)
    print(v.shape, v.min().item(), v.max().item())
    for c in caps:
        print(c)
    print(len(vocabulary()), vocabulary())
