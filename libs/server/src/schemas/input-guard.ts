import { ApiError } from '../use-cases/api-error';

/**
 * At most this many levels of objects and arrays (the root object or array is level 1). The
 * deepest payload the API defines is 2 levels (`fields` in `POST /l/v/chats`); 32 leaves room and
 * keeps every later step that recurses (JSON.stringify, zod, loggers) far from the stack limit.
 */
export const MAX_INPUT_DEPTH = 32;

/**
 * At most this many values in one payload (every object, array, string, number, boolean and null
 * counts one). The largest payload the API defines has about 60 (`createOperator` with 50
 * departments); the byte limit alone would allow hundreds of thousands.
 */
export const MAX_INPUT_VALUES = 10_000;

/** Object keys refused anywhere in a payload: they reach or replace an object's prototype. */
export const REFUSED_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

/** A high surrogate not followed by a low one, or a low one not preceded by a high one. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const LONE_SURROGATES = new RegExp(LONE_SURROGATE.source, 'g');

/**
 * What the guard throws: a VALIDATION_FAILED like zod's, one `details` entry naming the path. A
 * subclass, so that the edges can count these refusals (`chat_input_rejected_total`).
 */
export class RefusedInputError extends ApiError {
  constructor(path: string, message: string) {
    super('VALIDATION_FAILED', `${path}: ${message}`, [{ path, message }]);
    this.name = 'RefusedInputError';
  }
}

interface Frame {
  readonly value: unknown;
  /** the key or index under the parent; undefined for the root */
  readonly key: string | number | undefined;
  readonly parent: Frame | undefined;
  /** levels of objects and arrays that enclose this value */
  readonly depth: number;
}

/**
 * The rule every client payload passes before its schema (`parseInput` runs it): refuses, with
 * VALIDATION_FAILED naming the path, nesting deeper than {@link MAX_INPUT_DEPTH}, more than
 * {@link MAX_INPUT_VALUES} values, a string (a value or an object key) containing U+0000 or a
 * lone UTF-16 surrogate (PostgreSQL stores neither in text or jsonb), and the keys `__proto__`,
 * `constructor` and `prototype`. Iterative, so that no input can overflow the stack here.
 */
export function guardInput(input: unknown): void {
  const stack: Frame[] = [{ value: input, key: undefined, parent: undefined, depth: 0 }];
  let values = 1;
  const count = (more: number): void => {
    values += more;
    if (values > MAX_INPUT_VALUES) {
      throw new RefusedInputError('(root)', `more than ${MAX_INPUT_VALUES} values`);
    }
  };
  for (let frame = stack.pop(); frame !== undefined; frame = stack.pop()) {
    const { value } = frame;
    if (typeof value === 'string') {
      const problem = characterProblem(value);
      if (problem) throw new RefusedInputError(pathOf(frame), `must not contain ${problem}`);
      continue;
    }
    if (value === null || typeof value !== 'object') continue;
    // Binary attachments (socket.io delivers Buffers) are leaves: the schemas never accept them.
    if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) continue;
    const depth = frame.depth + 1;
    if (depth > MAX_INPUT_DEPTH) {
      throw new RefusedInputError(pathOf(frame), `nested deeper than ${MAX_INPUT_DEPTH} levels`);
    }
    if (Array.isArray(value)) {
      count(value.length);
      for (let i = value.length - 1; i >= 0; i -= 1) {
        stack.push({ value: value[i] as unknown, key: i, parent: frame, depth });
      }
      continue;
    }
    const keys = Object.keys(value);
    count(keys.length);
    for (let i = keys.length - 1; i >= 0; i -= 1) {
      const key = keys[i] as string;
      const child: Frame = {
        value: (value as Record<string, unknown>)[key],
        key,
        parent: frame,
        depth,
      };
      const problem = characterProblem(key);
      if (problem) throw new RefusedInputError(pathOf(child), `key must not contain ${problem}`);
      if (REFUSED_KEYS.has(key))
        throw new RefusedInputError(pathOf(child), `key "${key}" is not allowed`);
      stack.push(child);
    }
  }
}

function characterProblem(s: string): string | null {
  if (s.includes('\u0000')) return 'U+0000 (NUL)';
  if (LONE_SURROGATE.test(s)) return 'a lone UTF-16 surrogate';
  return null;
}

/** `a.b.0.c` like zod's paths, `(root)` for the payload itself; bad characters shown as U+FFFD. */
function pathOf(frame: Frame): string {
  const parts: string[] = [];
  for (let f: Frame | undefined = frame; f?.key !== undefined; f = f.parent) {
    parts.push(String(f.key).replaceAll('\u0000', '\uFFFD').replace(LONE_SURROGATES, '\uFFFD'));
  }
  return parts.length === 0 ? '(root)' : parts.reverse().join('.');
}
