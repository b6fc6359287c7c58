import { loadLinuxAddon, nativeAddonPath } from '../config/native-addon.js';
import { ipv6Text } from '../wire/address-text.js';

/**
 * The optional native addon (native/udp_batch.c): a UDP socket read with recvmmsg and written with sendmmsg on
 * Node's own event loop, so that a burst of queries costs one system call each way and one call into JavaScript,
 * where node:dgram makes a system call, a callback, a Buffer and an address object per datagram and per answer.
 */
export interface UdpBatchAddon {
  /** Datagrams taken per recvmmsg, and the bytes kept for each (a whole UDP datagram fits). */
  readonly BATCH: number;
  readonly SLOT: number;
  /**
   * Datagram i arrives at rx[i * SLOT], its [length, port, answer length] at meta[3i], its sender at addrs[16i];
   * onBatch answers datagrams first..first+count-1 (a run of a batch) by writing answer i at tx[i * SLOT] and its
   * length at meta[3i + 2] (0: none), sent in one sendmmsg when it returns. It returns true when it left promise
   * jobs, which the addon then runs.
   */
  open(family: 4 | 6, host: string, port: number, reusePort: boolean, rx: Buffer, tx: Buffer, meta: Int32Array, addrs: Uint8Array, onBatch: (count: number, first: number) => boolean): UdpBatchHandle;
  /** Sends at once: answers that come after the batch (forwarded queries). */
  sendTo(handle: UdpBatchHandle, answer: Buffer, port: number, address: string): void;
  localPort(handle: UdpBatchHandle): number;
  close(handle: UdpBatchHandle): void;
}

declare const handleBrand: unique symbol;
export type UdpBatchHandle = { readonly [handleBrand]: true };

/** How the UDP listeners read and write: batches through the addon, or node:dgram a datagram at a time. */
export type UdpIo = 'recvmmsg' | 'dgram';

export const UDP_BATCH_ADDON_PATH = nativeAddonPath('udp_batch');

/** The addon if it was built and loads on this platform, or why not (said at start, in the log and a metric). */
export function loadUdpBatch(): { addon: UdpBatchAddon } | { error: string } {
  return loadLinuxAddon<UdpBatchAddon>('udp_batch', "recvmmsg is Linux's");
}

/** The UDP I/O a process uses, and why (the addon's path, or why the addon is not in use). */
export interface UdpIoChoice {
  readonly io: UdpIo;
  readonly reason: string;
}

/** The I/O the --udp-io setting asks for, on this machine: `auto` takes the addon where it loads. */
export function chooseUdpIo(setting: 'auto' | UdpIo): UdpIoChoice {
  if (setting === 'dgram') return { io: 'dgram', reason: '--udp-io dgram' };
  const addon = loadUdpBatch();
  if ('addon' in addon) return { io: 'recvmmsg', reason: `native addon ${UDP_BATCH_ADDON_PATH}` };
  if (setting === 'recvmmsg') throw new Error(`--udp-io recvmmsg: ${addon.error}`);
  return { io: 'dgram', reason: addon.error };
}

/** The sender's address as text, remembering the last few: a server's queries come from a handful of resolvers. */
export class AddressText {
  private readonly v4 = new Map<number, string>();
  private readonly v6 = new Map<string, string>();

  ipv4(bytes: Uint8Array, at: number): string {
    const key = ((bytes[at]! << 24) | (bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!) >>> 0;
    let text = this.v4.get(key);
    if (text === undefined) {
      text = `${bytes[at]}.${bytes[at + 1]}.${bytes[at + 2]}.${bytes[at + 3]}`;
      this.remember(this.v4, key, text);
    }
    return text;
  }

  ipv6(bytes: Uint8Array, at: number): string {
    const key = Buffer.from(bytes.buffer, bytes.byteOffset + at, 16).toString('hex');
    let text = this.v6.get(key);
    if (text === undefined) {
      text = ipv6Text(bytes, at);
      this.remember(this.v6, key, text);
    }
    return text;
  }

  private remember<K>(map: Map<K, string>, key: K, text: string): void {
    // Bounded: a flood from spoofed addresses must not grow it; dropping everything is cheaper than an LRU here.
    if (map.size >= 1024) map.clear();
    map.set(key, text);
  }
}
