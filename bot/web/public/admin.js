const $ = (id) => document.getElementById(id);
$('token').value = localStorage.getItem('pusa-admin-token') || '';
const headers = () => ({
  'content-type': 'application/json',
  ...($('token').value ? { authorization: `Bearer ${$('token').value}` } : {}),
});
const post = async (path, body = {}) =>
  (await fetch(`/api/admin/${path}`, { method: 'POST', headers: headers(), body: JSON.stringify(body) })).json();
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
  for (const b of document.querySelectorAll('[data-retry]'))
    b.onclick = async () => (await post('retry', { jobId: b.dataset.retry }), load());
}
$('token').onchange = () => (localStorage.setItem('pusa-admin-token', $('token').value), load());
$('pause').onclick = async () => (await post('pause'), load());
$('resume').onclick = async () => (await post('resume'), load());
$('limits').onclick = async () => (
  await post('limits', { userDailyGpuSeconds: Number($('daily').value), userMaxQueuedJobs: Number($('maxq').value) }),
  load()
);
$('ban').onclick = async () =>
  ($('said').textContent = (await post('ban', { user: $('who').value })).ok ? `banned ${$('who').value}` : 'failed');
$('unban').onclick = async () =>
  ($('said').textContent = (await post('unban', { user: $('who').value })).ok
    ? `unbanned ${$('who').value}`
    : 'failed');
load();
setInterval(load, 2000);
