/**
 * The subscriber mailbox (`internal/mailbox.ts`): a reader interrupted while it waits leaves
 * nothing behind that could take or lose an event.
 */
import { assert, describe, it } from "@effect/vitest"
import { Chunk, Effect, Fiber } from "effect"
import { Event } from "@chorus/core"
import { Mailbox } from "../../packages/core/src/internal/mailbox.js"

const event = (sequence: number) =>
  new Event.Event({
    sequence,
    timestamp: 0,
    author: "boss",
    payload: new Event.InterruptRequested({ participant: "a", runId: null })
  })

describe("Mailbox", () => {
  it.effect("a reader interrupted while waiting: the next take gets every later event, in order", () =>
    Effect.gen(function*() {
      const mailbox = new Mailbox(1_000, undefined)
      const first = yield* Effect.fork(mailbox.take(10))
      yield* Effect.yieldNow()
      yield* Fiber.interrupt(first)
      // Offered with no reader: the interrupted reader's waiter must not swallow it.
      mailbox.offer(event(1))
      mailbox.offer(event(2))
      assert.deepStrictEqual(Chunk.toArray(yield* mailbox.take(10)).map((e) => e.sequence), [1, 2])
      // A reader that waits after an interrupted one is woken by the next event.
      const interrupted = yield* Effect.fork(mailbox.take(10))
      yield* Effect.yieldNow()
      yield* Fiber.interrupt(interrupted)
      const waiting = yield* Effect.fork(mailbox.take(10))
      yield* Effect.yieldNow()
      mailbox.offer(event(3))
      assert.deepStrictEqual(Chunk.toArray(yield* Fiber.join(waiting)).map((e) => e.sequence), [3])
      mailbox.close()
      assert.isTrue(Chunk.isEmpty(yield* mailbox.take(10)))
    }))
})
