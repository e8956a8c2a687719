import { createHash } from 'node:crypto';
import type { ChatState } from './state';

/**
 * Canonical JSON: object keys and map entries sorted by key, sets sorted, `undefined` fields
 * left out. Arrays keep their order (the state keeps its arrays sorted).
 */
export function canonicalJson(value: unknown): string {
  if (value === null || value === undefined) {
    return 'null';
  }
  if (value instanceof Map) {
    const entries = [...(value as Map<unknown, unknown>).entries()]
      .map(([key, item]) => [String(key), item] as const)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${canonicalJson(item)}`).join(',')}}`;
  }
  if (value instanceof Set) {
    const items = [...(value as Set<unknown>)].map(canonicalJson).sort();
    return `[${items.join(',')}]`;
  }
  if (Array.isArray(value)) {
    return `[${value.map(canonicalJson).join(',')}]`;
  }
  if (typeof value === 'object') {
    const record = value as Record<string, unknown>;
    const keys = Object.keys(record)
      .filter((key) => record[key] !== undefined && typeof record[key] !== 'function')
      .sort();
    return `{${keys.map((key) => `${JSON.stringify(key)}:${canonicalJson(record[key])}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** sha256 of the canonical state, without the node-local `revision`. */
export function stateDigest(state: ChatState): string {
  const { revision: _revision, ...replicated } = state;
  return createHash('sha256').update(canonicalJson(replicated)).digest('hex');
}
