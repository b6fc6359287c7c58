import { createSocket } from 'node:dgram';
import { randomInt } from 'node:crypto';
import type { Logger } from 'pino';
import type { Upstream } from '../config/listen-address.js';
import { Flag, HEADER_SIZE, Opcode, RRType } from '../wire/constants.js';
import type { ZoneApex } from '../answers/zone-apex.js';
import { signRequest, type TsigKey } from '../wire/tsig.js';
import { tailOf } from '../wire/rdata.js';

/** A zone is announced at most this often: a burst of changes is one NOTIFY (the secondary transfers the lot). */
const COALESCE_MS = 1000;
/**
 * A change is announced this long after it at the soonest: the changes of one burst (a batch, a Kubernetes
 * re-list) go in one NOTIFY, and with --workers the workers have applied the change before the secondary asks.
 */
const SETTLE_MS = 50;
/** Retries of an unanswered NOTIFY back off from this to the cap (RFC 1996 §3.6 leaves the schedule to us). */
const FIRST_RETRY_MS = 2000;
const MAX_RETRY_MS = 60_000;

/** The NOTIFY message for a zone (RFC 1996 §3.7): opcode NOTIFY, AA, the zone's SOA as question and answer. */
export function notifyMessage(apex: ZoneApex, id: number): Buffer {
  const header = Buffer.alloc(HEADER_SIZE);
  header.writeUInt16BE(id, 0);
  header.writeUInt16BE((Opcode.NOTIFY << 11) | Flag.AA, 2);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(1, 6);
  const name = Buffer.from(apex.key, 'latin1');
  const question = Buffer.alloc(4);
  question.writeUInt16BE(RRType.SOA, 0);
  question.writeUInt16BE(1, 2);
  return Buffer.concat([header, name, question, name, tailOf(apex.soa.records[0]!)]);
}

/**
 * Tells the --notify secondaries that a mesh zone changed, as a primary does (RFC 1996): at most one NOTIFY per
 * zone per second, each retried with backoff until the secondary answers it; a newer change replaces an
 * unanswered one (its serial is the one that matters).
 */
export class Notifier {
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private stopped = false;

  constructor(
    private readonly targets: readonly Upstream[],
    private readonly apexOf: (zoneKey: string) => ZoneApex | undefined,
    private readonly logger: Logger,
    /** --tsig-key-file: NOTIFYs are signed with it. */
    private readonly key?: TsigKey,
  ) {}

  /** When each zone was last announced (ms since the epoch). */
  private readonly lastAnnounced = new Map<string, number>();

  /** The zones changed: each is announced 50 ms later, or a second after its last NOTIFY when that is later. */
  changed(zoneKeys: readonly string[]): void {
    if (this.targets.length === 0 || this.stopped) return;
    const now = Date.now();
    for (const key of zoneKeys) {
      if (this.timers.has(key)) continue;
      const wait = Math.max(SETTLE_MS, (this.lastAnnounced.get(key) ?? -Infinity) + COALESCE_MS - now);
      const timer = setTimeout(() => {
        this.timers.delete(key);
        this.lastAnnounced.set(key, Date.now());
        const apex = this.apexOf(key);
        if (apex !== undefined) for (const t of this.targets) this.send(apex, t, FIRST_RETRY_MS, 1);
      }, wait);
      timer.unref();
      this.timers.set(key, timer);
    }
  }

  private readonly generation = new Map<string, number>();

  private send(apex: ZoneApex, target: Upstream, retryMs: number, attempt: number): void {
    if (this.stopped) return;
    const slot = `${apex.key}|${target.host}:${target.port}`;
    const mine = attempt === 1 ? (this.generation.get(slot) ?? 0) + 1 : this.generation.get(slot)!;
    this.generation.set(slot, mine);
    const id = randomInt(0, 0x10000);
    const socket = createSocket(target.host.includes(':') ? 'udp6' : 'udp4');
    let done = false;
    const finish = (answered: boolean): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.close();
      if (answered) return;
      // Superseded by a newer change's NOTIFY: that one carries on.
      if (this.generation.get(slot) !== mine) return;
      if (attempt === 1 || attempt % 5 === 0) this.logger.warn({ secondary: `${target.host}:${target.port}`, attempt }, 'NOTIFY not answered; retrying');
      const retry = setTimeout(() => this.send(apex, target, Math.min(retryMs * 2, MAX_RETRY_MS), attempt + 1), retryMs);
      retry.unref();
    };
    const timer = setTimeout(() => finish(false), retryMs);
    socket.on('message', (reply) => {
      // The answer: same ID, QR set, opcode NOTIFY (RFC 1996 §4.7).
      if (reply.length >= HEADER_SIZE && reply.readUInt16BE(0) === id && (reply[2]! & 0x80) !== 0 && ((reply[2]! >> 3) & 0x0f) === Opcode.NOTIFY) finish(true);
    });
    socket.on('error', () => finish(false));
    const message = notifyMessage(apex, id);
    socket.send(this.key === undefined ? message : signRequest(message, this.key, Math.floor(Date.now() / 1000)), target.port, target.host);
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }
}
