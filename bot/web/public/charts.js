/* global uPlot */
// The dashboard's charts (GET /api/admin/charts), drawn with uPlot (served at /vendor/uplot.js from its npm package).
// Each chart's box gets data-drawn, data-points (values drawn) and data-nonzero once uPlot has drawn it, and the page
// a `charts-drawn` event, so a test (or a script) waits for the drawing rather than for time.
const $ = (id) => document.getElementById(id);
// Okabe–Ito: told apart with the common colour-vision deficiencies, and readable on the dark page.
const COLOURS = ['#56b4e9', '#e69f00', '#009e73', '#f0e442', '#cc79a7', '#d55e00', '#0072b2'];
const OUTCOME = { succeeded: '#009e73', failed: '#d55e00', cancelled: '#949ba4' };
let window_ = localStorage.getItem('pusa-admin-window') === '24h' ? '24h' : '1h';
const plots = new Map();

/** What each chart shows: its title (also its accessible name), unit, and its lines from the server's series. */
const CHARTS = [
  {
    id: 'chart-depth',
    title: 'Queue depth',
    unit: 'jobs',
    lines: (c) => [{ label: 'queued', values: c.depth }],
    stepped: true,
  },
  {
    id: 'chart-wait',
    title: 'Wait from queued to running',
    unit: 's',
    // A minute with no job taken has no wait: a gap, so lone values are drawn as dots.
    dots: true,
    lines: (c) => [
      { label: 'p50', values: c.wait.p50 },
      { label: 'p95', values: c.wait.p95 },
    ],
  },
  {
    id: 'chart-throughput',
    title: 'Jobs finished',
    unit: 'jobs',
    lines: (c) =>
      Object.entries(c.throughput).map(([label, values]) => ({ label, values, colour: OUTCOME[label], stepped: true })),
  },
  { id: 'chart-gpu-user', title: 'GPU seconds by user', unit: 'GPU s', lines: (c) => c.gpuByUser, stepped: true },
  {
    id: 'chart-gpu-workspace',
    title: 'GPU seconds by workspace',
    unit: 'GPU s',
    lines: (c) => c.gpuByWorkspace,
    stepped: true,
  },
  {
    id: 'chart-busy',
    title: 'Worker busy share',
    unit: '%',
    max: 100,
    lines: (c) => c.busy.map((b) => ({ label: b.label, values: b.values.map((v) => Math.round(v * 1000) / 10) })),
    stepped: true,
  },
];

function draw(box, spec, charts) {
  const lines = spec.lines(charts);
  const values = lines.flatMap((l) => l.values).filter((v) => v !== null);
  const stepMinutes = charts.step / 60;
  const per = stepMinutes >= 1 ? ` per ${stepMinutes} min` : '';
  const unit = spec.id === 'chart-throughput' || spec.id.startsWith('chart-gpu') ? `${spec.unit}${per}` : spec.unit;
  box.setAttribute('aria-label', `${spec.title}, ${unit}, last ${charts.window === '24h' ? 'day' : 'hour'}`);
  box.querySelector('.empty').hidden = lines.length > 0;
  plots.get(spec.id)?.destroy();
  const plot = new uPlot(
    {
      width: Math.max(280, box.clientWidth),
      height: 200,
      scales: { x: { time: true }, y: { range: (_u, min, max) => [Math.min(0, min), spec.max ?? Math.max(1, max)] } },
      axes: [
        { stroke: '#b5bac1', grid: { stroke: '#3f4147' }, ticks: { stroke: '#3f4147' } },
        { stroke: '#b5bac1', grid: { stroke: '#3f4147' }, ticks: { stroke: '#3f4147' }, label: unit, size: 56 },
      ],
      series: [
        { label: 'time' },
        ...lines.map((l, i) => ({
          label: l.label,
          stroke: l.colour ?? COLOURS[i % COLOURS.length],
          width: 2,
          spanGaps: false,
          points: { show: spec.dots === true, size: 6 },
          ...(l.stepped || spec.stepped ? { paths: uPlot.paths.stepped({ align: 1 }) } : {}),
          value: (_u, v) => (v === null || v === undefined ? '–' : `${v} ${spec.unit}`),
        })),
      ],
      hooks: {
        draw: [
          () => {
            box.dataset.points = String(values.length);
            box.dataset.nonzero = String(values.filter((v) => v !== 0).length);
            box.dataset.drawn = charts.window;
          },
        ],
      },
    },
    [charts.t, ...lines.map((l) => l.values)],
    box.querySelector('.plot'),
  );
  plots.set(spec.id, plot);
}

export async function loadCharts() {
  const token = $('token').value;
  const res = await fetch(`/api/admin/charts?window=${window_}`, {
    headers: token ? { authorization: `Bearer ${token}` } : {},
  });
  const answer = await res.json();
  $('chartsaid').textContent = answer.ok
    ? answer.charts.truncated
      ? 'more jobs than the charts read: they show the start of the window'
      : ''
    : answer.error;
  if (!answer.ok) return;
  for (const spec of CHARTS) draw($(spec.id), spec, answer.charts);
  document.dispatchEvent(new CustomEvent('charts-drawn', { detail: { window: window_ } }));
}

for (const [id, value] of [
  ['window-1h', '1h'],
  ['window-24h', '24h'],
]) {
  $(id).setAttribute('aria-pressed', String(value === window_));
  $(id).onclick = async () => {
    window_ = value;
    localStorage.setItem('pusa-admin-window', value);
    $('window-1h').setAttribute('aria-pressed', String(value === '1h'));
    $('window-24h').setAttribute('aria-pressed', String(value === '24h'));
    await loadCharts();
  };
}
// A token typed in after the page loaded draws the charts at once, not at the next refresh.
$('token').addEventListener('change', () => void loadCharts());
await loadCharts();
setInterval(() => void loadCharts(), 30_000);
