import { Injectable } from '@nestjs/common';
import { bootModule, type BootedModule } from '../../../../test/support/boot.js';
import { until } from '../../../../test/support/wait.js';
import { StreamConsumer } from './stream-consumer.decorator.js';
import { defineStream } from './stream-definitions.js';
import { StreamService } from './stream.service.js';
import type { DeadLetter, StreamEntry } from './stream.types.js';

interface Order {
  orderId: string;
  total: number;
}

const ORDERS = defineStream<Order>('typed-orders');

/**
 * What the typecheck (`npx tsc -p tsconfig.json --noEmit`) accepts and refuses; never called.
 * Each `@ts-expect-error` fails the typecheck once its line compiles.
 */
export function streamTypings(streams: StreamService): void {
  // A plain name: the handler (or a type argument) names the payload type.
  void streams.consume('orders', 'billing', (entry: StreamEntry<Order>) => entry.payload.total.toFixed(2));
  void streams.consume<Order>('orders', 'billing', (entry) => entry.payload.orderId.toUpperCase());
  void streams.append('orders', { anything: 'goes' });
  void streams.append<Order>('orders', { orderId: 'o-1', total: 42 });
  const replay: Promise<Array<StreamEntry<Order>>> = streams.read<Order>('orders');
  const letters: Promise<Array<DeadLetter<Order>>> = streams.deadLetters<Order>('orders');
  // A definition: the payload type comes from it.
  void streams.consume(ORDERS, 'billing', (entry) => entry.payload.total.toFixed(2));
  void streams.append(ORDERS, { orderId: 'o-1', total: 42 });
  const typedReplay: Promise<Array<StreamEntry<Order>>> = streams.read(ORDERS);
  const typedLetters: Promise<Array<DeadLetter<Order>>> = streams.deadLetters(ORDERS);
  void [replay, letters, typedReplay, typedLetters];

  // @ts-expect-error a payload of a definition that is not its type
  void streams.append(ORDERS, { orderId: 'o-1' });
  // @ts-expect-error a plain name typed by a type argument checks the payload too
  void streams.append<Order>('orders', { sku: 'x' });
  // @ts-expect-error a handler of another payload type than the definition's
  void streams.consume(ORDERS, 'billing', (entry: StreamEntry<{ sku: string }>) => entry.payload.sku);
  // @ts-expect-error the payload of a definition is not `any`
  void streams.consume(ORDERS, 'billing', (entry) => entry.payload.sku);
  // @ts-expect-error read of a definition returns its entries, not another type's
  const wrongReplay: Promise<Array<StreamEntry<{ sku: string }>>> = streams.read(ORDERS);
  // @ts-expect-error dead letters of a definition carry its payload type
  const wrongLetters: Promise<Array<DeadLetter<{ sku: string }>>> = streams.deadLetters(ORDERS);
  void [wrongReplay, wrongLetters];
}

@Injectable()
class Billing {
  readonly totals: number[] = [];

  @StreamConsumer(ORDERS, { group: 'billing', tenant: 'acme', blockMs: 100 })
  bill(entry: StreamEntry<Order>): void {
    this.totals.push(entry.payload.total);
  }

  @StreamConsumer('plain-orders', { group: 'billing', tenant: 'acme', blockMs: 100 })
  billPlain(entry: StreamEntry<Order>): void {
    this.totals.push(entry.payload.total);
  }
}

/** Never instantiated: a decorated method whose entry type is not the definition's does not compile. */
class WrongBilling {
  // @ts-expect-error the method's entry type is not the definition's
  @StreamConsumer(ORDERS, { group: 'billing' })
  bill(entry: StreamEntry<{ sku: string }>): string {
    return entry.payload.sku;
  }
}

describe('stream typing (checked by the typecheck; the typed calls run on the memory driver)', () => {
  let booted: BootedModule;
  beforeAll(async () => {
    booted = await bootModule({ driver: 'memory' }, { providers: [Billing] });
  });
  afterAll(() => booted.close());

  it('delivers the payloads of typed appends to handlers typed by a definition or by a plain name', async () => {
    const streams = booted.get(StreamService);
    const totals: number[] = [];
    await streams.consume('plain-orders', 'audit', (entry: StreamEntry<Order>) => void totals.push(entry.payload.total), { tenant: 'acme', blockMs: 100 });
    await streams.append(ORDERS, { orderId: 'o-1', total: 42 }, { tenant: 'acme' });
    await streams.append<Order>('plain-orders', { orderId: 'o-2', total: 7 }, { tenant: 'acme' });
    await until(() => totals.length === 1 && booted.get(Billing).totals.length === 2, { timeoutMs: 10_000, message: 'the three deliveries' });
    expect(booted.get(Billing).totals.sort()).toEqual([42, 7].sort());
    expect(totals).toEqual([7]);
    const [entry] = await streams.read(ORDERS, { tenant: 'acme' });
    expect(entry.payload.total).toBe(42);
    expect(WrongBilling.name).toBe('WrongBilling');
  });
});
