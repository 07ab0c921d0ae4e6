// The playground page: a chat channel on the same front-end core as Discord and Slack.
const $ = (id) => document.getElementById(id);
const channel = $('channel');
const userInput = $('user');
userInput.value = localStorage.getItem('pusa-user') || 'you';
let attachments = [];
const jobs = new Map();
let events;

const user = () => userInput.value.trim() || 'you';
// The server's CSRF token: every POST carries it, so another web page cannot make this browser act here. Beyond
// loopback the same call opens this browser's session (an HttpOnly cookie), which is then who the page acts for.
let csrf;
const session = async () => {
  if (csrf === undefined) {
    const answer = await (await fetch('/api/session')).json();
    if (answer.csrfToken === undefined) throw new Error(answer.error ?? 'the playground did not open a session');
    csrf = answer.csrfToken;
  }
  return csrf;
};
const api = async (path, body) => {
  const res = await fetch(
    `${path}?user=${encodeURIComponent(user())}`,
    body === undefined
      ? {}
      : {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-csrf-token': await session() },
          body: JSON.stringify(body),
        },
  );
  return res.json();
};

function add(cls, html) {
  const div = document.createElement('div');
  div.className = `message ${cls}`;
  div.innerHTML = html;
  channel.append(div);
  channel.scrollTop = channel.scrollHeight;
  return div;
}
const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);

function connect() {
  events?.close();
  events = new EventSource(`/api/events?user=${encodeURIComponent(user())}`);
  events.addEventListener('update', (e) => onUpdate(JSON.parse(e.data)));
  events.addEventListener('delivery', (e) => onDelivery(JSON.parse(e.data)));
  events.addEventListener('removed', (e) => forget(JSON.parse(e.data).jobId));
  // Once the stream is open nothing more is missed: redraw the cards from the server (also after a reconnect).
  events.onopen = () => restore();
}

/**
 * Redraws this user's recent jobs from the server, so a reload keeps videos, progress and buttons. Cards already on
 * the page (made while the answer was on its way) stay as they are: live events keep them current.
 */
async function restore() {
  const me = await api('/api/me');
  for (const c of me.cards) {
    const live = jobs.get(c.jobId);
    // A card on the page keeps its live state unless the job ended while the stream was away (a reconnect).
    if (live && (live.dataset.state || c.status === 'queued' || c.status === 'running')) continue;
    const card = live ?? jobCard(c, String(c.parameters.prompt ?? c.task));
    if (c.status === 'succeeded' && c.url)
      showResult(card, c.jobId, {
        frames: c.frames,
        seed: c.seed,
        seconds: c.chargedSeconds,
        clipId: c.clipId,
        url: c.url,
        autoplay: false,
      });
    else if (c.status === 'running' && c.progress) onUpdate({ kind: 'progress', jobId: c.jobId, ...c.progress });
    else if (c.status === 'running') onUpdate({ kind: 'started', jobId: c.jobId });
    else if (c.status === 'failed') showEnd(card, 'failed', `failed: ${c.error} (request ${c.requestId})`);
    else if (c.status === 'cancelled') showEnd(card, 'cancelled', 'cancelled');
  }
  showQuota(me);
}

function jobCard(answer, label) {
  const queued =
    answer.position === undefined ? '' : `queued · position ${answer.position} · ETA ${answer.etaSeconds} s · `;
  // A /long chain: what it will make, a bar for the running segment under the chain's, and each segment as it lands.
  const plain = answer.segments === undefined;
  const chain = plain ? '' : `${answer.segments} segments · ${answer.totalFrames} frames · seed ${answer.seed} · `;
  const div = add(
    'job',
    `<div><b>${esc(label)}</b></div>
    <div class="status">${chain}${queued}job <code>${esc(answer.jobId)}</code></div>
    <div class="bar"><div></div></div>${plain ? '' : '<div class="segbar"><div></div></div><div class="segments"></div>'}<canvas width="16" height="16" hidden></canvas>
    <div class="result"></div>
    <div class="buttons"><button class="secondary" data-action="cancel">Cancel</button></div>`,
  );
  div.dataset.job = answer.jobId;
  div.querySelector('[data-action=cancel]').onclick = () => act('cancel', answer.jobId);
  jobs.set(answer.jobId, div);
  return div;
}

