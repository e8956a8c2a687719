import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

/** A department's configuration, last writer (by clock, event id) wins. */
@Entity({ name: 'departments' })
@Index('departments_site_id_idx', ['siteId'])
export class DepartmentEntity {
  @PrimaryColumn({ type: 'uuid' })
  id!: string;

  @Column({ name: 'site_id', type: 'uuid' })
  siteId!: string;

  @Column({ type: 'text' })
  name!: string;

  @Column({ type: 'text', collation: 'C' })
  clock!: string;

  @Column({ name: 'event_id', type: 'uuid' })
  eventId!: string;
}
