import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Message } from 'amqplib';

/** AMQP header carrying the name of the node that signed a message. */
export const SIGNER_HEADER = 'x-chat-signer';
/** AMQP header carrying the base64 HMAC-SHA256 of a message. */
export const SIGNATURE_HEADER = 'x-chat-signature';

/** Which driver dropped a message on arrival. */
export type RejectedKind = 'event' | 'signal' | 'rpc' | 'work';

/**
 * Why a message was dropped on arrival:
 * - `unsigned`: no (or a malformed) signer or signature header;
 * - `signature`: the signature does not match the signer, the message id and the body;
 * - `origin`: correctly signed, but the body claims another node (an event's `origin`, a
 *   request's caller, a reply from a node that was not asked);
 * - `malformed`: not JSON, or not the envelope the driver expects;
 * - `shape`: the envelope is fine but it is not a valid domain event (checked by the server).
 */
export type RejectReason = 'unsigned' | 'signature' | 'origin' | 'malformed' | 'shape';

/** Counts dropped messages (the server wires it to `chat_bus_rejected_total{kind,reason}`). */
export type RejectionListener = (kind: RejectedKind, reason: RejectReason) => void;

export type Verified = { ok: true; signer: string } | { ok: false; reason: RejectReason };

/** Version tag of the signed data, so that a later format cannot be confused with this one. */
const SCHEME = 'chat-hmac-v1';
const MAX_SIGNER_LENGTH = 128;
/** Derived keys of signers seen with a valid signature; bounded (cleared when full). */
const MAX_CACHED_KEYS = 1024;
/** Reports of dropped messages per minute, over every kind, reason and signer. */
const MAX_REPORTS_PER_INTERVAL = 20;

/**
 * Signs and verifies the broker messages of a cluster (state events, signals, work items, RPC
 * requests and replies). One instance per node.
 *
 * - Every node derives one key per node name from the shared cluster secret:
 *   `key(name) = HMAC-SHA256(secret, "node:" + name)`. A node signs with its own key; a receiver
 *   derives the signer's key from the secret and the signer header.
 * - The signature is `HMAC-SHA256(key(signer), "chat-hmac-v1" NUL signer NUL len(id) ":" id NUL
 *   body)`, base64, in the {@link SIGNATURE_HEADER}; the signer name travels in the
 *   {@link SIGNER_HEADER}. `id` is the message id the driver chose (an event's id, an item's
 *   unique id, an RPC message's type, correlation id and reply queue).
 * - Verification compares in constant time, before the body is parsed.
 * - `acceptedSecrets` are also accepted when verifying (never used to sign): they let the secret be
 *   rotated node by node without a moment where two nodes cannot read each other.
 *
 * Limit: whoever holds the cluster secret can derive every node's key. The signatures keep out
 * whoever can merely publish to the broker (its credentials), not a compromised node.
 */
export class MessageSigner {
  readonly nodeName: string;
  private readonly secrets: readonly string[];
  private readonly ownKey: Buffer;
  /** Per accepted secret: the keys of signers that verified once. */
  private readonly keys: Map<string, Buffer>[];

  constructor(secret: string, nodeName: string, acceptedSecrets: readonly string[] = []) {
    if (secret.length < 32) {
      throw new RangeError('The cluster secret must have at least 32 characters');
    }
    if (nodeName === '' || nodeName.length > MAX_SIGNER_LENGTH) {
      throw new RangeError(`A signer name needs 1-${MAX_SIGNER_LENGTH} characters`);
    }
    this.nodeName = nodeName;
    this.secrets = [secret, ...acceptedSecrets.filter((s) => s !== secret && s.length > 0)];
    this.ownKey = deriveKey(secret, nodeName);
    this.keys = this.secrets.map(() => new Map<string, Buffer>());
  }

  /** The headers to publish a message with: this node's name and the body's signature. */
  headers(messageId: string, body: Buffer): Record<string, string> {
    return {
      [SIGNER_HEADER]: this.nodeName,
      [SIGNATURE_HEADER]: mac(this.ownKey, this.nodeName, messageId, body).toString('base64'),
    };
  }

