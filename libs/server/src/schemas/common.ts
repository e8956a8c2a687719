import { z } from 'zod';

export const id = z.uuid({ message: 'must be a UUID' });
export const clientMessageId = z
  .string()
  .min(1)
  .max(100)
  .regex(/^[\w:.-]+$/, 'letters, digits, "_", "-", ":" or "." only');
export const messageText = z
  .string()
  .max(10_000, 'at most 10000 characters')
  .refine((s) => s.trim().length > 0, 'must not be empty');
export const personName = z.string().trim().min(1).max(100);
export const email = z.email({ message: 'must be an e-mail address' }).max(254);
