const FNV64_OFFSET = 0xcbf29ce484222325n;
const FNV64_PRIME = 0x100000001b3n;
const SEPARATOR = 0x0an;

/**
 * The digest a client sends with its position in `chat.sync`: FNV-1a, 64 bits, over each message
 * id's UTF-16 code units followed by a line feed, in (clock, id) order, as 16 lower-case hex
 * digits. The server computes the same function (`messageIdsDigest` in `@chat/domain`); this copy
 * keeps the client free of runtime imports from the server's libraries.
 */
export function messageIdsDigest(ids: Iterable<string>): string {
  let hash = FNV64_OFFSET;
  for (const id of ids) {
    for (let i = 0; i < id.length; i += 1) {
      hash = BigInt.asUintN(64, (hash ^ BigInt(id.charCodeAt(i))) * FNV64_PRIME);
    }
    hash = BigInt.asUintN(64, (hash ^ SEPARATOR) * FNV64_PRIME);
  }
  return hash.toString(16).padStart(16, '0');
}
