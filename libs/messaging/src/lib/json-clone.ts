/**
 * Copies a value through JSON, exactly as a broker would: receivers get their own copy, and values
 * that do not survive serialisation (Dates, class instances, undefined) behave in a single process
 * as they will in a cluster. Throws when the value has no JSON form at all.
 */
export function cloneThroughJson<T>(value: T, what: string): T {
  const text = JSON.stringify(value) as string | undefined;
  if (text === undefined) {
    throw new TypeError(`${what} is not JSON-serialisable`);
  }
  return JSON.parse(text) as T;
}
