// formatCount groups whole numbers by hand (sparing a server's first answer ICU's load): every
// answer must read exactly as toLocaleString('en-US') printed it before.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatCount, plural } from '../src/util/text.js';

describe('formatCount', () => {
  it('prints what toLocaleString("en-US") prints, for whole numbers and the rest', () => {
    const values = [0, 1, -1, 7, 999, 1000, -1000, 12_345, 999_999, 1_000_000, 2 ** 53 - 1, -(2 ** 53 - 1)];
    values.push(-0, 1.5, 1234.5678, 2 ** 53, 1e21, NaN, Infinity);
    for (let digits = 1; digits <= 15; digits++) values.push(Math.floor(Math.random() * 10 ** digits));
    for (const n of values) assert.equal(formatCount(n), n.toLocaleString('en-US'), String(n));
    assert.equal(plural(1234, 'packet'), '1,234 packets');
  });
});
