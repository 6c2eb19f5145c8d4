// The test's own TOTP against RFC 6238 Appendix B (SHA-1) and RFC 4226 Appendix D.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { base32Decode, hotp } from './lib/totp.mjs';

test('TOTP matches the RFC 6238 SHA-1 vectors', () => {
  const key = Buffer.from('12345678901234567890');
  for (const [t, want] of [[59, '94287082'], [1111111109, '07081804'], [1234567890, '89005924'], [2000000000, '69279037']]) {
    assert.equal(hotp(key, Math.floor(t / 30), 8), want, `t=${t}`);
  }
});

test('HOTP matches RFC 4226 and base32 keys decode', () => {
  const key = Buffer.from('12345678901234567890');
  assert.deepEqual([0, 1, 2, 9].map((c) => hotp(key, c)), ['755224', '287082', '359152', '520489']);
  assert.deepEqual(base32Decode('GEZD GNBV-gy3t qojq'), Buffer.from('1234567890'));
});
