/** Request bodies of the HTTP API; the same schemas give the TypeScript types. */
import { OPERATOR_STATUSES } from '@chat/domain';
import { z } from 'zod';
import { email, id, messageText, personName } from './common';

export const loginBody = z.strictObject({ email, password: z.string().min(1).max(200) });
export const setStatusBody = z.strictObject({ status: z.enum(OPERATOR_STATUSES) });

export const startChatBody = z.strictObject({
  siteId: id,
  name: personName,
  email: email.optional(),
  departmentId: id.nullish(),
  fields: z
    .record(z.string().min(1).max(50), z.string().max(1000))
    .refine((f) => Object.keys(f).length <= 20, 'at most 20 fields')
    .optional(),
});

/**
 * The `Idempotency-Key` header of `POST /l/v/chats`: made by the client once per chat it wants
 * (e.g. a UUID), unguessable, since whoever repeats it gets that chat's visitor token.
 */
export const idempotencyKey = z
  .string()
  .min(16, 'at least 16 characters')
  .max(128, 'at most 128 characters')
  .regex(/^[\w:.-]+$/, 'letters, digits, "_", "-", ":" or "." only');

export const offlineMessageBody = z.strictObject({
  siteId: id,
  name: personName,
  email,
  departmentId: id.nullish(),
  text: messageText,
});

export const createSiteBody = z.strictObject({ name: z.string().trim().min(1).max(100) });
export const createDepartmentBody = z.strictObject({ name: z.string().trim().min(1).max(100) });
export const createOperatorBody = z.strictObject({
  name: personName,
  email,
  password: z.string().min(8, 'at least 8 characters').max(200),
  departmentIds: z.array(id).max(50).default([]),
  maxChats: z.number().int().min(1).max(100).default(3),
});
export const updateOperatorBody = z
  .strictObject({
    name: personName,
    password: z.string().min(8).max(200),
    departmentIds: z.array(id).max(50),
    maxChats: z.number().int().min(1).max(100),
    disabled: z.boolean(),
  })
  .partial()
  .refine((b) => Object.keys(b).length > 0, 'nothing to change');

export type StartChatBody = z.infer<typeof startChatBody>;
export type OfflineMessageBody = z.infer<typeof offlineMessageBody>;
export type CreateOperatorBody = z.infer<typeof createOperatorBody>;
export type UpdateOperatorBody = z.infer<typeof updateOperatorBody>;
