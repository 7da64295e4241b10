// The run view (#/runs/<id>): state, progress, live log over WebSocket with gap-free resume, result.
import { api, freshAccessToken, refresh } from './api.js';
import { ACTIVE_STATES, formatDuration, formatTime, h, stateBadge } from './dom.js';
import { t } from './i18n.js';
import { sessionPanel } from './sessions.js';

const MAX_BACKOFF_MS = 5000;

/**
 * Follows one run's live stream. Calls `onLines(lines)` with each line exactly once and in order,
 * `onExecution(execution)` on every state change, `onEnd()` once the run is over. Returns stop().
 */
export function followRun(executionId, { onLines, onExecution, onEnd, onStatus }) {
  let lastSequence = 0;
  let socket = null;
  let stopped = false;
  let ended = false;
  let attempt = 0;
  let timer = null;
  let authRetried = false;

  const connect = async () => {
    if (stopped) return;
    let token;
    try {
      token = await freshAccessToken();
    } catch {
      onStatus?.('error', 'Signed out');
      return;
    }
    if (stopped) return;
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    const url = `${scheme}://${location.host}/api/v1/executions/${encodeURIComponent(executionId)}/stream?after=${lastSequence}`;
    const ws = new WebSocket(url, ['scriptorium.v1', `bearer.${token}`]);
    socket = ws;
    let opened = false;
    ws.onopen = () => {
      opened = true;
      attempt = 0;
      authRetried = false;
      onStatus?.('live');
    };
    ws.onmessage = (event) => {
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        return;
      }
      if (message.type === 'lines') {
        // Never show a line twice, even if a resumed stream repeats one.
        const fresh = (message.lines ?? []).filter((l) => l.sequence > lastSequence);
        if (fresh.length) {
          lastSequence = fresh[fresh.length - 1].sequence;
          onLines(fresh);
        }
      } else if (message.type === 'execution') {
        onExecution(message.execution);
      } else if (message.type === 'end') {
        ended = true;
      } else if (message.type === 'error') {
        if (message.status === 404 || message.status === 403) {
          ended = true;
          onStatus?.('error', message.message || 'Stream refused');
        }
      }
    };
    ws.onclose = async (event) => {
      if (socket === ws) socket = null;
      if (stopped) return;
      if (ended) {
        onStatus?.('ended');
        onEnd?.();
        return;
      }
      // 4401 (or a refused upgrade before opening): the token may have expired; refresh once.
      if ((event.code === 4401 || !opened) && !authRetried) {
        authRetried = true;
        try {
          await refresh();
        } catch {
          // fall through to the backoff; the API layer signs out if the refresh token is gone.
        }
      }
      const delay = Math.min(MAX_BACKOFF_MS, 250 * 2 ** attempt++);
      onStatus?.('reconnecting');
      timer = setTimeout(connect, delay);
    };
  };

  connect();
  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
      socket?.close(1000, 'leaving');
    },
    get lastSequence() {
      return lastSequence;
    },
  };
}

