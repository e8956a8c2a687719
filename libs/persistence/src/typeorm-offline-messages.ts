import type { DataSource } from 'typeorm';
import { OfflineMessageEntity } from './entities/offline-message.entity';
import { exclusive } from './exclusive';
import { offlineMessageFrom, type OfflineMessage } from './mappers';

export const DEFAULT_OFFLINE_MESSAGES_LIMIT = 50;
const MAX_OFFLINE_MESSAGES_LIMIT = 500;

/** Reads the messages left through the offline form, for the admin API. */
export class TypeOrmOfflineMessages {
  constructor(private readonly dataSource: DataSource) {}

  /** A site's offline messages, newest first (by clock, then id). */
  listBySite(siteId: string, options: { limit?: number } = {}): Promise<OfflineMessage[]> {
    const limit = Math.min(
      Math.max(Math.trunc(options.limit ?? DEFAULT_OFFLINE_MESSAGES_LIMIT), 1),
      MAX_OFFLINE_MESSAGES_LIMIT,
    );
    return exclusive(this.dataSource, async () => {
      const rows = await this.dataSource.manager.find(OfflineMessageEntity, {
        where: { siteId },
        order: { clock: 'DESC', id: 'DESC' },
        take: limit,
      });
      return rows.map(offlineMessageFrom);
    });
  }
}
