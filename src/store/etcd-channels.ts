import type { Channel, ChannelCredentials, ChannelOptions } from '@grpc/grpc-js';
import { Channel as ChannelImplementation } from '@grpc/grpc-js';

/**
 * One gRPC channel per etcd endpoint for the life of the store.
 *
 * The etcd3 client "resets" a host on every failed call: it closes its service clients and makes new ones,
 * each with a new channel. grpc-js keeps reconnecting a channel closed while its connection is failing, so
 * during an outage every refused write left a channel behind, and once etcd was back each of them held a TCP
 * connection (61 connections after 60 refused writes, never closed). Here the clients etcd3 makes all ride
 * the endpoint's one channel, which reconnects by itself; their close() leaves it open, and the store closes
 * it when it stops.
 */
export class EtcdChannels {
  private readonly channels = new Map<string, Channel>();

  /** Channel options for etcd3's `grpcOptions` (grpc-js copies them into every client it makes: each gets the factory). */
  options(base: ChannelOptions = {}): ChannelOptions {
    const channelFactoryOverride = (address: string, credentials: ChannelCredentials, options: ChannelOptions): Channel => this.channelFor(address, credentials, options);
    return { ...base, channelFactoryOverride } as ChannelOptions;
  }

  private channelFor(address: string, credentials: ChannelCredentials, options: ChannelOptions): Channel {
    let channel = this.channels.get(address);
    if (channel === undefined) {
      channel = new ChannelImplementation(address, credentials, options);
      this.channels.set(address, channel);
    }
    return keptOpen(channel);
  }

  /** Closes every channel (the store is stopping). */
  close(): void {
    for (const channel of this.channels.values()) channel.close();
    this.channels.clear();
  }
}

/** The channel as a client sees it: everything but close(), which is the store's to call. */
function keptOpen(channel: Channel): Channel {
  return new Proxy(channel, {
    get: (target, key) => {
      if (key === 'close') return () => undefined;
      const value = (target as unknown as Record<string | symbol, unknown>)[key];
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}
