import type { Watch } from './kube-client.js';
import type { Logger } from 'pino';

/** A list response, as the typed client returns it (only what the reflector reads). */
export interface ListPage {
  items: unknown[];
  metadata?: { resourceVersion?: string; _continue?: string };
}

/** Objects per list page (the API server's own default chunk size for informers is 500 too). */
export const PAGE = 500;

/** Whether an `ns/name` key is in a reflector's scope: one namespace, or all (undefined). */
export function inScope(key: string, ns: string | undefined): boolean {
  return ns === undefined || key.startsWith(`${ns}/`);
}

/**
 * A reflector's handlers that keep `map` equal to the watched objects in namespace scope `ns` (a re-list drops
 * what it no longer lists), telling `changed` after each change.
 */
export function mirrorInto<T>(map: Map<string, T>, ns: string | undefined, changed: () => void): Pick<ReflectorSpec<T>, 'onReplace' | 'onUpsert' | 'onDelete'> {
  return {
    onReplace: (all) => {
      for (const key of [...map.keys()]) if (inScope(key, ns) && !all.has(key)) map.delete(key);
      for (const [key, value] of all) map.set(key, value);
      changed();
    },
    onUpsert: (key, value) => {
      map.set(key, value);
      changed();
    },
    onDelete: (key) => {
      if (map.delete(key)) changed();
    },
  };
}

/** What a source tells a reflector: what to list and watch, and where converted objects go. */
export interface ReflectorSpec<T> {
  resource: string;
  path: string;
  labelSelector?: string;
  list: (continueToken: string | undefined) => Promise<ListPage>;
  convert: (object: unknown) => { key: string; value: T | undefined } | undefined;
  onReplace: (all: Map<string, T>) => void;
  onUpsert: (key: string, value: T) => void;
  onDelete: (key: string) => void;
}

export interface ReflectorOptions<T> {
  /** For logs and metrics: "services", "endpointslices", "pods". */
  resource: string;
  /** Watch path, e.g. /api/v1/services or /api/v1/namespaces/shop/services. */
  path: string;
  watch: Watch;
  list: (continueToken: string | undefined) => Promise<ListPage>;
  labelSelector?: string;
  /** Converts an API object to its slim record at the boundary; undefined drops it. */
  convert: (object: unknown) => { key: string; value: T | undefined } | undefined;
  onReplace: (all: Map<string, T>) => void;
  onUpsert: (key: string, value: T) => void;
  onDelete: (key: string) => void;
  onSynced: () => void;
  onRestart: (reason: 'gone' | 'error' | 'closed') => void;
  onError?: (stage: 'list' | 'watch') => void;
  logger: Logger;
  /** Server-side watch timeout; the watch is re-opened from the last resourceVersion. */
  watchTimeoutSeconds?: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * The list-then-watch loop of client-go's reflector, written over
 * @kubernetes/client-node's Watch because the library's ListWatch keeps whole
 * API objects, never asks for bookmarks and gives up after a non-410 error.
 * Here: paged list, objects converted to slim records at once, bookmarks to
 * keep the resourceVersion fresh, re-watch from the last resourceVersion when
 * a stream ends, re-list on 410 Gone (dropping what vanished), and
 * exponential backoff with jitter while the API server is unreachable.
 */
export class Reflector<T> {
  private resourceVersion = '';
  private stopped = false;
  private controller: AbortController | undefined;
  synced = false;
  /** The last list or watch request failed and no later one has succeeded: the API server is down or refusing. */
  failing = false;

  constructor(private readonly opts: ReflectorOptions<T>) {}

  get resource(): string {
    return this.opts.resource;
  }

  start(): void {
    void this.run();
  }

  stop(): void {
    this.stopped = true;
    this.controller?.abort();
  }