  /** Checks a received message's signature against its signer header, `messageId` and body. */
  verify(message: Message, messageId: string): Verified {
    const headers = message.properties.headers;
    const signer = headers?.[SIGNER_HEADER] as unknown;
    const signature = headers?.[SIGNATURE_HEADER] as unknown;
    if (
      typeof signer !== 'string' ||
      signer === '' ||
      signer.length > MAX_SIGNER_LENGTH ||
      typeof signature !== 'string'
    ) {
      return { ok: false, reason: 'unsigned' };
    }
    const given = Buffer.from(signature, 'base64');
    if (given.length !== 32) {
      return { ok: false, reason: 'signature' };
    }
    for (let i = 0; i < this.secrets.length; i += 1) {
      const cache = this.keys[i] as Map<string, Buffer>;
      const cached = cache.get(signer);
      const key = cached ?? deriveKey(this.secrets[i] as string, signer);
      if (timingSafeEqual(mac(key, signer, messageId, message.content), given)) {
        if (cached === undefined) {
          // Only keys proven by a valid signature are kept: made-up signer names cost an HMAC
          // each, never memory.
          if (cache.size >= MAX_CACHED_KEYS) cache.clear();
          cache.set(signer, key);
        }
        return { ok: true, signer };
      }
    }
    return { ok: false, reason: 'signature' };
  }
}

function deriveKey(secret: string, nodeName: string): Buffer {
  return createHmac('sha256', secret).update(`node:${nodeName}`, 'utf8').digest();
}

function mac(key: Buffer, signer: string, messageId: string, body: Buffer): Buffer {
  return createHmac('sha256', key)
    .update(`${SCHEME}\u0000${signer}\u0000${Buffer.byteLength(messageId)}:${messageId}\u0000`)
    .update(body)
    .digest();
}

/**
 * What a driver does with a message it drops on arrival: count it every time, report it at most
 * once per (kind, reason, signer) per minute, and at most {@link MAX_REPORTS_PER_INTERVAL} times
 * per minute in all (signer names of unverified messages are made up by whoever sent them: they
 * must not be able to flood the logs).
 */
export class MessageRejections {
  private readonly lastReported = new Map<string, { at: number; suppressed: number }>();
  private windowStart = 0;
  private windowReports = 0;

  constructor(
    private readonly onRejected: RejectionListener | undefined,
    private readonly report: (error: Error) => void,
    private readonly intervalMs = 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  reject(kind: RejectedKind, reason: RejectReason, signer: string | undefined, what: string): void {
    try {
      this.onRejected?.(kind, reason);
    } catch {
      // Counting must not break delivery.
    }
    const key = `${kind}\u0000${reason}\u0000${signer ?? ''}`;
    const now = this.now();
    const last = this.lastReported.get(key);
    if (last && now - last.at < this.intervalMs) {
      last.suppressed += 1;
      return;
    }
    if (now - this.windowStart >= this.intervalMs) {
      this.windowStart = now;
      this.windowReports = 0;
    }
    if (this.windowReports >= MAX_REPORTS_PER_INTERVAL) {
      return;
    }
    this.windowReports += 1;
    if (this.lastReported.size >= MAX_CACHED_KEYS) this.lastReported.clear();
    this.lastReported.set(key, { at: now, suppressed: 0 });
    const more = last && last.suppressed > 0 ? ` (and ${last.suppressed} more since)` : '';
    const from =
      signer === undefined ? 'no signer' : `signer ${JSON.stringify(signer.slice(0, 64))}`;
    this.report(
      new Error(
        `Dropped ${what.slice(0, 200)}: ${reason} (${kind}, ${from})${more}; ` +
          'further drops of this kind are counted, reported again after a minute',
      ),
    );
  }
}

/** The signer header of a message, when it is a plausible name (for reports only: unverified). */
export function claimedSigner(message: Message): string | undefined {
  const signer = message.properties.headers?.[SIGNER_HEADER] as unknown;
  return typeof signer === 'string' && signer.length <= MAX_SIGNER_LENGTH ? signer : undefined;
}
