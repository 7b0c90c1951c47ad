/**
 * The behaviour of `Environment`, as one suite run on every layer that provides it: the in-process environment
 * (test/core/Environment.test.ts) and the clustered one (test/cluster/ClusterEnvironment.test.ts, on the
 * cluster's in-memory test runner). Where the clustered environment differs on purpose, the variant says so and the test checks what it
 * does instead.
 */
import { assert, describe, it } from "@effect/vitest"
import { Chunk, Deferred, Effect, Fiber, Layer, Ref, Schedule, Schema, Stream, TestClock } from "effect"
import { ContextItem, Environment, Event, Participant, Reducer } from "@chorus/core"

/** How the layer under test keeps a lagging subscriber's backlog. */
export type Variant = "local" | "clustered"

const delta = (itemId: string, text: string) => new Event.TextDelta({ itemId, contentIndex: 0, delta: text })
const added = (id: string) =>
  new Event.ItemAdded({
    item: new ContextItem.ModelMessage({ id, author: "model", status: "in_progress", content: [] }),
    runId: null
  })
const done = (id: string, text: string) =>
  new Event.ItemDone({ item: ContextItem.modelText({ id, author: "model", text }), runId: null })

const interruptFor = (participant: string) => new Event.InterruptRequested({ participant, runId: null })

