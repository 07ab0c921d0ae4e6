const $ = (id) => document.getElementById(id);
$('token').value = localStorage.getItem('pusa-admin-token') || '';
let csrf;
let workspace = localStorage.getItem('pusa-admin-workspace') || '';
const headers = async () => {
  csrf ??= (await (await fetch('/api/session')).json()).csrfToken;
  return {
    'content-type': 'application/json',
    'x-csrf-token': csrf,
    ...($('token').value ? { authorization: `Bearer ${$('token').value}` } : {}),
  };
};
const post = async (path, body = {}) => {
  const res = await fetch(`/api/admin/${path}`, {
    method: 'POST',
    headers: await headers(),
    body: JSON.stringify(body),
  });
  return res.json();
};
/** Shows what the server said next to the control: the refusal in red, or the success text. */
const say = (id, answer, done) => {
  $(id).textContent = answer.ok ? done : answer.error;
  $(id).classList.toggle('bad', !answer.ok);
  return answer.ok;
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
// The limit fields are refilled from the server only when the operator is not editing them.
let editing = false;
for (const id of ['daily', 'maxq', 'budget']) $(id).oninput = () => (editing = true);

async function load() {
  const res = await fetch(`/api/admin/state?workspace=${encodeURIComponent(workspace)}`, { headers: await headers() });
  if (res.status === 401) {
    $('paused').textContent = '(admin token required)';
    return;
  }
  const s = await res.json();
  if (!s.ok) {
    // The remembered workspace is gone (another database): fall back to the playground's.
    workspace = '';
    return;
  }
  workspace = s.workspace.id;
  $('paused').textContent = s.paused ? '(paused)' : '(running)';
  $('counts').innerHTML = rows(Object.entries(s.counts), ([k, v]) => [esc(k), v]);
  $('failed').innerHTML = rows(s.failed, (f) => [
    esc(f.id),
    esc(f.code ?? ''),
    esc(f.reason),
    `${f.attempts} attempts`,
  ]);
  $('cancelled').innerHTML = rows(s.cancelled, (c) => [esc(c.id), esc(c.finishedAt ?? '')]);
  $('workers').innerHTML = rows(s.workers, (w) => [
    esc(w.name),
    esc(w.address),
    `up ${esc(w.age)} s`,
    w.job
      ? `running ${esc(w.job.jobId)} (${w.job.step === null ? 'starting' : `step ${esc(w.job.step)}/${esc(w.job.total)}`})`
      : 'idle',
  ]);
  $('workspace').innerHTML = s.workspaces
    .map(
      (w) =>
        `<option value="${esc(w.id)}"${w.id === s.workspace.id ? ' selected' : ''}>${esc(w.platform)} · ${esc(w.name)}</option>`,
    )
    .join('');
  $('usage').innerHTML =
    rows(s.usage, (u) => [esc(u.displayName), `${u.chargedSeconds} GPU s`, `${u.jobs} jobs`]) +
    `<tr><th>workspace ${esc(s.workspaceUsage.name)}</th><th>${s.workspaceUsage.chargedSeconds} GPU s</th><th>${s.workspaceUsage.jobs} jobs</th></tr>`;
  if (!editing) {
    $('daily').value = s.workspace.userDailyGpuSeconds;
    $('maxq').value = s.workspace.userMaxQueuedJobs;
    $('budget').value = s.workspace.dailyBudgetSeconds ?? '';
  }
  const clips = Math.floor(s.workspace.userDailyGpuSeconds / Math.max(1e-9, s.clip.seconds));
  $('clip').textContent =
    `One default clip of ${s.clip.pack} takes about ${Math.round(s.clip.seconds)} s ` +
    (s.clip.measured > 0
      ? `(measured over the last ${s.clip.measured} job${s.clip.measured === 1 ? '' : 's'} on ${s.clip.devices.join(', ')})`
      : "(the model pack's figure; nothing measured yet)") +
    `, so ${s.workspace.userDailyGpuSeconds} s is about ${clips} clips per user per day. ` +
    'For scale: pusa-mini on a 2-core CPU took 17-32 s a default clip (600 s ≈ 18-35 clips); the real 14B model takes about 3.5 min a clip on an H100 (600 s ≈ 2-3 clips).';
  $('blocklist').innerHTML = rows(s.blocklist, (r) => [
    esc(r.kind),
    `<code>${esc(r.pattern)}</code>`,
    `<button type="button" data-unblock="${esc(r.id)}" class="secondary">Remove</button>`,
  ]);
  for (const b of document.querySelectorAll('[data-unblock]'))
    b.onclick = async () => {
      say('blocksaid', await post('unblock', { workspaceId: workspace, ruleId: b.dataset.unblock }), 'removed');
      await load();
    };
}
$('workspace').onchange = async () => {
  workspace = $('workspace').value;
  localStorage.setItem('pusa-admin-workspace', workspace);
  editing = false;
  await load();
};
$('token').onchange = async () => {
  localStorage.setItem('pusa-admin-token', $('token').value);
  await load();
};
$('pause').onclick = async () => {
  say('queuesaid', await post('pause'), 'paused');
  await load();
};
$('resume').onclick = async () => {
  say('queuesaid', await post('resume'), 'resumed');
  await load();
};
const number = (id) => ($(id).value.trim() === '' ? null : Number($(id).value));
$('limits').onclick = async () => {
  const answer = await post('limits', {
    workspaceId: workspace,
    userDailyGpuSeconds: number('daily'),
    userMaxQueuedJobs: number('maxq'),
    dailyBudgetSeconds: number('budget'),
  });
  // A refusal keeps what the operator typed, so it can be corrected rather than silently reverted.
  if (say('limitsaid', answer, 'saved')) editing = false;
  await load();
};
$('block').onclick = async () => {
  say(
    'blocksaid',
    await post('block', { workspaceId: workspace, pattern: $('pattern').value, kind: $('kind').value }),
    'added',
  );
  await load();
};
const ban = (action, done) => async () => {
  const answer = await post(action, { workspaceId: workspace, user: $('who').value });
  say('said', answer, `${done} ${$('who').value}`);
};
$('ban').onclick = ban('ban', 'banned');
$('unban').onclick = ban('unban', 'unbanned');
load();
setInterval(load, 2000);
