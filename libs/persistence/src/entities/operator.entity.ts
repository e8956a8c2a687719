import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

/**
 * An operator: the profile (from `operator.upserted`) and the status (from `operator.status.set`)
 * are two independent last-writer-wins registers. Either may arrive first, so the profile columns
 * are null until a profile is stored, and the status columns until a status is.
 */
@Entity({ name: 'operators' })
@Index('operators_site_id_idx', ['siteId'])
export class OperatorEntity {
  @PrimaryColumn({ type: 'uuid' })
  id!: string;

  @Column({ name: 'site_id', type: 'uuid' })
  siteId!: string;

  @Column({ type: 'text', nullable: true })
  name!: string | null;

  @Column({ type: 'text', nullable: true })
  email!: string | null;

  @Column({ name: 'password_hash', type: 'text', nullable: true })
  passwordHash!: string | null;

  @Column({ name: 'department_ids', type: 'jsonb', nullable: true })
  departmentIds!: string[] | null;

  @Column({ name: 'max_chats', type: 'integer', nullable: true })
  maxChats!: number | null;

  @Column({ type: 'boolean', nullable: true })
  disabled!: boolean | null;

  @Column({ name: 'profile_clock', type: 'text', collation: 'C', nullable: true })
  profileClock!: string | null;

  @Column({ name: 'profile_event_id', type: 'uuid', nullable: true })
  profileEventId!: string | null;

  @Column({ type: 'text', nullable: true })
  status!: string | null;

  @Column({ name: 'status_clock', type: 'text', collation: 'C', nullable: true })
  statusClock!: string | null;

  @Column({ name: 'status_event_id', type: 'uuid', nullable: true })
  statusEventId!: string | null;
}
