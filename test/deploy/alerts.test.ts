import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { repoRoot } from '../support/meshdns-process.js';

/**
 * The shipped PrometheusRule (deploy/kubernetes/components/prometheus-rule), checked by Prometheus's own
 * promtool: the rules parse, and each alert fires on the series that should fire it and stays quiet on a healthy
 * meshdns (test/deploy/alerts/meshdns-alerts.tests.yaml). Every alert has a severity, a summary and a runbook
 * section that exists in docs/operations.md.
 */
const rule = parse(readFileSync(join(repoRoot, 'deploy', 'kubernetes', 'components', 'prometheus-rule', 'prometheusrule.yaml'), 'utf8')) as {
  spec: { groups: { name: string; rules: { alert: string; labels: Record<string, string>; annotations: Record<string, string> }[] }[] };
};

test('promtool: the PrometheusRule\'s groups pass `check rules` and every unit test', () => {
  const dir = mkdtempSync(join(tmpdir(), 'meshdns-promtool-'));
  writeFileSync(join(dir, 'meshdns-rules.yaml'), stringify({ groups: rule.spec.groups }));
  copyFileSync(join(repoRoot, 'test', 'deploy', 'alerts', 'meshdns-alerts.tests.yaml'), join(dir, 'tests.yaml'));
  execFileSync('promtool', ['check', 'rules', join(dir, 'meshdns-rules.yaml')], { encoding: 'utf8' });
  const out = execFileSync('promtool', ['test', 'rules', join(dir, 'tests.yaml')], { encoding: 'utf8' });
  assert.match(out, /SUCCESS/);
});

test('every alert has a severity, a summary and a runbook section in docs/operations.md; every alert is unit-tested', () => {
  const runbook = readFileSync(join(repoRoot, 'docs', 'operations.md'), 'utf8');
  const tests = readFileSync(join(repoRoot, 'test', 'deploy', 'alerts', 'meshdns-alerts.tests.yaml'), 'utf8');
  const alerts = rule.spec.groups.flatMap((g) => g.rules);
  assert.ok(alerts.length >= 13);
  for (const a of alerts) {
    assert.ok(['critical', 'warning', 'info'].includes(a.labels.severity ?? ''), a.alert);
    assert.ok((a.annotations.summary ?? '').length > 0, a.alert);
    const anchor = /#(\w+)$/.exec(a.annotations.runbook_url ?? '')?.[1];
    assert.ok(anchor !== undefined && new RegExp(`^### ${anchor}$`, 'im').test(runbook.replace(/^### (\w+).*$/gm, (_m, name: string) => `### ${name.toLowerCase()}`)), `${a.alert}: runbook section #${anchor}`);
    assert.match(tests, new RegExp(`alertname: ${a.alert}[,\\n}]`), `${a.alert} has a unit test`);
  }
});