  private async run(): Promise<void> {
    let failures = 0;
    const backoff = async (): Promise<void> => {
      failures++;
      // At most 10 s: a DNS server should catch up soon after the API server is back (client-go waits up to 30 s).
      const base = Math.min(10_000, 200 * 2 ** Math.min(failures, 8));
      await sleep(base / 2 + Math.random() * base / 2);
    };
    while (!this.stopped) {
      if (this.resourceVersion === '') {
        try {
          await this.list();
          failures = 0;
        } catch (err) {
          this.failing = true;
          this.opts.onError?.('list');
          this.opts.logger.warn({ resource: this.opts.resource, err: (err as Error).message }, 'Kubernetes list failed; serving the last known state and retrying');
          await backoff();
          continue;
        }
      }
      const opened = Date.now();
      const outcome = await this.watchOnce();
      if (this.stopped) return;
      // A stream that ends at once, again and again, must not become a busy loop.
      if (outcome === 'closed' && Date.now() - opened < 1000) await sleep(500 + Math.random() * 500);
      this.opts.onRestart(outcome);
      if (outcome === 'gone') {
        this.opts.logger.info({ resource: this.opts.resource }, 'watch resourceVersion expired (410 Gone); re-listing');
        this.resourceVersion = '';
      } else if (outcome === 'error') {
        // A watch that was up for a while is a connection that worked: start the backoff over, so that a
        // stream dropped now and then does not leave the reflector sleeping for half a minute.
        if (Date.now() - opened >= 1000) failures = 0;
        await backoff();
      } else {
        failures = 0;
      }
    }
  }

  private async list(): Promise<void> {
    const all = new Map<string, T>();
    let token: string | undefined;
    let rv = '';
    do {
      const page = await this.opts.list(token);
      for (const item of page.items) {
        const converted = this.convert(item);
        if (converted?.value !== undefined) all.set(converted.key, converted.value);
      }
      rv = page.metadata?.resourceVersion ?? rv;
      token = page.metadata?._continue || undefined;
    } while (token !== undefined && !this.stopped);
    this.opts.onReplace(all);
    this.resourceVersion = rv;
    this.failing = false;
    if (!this.synced) {
      this.synced = true;
      this.opts.onSynced();
    }
  }

  /**
   * The converter, guarded: an object it cannot read (a converter bug meeting a shape nobody expected) is
   * skipped and logged, and costs neither the list nor the watch.
   */
  private convert(object: unknown): { key: string; value: T | undefined } | undefined {
    try {
      return this.opts.convert(object);
    } catch (err) {
      const meta = (object as { metadata?: { namespace?: unknown; name?: unknown } } | null)?.metadata;
      this.opts.logger.warn({ resource: this.opts.resource, object: `${String(meta?.namespace ?? '')}/${String(meta?.name ?? '')}`, err: (err as Error).message }, 'Kubernetes object could not be read; skipped');
      return undefined;
    }
  }

  /** One watch stream, until it ends: 'closed' (normal end), 'gone' (410) or 'error'. */
  private watchOnce(): Promise<'gone' | 'error' | 'closed'> {
    return new Promise((resolve) => {
      let gone = false;
      let settled = false;
      const finish = (outcome: 'gone' | 'error' | 'closed'): void => {
        if (settled) return;
        settled = true;
        resolve(outcome);
      };
      const timeout = (this.opts.watchTimeoutSeconds ?? 240) + Math.floor(Math.random() * 60);
      this.opts.watch
        .watch(
          this.opts.path,
          {
            resourceVersion: this.resourceVersion,
            allowWatchBookmarks: true,
            timeoutSeconds: timeout,
            ...(this.opts.labelSelector ? { labelSelector: this.opts.labelSelector } : {}),
          },
          (type: string, object: unknown) => {
            const rv = (object as { metadata?: { resourceVersion?: string } })?.metadata?.resourceVersion;
            if (type === 'ERROR') {
              if ((object as { code?: number })?.code === 410) gone = true;
              return;
            }
            if (rv) this.resourceVersion = rv;
            if (type === 'BOOKMARK') return;
            const converted = this.convert(object);
            if (converted === undefined) return;
            if (type === 'DELETED' || converted.value === undefined) this.opts.onDelete(converted.key);
            else this.opts.onUpsert(converted.key, converted.value);
          },
          (err: unknown) => {
            const status = (err as { statusCode?: number; code?: number } | null)?.statusCode ?? (err as { code?: number } | null)?.code;
            if (gone || status === 410) return finish('gone');
            if (err && !this.stopped) {
              this.failing = true;
              this.opts.onError?.('watch');
              this.opts.logger.warn({ resource: this.opts.resource, err: (err as Error).message }, 'Kubernetes watch failed; reconnecting with backoff');
              return finish('error');
            }
            finish('closed');
          },
        )
        .then(
          (controller) => {
            this.controller = controller;
            // The client resolves with the controller also after a request that failed (and already said so):
            // only a watch still open is one the API server answered.
            if (!settled) this.failing = false;
            if (this.stopped) controller.abort();
          },
          () => {
            this.failing = true;
            finish('error');
          },
        );
    });
  }
}
