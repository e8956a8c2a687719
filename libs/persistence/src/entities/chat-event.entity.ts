import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

/** Journal of the chat events other than messages (started, assigned, closed, rated). */
@Entity({ name: 'chat_events' })
@Index('chat_events_chat_id_idx', ['chatId'])
export class ChatEventEntity {
  @PrimaryColumn({ type: 'uuid' })
  id!: string;

  @Column({ name: 'chat_id', type: 'uuid' })
  chatId!: string;

  @Column({ name: 'site_id', type: 'uuid' })
  siteId!: string;

  @Column({ type: 'text' })
  type!: string;

  @Column({ type: 'text', collation: 'C' })
  clock!: string;

  @Column({ type: 'text' })
  origin!: string;

  @Column({ type: 'jsonb' })
  data!: Record<string, unknown>;
}
