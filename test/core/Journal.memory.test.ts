/**
 * The in-memory journal keeps deltas as rows of typed arrays and rebuilds them on read
 * (`internal/journalMemory.ts`): what a read gives must be what was appended, as a user
 * inspecting it would see it — same class, same own keys in the same order, equal values.
 */
import { assert, describe, it } from "@effect/vitest"
import { Chunk, Effect, Equal, Stream } from "effect"
import { Event, Journal } from "@chorus/core"
import { everyPayload, stamped } from "./Journal.conformance.js"

const readAll = (journal: Journal.Service, options?: Journal.ReadOptions) =>
  Effect.map(Stream.runCollect(journal.read(options)), Chunk.toArray)

const sameEvent = (read: Event.Event, appended: Event.Event) => {
  assert.strictEqual(Object.getPrototypeOf(read), Object.getPrototypeOf(appended))
  assert.strictEqual(Object.getPrototypeOf(read.payload), Object.getPrototypeOf(appended.payload))
  assert.deepStrictEqual(Object.keys(read), Object.keys(appended))
  assert.deepStrictEqual(Object.keys(read.payload), Object.keys(appended.payload))
  assert.deepStrictEqual(read, appended)
  assert.isTrue(Equal.equals(read, appended))
  assert.strictEqual(JSON.stringify(read), JSON.stringify(appended))
}

describe("Journal.makeMemory", () => {
  it.effect("gives back every kind of payload as appended: same class, same keys in order, equal", () =>
    Effect.gen(function*() {
      const journal = yield* Journal.makeMemory
      // Authors and items repeat and vary; timestamps are not integers; sequences start above 0.
      const appended = everyPayload().map((payload, i) =>
        new Event.Event({ sequence: 7 + i, author: `author-${i % 3}`, timestamp: 1_700_000_000_000.25 + i, payload }, true)
      )
      yield* journal.append(appended)
      const read = yield* readAll(journal)
      assert.strictEqual(read.length, appended.length)
      read.forEach((event, i) => sameEvent(event, appended[i]!))
      assert.strictEqual(yield* journal.lastSequence, 7 + appended.length - 1)
    }))

  it.effect("an empty append when a storage chunk is full changes nothing: the last sequence and every event stay", () =>
    Effect.gen(function*() {
      const journal = yield* Journal.makeMemory
      // The first storage chunk holds 64 rows: fill it exactly, then append nothing.
      const appended = Array.from({ length: 64 }, (_, i) =>
        new Event.Event({ sequence: i, author: "agent", timestamp: i, payload: new Event.TextDelta({ itemId: "m", contentIndex: 0, delta: `d${i}` }) }, true)
      )
      yield* journal.append(appended)
      yield* journal.append([])
      assert.strictEqual(yield* journal.lastSequence, 63)
      assert.strictEqual((yield* readAll(journal)).length, 64)
      assert.strictEqual((yield* readAll(journal, { from: 60 })).length, 4)
    }))

  it.effect("deltas built by the providers' fast path and indexes beyond 32 bits read back the same", () =>
    Effect.gen(function*() {
      const journal = yield* Journal.makeMemory
      const appended = [
        Event.unsafeMake({ sequence: 0, author: "a", timestamp: 1, payload: Event.unsafeTextDelta("m", 3, "x") }),
        stamped(1, new Event.TextDelta({ itemId: "m", contentIndex: 2 ** 33, delta: "big index" })),
        stamped(2, new Event.ReasoningSummaryDelta({ itemId: "r", summaryIndex: 2 ** 32 - 1, delta: "" })),
        stamped(3, new Event.TextDelta({ itemId: "", contentIndex: 0, delta: "empty item" }))
      ]
      yield* journal.append(appended)
      const read = yield* readAll(journal)
      read.forEach((event, i) => sameEvent(event, appended[i]!))
    }))

  it.effect("reads across many chunks, by range and by kind, and a read sees what was stored when it began", () =>
    Effect.gen(function*() {
      const journal = yield* Journal.makeMemory
      const payload = (i: number): Event.Payload =>
        i % 5 === 0
          ? new Event.InterruptRequested({ participant: `p${i}`, runId: null })
          : new Event.TextDelta({ itemId: `m${i % 7}`, contentIndex: i % 2, delta: `${i} ` })
      const appended = Array.from({ length: 20_000 }, (_, i) => stamped(i, payload(i), `a${i % 11}`))
      for (let i = 0; i < appended.length; i += 999) yield* journal.append(appended.slice(i, i + 999))
      const all = yield* readAll(journal)
      assert.strictEqual(all.length, appended.length)
      all.forEach((event, i) => sameEvent(event, appended[i]!))
      const range = yield* readAll(journal, { from: 4_095, to: 12_289 })
      assert.deepStrictEqual(range.map((event) => event.sequence), appended.slice(4_095, 12_290).map((event) => event.sequence))
      const interrupts = yield* readAll(journal, { kinds: ["InterruptRequested"], from: 63, to: 8_200 })
      assert.deepStrictEqual(
        interrupts.map((event) => event.sequence),
        appended.filter((event) => event.sequence >= 63 && event.sequence <= 8_200 && event.sequence % 5 === 0)
          .map((event) => event.sequence)
      )
      // A read that has begun does not see what is appended after (it reads what was stored when it began).
      const pull = yield* Stream.toPull(journal.read({ from: 19_990 }))
      const first = Chunk.toArray(yield* pull).map((event) => event.sequence)
      yield* journal.append([stamped(20_000, payload(20_000))])
      const rest: Array<number> = []
      while (true) {
        const next = yield* Effect.option(pull)
        if (next._tag === "None") break
        rest.push(...Chunk.toArray(next.value).map((event) => event.sequence))
      }
      assert.deepStrictEqual([...first, ...rest], Array.from({ length: 10 }, (_, i) => 19_990 + i))
      assert.strictEqual((yield* readAll(journal, { from: 19_990 })).length, 11)
    }).pipe(Effect.scoped))
})
