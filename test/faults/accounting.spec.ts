import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { clean, describeTally, numbersOf, parseSideFile, ranges, tally } from './accounting.js';

const printed = (k: number) => Array.from({ length: k }, (_, i) => i + 1);
const texts = (tag: string, numbers: number[]) => numbers.map((n) => `${tag} ${n}`);

/** The fault suite is only as good as its accounting: it must see every kind of damage. */
describe('fault accounting', () => {
  test('a complete, ordered log is clean', () => {
    const t = tally(printed(5), numbersOf('r1', texts('r1', [1, 2, 3, 4, 5])), { killed: false });
    assert.ok(clean(t), describeTally(t));
    assert.equal(t.seen, 5);
  });

  test('a lost line is caught and named', () => {
    const t = tally(printed(5), [1, 2, 4, 5], { killed: false });
    assert.deepEqual(t.lost, [3]);
    assert.equal(clean(t), false);
    assert.match(describeTally(t), /1 of 5 printed lines lost \(3\)/);
  });

  test('a doubled line is caught, however far apart the copies are', () => {
    const t = tally(printed(4), [1, 2, 3, 4, 2], { killed: false });
    assert.deepEqual(t.doubled, [2]);
    assert.equal(t.doubledLines, 1);
    assert.deepEqual(t.outOfOrder, [], 'a repeat is doubled, not also reordered');
    assert.equal(clean(t), false);
    assert.match(describeTally(t), /1 doubled \(2\)/);
  });

  test('a reordering is caught', () => {
    const t = tally(printed(5), [1, 3, 2, 4, 5], { killed: false });
    assert.deepEqual(t.outOfOrder, [2]);
    assert.deepEqual(t.lost, []);
    assert.equal(clean(t), false);
  });

  test('a line never printed is caught, except the one in flight of a killed script', () => {
    assert.deepEqual(tally(printed(3), [1, 2, 3, 4], { killed: false }).unexpected, [4]);
    const killed = tally(printed(3), [1, 2, 3, 4], { killed: true });
    assert.equal(killed.inFlight, 4);
    assert.ok(clean(killed));
    assert.deepEqual(tally(printed(3), [1, 2, 3, 5], { killed: true }).unexpected, [5]);
  });

  test('only this run’s lines count: other tags and platform lines are ignored', () => {
    assert.deepEqual(numbersOf('r1', ['r1 1', 'r10 2', 'Run cancelled', 'r1 2\r', 'r1 x', 'xr1 3']), [1, 2]);
  });

  test('side files: numbers one per line, a torn last line dropped, anything else refused', () => {
    assert.deepEqual(parseSideFile('1\n2\n3'), [1, 2]);
    assert.deepEqual(parseSideFile(''), []);
    assert.throws(() => parseSideFile('1\nx\n'), /not a number/);
    assert.throws(() => tally([1, 3], [], { killed: false }), /not 1\.\.2/);
  });

  test('ranges keep failure messages short', () => {
    assert.equal(ranges([1, 2, 3, 7, 9, 10]), '1–3, 7, 9–10');
    assert.match(ranges(Array.from({ length: 20 }, (_, i) => i * 2), 3), /… \(17 more ranges\)/);
  });
});
