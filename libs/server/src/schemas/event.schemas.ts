/**
 * The shape of every domain event envelope (`@chat/domain` `EventDataMap`), checked on events that
 * arrive from the bus before they are held or applied: a signed message is from a node, but only a
 * valid event may reach the reducer (a wrong shape could throw halfway through an apply or leave
 * the replica inconsistent). The TypeScript types stay in the domain; `satisfies` below keeps the
 * two in step.
 *
 * Objects are not strict: an event from a newer node with an extra field still applies (rolling
 * upgrades); values are checked for type only, without the length limits of client input (an
 * event a node accepted must apply on every node, or the replicas diverge).
 */
import {
  type AssignmentAudit,
  type Author,
  type DomainEvent,
  type EventDataMap,
  type EventType,
  isHlcStamp,
  OPERATOR_STATUSES,
  type OperatorProfile,
  type Visitor,
} from '@chat/domain';
import { z } from 'zod';

/** Ids of every kind: made by nodes (UUIDv7 in practice), only required to be non-empty. */
const key = z.string().min(1);
const nullableKey = key.nullable();
const count = z.number().int().min(0);
const clock = z.string().refine(isHlcStamp, 'must be an HLC stamp');

const author = z.object({
  kind: z.enum(['visitor', 'operator', 'system']),
  id: nullableKey,
  name: z.string(),
}) satisfies z.ZodType<Author>;

const visitor = z.object({
  id: key,
  name: z.string(),
  email: z.string().nullable(),
}) satisfies z.ZodType<Visitor>;

const operatorProfile = z.object({
  id: key,
  siteId: key,
  name: z.string(),
  email: z.string(),
  passwordHash: z.string(),
  departmentIds: z.array(key),
  maxChats: count,
  disabled: z.boolean(),
}) satisfies z.ZodType<OperatorProfile>;

const assignmentAudit = z.object({
  reason: z.enum(['auto', 'manual', 'transfer', 'requeue', 'fence']),
  explanation: z.string(),
  candidates: z.array(
    z.object({
      operatorId: key,
      load: count,
      maxChats: count,
      lastAssignedAt: z.number().nullable(),
      inDepartment: z.boolean(),
    }),
  ),
  requestedBy: nullableKey,
}) satisfies z.ZodType<AssignmentAudit>;

const session = z.object({ operatorId: key, siteId: key, sessionId: key, nodeId: key });

/** The data of each event type. */
export const eventDataSchemas = {
  'site.upserted': z.object({ site: z.object({ id: key, name: z.string() }) }),
  'department.upserted': z.object({
    department: z.object({ id: key, siteId: key, name: z.string() }),
  }),
  'operator.upserted': z.object({ operator: operatorProfile }),
  'operator.status.set': z.object({
    operatorId: key,
    siteId: key,
    status: z.enum(OPERATOR_STATUSES),
  }),
  'operator.session.opened': session,
  'operator.session.closed': session,
  'chat.started': z.object({
    chatId: key,
    siteId: key,
    departmentId: nullableKey,
    visitor,
    fields: z.record(z.string(), z.string()),
  }),
  'chat.assigned': z.object({
    chatId: key,
    siteId: key,
    operatorId: nullableKey,
    departmentId: nullableKey,
    epoch: count,
    audit: assignmentAudit,
  }),
  'chat.message.added': z.object({
    chatId: key,
    siteId: key,
    messageId: key,
    clientMessageId: key,
    author,
    text: z.string(),
  }),
  'chat.closed': z.object({ chatId: key, siteId: key, by: author, reason: z.string() }),
  'chat.rated': z.object({
    chatId: key,
    siteId: key,
    rating: z.number(),
    comment: z.string().nullable(),
  }),
  'offline.message.left': z.object({
    id: key,
    siteId: key,
    departmentId: nullableKey,
    name: z.string(),
    email: z.string(),
    text: z.string(),
  }),
} satisfies { [T in EventType]: z.ZodType<EventDataMap[T]> };

function envelope<T extends EventType>(type: T) {
  return z.object({
    id: key,
    type: z.literal(type),
    origin: key,
    clock,
    data: eventDataSchemas[type],
  });
}

/** Any domain event, discriminated by `type` (the spec checks it lists every `EVENT_TYPES`). */
export const domainEventSchema = z.discriminatedUnion('type', [
  envelope('site.upserted'),
  envelope('department.upserted'),
  envelope('operator.upserted'),
  envelope('operator.status.set'),
  envelope('operator.session.opened'),
  envelope('operator.session.closed'),
  envelope('chat.started'),
  envelope('chat.assigned'),
  envelope('chat.message.added'),
  envelope('chat.closed'),
  envelope('chat.rated'),
  envelope('offline.message.left'),
]) satisfies z.ZodType<DomainEvent>;

/** The event types {@link domainEventSchema} knows. */
export const SCHEMA_EVENT_TYPES: readonly EventType[] = domainEventSchema.options.map(
  (option) => option.shape.type.value,
);

/** The marker `ChatRuntime.barrier` sends through the state fan-out to itself. */
export const barrierMarkerSchema = z.object({
  id: key,
  type: z.literal('cluster.barrier'),
  origin: key,
});

/** What the state bus may carry: a domain event or a barrier marker. */
export type BusStateMessage = DomainEvent | z.infer<typeof barrierMarkerSchema>;

/** True when `value` is a domain event this build can apply. */
export function isDomainEvent(value: unknown): value is DomainEvent {
  return domainEventSchema.safeParse(value).success;
}

/** The first problem of a value that is not a domain event, for a log line; null when it is one. */
export function domainEventProblem(value: unknown): string | null {
  const parsed = domainEventSchema.safeParse(value);
  if (parsed.success) return null;
  const issue = parsed.error.issues[0];
  return issue ? `${issue.path.join('.') || '(root)'}: ${issue.message}` : 'not a domain event';
}