/** Renders the run view into `root`; returns a cleanup function. */
export function renderRun(root, executionId, { announce }) {
  const badge = h('span', { testid: 'run-state-slot' });
  const title = h('h1', { testid: 'run-title' }, 'Run');
  const live = h('span', { class: 'live-status muted', testid: 'run-live-status' }, 'connecting…');
  const progressBar = h('progress', { max: 100, value: 0, testid: 'run-progress', 'aria-label': 'Progress' });
  const progressText = h('span', { class: 'progress-value', testid: 'run-progress-value' }, '0%');
  const progressMessage = h('span', { class: 'progress-message muted', testid: 'run-progress-message' });
  const cancelButton = h('button', { type: 'button', class: 'btn btn-danger', testid: 'run-cancel', hidden: true }, t('run.cancel'));
  const downloadButton = h('button', { type: 'button', class: 'btn', testid: 'run-download' }, t('run.download'));
  const errorBox = h('p', { class: 'banner banner-error', role: 'alert', testid: 'run-error', hidden: true });
  const reasonBox = h('p', { class: 'muted', testid: 'run-state-reason', hidden: true });
  const facts = {
    script: h('dd', { testid: 'run-script' }, '—'),
    started: h('dd', { testid: 'run-started' }, '—'),
    duration: h('dd', { testid: 'run-duration' }, '—'),
    exit: h('dd', { testid: 'run-exit-code' }, '—'),
    user: h('dd', { testid: 'run-user' }, '—'),
    project: h('dd', { testid: 'run-project' }, '—'),
  };
  const paramsList = h('dl', { class: 'kv', testid: 'run-parameters' });
  const logBox = h('ol', { class: 'log', testid: 'run-log', 'aria-label': 'Output', tabindex: '0' });
  const logEmpty = h('p', { class: 'muted log-empty', testid: 'run-log-empty' }, t('run.noOutput'));
  const resultPanel = h('section', { class: 'card', testid: 'run-result-panel', hidden: true, 'aria-labelledby': 'result-h' },
    h('h2', { id: 'result-h' }, t('run.result')));
  const resultPre = h('pre', { class: 'result', testid: 'run-result' });
  resultPanel.appendChild(resultPre);
  const followToggle = h('input', { type: 'checkbox', id: 'follow-log', checked: true });

  const session = sessionPanel(executionId);
  root.append(
    h('div', { class: 'run-view', testid: 'run-view', dataset: { executionId } },
      h('div', { class: 'page-head' },
        h('div', {}, h('p', { class: 'crumbs' }, h('a', { href: '#/history' }, t('nav.history')), ' / ', h('code', {}, executionId)), h('div', { class: 'title-row' }, title, badge)),
        h('div', { class: 'actions' }, live, cancelButton, downloadButton)),
      errorBox,
      reasonBox,
      h('section', { class: 'card run-summary', 'aria-label': 'Run summary' },
        h('div', { class: 'progress-row' }, progressBar, progressText, progressMessage),
        h('dl', { class: 'facts' },
          h('div', {}, h('dt', {}, t('run.script')), facts.script),
          h('div', {}, h('dt', {}, t('run.started')), facts.started),
          h('div', {}, h('dt', {}, t('run.duration')), facts.duration),
          h('div', {}, h('dt', {}, t('run.exitCode')), facts.exit),
          h('div', {}, h('dt', {}, t('run.user')), facts.user),
          h('div', {}, h('dt', {}, t('run.project')), facts.project)),
        h('details', { class: 'params-details' }, h('summary', {}, t('script.parameters')), paramsList)),
      session.element,
      h('section', { class: 'card log-card', 'aria-labelledby': 'log-h' },
        h('div', { class: 'card-head' }, h('h2', { id: 'log-h' }, t('run.output')),
          h('div', { class: 'check-row' }, followToggle, h('label', { for: 'follow-log' }, t('run.follow')))),
        logEmpty, logBox),
      resultPanel));

  let execution = null;
  let durationTimer = null;

  const showExecution = (e) => {
    if (!e) return;
    const previous = execution?.state;
    execution = e;
    badge.replaceChildren(stateBadge(e.state, 'run-state'));
    title.textContent = e.scriptName || e.scriptId || 'Run';
    document.title = `${title.textContent} · ${e.state} · Scriptorium`;
    facts.script.replaceChildren(h('a', { href: `#/groups/${encodeURIComponent(e.groupId)}/${encodeURIComponent(e.scriptId.split('/').slice(1).join('/'))}` }, e.scriptId));
    facts.started.textContent = formatTime(e.startedAt || e.createdAt);
    facts.exit.textContent = e.exitCode === null || e.exitCode === undefined ? '—' : String(e.exitCode);
    facts.user.textContent = e.username || '—';
    if (e.projectId && facts.project.dataset.projectId !== e.projectId) {
      facts.project.dataset.projectId = e.projectId;
      const link = h('a', { href: `#/projects/${encodeURIComponent(e.projectId)}`, testid: 'run-project-link' }, t('project.files'));
      facts.project.replaceChildren(link);
      api(`/api/v1/projects/${encodeURIComponent(e.projectId)}`).then((p) => (link.textContent = p.name)).catch(() => undefined);
    }
    const progress = Math.max(0, Math.min(100, Number(e.progress) || 0));
    const done = e.state === 'succeeded';
    progressBar.value = done ? 100 : progress;
    progressText.textContent = `${done ? 100 : progress}%`;
    progressMessage.textContent = e.progressMessage || '';
    paramsList.replaceChildren(...Object.entries(e.parameters ?? {}).flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, typeof v === 'string' ? v : JSON.stringify(v))]));
    if (e.error) {
      errorBox.textContent = e.error;
      errorBox.hidden = false;
    } else errorBox.hidden = true;
    reasonBox.textContent = e.stateReason ? `Reason: ${e.stateReason}` : '';
    reasonBox.hidden = !e.stateReason;
    const active = ACTIVE_STATES.has(e.state);
    cancelButton.hidden = !active;
    updateDuration();
    clearInterval(durationTimer);
    if (active && e.startedAt) durationTimer = setInterval(updateDuration, 500);
    if (e.result !== null && e.result !== undefined) {
      resultPre.textContent = JSON.stringify(e.result, null, 2);
      resultPanel.hidden = false;
    }
    if (previous !== e.state) session.refresh();
    if (previous && previous !== e.state) announce(`Run ${e.state.replace('_', ' ')}`);
  };

  const updateDuration = () => {
    if (!execution) return;
    let ms = execution.durationMs;
    if (ACTIVE_STATES.has(execution.state)) ms = execution.startedAt ? Date.now() - Date.parse(execution.startedAt) : null;
    facts.duration.textContent = formatDuration(ms);
    facts.duration.dataset.ms = ms === null || ms === undefined ? '' : String(ms);
  };

  const appendLines = (lines) => {
    const stick = followToggle.checked;
    const fragment = document.createDocumentFragment();
    for (const line of lines) {
      const stream = ['stdout', 'stderr', 'system'].includes(line.stream) ? line.stream : 'stdout';
      fragment.appendChild(
        h('li', { class: `log-line log-${stream}`, testid: 'log-line', dataset: { sequence: String(line.sequence), stream, timestamp: line.timestamp ?? '' } },
          h('span', { class: 'log-seq', 'aria-hidden': 'true' }, String(line.sequence)),
          stream === 'stdout' ? null : h('span', { class: 'sr-only' }, `${stream}: `),
          h('span', { class: 'log-text' }, line.text ?? '')));
    }
    logBox.appendChild(fragment);
    logEmpty.hidden = true;
    if (stick) logBox.scrollTop = logBox.scrollHeight;
  };

  cancelButton.addEventListener('click', async () => {
    cancelButton.disabled = true;
    try {
      showExecution(await api(`/api/v1/executions/${encodeURIComponent(executionId)}/cancel`, { method: 'POST' }));
    } catch (error) {
      errorBox.textContent = `Could not cancel: ${error.message}`;
      errorBox.hidden = false;
    } finally {
      cancelButton.disabled = false;
    }
  });

  downloadButton.addEventListener('click', async () => {
    downloadButton.disabled = true;
    try {
      const res = await api(`/api/v1/executions/${encodeURIComponent(executionId)}/log?format=text`, { raw: true });
      const blob = await res.blob();
      const url = URL.createObjectURL(blob);
      const link = h('a', { href: url, download: `execution-${executionId}.log`, hidden: true });
      document.body.appendChild(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60_000);
    } catch (error) {
      errorBox.textContent = `Could not download the log: ${error.message}`;
      errorBox.hidden = false;
    } finally {
      downloadButton.disabled = false;
    }
  });

  const setLive = (status, message) => {
    live.dataset.status = status;
    live.textContent = { live: '● live', reconnecting: 'reconnecting…', ended: 'finished', error: message || 'stream error' }[status] ?? status;
  };

  let follower = null;
  api(`/api/v1/executions/${encodeURIComponent(executionId)}`)
    .then((e) => {
      showExecution(e);
      follower = followRun(executionId, {
        onLines: appendLines,
        onExecution: showExecution,
        onStatus: setLive,
        onEnd: async () => {
          // The stream's last execution event should be final; confirm with one read.
          try {
            showExecution(await api(`/api/v1/executions/${encodeURIComponent(executionId)}`));
          } catch {
            /* keep what we have */
          }
        },
      });
      if (stopped) follower.stop();
    })
    .catch((error) => {
      errorBox.textContent = error.status === 404 ? 'This run does not exist, or you cannot see it.' : `Could not load the run: ${error.message}`;
      errorBox.hidden = false;
      setLive('error', 'unavailable');
    });

  let stopped = false;
  return () => {
    stopped = true;
    clearInterval(durationTimer);
    follower?.stop();
    session.stop();
  };
}
