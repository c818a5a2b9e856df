// Reading a model's text answer: the CONFIDENCE marker (last wins, clamped, percentages) and the
// value (a fenced JSON block, a whole-JSON answer, or the text); and reading replies up to a size.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from '@jest/globals';
import { boundedFetch, findConfidenceMarker, ResponseTooLargeError, taskText, textAnswer } from '../../../src/sdk/index.js';

describe('findConfidenceMarker', () => {
  it.each([
    ['approve\nCONFIDENCE: 0.82', 0.82, 0.82, 'approve'],
    ['approve\nconfidence = .5', 0.5, 0.5, 'approve'],
    ['approve\n**Confidence:** 0.7', 0.7, 0.7, 'approve'],
    ['approve. Confidence: 85%', 0.85, 0.85, 'approve.'],
    ['CONFIDENCE: 0.2 first, CONFIDENCE: 0.9 last', 0.9, 0.9, 'CONFIDENCE: 0.2 first, last'],
    ['too sure. CONFIDENCE: 1.5', 1, 1.5, 'too sure.'],
    ['CONFIDENCE: 150%', 1, 1.5, ''],
    ['CONFIDENCE: 0', 0, 0, ''],
  ])('%p → %p (written %p), rest %p', (text, confidence, written, rest) => {
    expect(findConfidenceMarker(text)).toMatchObject({ confidence, written, rest });
  });

  it.each([['no marker here'], ['confidence is high'], ['CONFIDENCE: -0.3'], ['overconfidence: 0.9']])('%p has no marker', (text) => {
    expect(findConfidenceMarker(text)).toBeUndefined();
  });

  it('gives where the marker starts, so callers can tell answer text from marker text', () => {
    const text = 'yes\nCONFIDENCE: 0.4';
    expect(findConfidenceMarker(text)?.index).toBe(4);
  });
});

describe('taskText', () => {
  it('the task, then the input as a JSON block', () => {
    expect(taskText('Review', { pr: 42 })).toBe('Review\n\nInput:\n```json\n{\n  "pr": 42\n}\n```');
    expect(taskText('Review', [1])).toBe('Review\n\nInput:\n```json\n[\n  1\n]\n```');
  });

  it('no block for no input, nor for an input that only repeats the task; a repeated task field is left out', () => {
    expect(taskText('Review', null)).toBe('Review');
    expect(taskText('Review', undefined)).toBe('Review');
    expect(taskText('Review', { task: 'Review' })).toBe('Review');
    expect(taskText('Review', { task: 'Review', pr: 1 })).toBe('Review\n\nInput:\n```json\n{\n  "pr": 1\n}\n```');
    expect(taskText('Review', { task: 'other' })).toContain('"task": "other"');
  });
});

describe('textAnswer', () => {
  it('a fenced JSON block is the value; the text around it the reasoning', () => {
    expect(textAnswer('I checked the tests.\n```json\n{"recommendation": "approve"}\n```\nShip it.')).toEqual({
      value: { recommendation: 'approve' },
      reasoning: 'I checked the tests.\n\nShip it.',
    });
  });

  it('the first fenced block that parses wins; one that does not parse is text', () => {
    expect(textAnswer('```json\n{broken\n```\n```\n[1, 2]\n```').value).toEqual([1, 2]);
  });

  it('a whole answer that is a JSON object or array is parsed', () => {
    expect(textAnswer(' {"a": 1} ')).toEqual({ value: { a: 1 } });
    expect(textAnswer('[true]')).toEqual({ value: [true] });
  });

  it('anything else stays text, trimmed: a number is an answer, not JSON', () => {
    expect(textAnswer('  42 ')).toEqual({ value: '42' });
    expect(textAnswer('{not json')).toEqual({ value: '{not json' });
    expect(textAnswer('approve')).toEqual({ value: 'approve' });
  });
});

describe('boundedFetch', () => {
  async function serve(body: string, chunked: boolean) {
    const server = createServer((_rq, res) => {
      if (!chunked) res.setHeader('content-length', Buffer.byteLength(body));
      res.end(body);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, close: () => new Promise((r) => server.close(r)) };
  }

  it.each([
    ['declared', false],
    ['streamed', true],
  ])('a %s body over the limit is refused; one under it is read', async (_what, chunked) => {
    const s = await serve('x'.repeat(2048), chunked);
    try {
      await expect(boundedFetch(1024)(s.url)).rejects.toThrow(new ResponseTooLargeError(1024));
      await expect(boundedFetch(1024)(s.url)).rejects.toThrow('reply larger than 1 KiB');
      expect(await (await boundedFetch(4096)(s.url)).text()).toBe('x'.repeat(2048));
    } finally {
      await s.close();
    }
  });
});