function forget(jobId) {
  jobs.get(jobId)?.remove();
  jobs.delete(jobId);
  refresh();
}

function onUpdate(u) {
  const card = jobs.get(u.jobId);
  if (!card) return;
  const status = card.querySelector('.status');
  if (u.kind === 'started') status.textContent = 'running…';
  if (u.kind === 'requeued') status.textContent = `back in the queue: ${u.reason}`;
  if (u.kind === 'segment') return showSegment(card, u);
  if (u.kind === 'progress' && u.segment) {
    // The chain's bar (segments done plus this one's steps) over this segment's own.
    const { index, count } = u.segment;
    status.textContent = `segment ${index} of ${count} · step ${u.step}/${u.total} · ETA ${(u.etaMs / 1000).toFixed(1)} s`;
    card.querySelector('.bar > div').style.width = `${(100 * (index - 1 + u.step / u.total)) / count}%`;
    const segbar = card.querySelector('.segbar > div');
    if (segbar) segbar.style.width = `${(100 * u.step) / u.total}%`;
    return;
  }
  if (u.kind === 'progress') {
    status.textContent = `step ${u.step}/${u.total} · ETA ${(u.etaMs / 1000).toFixed(1)} s`;
    card.querySelector('.bar > div').style.width = `${(100 * u.step) / u.total}%`;
    if (u.preview) {
      const canvas = card.querySelector('canvas');
      canvas.hidden = false;
      canvas.width = u.preview.width;
      canvas.height = u.preview.height;
      const rgb = Uint8Array.from(atob(u.preview.rgbBase64), (c) => c.charCodeAt(0));
      const image = canvas.getContext('2d').createImageData(u.preview.width, u.preview.height);
      for (let i = 0; i < rgb.length / 3; i++) image.data.set([rgb[3 * i], rgb[3 * i + 1], rgb[3 * i + 2], 255], 4 * i);
      canvas.getContext('2d').putImageData(image, 0, 0);
    }
  }
}

/** A /long segment that landed: playable in the card at once, in order. */
function showSegment(card, u) {
  let list = card.querySelector('.segments');
  if (!list) {
    list = document.createElement('div');
    list.className = 'segments';
    card.querySelector('.result').before(list);
  }
  if (list.querySelector(`[data-index="${u.index}"]`)) return;
  const figure = document.createElement('figure');
  figure.dataset.index = String(u.index);
  figure.innerHTML = `<video src="${esc(u.url)}" controls loop muted playsinline></video><figcaption>${u.index}/${u.count} ${esc(u.prompt.slice(0, 40))}</figcaption>`;
  const after = [...list.children].find((f) => Number(f.dataset.index) > u.index);
  list.insertBefore(figure, after ?? null);
}

/** The /long part of a result's line: segments joined, and why it stopped early if it did. */
function longNote(long) {
  if (!long) return '';
  if (!long.stopped) return ` · ${long.segments} segments`;
  return ` · ${long.segments} of ${long.of} segments (${long.stopped.reason === 'cancelled' ? 'cancelled' : `stopped: ${long.stopped.message}`})`;
}

