const $ = (id) => document.getElementById(id);
$('token').value = localStorage.getItem('pusa-admin-token') || '';
const headers = () => ({
  'content-type': 'application/json',
  ...($('token').value ? { authorization: `Bearer ${$('token').value}` } : {}),
});
const post = async (path, body = {}) =>
  (await fetch(`/api/admin/${path}`, { method: 'POST', headers: headers(), body: JSON.stringify(body) })).json();
const then = (fn) => async () => {
  await fn();
  await load();
};
const esc = (s) =>
  String(s ?? '').replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);
const rows = (list, cells) =>
  list
    .map(
      (x) =>
        `<tr>${cells(x)
          .map((c) => `<td>${c}</td>`)
          .join('')}</tr>`,
    )
    .join('') || '<tr><td>none</td></tr>';

async function load() {
  const res = await fetch('/api/admin/state', { headers: headers() });
  if (res.status === 401) {
    $('paused').textContent = '(admin token required)';
    return;
  }
  const s = await res.json();
  $('paused').textContent = s.paused ? '(paused)' : '(running)';
  $('counts').innerHTML = rows(Object.entries(s.counts), ([k, v]) => [esc(k), v]);
  $('failed').innerHTML = rows(s.failed, (f) => [
    esc(f.id),
    esc(f.reason),
    f.attempts,
    `<button data-retry="${esc(f.id)}" class="secondary">Retry</button>`,
  ]);
  $('workers').innerHTML = rows(s.workers, (w) => [
    esc(w.name),
    esc(w.address),
    `up ${esc(w.age)} s`,
    w.job
      ? `running ${esc(w.job.jobId)} (step ${esc(w.job.progress?.step ?? '?')}/${esc(w.job.progress?.total ?? '?')})`
      : 'idle',
  ]);
  $('usage').innerHTML =
    rows(s.usage, (u) => [esc(u.displayName), `${u.chargedSeconds} GPU s`, `${u.jobs} jobs`]) +
    `<tr><th>workspace ${esc(s.workspaceUsage.name)}</th><th>${s.workspaceUsage.chargedSeconds} GPU s</th><th>${s.workspaceUsage.jobs} jobs</th></tr>`;
  $('daily').value = s.workspace.userDailyGpuSeconds;
  $('maxq').value = s.workspace.userMaxQueuedJobs;
  $('blocklist').innerHTML = rows(s.blocklist, (r) => [
    esc(r.kind),
    `<code>${esc(r.pattern)}</code>`,
    `<button type="button" data-unblock="${esc(r.id)}" class="secondary">Remove</button>`,
  ]);
  for (const b of document.querySelectorAll('[data-unblock]'))
    b.onclick = then(() => post('unblock', { ruleId: b.dataset.unblock }));
  for (const b of document.querySelectorAll('[data-retry]'))
    b.onclick = then(() => post('retry', { jobId: b.dataset.retry }));
}
$('token').onchange = then(() => localStorage.setItem('pusa-admin-token', $('token').value));
$('pause').onclick = then(() => post('pause'));
$('resume').onclick = then(() => post('resume'));
$('limits').onclick = then(() =>
  post('limits', { userDailyGpuSeconds: Number($('daily').value), userMaxQueuedJobs: Number($('maxq').value) }),
);
$('block').onclick = async () => {
  const answer = await post('block', { pattern: $('pattern').value, kind: $('kind').value });
  $('blocksaid').textContent = answer.ok ? '' : answer.error;
  await load();
};
const ban = (action, done) => async () => {
  const answer = await post(action, { user: $('who').value });
  $('said').textContent = answer.ok ? `${done} ${$('who').value}` : 'failed';
};
$('ban').onclick = ban('ban', 'banned');
$('unban').onclick = ban('unban', 'unbanned');
load();
setInterval(load, 2000);
