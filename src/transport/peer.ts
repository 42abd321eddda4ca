import { BlockList, isIP } from 'node:net';
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Metadata } from '@grpc/grpc-js';

/**
 * Metadata by which this process's own grpc-web bridge tells the gRPC server
 * the browser's address. The key is random per process: a client that sends
 * these headers itself cannot match it, so they are ignored.
 */
const BRIDGE_ADDR = 'x-chat-bridge-peer';
const BRIDGE_KEY = 'x-chat-bridge-key';
const bridgeKey = randomBytes(32).toString('hex');
const bridgeDigest = createHash('sha256').update(bridgeKey).digest();

/** An IP address without an IPv4-mapped prefix, or undefined when `s` is not one. */
export function normalizeIp(s: string | undefined): string | undefined {
  if (!s) return undefined;
  const t = s.trim().replace(/^\[(.*)\]$/, '$1');
  const v4 = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(t);
  if (v4) return v4[1];
  return isIP(t) ? t.toLowerCase() : undefined;
}

/** The address part of grpc-js `getPeer()` ("1.2.3.4:5678", "::1:5678"). */
export function peerAddress(peer: string): string | undefined {
  const cut = peer.lastIndexOf(':');
  return normalizeIp(cut > 0 ? peer.slice(0, cut) : peer) ?? normalizeIp(peer);
}

/**
 * Who is calling, as an IP address, for per-address limits. The direct peer,
 * unless it is one of the trusted proxies (`CHAT_TRUSTED_PROXIES`, IPs and
 * CIDRs): then `x-forwarded-for` is read from the right and the first hop that
 * is not a trusted proxy is the client. A client behind no trusted proxy cannot
 * choose its address by sending `x-forwarded-for` itself.
 */
export class PeerResolver {
  private readonly trusted = new BlockList();

  /** `spec`: comma-separated IPs and CIDRs, e.g. "10.0.0.0/8, 127.0.0.1". Throws on a bad entry. */
  constructor(spec = '') {
    for (const raw of spec
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean)) {
      const [ip, bits] = raw.split('/');
      const addr = normalizeIp(ip);
      const family = addr && isIP(addr) === 6 ? 'ipv6' : 'ipv4';
      const prefix = bits === undefined ? undefined : Number(bits);
      if (!addr || (prefix !== undefined && !(Number.isInteger(prefix) && prefix >= 0 && prefix <= (family === 'ipv6' ? 128 : 32)))) {
        throw new Error(`not an IP address or CIDR: "${raw}"`);
      }
      if (prefix === undefined) this.trusted.addAddress(addr, family);
      else this.trusted.addSubnet(addr, prefix, family);
    }
  }

  isTrusted(ip: string): boolean {
    return this.trusted.check(ip, isIP(ip) === 6 ? 'ipv6' : 'ipv4');
  }

  /** The client's address from a direct peer and the `x-forwarded-for` values it sent. */
  resolve(direct: string | undefined, forwardedFor: string[]): string {
    let client = normalizeIp(direct);
    if (!client) return 'unknown';
    const hops = forwardedFor.flatMap((v) => v.split(',')).reverse();
    for (const hop of hops) {
      if (!this.isTrusted(client)) break;
      const ip = normalizeIp(hop);
      if (!ip) break; // a hop our proxy could not have written: keep the last one we can vouch for
      client = ip;
    }
    return client;
  }

  /** The client's address of a native gRPC call (or of a grpc-web call relayed by this process's bridge). */
  ofCall(call: { getPeer(): string; metadata: Metadata }): string {
    const key = call.metadata.get(BRIDGE_KEY)[0];
    const relayed = call.metadata.get(BRIDGE_ADDR)[0];
    if (typeof key === 'string' && typeof relayed === 'string' && sameKey(key)) return normalizeIp(relayed) ?? 'unknown';
    const xff = call.metadata.get('x-forwarded-for').map(String);
    return this.resolve(peerAddress(call.getPeer()), xff);
  }
}

/** Marks a call forwarded by the grpc-web bridge with the browser's address (replacing anything the browser sent). */
export function setBridgePeer(md: Metadata, address: string) {
  md.set(BRIDGE_ADDR, address);
  md.set(BRIDGE_KEY, bridgeKey);
}

/** Removes bridge headers a client sent itself. */
export function stripBridgePeer(md: Metadata) {
  md.remove(BRIDGE_ADDR);
  md.remove(BRIDGE_KEY);
}

function sameKey(key: string): boolean {
  return timingSafeEqual(createHash('sha256').update(key).digest(), bridgeDigest);
}
