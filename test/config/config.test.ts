import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig } from '../../src/config/config.js';
import { envName, FLAGS, helpText } from '../../src/config/flags.js';

const yaml = (text: string): string => {
  const path = join(mkdtempSync(join(tmpdir(), 'meshdns-config-')), 'config.yaml');
  writeFileSync(path, text);
  return path;
};

test('defaults match the interface', () => {
  const c = loadConfig([], {});
  assert.deepEqual(c.domains, ['linkerd.local']);
  assert.deepEqual(c.dns, [{ host: '127.0.0.1', port: 1053, family: 4 }]);
  assert.deepEqual(c.http, { host: '127.0.0.1', port: 8053, family: 4 });
  assert.equal(c.zonesDir, './zones');
  assert.equal(c.dataDir, './data');
  assert.equal(c.store, 'sqlite');
  assert.equal(c.kubernetes, 'auto');
  assert.equal(c.upstreams, undefined);
  assert.equal(c.logLevel, 'info');
  assert.equal(c.ttl, 5);
});

test('precedence: flag > env > file > default; repeatable flags replace, env takes commas', () => {
  const file = yaml('log-level: debug\ndomain: [a.test, b.test]\nttl: 30\nupstream: 192.0.2.1\n');
  const env = { MESHDNS_CONFIG: file, MESHDNS_DOMAIN: 'env.test, env2.test', MESHDNS_TTL: '10' };
  const c = loadConfig(['--ttl', '20', '--dns', '[::1]:5353', '--dns', '127.0.0.1:5353'], env);
  assert.equal(c.ttl, 20);
  assert.deepEqual(c.domains, ['env.test', 'env2.test']);
  assert.equal(c.logLevel, 'debug');
  assert.deepEqual(c.upstreams, [{ host: '192.0.2.1', port: 53, family: 4 }]);
  assert.deepEqual(c.dns.map((d) => [d.host, d.port, d.family]), [['::1', 5353, 6], ['127.0.0.1', 5353, 4]]);
  assert.deepEqual(loadConfig(['--upstream', 'none'], {}).upstreams, []);
});

const bad: [string[], RegExp][] = [
  [['--nope'], /Unknown option '--nope'/],
  [['--dns', 'localhost:53'], /--dns "localhost:53": "localhost" is not an IP address/],
  [['--dns', '127.0.0.1:99999'], /port must be a number/],
  [['--store', 'redis'], /--store "redis": expected one of sqlite, etcd/],
  [['--store', 'etcd'], /needs at least one --etcd URL/],
  [['--kubernetes', 'maybe'], /expected one of off, auto, on/],
  [['--log-level', 'loud'], /--log-level "loud"/],
  [['--ttl', '99999999'], /--ttl "99999999": expected a whole number from 0 to 86400/],
  [['--forward-allow', '10.0.0.0/40'], /--forward-allow "10.0.0.0\/40"/],
  [['--tcp-idle-timeout', 'soon'], /expected a duration/],
  [['--domain', 'bad domain'], /--domain "bad domain"/],
  [['--config', '/nonexistent/meshdns.yaml'], /config file \/nonexistent\/meshdns.yaml: ENOENT/],
  [['--config', yaml('unknown-key: 1\n')], /unknown key "unknown-key"/],
  [['--config', yaml('- a\n- b\n')], /expected a mapping/],
  [['--config', yaml('http: [a, b]\n')], /"http" takes one value/],
];
for (const [argv, message] of bad) {
  test(`bad input is one clear error: ${argv.join(' ')}`, () => {
    assert.throws(() => loadConfig(argv, {}), (err: unknown) => err instanceof ConfigError && message.test(err.message) && !err.message.includes('\n'));
  });
}

test('--help names every flag and its env var', () => {
  const help = helpText();
  for (const f of FLAGS) {
    assert.ok(help.includes(`--${f.name} `), f.name);
    assert.ok(help.includes(envName(f.name)), f.name);
  }
});

test('issue 23, low: an empty config file is refused (at start, and so on SIGHUP), never read as "all defaults"', () => {
  for (const text of ['', '\n', '# nothing yet\n', '---\n']) {
    assert.throws(() => loadConfig(['--config', yaml(text)], {}), (err: unknown) => err instanceof ConfigError && /is empty/.test(err.message));
  }
});
