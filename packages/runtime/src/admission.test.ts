// The admission primitives (issue 12 item 6) on their own: counts, FIFO order, aborts, refusals.
import { Code, ConnectError } from '@connectrpc/connect';
import { describe, expect, it } from 'vitest';
import { CallQueue, RequestAdmission } from './admission.js';

const deferred = () => {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
};
const never = new AbortController().signal;

describe('RequestAdmission', () => {
  it('admits up to its limit, refuses one more with resource_exhausted, and frees a place on leave', () => {
    const a = new RequestAdmission(2);
    const leave1 = a.enter();
    a.enter();
    expect(() => a.enter()).toThrow(
      new ConnectError(
        'the secrets engine is busy: 2 requests in progress, its limit (limits.maxRequestsInFlight 2); try again later',
        Code.ResourceExhausted,
      ),
    );
    leave1();
    leave1(); // idempotent
    expect(a.inFlight).toBe(1);
    a.enter();
    expect(a.inFlight).toBe(2);
  });
});

describe('CallQueue', () => {
  it('runs at most maxInFlight at once and starts the waiting calls first come, first served', async () => {
    const q = new CallQueue('p', { maxInFlight: 2, maxQueued: 10 });
    const started: number[] = [];
    const gates = Array.from({ length: 6 }, deferred);
    const calls = gates.map((g, i) =>
      q.run(async () => {
        started.push(i);
        await g.promise;
        return i;
      }, never),
    );
    await Promise.resolve();
    expect([started, q.inFlight, q.queued]).toEqual([[0, 1], 2, 4]);
    gates[1]!.resolve();
    await calls[1];
    await new Promise((r) => setImmediate(r));
    expect(started).toEqual([0, 1, 2]);
    for (const g of gates) g.resolve();
    expect(await Promise.all(calls)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(started).toEqual([0, 1, 2, 3, 4, 5]);
    expect([q.inFlight, q.queued]).toEqual([0, 0]);
  });

  it('a waiting call whose signal fires leaves the queue (canceled) and never runs', async () => {
    const q = new CallQueue('p', { maxInFlight: 1, maxQueued: 10 });
    const gate = deferred();
    const first = q.run(() => gate.promise, never);
    const ac = new AbortController();
    let ran = false;
    const waiting = q.run(async () => {
      ran = true;
    }, ac.signal);
    ac.abort(new Error('client went away'));
    await expect(waiting).rejects.toMatchObject({ code: Code.Canceled });
    expect(q.queued).toBe(0);
    gate.resolve();
    await first;
    expect([ran, q.inFlight]).toEqual([false, 0]);
  });

  it('refuses a call over maxQueued with resource_exhausted naming the plugin and both limits', async () => {
    const q = new CallQueue('vault', { maxInFlight: 1, maxQueued: 1 });
    const gate = deferred();
    const running = q.run(() => gate.promise, never);
    const waiting = q.run(async () => 'w', never);
    await expect(q.run(async () => 'x', never)).rejects.toThrow(
      new ConnectError(
        'plugin "vault" is busy: 1 calls in progress (limits.maxCallsPerPlugin 1) and 1 waiting (limits.maxQueuedPerPlugin 1)',
        Code.ResourceExhausted,
      ),
    );
    gate.resolve();
    await running;
    expect(await waiting).toBe('w');
  });

  it('a failing call frees its place', async () => {
    const q = new CallQueue('p', { maxInFlight: 1, maxQueued: 1 });
    await expect(q.run(() => Promise.reject(new Error('boom')), never)).rejects.toThrow('boom');
    expect(await q.run(async () => 'next', never)).toBe('next');
    expect(q.inFlight).toBe(0);
  });
});
