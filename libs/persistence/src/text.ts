/**
 * PostgreSQL refuses a NUL character (U+0000) in `text` and `jsonb` (SQLSTATE 22021 / 22P05), and
 * `jsonb` refuses a lone UTF-16 surrogate. JavaScript strings may hold both. These helpers replace
 * each such code unit by U+FFFD (the replacement character), so that a value always fits; well-formed
 * strings come back unchanged (the same string).
 */
export const REPLACEMENT_CHARACTER = '\uFFFD';

const isHigh = (code: number): boolean => code >= 0xd800 && code <= 0xdbff;
const isLow = (code: number): boolean => code >= 0xdc00 && code <= 0xdfff;

/** True when the string holds no NUL and no lone surrogate. */
export function isStorableText(value: string): boolean {
  for (let i = 0; i < value.length; i += 1) {
    const code = value.charCodeAt(i);
    if (code === 0) return false;
    if (isHigh(code) && isLow(value.charCodeAt(i + 1))) i += 1;
    else if (isHigh(code) || isLow(code)) return false;
  }
  return true;
}

/** The string with every NUL and every lone surrogate replaced by U+FFFD. */
export function storableText(value: string): string {
  if (isStorableText(value)) return value;
  let out = '';
  for (let i = 0; i < value.length; i += 1) {
    const code = value.charCodeAt(i);
    if (isHigh(code) && isLow(value.charCodeAt(i + 1))) {
      out += value.slice(i, i + 2);
      i += 1;
    } else if (code === 0 || isHigh(code) || isLow(code)) {
      out += REPLACEMENT_CHARACTER;
    } else {
      out += value[i];
    }
  }
  return out;
}

function isPlainObject(value: object): boolean {
  const prototype: unknown = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

/**
 * {@link storableText} applied to every string of a JSON-like value: strings, the keys and values
 * of plain objects, array items, at any depth. Other values (numbers, dates, ...) are kept as they
 * are. Plain objects and arrays are copied only where something changed.
 */
export function storableValue<T>(value: T): T {
  if (typeof value === 'string') return storableText(value) as T;
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) {
    const items: unknown[] = value;
    const mapped = items.map((item) => storableValue(item));
    return (mapped.some((item, i) => item !== items[i]) ? mapped : value) as T;
  }
  if (!isPlainObject(value)) return value;
  let changed = false;
  const copy: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
    const storableKey = storableText(key);
    const storableItem = storableValue(item);
    if (storableKey !== key || storableItem !== item) changed = true;
    // defineProperty, not assignment: a "__proto__" key stays a plain key.
    Object.defineProperty(copy, storableKey, {
      value: storableItem,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return (changed ? copy : value) as T;
}
