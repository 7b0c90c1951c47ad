import { assert, describe, it } from "@effect/vitest"
import { Chunk, Effect, Fiber, Layer, Stream, TestClock } from "effect"
import { Environment, Event, Journal } from "@chorus/core"
import { behaviour } from "./Environment.behaviour.js"

const interruptFor = (participant: string) => new Event.InterruptRequested({ participant, runId: null })

behaviour("in one process", () => Environment.layerMemory(), "local")

describe("Environment on a failing journal", () => {
  const flaky = (failures: number) =>
    Effect.gen(function*() {
      const memory = yield* Journal.makeMemory
      let left = failures
      const journal: Journal.Service = {
        ...memory,
        append: (events) =>
          Effect.suspend(() =>
            left-- > 0 ? Effect.fail(new Journal.JournalError({ operation: "append", detail: "disk full" })) : memory.append(events)
          )
      }
      return journal
    })

  it.effect("a failed append is retried, and nothing is lost", () =>
    Effect.gen(function*() {
      const journal = yield* flaky(2)
      yield* Effect.gen(function*() {
        const env = yield* Environment.Environment
        yield* env.publish("a", interruptFor("x"))
        const flushed = yield* Effect.fork(env.flush)
        yield* TestClock.adjust("1 second")
        yield* Fiber.join(flushed)
      }).pipe(Effect.provide(Environment.layer().pipe(Layer.provide(Layer.succeed(Journal.Journal, journal)), Layer.orDie)))
      const stored = yield* Stream.runCollect(journal.read())
      assert.deepStrictEqual(Chunk.toReadonlyArray(stored).map((event) => event.payload._tag), ["InterruptRequested"])
    }))

  it.effect("a journal that keeps failing makes flush fail with the journal's error", () =>
    Effect.gen(function*() {
      const journal = yield* flaky(1_000)
      const error = yield* Effect.gen(function*() {
        const env = yield* Environment.Environment
        yield* env.publish("a", interruptFor("x"))
        const flushed = yield* Effect.fork(Effect.flip(env.flush))
        yield* TestClock.adjust("1 minute")
        return yield* Fiber.join(flushed)
      }).pipe(Effect.provide(Environment.layer().pipe(Layer.provide(Layer.succeed(Journal.Journal, journal)), Layer.orDie)))
      assert.strictEqual(error._tag, "JournalError")
      assert.include(error.message, "disk full")
    }))
})

describe("Environment on a journal whose append dies", () => {
  it.effect("the death is a failed append: retried, nothing lost, and the environment closes", () =>
    Effect.gen(function*() {
      const memory = yield* Journal.makeMemory
      let deaths = 1
      const journal: Journal.Service = {
        ...memory,
        append: (events) => Effect.suspend(() => deaths-- > 0 ? Effect.dieMessage("driver bug") : memory.append(events))
      }
      // Before: the writer's fiber died with the defect; the flush waited forever and the scope never closed.
      yield* Effect.gen(function*() {
        const env = yield* Environment.make().pipe(Effect.provideService(Journal.Journal, journal))
        yield* env.publish("a", interruptFor("x"))
        const flushed = yield* Effect.fork(env.flush)
        yield* TestClock.adjust("1 second")
        yield* Fiber.join(flushed)
        yield* env.publish("a", interruptFor("y"))
      }).pipe(Effect.scoped)
      const stored = Chunk.toReadonlyArray(yield* Stream.runCollect(memory.read()))
      assert.deepStrictEqual(stored.map((event) => event.sequence), [0, 1])
    }))
})

describe("Environment on the in-memory journal", () => {
  it.effect("what publish returned is in the journal at once, with no writer turn in between", () =>
    Effect.gen(function*() {
      const journal = yield* Journal.makeMemory
      const env = yield* Environment.make().pipe(Effect.provideService(Journal.Journal, journal))
      const one = yield* env.publish("a", interruptFor("x"))
      const more = yield* env.publishAll("a", [interruptFor("y"), interruptFor("z")])
      // Nothing has yielded to another fiber since: a writer fiber could not have appended these.
      assert.strictEqual(yield* journal.lastSequence, 2)
      const stored = Chunk.toReadonlyArray(yield* Stream.runCollect(journal.read()))
      assert.deepStrictEqual(stored, [one, ...more])
    }).pipe(Effect.scoped))

  it.effect("a journal wrapping it goes through the writer, in batches", () =>
    Effect.gen(function*() {
      const memory = yield* Journal.makeMemory
      const batches: Array<number> = []
      const journal: Journal.Service = { ...memory, append: (events) => Effect.suspend(() => (batches.push(events.length), memory.append(events))) }
      const env = yield* Environment.make().pipe(Effect.provideService(Journal.Journal, journal))
      for (let i = 0; i < 10; i++) yield* env.publish("a", interruptFor(`p${i}`))
      assert.strictEqual(yield* memory.lastSequence, -1)
      yield* env.flush
      assert.deepStrictEqual(batches, [10])
      assert.strictEqual(yield* memory.lastSequence, 9)
    }).pipe(Effect.scoped))

  it.effect("is frozen: patching its append in place fails loudly instead of being bypassed by the publish step", () =>
    Effect.gen(function*() {
      const journal = yield* Journal.makeMemory
      assert.throws(() => {
        ;(journal as { append: Journal.Service["append"] }).append = () => Effect.void
      })
    }))
})
