/**
 * Every socket event a client may send, one typed map per channel. Payloads are validated at the
 * edge with these schemas; the inferred types are what the handlers receive.
 */
import { z } from 'zod';
import { clientMessageId, id, messageText } from './common';

/** A client's position in a chat (see docs/protocol.md, "Resync"): its newest message id... */
const afterMessageId = z.string().min(1).max(100).nullable();
/** ...and the digest of every message id it holds (FNV-1a 64, 16 lower-case hex digits). */
const digest = z.string().regex(/^[0-9a-f]{16}$/, 'must be 16 lower-case hex digits');

/**
 * The socket.io handshake's `auth` object. Not strict: socket.io itself may add keys (`pid`,
 * `offset`). `resync: true` asks for chats without messages in `chat.state` / `state.full`, the
 * client fetching them with `chat.sync` from its own position.
 */
export const handshakeAuth = z.object({
  token: z.unknown(),
  resync: z.boolean().optional(),
});

export const operatorEvents = {
  'message.send': z.strictObject({ chatId: id, clientMessageId, text: messageText }),
  typing: z.strictObject({ chatId: id, isTyping: z.boolean() }),
  'chat.take': z.strictObject({ chatId: id }),
  'chat.transfer': z
    .strictObject({ chatId: id, toOperatorId: id.optional(), toDepartmentId: id.optional() })
    .refine(
      (b) => (b.toOperatorId === undefined) !== (b.toDepartmentId === undefined),
      'give exactly one of toOperatorId and toDepartmentId',
    ),
  'chat.close': z.strictObject({ chatId: id, reason: z.string().max(200).optional() }),
  'state.sync': z.strictObject({}).optional(),
  'chat.sync': z.strictObject({ chatId: id, afterMessageId, digest: digest.optional() }),
} as const;

export const visitorEvents = {
  'message.send': z.strictObject({ clientMessageId, text: messageText }),
  typing: z.strictObject({ isTyping: z.boolean() }),
  'chat.close': z.strictObject({ reason: z.string().max(200).optional() }).optional(),
  'chat.rate': z.strictObject({
    rating: z.number().int().min(1).max(5),
    comment: z.string().max(2000).optional(),
  }),
  'chat.sync': z.strictObject({ afterMessageId, digest: digest.optional() }),
} as const;

export type OperatorEventName = keyof typeof operatorEvents;
export type OperatorEventPayload<E extends OperatorEventName> = z.infer<(typeof operatorEvents)[E]>;
export type VisitorEventName = keyof typeof visitorEvents;
export type VisitorEventPayload<E extends VisitorEventName> = z.infer<(typeof visitorEvents)[E]>;
