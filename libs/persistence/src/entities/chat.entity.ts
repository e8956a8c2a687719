import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import type { AssignmentAuditEntry, Author } from '@chat/domain';

/**
 * Projection of a chat for queries and for choosing what to load at start. Always recomputed from
 * the chat's stored events by the domain reducer, never edited in place.
 */
@Entity({ name: 'chats' })
@Index('chats_site_id_status_idx', ['siteId', 'status'])
@Index('chats_closed_at_idx', ['closedAt'])
export class ChatEntity {
  @PrimaryColumn({ type: 'uuid' })
  id!: string;

  @Column({ name: 'site_id', type: 'uuid' })
  siteId!: string;

  @Column({ name: 'department_id', type: 'uuid', nullable: true })
  departmentId!: string | null;

  @Column({ name: 'visitor_id', type: 'text', nullable: true })
  visitorId!: string | null;

  @Column({ name: 'visitor_name', type: 'text', nullable: true })
  visitorName!: string | null;

  @Column({ name: 'visitor_email', type: 'text', nullable: true })
  visitorEmail!: string | null;

  @Column({ type: 'jsonb' })
  fields!: Record<string, string>;

  @Column({ type: 'text' })
  status!: string;

  @Column({ name: 'operator_id', type: 'uuid', nullable: true })
  operatorId!: string | null;

  @Column({ name: 'started_at', type: 'timestamptz', nullable: true })
  startedAt!: Date | null;

  @Column({ name: 'closed_at', type: 'timestamptz', nullable: true })
  closedAt!: Date | null;

  @Column({ name: 'closed_by', type: 'jsonb', nullable: true })
  closedBy!: Author | null;

  @Column({ name: 'close_reason', type: 'text', nullable: true })
  closeReason!: string | null;

  @Column({ type: 'integer', nullable: true })
  rating!: number | null;

  @Column({ name: 'rating_comment', type: 'text', nullable: true })
  ratingComment!: string | null;

  @Column({ type: 'jsonb' })
  audit!: AssignmentAuditEntry[];

  @Column({ name: 'last_clock', type: 'text', collation: 'C' })
  lastClock!: string;
}