export const behaviour = (name: string, makeLayer: () => Layer.Layer<Environment.Environment>, variant: Variant) =>
  describe(`Environment behaviour: ${name}`, () => {
  it.effect("an event published right after join reaches the new participant", () =>
    Effect.gen(function*() {
      const env = yield* Environment.Environment
      const seen = yield* Deferred.make<Event.Event>()
      yield* env.join(Participant.observer("watcher", (event) =>
        event.payload._tag === "InterruptRequested" ? Deferred.succeed(seen, event) : Effect.void))
      // No yield between join and publish: the subscription must already exist.
      yield* env.publish("alice", interruptFor("bob"))
      const event = yield* Deferred.await(seen)
      assert.strictEqual(event.author, "alice")
      assert.strictEqual(event.payload._tag, "InterruptRequested")
    }).pipe(Effect.provide(makeLayer())))

  it.effect("stamps a monotonic sequence and a Clock timestamp", () =>
    Effect.gen(function*() {
      const env = yield* Environment.Environment
      yield* TestClock.setTime(1_000)
      const first = yield* env.publish("a", interruptFor("x"))
      yield* TestClock.adjust("5 seconds")
      const second = yield* env.publish("b", interruptFor("y"))
      assert.strictEqual(second.sequence, first.sequence + 1)
      assert.strictEqual(first.timestamp, 1_000)
      assert.strictEqual(second.timestamp, 6_000)
    }).pipe(Effect.provide(makeLayer())))

  it.effect("every subscriber sees every event in publication order", () =>
    Effect.gen(function*() {
      const env = yield* Environment.Environment
      const subscriptions = yield* Effect.forEach([1, 2, 3], () => env.subscribe())
      const readers = yield* Effect.forEach(subscriptions, (subscription) =>
        subscription.stream.pipe(Stream.take(1_001), Stream.runCollect, Effect.fork))
      yield* env.publish("model", added("m"))
      for (let i = 0; i < 1_000; i++) yield* env.publish("model", delta("m", `${i},`))
      for (const reader of readers) {
        const events = Chunk.toReadonlyArray(yield* Fiber.join(reader))
        assert.deepStrictEqual(events.map((event) => event.sequence), events.map((_, i) => events[0]!.sequence + i))
        assert.strictEqual(events[0]!.payload._tag, "ItemAdded")
        const text = events.slice(1).map((event) => (event.payload as Event.TextDelta).delta).join("")
        assert.strictEqual(text, Array.from({ length: 1_000 }, (_, i) => `${i},`).join(""))
      }
    }).pipe(Effect.scoped, Effect.provide(makeLayer())))

  it.effect("replay from a sequence while others publish: no gap, no duplicate", () =>
    Effect.gen(function*() {
      const env = yield* Environment.Environment
      const total = 2_000
      // Publishers run concurrently with the subscription being made.
      const publishers = yield* Effect.forEach([0, 1], (p) =>
        Effect.fork(Effect.forEach(Array.from({ length: total / 2 }, (_, i) => i), (i) =>
          env.publish(`p${p}`, delta(`m${p}`, `${i}`)).pipe(Effect.zipLeft(i % 50 === 0 ? Effect.yieldNow() : Effect.void)), { discard: true })))
      // Subscribe while they publish (a clustered publish takes more steps than two yields).
      while ((yield* env.lastSequence) < 10) yield* Effect.yieldNow()
      const subscription = yield* env.subscribe({ from: 10 })
      const before = yield* env.lastSequence
      assert.isTrue(before >= 10, "the subscription was made while events were being published")
      yield* Effect.forEach(publishers, Fiber.join)
      const events = yield* subscription.stream.pipe(Stream.take(total - 10), Stream.runCollect)
      const sequences = Chunk.toReadonlyArray(events).map((event) => event.sequence)
      assert.deepStrictEqual(sequences, Array.from({ length: total - 10 }, (_, i) => i + 10))
    }).pipe(Effect.scoped, Effect.provide(makeLayer())))

  it.effect("a failing participant is published with its cause and the others go on", () =>
    Effect.gen(function*() {
      const env = yield* Environment.Environment
      const received = yield* Ref.make(0)
      yield* env.join(Participant.make({
        id: "fragile",
        kind: "observer",
        run: (inbox) => inbox.pipe(Stream.runForEach(() => Effect.fail("boom" as const)))
      }))
      yield* env.join(Participant.observer("steady", (event) =>
        event.payload._tag === "InterruptRequested" ? Ref.update(received, (n) => n + 1) : Effect.void))
      yield* env.publish("a", interruptFor("x"))
      const failed = yield* env.waitFor((event) => event.payload._tag === "ParticipantFailed")
      assert.strictEqual((failed.payload as Event.ParticipantFailed).participant, "fragile")
      assert.include((failed.payload as Event.ParticipantFailed).cause, "boom")
      yield* env.publish("a", interruptFor("y"))
      yield* env.waitFor((event) => event.payload._tag === "InterruptRequested" && event.payload.participant === "y")
      yield* Effect.yieldNow()
      assert.strictEqual(yield* Ref.get(received), 2)
      const members = yield* env.members
      assert.deepStrictEqual(members.map((member) => member.id), ["steady"])
    }).pipe(Effect.provide(makeLayer())))

  it.effect("a restart schedule restarts a failed participant on the same inbox", () =>
    Effect.gen(function*() {
      const env = yield* Environment.Environment
      const handled = yield* Ref.make<ReadonlyArray<string>>([])
      yield* env.join(
        Participant.make({
          id: "flaky",
          kind: "observer",
          run: (inbox) =>
            inbox.pipe(Stream.runForEach((event) => {
              if (event.payload._tag !== "InterruptRequested") return Effect.void
              const target = event.payload.participant
              return target === "crash" ? Effect.die(new Error("crashed on purpose")) : Ref.update(handled, (all) => [...all, target])
            }))
        }),
        { restart: Schedule.spaced("1 second") }
      )
      yield* env.publish("a", interruptFor("crash"))
      yield* env.publish("a", interruptFor("after"))
      yield* env.waitFor((event) => event.payload._tag === "ParticipantFailed")
      assert.deepStrictEqual(yield* Ref.get(handled), [])
      yield* TestClock.adjust("1 second")
      const restarted = yield* env.waitFor((event) => event.payload._tag === "ParticipantRestarted")
      assert.strictEqual((restarted.payload as Event.ParticipantRestarted).attempt, 1)
      yield* Effect.yieldNow()
      // The event published while it was down is not lost: the inbox survived the restart.
      assert.deepStrictEqual(yield* Ref.get(handled), ["after"])
    }).pipe(Effect.provide(makeLayer())))

  it.effect("leave and closing the scope interrupt participants and run their finalizers", () =>
    Effect.gen(function*() {
      const finalized = yield* Ref.make<ReadonlyArray<string>>([])
      const sleeper = (id: string) =>
        Participant.make({
          id,
          kind: "agent",
          run: () => Effect.never.pipe(Effect.onInterrupt(() => Ref.update(finalized, (all) => [...all, id])))
        })
      yield* Effect.gen(function*() {
        const env = yield* Environment.Environment
        yield* env.join(sleeper("one"))
        yield* env.join(sleeper("two"))
        yield* Effect.yieldNow()
        yield* env.leave("one")
        assert.deepStrictEqual(yield* Ref.get(finalized), ["one"])
        const left = yield* env.waitFor((event) => event.payload._tag === "ParticipantLeft")
        assert.strictEqual((left.payload as Event.ParticipantLeft).participant, "one")
      }).pipe(Effect.provide(makeLayer()))
      assert.deepStrictEqual(yield* Ref.get(finalized), ["one", "two"])
    }))

  it.effect("a second participant with the same id is refused", () =>
    Effect.gen(function*() {
      const env = yield* Environment.Environment
      yield* env.join(Participant.observer("same", () => Effect.void))
      const error = yield* Effect.flip(env.join(Participant.observer("same", () => Effect.void)))
      assert.strictEqual(error._tag, "ParticipantAlreadyJoined")
    }).pipe(Effect.provide(makeLayer())))

  if (variant === "local") {
    it.effect("backpressure: a subscriber that never reads stalls nobody, keeps every item event, bounds memory", () =>
      Effect.gen(function*() {
        const env = yield* Environment.Environment
        const stalled = yield* env.subscribe()
        const reader = yield* env.subscribe()
        const items = 100
        const deltasPerItem = 1_000
        // The healthy reader consumes concurrently; the stalled one is never read until the end.
        const healthy = yield* reader.stream.pipe(
          Stream.take(items * (deltasPerItem + 2)),
          Stream.runFold({ deltas: 0, items: 0 }, (acc, event) =>
            Event.isDelta(event.payload) ? { ...acc, deltas: acc.deltas + 1 } : { ...acc, items: acc.items + 1 }),
          Effect.fork
        )
        let maxBacklog = 0
        for (let i = 0; i < items; i++) {
          const id = `m${i}`
          yield* env.publish("model", added(id))
          for (let d = 0; d < deltasPerItem; d++) yield* env.publish("model", delta(id, "x"))
          yield* env.publish("model", done(id, "x".repeat(deltasPerItem)))
          maxBacklog = Math.max(maxBacklog, yield* stalled.backlog)
        }
        // 1. the publisher was not stalled: all 100,000 deltas are published and the healthy reader got them all.
        const counts = yield* Fiber.join(healthy)
        assert.deepStrictEqual(counts, { deltas: items * deltasPerItem, items: items * 2 })
        // 2. memory is bounded: the stalled backlog stays near the coalescing threshold plus item events.
        assert.isTrue(maxBacklog <= 4_096 + items * 3, `backlog grew to ${maxBacklog}`)
        assert.strictEqual(yield* reader.coalesced, 0, "the healthy reader kept up and got every delta as published")
        assert.isTrue((yield* stalled.coalesced) > 90_000)
        // 3. nothing item-level is lost, and the coalesced text is the whole text.
        const backlog = yield* stalled.backlog
        const events = Chunk.toReadonlyArray(yield* stalled.stream.pipe(Stream.take(backlog), Stream.runCollect))
        const transcript = Reducer.run(Reducer.transcript, events)
        const texts = Reducer.items(transcript).map(ContextItem.text)
        assert.strictEqual(texts.length, items)
        for (const text of texts) assert.strictEqual(text, "x".repeat(deltasPerItem))
        assert.strictEqual(events.filter((event) => event.payload._tag === "ItemAdded").length, items)
        assert.strictEqual(events.filter((event) => event.payload._tag === "ItemDone").length, items)
        // And deltas folded by a live reducer equal the final items (coalescing kept per-item order).
        let deltaText = ""
        for (const event of events) if (event.payload._tag === "TextDelta" && event.payload.itemId === "m0") deltaText += event.payload.delta
        assert.strictEqual(deltaText, "x".repeat(deltasPerItem))
        // A merged delta is an ordinary event: what the constructors build, and it encodes.
        const merged = events.find((event) => event.payload._tag === "TextDelta" && event.payload.delta.length > 1)!
        const payload = merged.payload as Event.TextDelta
        assert.deepStrictEqual(
          merged,
          new Event.Event({ ...merged, payload: new Event.TextDelta({ itemId: payload.itemId, contentIndex: payload.contentIndex, delta: payload.delta }) })
        )
        assert.deepStrictEqual(Object.keys(merged.payload), Object.keys(new Event.TextDelta({ itemId: "m", contentIndex: 0, delta: "x" })))
        Schema.encodeSync(Event.Event)(merged)
      }).pipe(Effect.scoped, Effect.provide(makeLayer())))
  } else {
    it.effect("backpressure: a subscriber that never reads stalls nobody, keeps every item event, holds nothing", () =>
      Effect.gen(function*() {
        const env = yield* Environment.Environment
        // A clustered subscription holds no backlog on the subscriber's node: a stream that is not read asks
        // the entity for nothing, and when it is read it starts from its sequence (journal, then live).
        const stalled = yield* env.subscribe()
        const reader = yield* env.subscribe()
        const items = 20
        const deltasPerItem = 500
        const healthy = yield* reader.stream.pipe(
          Stream.take(items * (deltasPerItem + 2)),
          Stream.runFold({ deltas: 0, items: 0 }, (acc, event) =>
            Event.isDelta(event.payload) ? { ...acc, deltas: acc.deltas + 1 } : { ...acc, items: acc.items + 1 }),
          Effect.fork
        )
        for (let i = 0; i < items; i++) {
          const id = `m${i}`
          yield* env.publish("model", added(id))
          yield* env.publishAll("model", Array.from({ length: deltasPerItem }, () => delta(id, "x")))
          yield* env.publish("model", done(id, "x".repeat(deltasPerItem)))
          assert.strictEqual(yield* stalled.backlog, 0)
        }
        assert.deepStrictEqual(yield* Fiber.join(healthy), { deltas: items * deltasPerItem, items: items * 2 })
        const events = Chunk.toReadonlyArray(yield* stalled.stream.pipe(Stream.take(items * (deltasPerItem + 2)), Stream.runCollect))
        const texts = Reducer.items(Reducer.run(Reducer.transcript, events)).map(ContextItem.text)
        assert.deepStrictEqual(texts, Array.from({ length: items }, () => "x".repeat(deltasPerItem)))
        assert.deepStrictEqual(events.map((event) => event.sequence), events.map((_, i) => i))
      }).pipe(Effect.scoped, Effect.provide(makeLayer())))
  }

  it.effect("derived state follows the journal then live events; snapshot replays the same", () =>
    Effect.gen(function*() {
      const env = yield* Environment.Environment
      yield* env.publish("model", added("m"))
      yield* env.publish("model", delta("m", "Hello "))
      const state = yield* env.state(Reducer.transcript)
      yield* env.publish("model", delta("m", "world"))
      yield* env.waitFor((event) => event.payload._tag === "TextDelta" && event.payload.delta === "world")
      yield* Effect.yieldNow()
      const live = Reducer.items(yield* state.get)
      const replayed = Reducer.items(yield* env.snapshot(Reducer.transcript))
      assert.strictEqual(ContextItem.text(live[0]!), "Hello world")
      assert.deepStrictEqual(live, replayed)
    }).pipe(Effect.scoped, Effect.provide(makeLayer())))

  it.effect("a participant's defect is isolated too; one that dies as it starts makes join fail", () =>
    Effect.gen(function*() {
      const env = yield* Environment.Environment
      const error = yield* Effect.flip(env.join(Participant.make({ id: "dies", kind: "agent", run: () => Effect.die(new Error("kaput")) })))
      assert.strictEqual(error._tag, "ParticipantStartFailed")
      assert.include(error.message, "kaput")
      const failed = yield* env.waitFor((event) => event.payload._tag === "ParticipantFailed", { from: 0 })
      assert.include((failed.payload as Event.ParticipantFailed).cause, "kaput")
      // The environment goes on: the failed participant is gone, the next event is published and journaled.
      assert.deepStrictEqual(yield* env.members, [])
      const event = yield* env.publish("a", interruptFor("z"))
      const seen = yield* env.waitFor((e) => e.sequence === event.sequence)
      assert.strictEqual(seen.payload._tag, "InterruptRequested")
    }).pipe(Effect.provide(makeLayer())))
})

