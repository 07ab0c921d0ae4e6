import type { Activity, ChargeRecord, JobSpan } from '../../prisma/types.ts';

/**
 * The dashboard's charts over the last hour or day, computed from what the store already records (each job's
 * created, started and finished times and its worker; the ledger's charges), so they need no metrics of their own
 * and survive a restart. Pure: the store's rows and the window's end in, plain series out.
 */
export type ChartWindow = '1h' | '24h';
export const CHART_WINDOWS = {
  '1h': { ms: 3_600_000, buckets: 60 },
  '24h': { ms: 86_400_000, buckets: 96 },
} as const satisfies Record<ChartWindow, { ms: number; buckets: number }>;
/** Users and workspaces drawn by name in the GPU charts; the rest are summed as one "others" line. */
export const TOP = 4;

export interface NamedSeries {
  id: string;
  label: string;
  values: number[];
}

export interface ChartSeries {
  window: ChartWindow;
  /** Bucket width, seconds. */
  step: number;
  /** Each bucket's start, Unix seconds (uPlot's x axis). */
  t: number[];
  /** Jobs queued and not yet running at each bucket's end. */
  depth: number[];
  /** Seconds from queued to running of the jobs a worker took in each bucket; null where none was taken. */
  wait: { p50: (number | null)[]; p95: (number | null)[] };
  /** Jobs that ended in each bucket, by how. */
  throughput: { succeeded: number[]; failed: number[]; cancelled: number[] };
  /** Net GPU seconds charged in each bucket (refunds taken off), by user and by workspace. */
  gpuByUser: NamedSeries[];
  gpuByWorkspace: NamedSeries[];
  /** The share (0 to 1) of each bucket each worker spent running a job. */
  busy: NamedSeries[];
  /** The store held more rows than were read: the charts show part of the window. */
  truncated: boolean;
}

/** Nearest-rank percentile of sorted values: the smallest value with at least `p` of them at or below it. */
export function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)] ?? null;
}

export function chartSeries(activity: Activity, window: ChartWindow, until: Date): ChartSeries {
  const { ms, buckets } = CHART_WINDOWS[window];
  const step = ms / buckets;
  const since = until.getTime() - ms;
  const zeros = () => new Array<number>(buckets).fill(0);
  /** The bucket an instant falls in, or -1 outside the window. */
  const bucketOf = (at: Date) => {
    const i = Math.floor((at.getTime() - since) / step);
    return i >= 0 && i < buckets ? i : -1;
  };
  const ends = Array.from({ length: buckets }, (_, i) => since + (i + 1) * step);

  // A requeued job keeps only its last start, so while its first run lasted it counts as queued here.
  const depth = ends.map(
    (end) =>
      activity.jobs.filter(
        (j) =>
          j.createdAt.getTime() <= end &&
          (j.startedAt === null || j.startedAt.getTime() > end) &&
          (j.finishedAt === null || j.finishedAt.getTime() > end),
      ).length,
  );

  const waits = Array.from({ length: buckets }, () => [] as number[]);
  const throughput = { succeeded: zeros(), failed: zeros(), cancelled: zeros() };
  for (const j of activity.jobs) {
    if (j.startedAt !== null) {
      const i = bucketOf(j.startedAt);
      if (i >= 0) waits[i]?.push((j.startedAt.getTime() - j.createdAt.getTime()) / 1000);
    }
    if (j.finishedAt !== null && (j.status === 'succeeded' || j.status === 'failed' || j.status === 'cancelled')) {
      const i = bucketOf(j.finishedAt);
      if (i >= 0) throughput[j.status][i] = (throughput[j.status][i] ?? 0) + 1;
    }
  }
  for (const w of waits) w.sort((a, b) => a - b);

  return {
    window,
    step: step / 1000,
    t: ends.map((end) => (end - step) / 1000),
    depth,
    wait: { p50: waits.map((w) => percentile(w, 0.5)), p95: waits.map((w) => percentile(w, 0.95)) },
    throughput,
    gpuByUser: topSeries(activity.charges, (c) => [c.userId, c.userName], bucketOf, buckets),
    gpuByWorkspace: topSeries(activity.charges, (c) => [c.workspaceId, c.workspaceName], bucketOf, buckets),
    busy: busyShares(activity.jobs, since, step, buckets, until.getTime()),
    truncated: activity.truncated,
  };
}

/** Charges per bucket for the `TOP` largest keys over the window, the rest summed under "others". */
function topSeries(
  charges: readonly ChargeRecord[],
  key: (c: ChargeRecord) => [id: string, label: string],
  bucketOf: (at: Date) => number,
  buckets: number,
): NamedSeries[] {
  const byKey = new Map<string, NamedSeries & { total: number }>();
  for (const c of charges) {
    const i = bucketOf(c.at);
    if (i < 0) continue;
    const [id, label] = key(c);
    const series = byKey.get(id) ?? { id, label, values: new Array<number>(buckets).fill(0), total: 0 };
    series.values[i] = (series.values[i] ?? 0) + c.seconds;
    series.total += c.seconds;
    byKey.set(id, series);
  }
  const ranked = [...byKey.values()].sort((a, b) => b.total - a.total || a.label.localeCompare(b.label));
  const named = ranked.slice(0, TOP).map(({ id, label, values }) => ({ id, label, values }));
  const rest = ranked.slice(TOP);
  if (rest.length === 0) return named;
  const values = new Array<number>(buckets).fill(0).map((_, i) => rest.reduce((sum, s) => sum + (s.values[i] ?? 0), 0));
  return [...named, { id: 'others', label: `${rest.length} others`, values }];
}

/** Each worker's running time per bucket over the bucket's length, from its jobs' start and end (or now). */
function busyShares(jobs: readonly JobSpan[], since: number, step: number, buckets: number, until: number) {
  const byWorker = new Map<string, number[]>();
  for (const j of jobs) {
    // A job back in the queue (its worker died) is not being run, though it keeps its last start.
    // A refunded job's end is its refund (the store keeps one finishedAt), so its worker shows busy until then.
    if (j.workerId === null || j.startedAt === null || (j.finishedAt === null && j.status !== 'running')) continue;
    const start = j.startedAt.getTime();
    const end = j.finishedAt?.getTime() ?? until;
    const busy = byWorker.get(j.workerId) ?? new Array<number>(buckets).fill(0);
    for (let i = Math.max(0, Math.floor((start - since) / step)); i < buckets; i++) {
      const from = since + i * step;
      if (from >= end) break;
      busy[i] = (busy[i] ?? 0) + Math.max(0, Math.min(end, from + step) - Math.max(start, from));
    }
    byWorker.set(j.workerId, busy);
  }
  return [...byWorker.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([worker, busy]) => ({ id: worker, label: worker, values: busy.map((b) => Math.min(1, b / step)) }));
}