function showResult(card, jobId, r) {
  card.dataset.state = 'succeeded';
  card.querySelector('.status').textContent =
    `done · ${r.frames} frames · seed ${r.seed} · ${Number(r.seconds).toFixed(1)} GPU s · clip ${r.clipId}${longNote(r.long)}`;
  card.querySelector('.bar > div').style.width = '100%';
  card.querySelector('canvas').hidden = true;
  card.querySelector('.result').innerHTML =
    `<video src="${esc(r.url)}" controls ${r.autoplay ? 'autoplay ' : ''}loop muted playsinline></video>`;
  const buttons = card.querySelector('.buttons');
  buttons.innerHTML = '';
  for (const [action, label] of [
    ['extend', 'Extend'],
    ['reroll', 'Re-roll'],
    ['remix', 'Remix'],
    ['info', 'Info'],
    ['delete', 'Delete'],
  ]) {
    const b = document.createElement('button');
    b.textContent = label;
    b.className = 'secondary';
    b.dataset.action = action;
    b.onclick = () => act(action, jobId);
    buttons.append(b);
  }
}

function showEnd(card, kind, text) {
  card.dataset.state = kind;
  if (kind === 'failed') card.classList.add('error');
  card.querySelector('.status').textContent = text;
  card.querySelector('.buttons').innerHTML = '';
}

function onDelivery(d) {
  const card = jobs.get(d.jobId) || jobCard({ jobId: d.jobId }, d.parameters?.prompt ?? 'result');
  if (d.kind === 'succeeded')
    showResult(card, d.jobId, {
      frames: d.frames,
      seed: d.parameters.seed,
      seconds: d.gpuSeconds,
      clipId: d.clipId,
      url: d.url,
      autoplay: true,
      long: d.long,
    });
  else if (d.kind === 'failed') showEnd(card, 'failed', `failed: ${d.message} (request ${d.requestId})`);
  else showEnd(card, 'cancelled', 'cancelled');
  refresh();
}

async function act(action, jobId) {
  let prompt;
  if (action === 'remix') {
    prompt = window.prompt('New prompt', '');
    if (!prompt) return;
  }
  const answer = await api('/api/action', { action, jobId, ...(prompt ? { prompt } : {}) });
  if (!answer.ok) return add('error', esc(answer.error));
  if (answer.info) return add('system', `<pre>${esc(JSON.stringify(answer.info, null, 2))}</pre>`);
  if (answer.deleted) return forget(jobId);
  if (answer.cancelled) {
    const card = jobs.get(jobId);
    if (card)
      card.querySelector('.status').textContent = answer.cancelled === 'cancelled' ? 'cancelled' : 'cancelling…';
    return;
  }
  jobCard(answer, `${action} of ${jobId.slice(0, 8)}`);
}

async function refresh() {
  showQuota(await api('/api/me'));
}

function showQuota(me) {
  const q = me.quota;
  $('quota').textContent =
    `${q.remainingSeconds} of ${q.limitSeconds} GPU s left today · ${q.queued}/${q.maxQueued} queued`;
  $('quotanote').textContent = q.explanation ?? '';
  $('history').innerHTML = me.history
    .map(
      (h) =>
        `<li>${esc(h.task)} · ${esc(h.status)} · ${h.url ? `<a href="${esc(h.url)}" target="_blank">clip</a>` : ''} <small>${esc(String(h.parameters.prompt ?? '').slice(0, 40))}</small></li>`,
    )
    .join('');
}

$('files').onchange = async (e) => {
  for (const file of e.target.files) {
    const data = await new Promise((resolve) => {
      const reader = new FileReader();
      reader.onload = () => resolve(String(reader.result).split(',')[1]);
      reader.readAsDataURL(file);
    });
    attachments.push({ name: file.name, data });
  }
  e.target.value = '';
  renderAttachments();
};
function renderAttachments() {
  $('attachments').innerHTML = '';
  attachments.forEach((a, i) => {
    const chip = document.createElement('span');
    chip.className = 'chip';
    chip.innerHTML = `${esc(a.name)} <label>at <input type="number" min="0" value="${a.latentIndex ?? ''}" placeholder="idx" aria-label="latent index of ${esc(a.name)}"></label> <button type="button" class="secondary">×</button>`;
    chip.querySelector('input').onchange = (ev) =>
      (a.latentIndex = ev.target.value === '' ? undefined : Number(ev.target.value));
    chip.querySelector('button').onclick = () => {
      attachments.splice(i, 1);
      renderAttachments();
    };
    $('attachments').append(chip);
  });
}

