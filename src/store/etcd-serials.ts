import type { Etcd3, IKeyValue } from 'etcd3';
import type { Logger } from 'pino';
import type { SharedSerials } from './store.js';

/** Under the store's prefix: `_serials` cannot be a namespace (no underscore in a DNS-1123 label). */
export const SERIAL_SEGMENT = '_serials/';

/** Ten digits, zero-padded: etcd compares values as bytes, and so compares these as numbers. */
const encode = (serial: number): string => String(serial >>> 0).padStart(10, '0');

/** How long a burst of stamps is gathered before one write per zone; a failed write is tried again after a second. */
const FLUSH_MS = 20;
const RETRY_MS = 1000;

/**
 * Zone serials in etcd, one key per zone holding the largest serial any replica stamped. A write is a
 * transaction that only ever raises the value (compare-and-put), so replicas racing each other keep the largest;
 * every replica sees each raise through the store's watch and adopts it when it is above its own.
 */
export class EtcdSerials implements SharedSerials {
  private readonly listeners: ((zoneKey: string, serial: number) => void)[] = [];
  private readonly pending = new Map<string, number>();
  /** The largest serial seen in the store per zone: publishing one not above it is a write saved. */
  private readonly stored = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly client: Etcd3,
    private readonly prefix: string,
    private readonly logger: Logger,
  ) {}

  publish(zoneKey: string, serial: number): void {
    if (serial <= (this.stored.get(zoneKey) ?? 0) || serial <= (this.pending.get(zoneKey) ?? 0)) return;
    this.pending.set(zoneKey, serial);
    this.schedule(FLUSH_MS);
  }

  onSerial(listener: (zoneKey: string, serial: number) => void): void {
    this.listeners.push(listener);
  }

  /** A key under the prefix from the list or the watch: true when it was a serial key (handled here). */
  seen(kv: IKeyValue): boolean {
    const key = kv.key.toString().slice(this.prefix.length);
    if (!key.startsWith(SERIAL_SEGMENT)) return false;
    const zoneKey = key.slice(SERIAL_SEGMENT.length);
    const serial = Number(kv.value.toString());
    if (!Number.isInteger(serial) || serial < 0 || serial > 0xffffffff) {
      this.logger.warn({ key: kv.key.toString() }, 'ignoring an unreadable zone serial in etcd');
      return true;
    }
    if (serial > (this.stored.get(zoneKey) ?? 0)) this.stored.set(zoneKey, serial);
    for (const l of this.listeners) l(zoneKey, serial);
    return true;
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
  }

  private schedule(ms: number): void {
    if (this.timer !== undefined || this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, ms);
    this.timer.unref();
  }

  private async flush(): Promise<void> {
    const batch = [...this.pending];
    this.pending.clear();
    for (let i = 0; i < batch.length; i++) {
      const [zoneKey, serial] = batch[i]!;
      const key = `${this.prefix}${SERIAL_SEGMENT}${zoneKey}`;
      const value = encode(serial);
      try {
        const raised = await this.client.if(key, 'Value', '<', value).then(this.client.put(key).value(value)).commit();
        // A missing key compares false on its value: the first serial is put when the key has no version.
        if (!raised.succeeded) await this.client.if(key, 'Version', '==', 0).then(this.client.put(key).value(value)).commit();
      } catch (err) {
        // etcd away: the serial is shared when it is back (a newer stamp in the meantime supersedes this one).
        for (const [z, s] of batch.slice(i)) if (s > (this.pending.get(z) ?? 0)) this.pending.set(z, s);
        this.logger.warn({ zone: zoneKey, err: (err as Error).message }, 'could not share the zone serial through etcd; trying again');
        this.schedule(RETRY_MS);
        return;
      }
    }
  }
}
