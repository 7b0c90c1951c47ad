import { TestRunner } from "@effect/cluster"
import { assert, it } from "@effect/vitest"
import { Effect, Exit, Layer, Stream, TestClock } from "effect"
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
