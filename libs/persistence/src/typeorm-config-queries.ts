import type { DataSource } from 'typeorm';
import { SiteEntity } from './entities/site.entity';
import { exclusive } from './exclusive';

/** Questions about the stored configuration that the live state cannot answer. */
export class TypeOrmConfigQueries {
  constructor(private readonly dataSource: DataSource) {}

  /** True when no site is stored yet: the first run, when the apps seed a configuration. */
  isEmpty(): Promise<boolean> {
    return exclusive(this.dataSource, async () => {
      const any = await this.dataSource.manager.exists(SiteEntity);
      return !any;
    });
  }
}
