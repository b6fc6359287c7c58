import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildQuery, frame, tcpExchange, udpExchange } from '../support/dns-client.js';
import { startMeshdns } from '../support/meshdns-process.js';

/** Prometheus text → Map of "name{labels}" → value. */
function parse(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line.trim() === '') continue;
    const i = line.lastIndexOf(' ');
    out.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return out;
}

test('/metrics after real queries: counters moved, the duration histogram has buckets, no per-name labels', async () => {
  const s = await startMeshdns(['--upstream', 'none']);
  try {
    for (let i = 0; i < 25; i++) await udpExchange(s.dnsPort, buildQuery('web.default.linkerd.local', { id: i }));
    for (let i = 0; i < 5; i++) await udpExchange(s.dnsPort, buildQuery(`missing-${i}.linkerd.local`));
    await tcpExchange(s.dnsPort, [Buffer.concat([frame(buildQuery('linkerd.local', { type: 6 })), frame(buildQuery('example.com'))])], 2);
    await udpExchange(s.dnsPort, Buffer.from([1, 2, 3]), 200);
    const text = await (await fetch(`http://127.0.0.1:${s.httpPort}/metrics`)).text();
    const m = parse(text);
    assert.equal(m.get('meshdns_dns_requests_total{transport="udp",qtype="A",rcode="NOERROR",zone="linkerd.local."}'), 25);
    assert.equal(m.get('meshdns_dns_requests_total{transport="udp",qtype="A",rcode="NXDOMAIN",zone="linkerd.local."}'), 5);
    assert.equal(m.get('meshdns_dns_requests_total{transport="tcp",qtype="SOA",rcode="NOERROR",zone="linkerd.local."}'), 1);
    // A name outside every zone counts under the root, as CoreDNS's zone label does.
    assert.equal(m.get('meshdns_dns_requests_total{transport="tcp",qtype="A",rcode="REFUSED",zone="."}'), 1);
    assert.equal(m.get('meshdns_dns_dropped_total{transport="udp",reason="short"}'), 1);
    const buckets = [...m.keys()].filter((k) => k.startsWith('meshdns_dns_request_duration_seconds_bucket{') && k.includes('transport="udp"'));
    assert.ok(buckets.length >= 10, `${buckets.length} buckets`);
    assert.equal(m.get('meshdns_dns_request_duration_seconds_count{transport="udp"}'), 30);
    assert.equal(m.get('meshdns_dns_request_duration_seconds_bucket{le="+Inf",transport="udp"}'), 30);
    assert.equal(m.get('meshdns_catalog_instances{source="zonefile",state="healthy"}'), 6);
    assert.ok((m.get('meshdns_catalog_services') ?? 0) >= 3);
    assert.equal(m.get('meshdns_zone_reloads_total{result="ok"}'), 1);
    assert.equal(m.get('meshdns_zone_files_broken'), 0);
    assert.equal(m.get('meshdns_kubernetes_synced{cluster="local"}'), 1);
    assert.ok(m.has('process_resident_memory_bytes'));
    // Bounded cardinality: no label value is a query name (the zone label names zones, never names below them).
    assert.doesNotMatch(text.replaceAll('zone="linkerd.local."', ''), /\{[^}]*linkerd\.local/);
  } finally {
    await s.stop();
  }
});

test('--query-log samples queries into the log; off by default', async () => {
  const quiet = await startMeshdns(['--upstream', 'none']);
  const logged = await startMeshdns(['--upstream', 'none', '--query-log', '1']);
  try {
    await udpExchange(quiet.dnsPort, buildQuery('web.default.linkerd.local'));
    await udpExchange(logged.dnsPort, buildQuery('Web.Default.linkerd.local', { type: 33 }));
    const line = JSON.parse(await logged.waitForLog(/"msg":"query"/)) as Record<string, unknown>;
    assert.equal(line.name, 'web.default.linkerd.local.');
    assert.equal(line.type, 'SRV');
    assert.equal(line.rcode, 'NOERROR');
    assert.equal(line.transport, 'udp');
    assert.equal(line.client, '127.0.0.1');
    await new Promise((r) => setTimeout(r, 100));
    assert.ok(!quiet.logs.some((l) => l.includes('"msg":"query"')));
  } finally {
    await quiet.stop();
    await logged.stop();
  }
});

test('SIGHUP re-reads the config file: the log level changes live, a listener change is reported as needing a restart', async () => {
  const { mkdtempSync, writeFileSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const dir = mkdtempSync(join(tmpdir(), 'meshdns-hup-'));
  const file = join(dir, 'meshdns.yaml');
  writeFileSync(file, 'log-level: info\nttl: 5\n');
  const s = await startMeshdns(['--upstream', 'none', '--config', file]);
  try {
    writeFileSync(file, 'log-level: debug\nttl: 9\n');
    s.proc.kill('SIGHUP');
    const warn = JSON.parse(await s.waitForLog(/take effect only after a restart/)) as { settings: string[] };
    assert.deepEqual(warn.settings, ['ttl']);
    await s.waitForLog(/"msg":"config reloaded"/);
    writeFileSync(file, 'log-level: [broken\n');
    s.proc.kill('SIGHUP');
    await s.waitForLog(/config reload failed; keeping the running config/);
    assert.equal((await udpExchange(s.dnsPort, buildQuery('web.default.linkerd.local'))) !== null, true);
  } finally {
    await s.stop();
  }
});
