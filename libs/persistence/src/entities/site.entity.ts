import { Column, Entity, PrimaryColumn } from 'typeorm';

/** A site's configuration; `clock`/`eventId` are the stamp of the `site.upserted` that wrote it. */
@Entity({ name: 'sites' })
export class SiteEntity {
  @PrimaryColumn({ type: 'uuid' })
  id!: string;

  @Column({ type: 'text' })
  name!: string;

  @Column({ type: 'text', collation: 'C' })
  clock!: string;

  @Column({ name: 'event_id', type: 'uuid' })
  eventId!: string;
}
