import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

/** A message left through the offline form while no operator was online. */
@Entity({ name: 'offline_messages' })
@Index('offline_messages_site_id_clock_idx', ['siteId', 'clock'])
export class OfflineMessageEntity {
  @PrimaryColumn({ type: 'uuid' })
  id!: string;

  @Column({ name: 'event_id', type: 'uuid' })
  eventId!: string;

  @Column({ name: 'site_id', type: 'uuid' })
  siteId!: string;

  @Column({ name: 'department_id', type: 'uuid', nullable: true })
  departmentId!: string | null;

  @Column({ type: 'text' })
  name!: string;

  @Column({ type: 'text' })
  email!: string;

  @Column({ type: 'text' })
  text!: string;

  @Column({ type: 'text', collation: 'C' })
  clock!: string;

  @Column({ type: 'text' })
  origin!: string;

  /** wall time of the clock stamp */
  @Column({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;
}
