import { TestRunner } from "@effect/cluster"
import { assert, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Layer, Ref, Scope, Stream, TestClock } from "effect"
import { Event } from "@chorus/core"
import { ClusterEnvironment, Journals } from "@chorus/cluster"

const say = (text: string) => new Event.InterruptRequested({ participant: text, runId: null })

const Cluster = ClusterEnvironment.layerEntity({ maxIdleTime: "10 seconds" }).pipe(
  Layer.provide(Journals.layerMemory),
  Layer.provideMerge(TestRunner.layer)
)

it.effect("an idle environment is passivated, and the next request rebuilds it from its journal", () =>
  Effect.gen(function*() {
    yield* TestClock.adjust(1)
    const entity = (yield* ClusterEnvironment.EnvironmentEntity.client)("idle")
    const first = yield* entity.Publish({ author: "a", payloads: [say("one"), say("two")] })
    yield* entity.Join({ participant: "watcher", kind: "observer" })
    yield* entity.Flush({ published: [] })
    // Past maxIdleTime and the reaper's next pass.
    yield* TestClock.adjust("1 minute")
    const second = yield* entity.Publish({ author: "a", payloads: [say("three")] })
    assert.notStrictEqual(second.instance, first.instance, "a new instance after passivation")
    assert.strictEqual(second.events[0]!.sequence, 3, "the sequence continues from the journal")
    // Members are folded from the journal: the rebuilt instance still knows who joined.
    assert.deepStrictEqual(yield* entity.Members(), [{ id: "watcher", kind: "observer" }])
    const error = yield* Effect.flip(entity.Join({ participant: "watcher", kind: "observer" }))
    assert.strictEqual(error._tag, "ParticipantAlreadyJoined")
  }).pipe(Effect.provide(Cluster)))

it.effect("a request that does not match the protocol is refused before it reaches the environment", () =>
  Effect.gen(function*() {
    yield* TestClock.adjust(1)
    const entity = (yield* ClusterEnvironment.EnvironmentEntity.client)("garbage")
    // A negative sequence, and a payload that is not an event payload.
    const negative = yield* Effect.exit(Stream.runDrain(Stream.suspend(() => entity.Subscribe({ from: -1 }))))
    assert.isTrue(Exit.isFailure(negative))
    const notAPayload = yield* Effect.exit(
      Effect.suspend(() => entity.Publish({ author: "a", payloads: [{ _tag: "Nope" } as unknown as Event.Payload] }))
    )
    assert.isTrue(Exit.isFailure(notAPayload))
    // Nothing was published.
    assert.strictEqual(yield* entity.LastSequence(), -1)
  }).pipe(Effect.provide(Cluster)))

it.effect("a publish retried with its key is applied once, also by the instance rebuilt after a passivation", () =>
  Effect.gen(function*() {
    yield* TestClock.adjust(1)
    const entity = (yield* ClusterEnvironment.EnvironmentEntity.client)("retried")
    const first = yield* entity.Publish({ author: "a", payloads: [say("one"), say("two")], key: "node-1/1" })
    // The reply was lost; the caller sends the same publish again.
    const again = yield* entity.Publish({ author: "a", payloads: [say("one"), say("two")], key: "node-1/1" })
    assert.deepStrictEqual(again.events.map((event) => event.sequence), [0, 1])
    assert.deepStrictEqual(again.events, first.events)
    assert.strictEqual(yield* entity.LastSequence(), 1)
    yield* entity.Flush({ published: [] })
    // Passivated: the next instance knows the key from the journal.
    yield* TestClock.adjust("1 minute")
    const later = yield* entity.Publish({ author: "a", payloads: [say("one"), say("two")], key: "node-1/1" })
    assert.notStrictEqual(later.instance, first.instance)
    assert.deepStrictEqual(later.events.map((event) => event.sequence), [0, 1])
    assert.strictEqual(yield* entity.LastSequence(), 1)
    // Another key is another publish.
    const next = yield* entity.Publish({ author: "a", payloads: [say("three")], key: "node-1/2" })
    assert.strictEqual(next.events[0]!.sequence, 2)
  }).pipe(Effect.provide(Cluster)))

it.effect("publish keys are bounded: past the limit the oldest is forgotten", () =>
  Effect.gen(function*() {
    yield* TestClock.adjust(1)
    const entity = (yield* ClusterEnvironment.EnvironmentEntity.client)("bounded")
    for (let i = 1; i <= 3; i++) yield* entity.Publish({ author: "a", payloads: [say(`${i}`)], key: `k${i}` })
    // k3 and k2 are remembered, k1 is not (applied again).
    assert.strictEqual((yield* entity.Publish({ author: "a", payloads: [say("3")], key: "k3" })).events[0]!.sequence, 2)
    assert.strictEqual((yield* entity.Publish({ author: "a", payloads: [say("1")], key: "k1" })).events[0]!.sequence, 3)
  }).pipe(Effect.provide(ClusterEnvironment.layerEntity({ publishKeys: 2 }).pipe(
    Layer.provide(Journals.layerMemory),
    Layer.provideMerge(TestRunner.layer)
  ))))

it.effect("a runner that stops ends its environments' subscriber streams: it does not wait for them (was 15 s)", () =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    const context = yield* Layer.buildWithScope(Cluster, scope)
    yield* TestClock.adjust(1)
    const entity = (yield* Effect.provide(ClusterEnvironment.EnvironmentEntity.client, context))("watched")
    yield* entity.Publish({ author: "a", payloads: [say("one")] })
    const received = yield* Ref.make(0)
    const subscriber = yield* Stream.suspend(() => entity.Subscribe({ from: 0 })).pipe(
      Stream.runForEach(() => Ref.update(received, (n) => n + 1)),
      Effect.exit,
      Effect.fork
    )
    for (let i = 0; i < 20 && (yield* Ref.get(received)) === 0; i++) yield* TestClock.adjust("100 millis")
    assert.strictEqual(yield* Ref.get(received), 1)
    const closing = yield* Effect.fork(Scope.close(scope, Exit.void))
    let waited = 0
    while (closing.unsafePoll() === null && waited < 20_000) {
      yield* TestClock.adjust("500 millis")
      for (let turn = 0; turn < 20; turn++) yield* Effect.yieldNow()
      waited += 500
    }
    assert.isNotNull(closing.unsafePoll(), "the runner stopped")
    assert.isBelow(waited, 5_000, `the runner stopped after ${waited} ms of its clock, not after entityTerminationTimeout`)
    yield* Fiber.interrupt(subscriber)
  }))
