import { loadSync, type PackageDefinition } from '@grpc/proto-loader';
import { fileURLToPath } from 'node:url';

/** The .proto files the node serves (and reflects). */
export const PROTO_FILES = ['chat/v1/account.proto', 'chat/v1/chat.proto', 'chat/v1/presence.proto', 'chat/v1/discovery.proto', 'chat/v1/safety.proto'];

/** One field of a message, as the descriptor states it. */
export interface FieldInfo {
  /** The proto field name (snake_case), used in error messages. */
  name: string;
  number: number;
  repeated: boolean;
  kind: 'string' | 'message' | 'other';
  /** For message fields: the full name of the field's type. */
  message?: string;
}

/** One RPC, as the descriptor states it. */
export interface MethodInfo {
  service: string;
  /** `/package.Service/Method`, as on the wire. */
  path: string;
  /** Full name of the request message. */
  requestType: string;
  requestStream: boolean;
  responseStream: boolean;
}

interface RawField {
  name: string;
  number: number;
  label: string;
  type: string;
  typeName: string;
}
interface RawMethod {
  path: string;
  requestStream: boolean;
  responseStream: boolean;
  requestType: { type: { name: string } };
}

/**
 * Field names and method shapes read from the .proto descriptors (through
 * @grpc/proto-loader, which reflection uses too), so decoding errors and tests
 * name fields from the contract itself instead of from hand-kept tables.
 */
export class ProtoSchema {
  private readonly cache = new Map<string, FieldInfo[]>();

  constructor(readonly definition: PackageDefinition) {}

  /** Every method of every service in the definition. */
  methods(): MethodInfo[] {
    const out: MethodInfo[] = [];
    for (const [service, entry] of Object.entries(this.definition)) {
      if ('format' in entry) continue; // a message or enum, not a service
      for (const m of Object.values(entry as unknown as Record<string, RawMethod>)) {
        const pkg = service.slice(0, service.lastIndexOf('.'));
        out.push({
          service,
          path: m.path,
          requestType: this.resolve(m.requestType.type.name, pkg),
          requestStream: m.requestStream,
          responseStream: m.responseStream,
        });
      }
    }
    return out;
  }

  /** The fields of a message type by full name (empty for an unknown type). */
  fields(typeName: string): FieldInfo[] {
    let fields = this.cache.get(typeName);
    if (fields) return fields;
    const entry = this.definition[typeName] as { type?: { field?: RawField[] } } | undefined;
    const pkg = typeName.slice(0, typeName.lastIndexOf('.'));
    fields = (entry?.type?.field ?? []).map((f) => ({
      name: f.name,
      number: f.number,
      repeated: f.label === 'LABEL_REPEATED',
      kind: f.type === 'TYPE_STRING' ? 'string' : f.type === 'TYPE_MESSAGE' ? 'message' : 'other',
      message: f.type === 'TYPE_MESSAGE' ? this.resolve(f.typeName, pkg) : undefined,
    }));
    this.cache.set(typeName, fields);
    return fields;
  }

  /** proto-loader names types relative to their package; make them full names. */
  private resolve(typeName: string, pkg: string): string {
    const name = typeName.replace(/^\./, '');
    return name in this.definition ? name : `${pkg}.${name}`;
  }
}

/** Where the .proto sources live, relative to dist/src/transport or src/transport. */
export function protoRoot(): string {
  const here = fileURLToPath(new URL('.', import.meta.url));
  return here.includes('/dist/') ? here.replace(/\/dist\/src\/transport\/?$/, '/proto') : here.replace(/\/src\/transport\/?$/, '/proto');
}

let loaded: ProtoSchema | undefined;

/** The node's contract, loaded once. */
export function protoSchema(): ProtoSchema {
  loaded ??= new ProtoSchema(loadSync(PROTO_FILES, { includeDirs: [protoRoot()], keepCase: true }));
  return loaded;
}
