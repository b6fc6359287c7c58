/**
 * The operators' page, one self-contained document (no CDN, no bundler, works offline): a list of services with
 * their policy, failover state and instances, each instance's share of first answers as a bar. It loads the
 * snapshot from /ui/api/services and then follows /ui/events (server-sent events read through fetch, so an API
 * token can ride in the Authorization header when --api-read-auth is on).
 */
export const CONSOLE_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>meshdns console</title>
<style>
  :root { --fg: #1d2330; --muted: #667085; --line: #e4e7ec; --bg: #f8f9fb; --ok: #12b76a; --bad: #f04438; --warn: #f79009; --bar: #2e90fa; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); }
  header { display: flex; gap: 12px; align-items: center; padding: 12px 20px; background: #fff; border-bottom: 1px solid var(--line); position: sticky; top: 0; }
  header h1 { font-size: 16px; margin: 0 12px 0 0; }
  header input, header select { font: inherit; padding: 6px 8px; border: 1px solid var(--line); border-radius: 6px; }
  header input { width: 260px; }
  #status { margin-left: auto; color: var(--muted); font-size: 12px; }
  main { padding: 16px 20px; display: grid; gap: 12px; }
  section.svc { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 12px 16px; }
  .svc h2 { font-size: 15px; margin: 0 0 6px; display: flex; gap: 8px; align-items: baseline; flex-wrap: wrap; }
  .tag { font-size: 11px; font-weight: 500; padding: 1px 6px; border-radius: 10px; background: #eef2f6; color: var(--muted); }
  .tag.failover { background: #fef0c7; color: #93370d; }
  .tag.split { background: #e0eaff; color: #1d3a8a; }
  .tag.cluster.stale { background: #fee4e2; color: #912018; }
  table.split { margin-bottom: 6px; }
  table { width: 100%; border-collapse: collapse; font-size: 13px; }
  th { text-align: left; color: var(--muted); font-weight: 500; border-bottom: 1px solid var(--line); padding: 4px 6px; }
  td { padding: 4px 6px; border-bottom: 1px solid #f2f4f7; vertical-align: middle; }
  .state-healthy { color: var(--ok); } .state-unhealthy { color: var(--bad); } .state-draining { color: var(--warn); }
  .share { display: flex; align-items: center; gap: 6px; min-width: 160px; }
  .bar { height: 8px; background: var(--bar); border-radius: 4px; }
  .empty { color: var(--muted); padding: 24px; text-align: center; }
</style>
</head>
<body>
<header>
  <h1>meshdns</h1>
  <select id="ns" aria-label="namespace"><option value="">all namespaces</option></select>
  <input id="q" type="search" placeholder="filter: service, instance, address, zone" aria-label="filter">
  <span id="status">connecting…</span>
  <span id="clusters"></span>
</header>
<main id="list"><div class="empty">loading…</div></main>
<script>
(() => {
  const services = new Map();
  const token = new URLSearchParams(location.hash.slice(1)).get('token');
  const headers = token ? { authorization: 'Bearer ' + token } : {};
  const $ = (id) => document.getElementById(id);
  const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);

  function render() {
    const ns = $('ns').value;
    const q = $('q').value.trim().toLowerCase();
    const namespaces = [...new Set([...services.values()].map((s) => s.namespace))].sort();
    const select = $('ns');
    const options = ['<option value="">all namespaces</option>', ...namespaces.map((n) => '<option' + (n === ns ? ' selected' : '') + '>' + esc(n) + '</option>')].join('');
    if (select.innerHTML !== options) select.innerHTML = options;
    const shown = [...services.values()]
      .filter((s) => !ns || s.namespace === ns)
      .filter((s) => !q || [s.name, s.namespace, ...s.instances.flatMap((i) => [i.name, i.address, i.zone || ''])].some((t) => t.toLowerCase().includes(q)))
      .sort((a, b) => a.key.localeCompare(b.key));
    $('list').innerHTML = shown.length === 0 ? '<div class="empty">no services match</div>' : shown.map(card).join('');
  }

  function card(s) {
    const p = s.policy;
    const tags = [...s.sources.map((x) => '<span class="tag">' + esc(x) + '</span>'),
      '<span class="tag">' + esc(p.loadBalancer) + '</span>',
      p.locality !== 'off' ? '<span class="tag">' + esc(p.locality) + '</span>' : '',
      p.answerLimit ? '<span class="tag">limit ' + p.answerLimit + '</span>' : '',
      p.failover.length ? '<span class="tag">failover ' + esc(p.failover.join(' → ')) + '</span>' : '',
      s.failingOverTo ? '<span class="tag failover">answered by ' + esc(s.failingOverTo) + '</span>' : '',
      s.panic ? '<span class="tag failover">panic: every instance fails its probes</span>' : '',
      s.split && s.split.backends.length ? '<span class="tag split">split by ' + esc(s.split.from.kind + ' ' + s.split.from.namespace + '/' + s.split.from.name + (s.split.rule ? ' ' + s.split.rule : '')) + '</span>' : '',
      ...((s.split && s.split.consumers) || []).map((c) => '<span class="tag split">for clients in ' + esc(c.namespace) + ': ' + esc(c.from.kind + ' ' + c.from.namespace + '/' + c.from.name + (c.rule ? ' ' + c.rule : '')) + ' → ' +
        esc(c.backends.map((b) => b.service + (b.subset ? ' (' + b.subset.name + ')' : '') + ' ' + b.weight).join(', ')) + '</span>')].join(' ');
    const splitRows = s.split && s.split.backends.length ? '<table class="split"><thead><tr><th>backend</th><th>weight</th><th>answering</th><th>share of first answers</th></tr></thead><tbody>' +
      s.split.backends.map((b) => '<tr data-backend="' + esc(b.service) + '"><td>' + esc(b.service + (b.subset ? ' subset ' + b.subset.name + ' (' + b.subset.instances + ')' : '')) + '</td><td>' + b.weight + '</td><td>' + (b.answering ? 'yes' : 'no') +
        '</td><td><div class="share"><div class="bar" style="width:' + (b.share * 120).toFixed(1) + 'px"></div><span>' + (b.share * 100).toFixed(1) + '%</span></div></td></tr>').join('') + '</tbody></table>' : '';
    const rows = s.instances.map((i) => '<tr data-instance="' + esc(i.name) + '"><td>' + esc(i.name) + '</td><td>' + esc(i.address) + '</td><td>' + esc(i.ports) + '</td><td>' + esc(i.zone || '') +
      '</td><td>' + esc(i.source + (i.cluster ? ' @' + i.cluster : '')) + '</td><td class="state-' + esc(i.state) + '">' + esc(i.state) + '</td><td>' + (i.score === null ? '' : (i.score * 100).toFixed(0) + '%') + '</td><td>' + esc(i.lastProbe || '') +
      '</td><td><div class="share"><div class="bar" style="width:' + (i.share * 120).toFixed(1) + 'px"></div><span>' + (i.share * 100).toFixed(1) + '%</span></div></td></tr>').join('');
    return '<section class="svc" data-service="' + esc(s.key) + '"><h2>' + esc(s.name) + ' <span class="tag">' + esc(s.namespace) + '</span> ' + tags + '</h2>' + splitRows +
      (s.instances.length ? '<table><thead><tr><th>instance</th><th>address</th><th>ports</th><th>zone</th><th>source</th><th>state</th><th>probe score</th><th>last probe</th><th>share of first answers</th></tr></thead><tbody>' + rows + '</tbody></table>' : '<div class="empty">no instances</div>') + '</section>';
  }

  // The watched clusters and whether each one's API answers: not catalog events, so asked for every 5 s.
  async function clusters() {
    for (;;) {
      try {
        const res = await fetch('/v1/clusters', { headers });
        if (res.ok) {
          const list = (await res.json()).clusters;
          $('clusters').innerHTML = list.length < 2 ? '' : list.map((c) => '<span class="tag cluster ' + (c.connected ? 'ok' : 'stale') + '" data-cluster="' + esc(c.name) + '">' + esc(c.name) + (c.local ? ' (local)' : '') + ': ' +
            (c.connected ? 'synced' : c.synced ? 'API not answering, last state served' : 'not listed yet') + '</span>').join(' ');
        }
      } catch {
        // The next round tries again.
      }
      await new Promise((r) => setTimeout(r, 5000));
    }
  }

  function apply(message) {
    for (const key of message.removed) services.delete(key);
    for (const s of message.services) services.set(s.key, s);
    render();
  }

  async function follow() {
    for (;;) {
      try {
        const first = await fetch('/ui/api/services', { headers });
        if (first.status === 401 || first.status === 403) {
          // Not a passing fault: say what is needed instead of retrying blindly.
          $('status').textContent = token
            ? 'this token may not read the catalog (HTTP ' + first.status + '); open /ui/#token=<a token with read access>'
            : 'reading the catalog needs an API token: open /ui/#token=<your token>';
          await new Promise((r) => setTimeout(r, 5000));
          continue;
        }
        if (!first.ok) throw new Error('HTTP ' + first.status);
        const snapshot = await first.json();
        services.clear();
        apply(snapshot);
        const res = await fetch('/ui/events', { headers });
        if (!res.ok) throw new Error('HTTP ' + res.status);
        $('status').textContent = 'live';
        const reader = res.body.getReader();
        const decoder = new TextDecoder();
        let buffer = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += decoder.decode(value, { stream: true });
          let end;
          while ((end = buffer.indexOf('\\n\\n')) >= 0) {
            const event = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            const data = event.split('\\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('\\n');
            if (data) apply(JSON.parse(data));
          }
        }
      } catch (err) {
        $('status').textContent = 'reconnecting (' + err.message + ')';
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
  }

  $('ns').addEventListener('change', render);
  $('q').addEventListener('input', render);
  follow();
  clusters();
})();
</script>
</body>
</html>
`;
