import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type {
  ClientSpec,
  GeneratorCommand,
  GeneratorReply,
  ReceivedRecord,
  SentRecord,
} from './load-generator';

/** The harness's handle on one load generator process (see load-generator.ts). */
export class GeneratorProcess {
  private constructor(private readonly child: ChildProcess) {}

  static start(): GeneratorProcess {
    const child = fork(join(__dirname, 'load-generator.js'), [], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    return new GeneratorProcess(child);
  }

  get pid(): number {
    return this.child.pid ?? 0;
  }

  async connect(clients: ClientSpec[]): Promise<void> {
    await this.ask({ cmd: 'connect', clients }, 'connected');
  }

  async run(runId: string, rate: number, seconds: number): Promise<SentRecord[]> {
    const reply = await this.ask({ cmd: 'run', runId, rate, seconds }, 'sent');
    return reply.records;
  }

  async collect(): Promise<ReceivedRecord[]> {
    const reply = await this.ask({ cmd: 'collect' }, 'received');
    return reply.records;
  }

  close(): void {
    if (this.child.connected) this.child.send({ cmd: 'close' } satisfies GeneratorCommand);
    setTimeout(() => this.child.kill('SIGKILL'), 2000).unref();
  }

  private ask<T extends GeneratorReply['type']>(
    command: GeneratorCommand,
    type: T,
  ): Promise<Extract<GeneratorReply, { type: T }>> {
    return new Promise((resolve, reject) => {
      const onMessage = (reply: GeneratorReply): void => {
        if (reply.type === 'error') {
          this.child.off('message', onMessage);
          reject(new Error(`load generator: ${reply.message}`));
        } else if (reply.type === type) {
          this.child.off('message', onMessage);
          resolve(reply as Extract<GeneratorReply, { type: T }>);
        }
      };
      this.child.on('message', onMessage);
      this.child.send(command);
    });
  }
}
