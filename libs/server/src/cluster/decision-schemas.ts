import { z } from 'zod';

/** What a slave sends the master over the node RPC; checked again on the master's side. */
export const takeRequestSchema = z.strictObject({
  operatorId: z.string().min(1).max(100),
  chatId: z.string().min(1).max(100),
});

export const transferRequestSchema = z.strictObject({
  requestedBy: z.string().min(1).max(100),
  chatId: z.string().min(1).max(100),
  toOperatorId: z.string().min(1).max(100).optional(),
  toDepartmentId: z.string().min(1).max(100).optional(),
});

export const DECISION_METHODS = {
  take: 'decision.take',
  transfer: 'decision.transfer',
} as const;
