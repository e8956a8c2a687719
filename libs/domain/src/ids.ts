import { v7 } from 'uuid';

/** A new globally unique, time-ordered id (UUIDv7). */
export function newId(): string {
  return v7();
}

/** Source of unique ids; injectable so tests can use predictable ids. */
export abstract class IdGenerator {
  abstract next(): string;
}

export class UuidV7IdGenerator extends IdGenerator {
  next(): string {
    return v7();
  }
}
