import { Injectable } from '@nestjs/common';
import { bootModule, type BootedModule } from '../../../../test/support/boot.js';
import { defineTask } from './task-definitions.js';
import { TaskHandler } from './task-handler.decorator.js';
import { TaskService } from './task.service.js';
import type { TaskContext, TaskInfo } from './task.types.js';

interface Invoice {
  invoiceId: string;
  total: number;
}

const BILL = defineTask<Invoice, { charged: number }>('typed.bill');

/**
 * What the typecheck (`npx tsc -p tsconfig.json --noEmit`) accepts and refuses; never called.
 * Each `@ts-expect-error` fails the typecheck once its line compiles.
 */
export async function taskTypings(tasks: TaskService): Promise<void> {
  // A plain name: anything goes, or a type argument names the payload (and result) type.
  void tasks.enqueue('invoices', { anything: 'goes' });
  void tasks.enqueue<Invoice>('invoices', { invoiceId: 'i-1', total: 42 });
  void tasks.enqueueMany<Invoice>('invoices', [{ payload: { invoiceId: 'i-1', total: 42 }, priority: 2 }]);
  // A definition: the payload and result types come from it, through the id to waitFor and get.
  const task = await tasks.enqueue(BILL, { invoiceId: 'i-1', total: 42 });
  const done: TaskInfo<Invoice, { charged: number }> = await tasks.waitFor(task.id);
  const charged: number | undefined = done.result?.charged;
  const fetched: TaskInfo<Invoice, { charged: number }> | null = await tasks.get(task.id);
  const many: Array<TaskInfo<Invoice, { charged: number }>> = await tasks.enqueueMany(BILL, [{ payload: { invoiceId: 'i-2', total: 1 } }]);
  const dead: Array<TaskInfo<Invoice, { charged: number }>> = await tasks.failed(BILL);
  const plain: TaskInfo = await tasks.waitFor('invoices:i-1');
  void [charged, fetched, many, dead, plain];

  // @ts-expect-error a payload of a definition that is not its type
  void tasks.enqueue(BILL, { invoiceId: 'i-1' });
  // @ts-expect-error a plain name typed by a type argument checks the payload too
  void tasks.enqueue<Invoice>('invoices', { sku: 'x' });
  // @ts-expect-error enqueueMany checks each item's payload against the definition
  void tasks.enqueueMany(BILL, [{ payload: { sku: 'x' } }]);
  // @ts-expect-error the result of a definition's task is not another type
  const wrong: TaskInfo<Invoice, { refunded: boolean }> = await tasks.waitFor(task.id);
  // @ts-expect-error the payload of a definition's task is not `any`
  void done.payload.sku;
  void wrong;
}

@Injectable()
class Billing {
  @TaskHandler(BILL)
  bill(invoice: Invoice, task: TaskContext): { charged: number } {
    return { charged: invoice.total * task.attempt };
  }

  @TaskHandler('typed.plain')
  plain(payload: { anything: string }): string {
    return payload.anything;
  }
}

/** Never instantiated: decorated methods whose types are not the definition's do not compile. */
class WrongBilling {
  // @ts-expect-error the method's payload type is not the definition's
  @TaskHandler(BILL)
  bill(payload: { sku: string }): { charged: number } {
    return { charged: payload.sku.length };
  }

  // @ts-expect-error the method's result type is not the definition's
  @TaskHandler(BILL)
  refund(invoice: Invoice): { refunded: boolean } {
    return { refunded: invoice.total > 0 };
  }
}

describe('task typing (checked by the typecheck; the typed calls run on the memory driver)', () => {
  let booted: BootedModule;
  beforeAll(async () => {
    booted = await bootModule({ driver: 'memory' }, { providers: [Billing] });
  });
  afterAll(() => booted.close());

  it('runs typed handlers of a definition and of a plain name', async () => {
    const tasks = booted.get(TaskService);
    const bill = await tasks.enqueue(BILL, { invoiceId: 'i-1', total: 42 }, { tenant: 'acme' });
    const plain = await tasks.enqueue<{ anything: string }, string>('typed.plain', { anything: 'goes' }, { tenant: 'acme' });
    expect((await tasks.waitFor(bill.id, { tenant: 'acme', timeoutMs: 10_000 })).result?.charged).toBe(42);
    expect((await tasks.waitFor(plain.id, { tenant: 'acme', timeoutMs: 10_000 })).result?.toUpperCase()).toBe('GOES');
    expect(WrongBilling.name).toBe('WrongBilling');
  });
});
