import { Column, Entity, Index, PrimaryColumn, Unique } from 'typeorm';

/**
 * A chat message. `id` is the server's message id; `eventId`/`origin`/`clock` are those of the
 * `chat.message.added` event so that the event can be rebuilt exactly. `authorId` is '' for the
 * system so that the idempotency key below has no NULL in it.
 */
@Entity({ name: 'messages' })
@Unique('messages_client_key', ['chatId', 'authorKind', 'authorId', 'clientMessageId'])
@Index('messages_chat_id_clock_idx', ['chatId', 'clock', 'id'])
export class MessageEntity {
  @PrimaryColumn({ type: 'uuid' })
  id!: string;

  @Column({ name: 'event_id', type: 'uuid' })
  eventId!: string;

  @Column({ name: 'chat_id', type: 'uuid' })
  chatId!: string;

  @Column({ name: 'site_id', type: 'uuid' })
  siteId!: string;

  @Column({ name: 'client_message_id', type: 'text' })
  clientMessageId!: string;

  @Column({ name: 'author_kind', type: 'text' })
  authorKind!: string;

  @Column({ name: 'author_id', type: 'text' })
  authorId!: string;

  @Column({ name: 'author_name', type: 'text' })
  authorName!: string;

  @Column({ type: 'text' })
  text!: string;

  @Column({ type: 'text', collation: 'C' })
  clock!: string;

  @Column({ type: 'text' })
  origin!: string;

  /** wall time of the clock stamp, not of the insert, so every node writes the same row */
  @Column({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;
}
