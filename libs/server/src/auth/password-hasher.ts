import { hash, verify } from '@node-rs/argon2';

/** Argon2id through `@node-rs/argon2` (prebuilt N-API binaries, no install script). */
export class PasswordHasher {
  hash(password: string): Promise<string> {
    return hash(password);
  }

  async verify(passwordHash: string, password: string): Promise<boolean> {
    try {
      return await verify(passwordHash, password);
    } catch {
      return false;
    }
  }
}
