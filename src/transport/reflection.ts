import { fromBinary, toBinary } from '@bufbuild/protobuf';
import { FileDescriptorProtoSchema, type DescriptorProto } from '@bufbuild/protobuf/wkt';
import { loadSync, type PackageDefinition } from '@grpc/proto-loader';
import { protoPath as healthProto } from 'grpc-health-check';
import { protoSchema } from './protoSchema.js';

/**
 * What server reflection describes: every service the node serves, the chat
 * contract and grpc.health.v1. proto-loader (protobufjs) names a map field's
 * entry message after the field ("Statuses" for `statuses`), where protoc
 * names it "StatusesEntry"; Go's protobuf runtime, which `buf curl` uses,
 * then cannot resolve the file (Health.List has a map). The descriptors are
 * handed out with protoc's names. Built once per process (every type entry
 * repeats its file's descriptors: each distinct one is rewritten once).
 */
export function reflectedDefinition(): PackageDefinition {
  reflected ??= build();
  return reflected;
}

let reflected: PackageDefinition | undefined;

function build(): PackageDefinition {
  const def: PackageDefinition = { ...protoSchema().definition, ...loadSync(healthProto, { keepCase: true }) };
  const rewritten = new Map<string, Buffer>();
  const once = (bytes: Buffer) => {
    const key = bytes.toString('latin1');
    let out = rewritten.get(key);
    if (!out) rewritten.set(key, (out = protocMapEntryNames(bytes)));
    return out;
  };
  for (const [name, entry] of Object.entries(def)) {
    const files = (entry as { fileDescriptorProtos?: Buffer[] }).fileDescriptorProtos;
    if (files) def[name] = { ...entry, fileDescriptorProtos: files.map(once) } as PackageDefinition[string];
  }
  return def;
}

function protocMapEntryNames(bytes: Buffer): Buffer {
  const file = fromBinary(FileDescriptorProtoSchema, bytes);
  let renamed = false;
  const visit = (m: DescriptorProto) => {
    for (const nested of m.nestedType) {
      if (nested.options?.mapEntry && !nested.name.endsWith('Entry')) {
        const old = nested.name;
        nested.name = `${old}Entry`;
        for (const f of m.field) if (f.typeName === old || f.typeName.endsWith(`.${old}`)) f.typeName = `${f.typeName}Entry`;
        renamed = true;
      }
      visit(nested);
    }
  };
  for (const m of file.messageType) visit(m);
  return renamed ? Buffer.from(toBinary(FileDescriptorProtoSchema, file)) : bytes;
}
