// A small TOTP (RFC 6238 over RFC 4226): HMAC-SHA1, 6 digits, 30-second steps — what
// an authenticator app computes from the setup key the page shows.
import { createHmac } from 'node:crypto';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** Decodes an RFC 4648 base32 setup key (spaces, dashes, case and padding ignored). */
export function base32Decode(key) {
  const clean = key.toUpperCase().replace(/[\s=-]/g, '');
  let bits = 0;
  let value = 0;
  const out = [];
  for (const ch of clean) {
    const idx = ALPHABET.indexOf(ch);
    if (idx < 0) throw new Error(`not base32: ${ch}`);
    value = (value << 5) | idx;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

/** RFC 4226 HOTP value for `counter`. */
export function hotp(secret, counter, digits = 6) {
  const msg = Buffer.alloc(8);
  msg.writeBigUInt64BE(BigInt(counter));
  const mac = createHmac('sha1', secret).update(msg).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  const bin = (mac.readUInt32BE(offset) & 0x7fffffff) % 10 ** digits;
  return String(bin).padStart(digits, '0');
}

export const step = (ms = Date.now()) => Math.floor(ms / 1000 / 30);

/** The code for the current step of `key`. */
export function totp(key, ms = Date.now()) {
  return hotp(base32Decode(key), step(ms));
}

/**
 * A code from a step later than `usedStep` (the server accepts each step only once),
 * waiting for the next 30-second window when needed. Returns `{ code, step }`.
 */
export async function freshCode(key, usedStep = -1) {
  while (step() <= usedStep) {
    const wait = 30_000 - (Date.now() % 30_000) + 250;
    await new Promise((r) => setTimeout(r, wait));
  }
  // Avoid the last second of a window: the request might land in the next one.
  if (30_000 - (Date.now() % 30_000) < 1500) await new Promise((r) => setTimeout(r, 1600));
  const s = step();
  return { code: hotp(base32Decode(key), s), step: s };
}

// RFC 6238 Appendix B, SHA-1 (8 digits) — checked when this file runs directly.
if (import.meta.url === `file://${process.argv[1]}`) {
  const rfcKey = Buffer.from('12345678901234567890');
  const vectors = [[59, '94287082'], [1111111109, '07081804'], [1234567890, '89005924'], [20000000000, '65353130']];
  for (const [t, want] of vectors) {
    const got = hotp(rfcKey, Math.floor(t / 30), 8);
    if (got !== want) throw new Error(`TOTP vector t=${t}: ${got} != ${want}`);
  }
  console.log('TOTP vectors ok');
}