$('composer').onsubmit = async (e) => {
  e.preventDefault();
  const text = $('text').value.trim();
  if (!text) return;
  add(
    'user',
    esc(text) +
      (attachments.length ? ` <small>(${attachments.length} image${attachments.length > 1 ? 's' : ''})</small>` : ''),
  );
  const images = attachments.map((a) => ({
    name: a.name,
    data: a.data,
    ...(a.latentIndex === undefined ? {} : { latentIndex: a.latentIndex }),
  }));
  $('text').value = '';
  attachments = [];
  renderAttachments();
  const answer = await api('/api/command', { text, images });
  if (!answer.ok)
    return add(
      'error',
      `${esc(answer.error)}${answer.requestId ? ` <small>(request ${answer.requestId})</small>` : ''}`,
    );
  if (answer.help)
    return add(
      'system',
      'Commands: <code>/t2v PROMPT</code>, <code>/animate PROMPT</code> with an image (<code>--motion 0.2</code>), <code>/start-end PROMPT</code> with two images, <code>/keyframes PROMPT</code> with images and their latent indices, <code>/extend CLIP PROMPT</code>, <code>/transition FROM TO PROMPT</code>, <code>/quota</code>, <code>/history</code>, <code>/cancel JOB</code>. Options, as <code>--name value</code> or <code>--name=value</code>: <code>--steps N --seed N --frames N --cfg X --negative "TEXT" --motion M</code>.',
    );
  if (answer.quota)
    return add(
      'system',
      `${answer.quota.remainingSeconds} of ${answer.quota.limitSeconds} GPU seconds left today; ${answer.quota.queued} queued. <small>${esc(answer.quota.explanation)}</small>`,
    );
  if (answer.history)
    return add(
      'system',
      `<pre>${esc(answer.history.map((h) => `${h.jobId.slice(0, 8)} ${h.task} ${h.status}`).join('\n') || 'no jobs yet')}</pre>`,
    );
  if (answer.cancelled) return add('system', `cancel: ${answer.cancelled}`);
  jobCard(answer, text);
};
$('long').onsubmit = async (e) => {
  e.preventDefault();
  const text = $('long-text').value.trim();
  if (!text) return;
  const number = (id) => ($(id).value === '' ? undefined : Number($(id).value));
  const file = $('long-image').files[0];
  const image = file
    ? {
        name: file.name,
        data: await new Promise((resolve) => {
          const reader = new FileReader();
          reader.onload = () => resolve(String(reader.result).split(',')[1]);
          reader.readAsDataURL(file);
        }),
      }
    : undefined;
  const body = {
    text,
    seconds: number('long-seconds'),
    segments: number('long-segments'),
    seed: number('long-seed'),
    steps: number('long-steps'),
    frames: number('long-frames'),
    ...(image ? { image } : {}),
  };
  add('user', `/long ${esc(text.split('\n').join(' → '))}`);
  const answer = await api('/api/long', body);
  if (!answer.ok)
    return add(
      'error',
      `${esc(answer.error)}${answer.requestId ? ` <small>(request ${answer.requestId})</small>` : ''}`,
    );
  $('long-text').value = '';
  $('long-image').value = '';
  const lines = text.split('\n').filter((line) => line.trim() !== '');
  jobCard(answer, `/long ${lines[0]}${lines.length > 1 ? ` → … (${lines.length} prompts)` : ''}`);
};
userInput.onchange = () => {
  localStorage.setItem('pusa-user', user());
  // Another user's channel: drop this one's cards; restore() draws the new user's.
  for (const card of jobs.values()) card.remove();
  jobs.clear();
  connect();
};
// The session first: beyond loopback the stream and the history need its cookie.
session().then(connect, (error) => add('system', esc(error.message)));
