import { describe, expect, test } from 'vitest';
import { collect, initialValue, shareQuery } from './params.js';
import type { Parameter } from './schemas.js';

const params: Parameter[] = [
  { name: 'name', type: 'string', required: true },
  { name: 'times', type: 'integer', default: 1 },
  { name: 'shout', type: 'boolean' },
  { name: 'colours', type: 'multiselect', options: ['red', 'blue'], default: ['red'] },
  { name: 'token', type: 'secret' },
];

describe('parameter values', () => {
  test('defaults and a shared link fill the form', () => {
    expect(initialValue(params[1])).toBe('1');
    expect(initialValue(params[1], '4')).toBe('4');
    expect(initialValue(params[2], 'true')).toBe(true);
    expect(initialValue(params[3])).toEqual(['red']);
    expect(initialValue(params[3], 'blue,red')).toEqual(['blue', 'red']);
  });

  test('collected as typed JSON; empty fields are left to the server', () => {
    expect(collect(params, { name: 'Ada', times: '3', shout: false, colours: ['blue'], token: '' })).toEqual({ name: 'Ada', times: 3, shout: false, colours: ['blue'] });
    expect(collect(params, { name: '', times: 'abc', shout: true, colours: [], token: 's' })).toEqual({ times: 'abc', shout: true, colours: [], token: 's' });
  });

  test('a share link never carries a secret', () => {
    const q = shareQuery(params, { name: 'Ada', times: '3', shout: true, colours: ['red', 'blue'], token: 'hunter2' });
    expect(q.toString()).toBe('p.name=Ada&p.times=3&p.shout=true&p.colours=red%2Cblue');
  });
});
