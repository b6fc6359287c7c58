import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeAllowed } from '../../../src/sources/rest/write-auth.js';

test('without a token only loopback writes', () => {
  for (const a of ['127.0.0.1', '127.4.5.6', '::1', '::ffff:127.0.0.1']) assert.equal(writeAllowed(undefined, undefined, a), 'ok', a);
  for (const a of ['10.0.0.1', '192.168.1.1', 'fd00::1', undefined]) assert.equal(writeAllowed(undefined, undefined, a), 'not-loopback', String(a));
});

test('with a token anyone presenting it writes, from anywhere; nobody else does, loopback included', () => {
  assert.equal(writeAllowed('t0k', 'Bearer t0k', '10.0.0.1'), 'ok');
  assert.equal(writeAllowed('t0k', 'bearer  t0k ', '10.0.0.1'), 'ok');
  assert.equal(writeAllowed('t0k', 'Bearer t0kk', '127.0.0.1'), 'bad-token');
  assert.equal(writeAllowed('t0k', undefined, '127.0.0.1'), 'missing-token');
  assert.equal(writeAllowed('t0k', 'Basic dDBr', '127.0.0.1'), 'missing-token');
});
