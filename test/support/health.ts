import { createRequire } from 'node:module';
import { credentials, loadPackageDefinition } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';

const require = createRequire(import.meta.url);
type HealthClient = { check(req: object, cb: (e: Error | null, r: { status: string }) => void): void; close(): void };
let Health: (new (a: string, c: unknown) => HealthClient) | undefined;

/** grpc.health.v1 Check of one service on a node: 'SERVING', 'NOT_SERVING', ... */
export function healthStatus(address: string, service = 'chat.v1.ChatService'): Promise<string> {
  Health ??= (
    loadPackageDefinition(loadSync(require.resolve('grpc-health-check/proto/health/v1/health.proto'), { enums: String })) as unknown as {
      grpc: { health: { v1: { Health: new (a: string, c: unknown) => HealthClient } } };
    }
  ).grpc.health.v1.Health;
  const c = new Health(address, credentials.createInsecure());
  return new Promise((resolve, reject) =>
    c.check({ service }, (e, r) => {
      c.close();
      if (e) reject(e);
      else resolve(r.status);
    }),
  );
}
