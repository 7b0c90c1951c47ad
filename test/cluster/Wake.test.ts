/**
 * The environment entity wakes a hosted agent when an event may make it act. When the cluster cuts the wake
 * (the agent's runner died with it in flight: the request is interrupted, or answered with a defect), the wake is
 * sent again: a lost wake left an answered approval unseen, and a multi-process test waiting for the run's end
 * timed out.
 */
import { TestRunner } from "@effect/cluster"
import { Rpc } from "@effect/rpc"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Ref, TestClock } from "effect"
import { Environment, Event, Human } from "@chorus/core"
import { ClusterAgent, ClusterEnvironment, Journals } from "@chorus/cluster"
import { AgentEntity } from "../../packages/cluster/src/internal/agentProtocol.js"
import { joinHuman } from "../support/agents.js"

/** An agent entity whose first wakes are cut as the cluster cuts a request to a dead runner. */
const flakyAgent = (wakes: Ref.Ref<number>, first: Effect.Effect<string> = Effect.die("the connection to the runner was reset")) =>
  AgentEntity.toLayer(Effect.succeed(AgentEntity.of({
    // Forked: an unanswered wake does not hold up the next (in a cluster the next goes to another runner).
    Wake: () =>
      Rpc.fork(Effect.flatMap(Ref.updateAndGet(wakes, (n) => n + 1), (n) =>
        n === 1 ? first : n === 2 ? Effect.interrupt : Effect.succeed("here"))),
    Leave: () => Effect.void,
    Where: () => Effect.succeed("here")
  })))

const never: ClusterAgent.Definition = {
  participant: () => ({ id: "flaky", kind: "agent", run: () => Effect.never }) as never
}

/** The agent's and the environment's entities on the in-memory test runner, with the agent registered as "flaky". */
const clusterOf = <A, E, R, A2, E2, R2>(agent: Layer.Layer<A, E, R>, environment: Layer.Layer<A2, E2, R2>) =>
  Layer.mergeAll(agent, environment).pipe(
    Layer.provide(ClusterAgent.layerRegistry({ flaky: never })),
    Layer.provide(Journals.layerMemory),
    Layer.provideMerge(TestRunner.layer)
  )

const wakeThrough = (first: Effect.Effect<string> | undefined, step: "100 millis" | "1 second") =>
  Effect.gen(function*() {
      const outer = yield* Effect.scope
      const wakes = yield* Ref.make(0)
      const cluster = clusterOf(flakyAgent(wakes, first), ClusterEnvironment.layerEntity())
      yield* Effect.gen(function*() {
        yield* TestClock.adjust(1)
        const env = yield* Environment.Environment
        yield* env.publish(Environment.author, new Event.ParticipantJoined({ participant: "flaky", kind: "agent" }))
        yield* joinHuman("alice")
        yield* Human.say("alice", "anyone there?")
        for (let i = 0; i < 50 && (yield* Ref.get(wakes)) < 3; i++) {
          yield* TestClock.adjust(step)
          for (let turn = 0; turn < 20; turn++) yield* Effect.yieldNow()
        }
        assert.strictEqual(yield* Ref.get(wakes), 3)
        // Delivered: no more wakes until the next waking event.
        yield* TestClock.adjust("10 seconds")
        assert.strictEqual(yield* Ref.get(wakes), 3)
        // The clock ticks while the cluster shuts down: the unanswered wake holds its entity until
        // entityTerminationTimeout.
        const realMillisecond = Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 1)))
        yield* Effect.forkIn(Effect.forever(Effect.zipRight(TestClock.adjust("1 second"), realMillisecond)), outer)
      }).pipe(Effect.provide(ClusterEnvironment.layer("wake-1").pipe(Layer.provideMerge(cluster))), Effect.scoped)
  }).pipe(Effect.scoped)

describe("waking a hosted agent", () => {
  it.effect("a wake the cluster cuts (a defect, then an interruption) is sent again until it is delivered", () =>
    wakeThrough(undefined, "100 millis"))

  it.effect("a wake that gets no answer (sent to a runner that died) is sent again", () =>
    wakeThrough(Effect.never, "1 second"))
})

const realMillisecond = Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 1)))

describe("a wake that dies with the environment's instance", () => {
  it.effect("is sent again by the instance that replaces it (the agent has not acted since)", () =>
    Effect.gen(function*() {
      const outer = yield* Effect.scope
      const wakes = yield* Ref.make(0)
      // The first wake never answers (its agent's runner died with it in flight); the next ones do.
      const agent = AgentEntity.toLayer(Effect.succeed(AgentEntity.of({
        Wake: () => Rpc.fork(Effect.flatMap(Ref.updateAndGet(wakes, (n) => n + 1), (n) => n === 1 ? Effect.never : Effect.succeed("here"))),
        Leave: () => Effect.void,
        Where: () => Effect.succeed("here")
      })))
      // Passivated after 1 s without a request (the reaper checks every 5 s): that closes the instance, and the
      // wake in flight with it.
      const cluster = clusterOf(agent, ClusterEnvironment.layerEntity({ maxIdleTime: "1 second" }))
      yield* Effect.gen(function*() {
        yield* TestClock.adjust(1)
        const env = yield* Environment.Environment
        yield* env.publish(Environment.author, new Event.ParticipantJoined({ participant: "flaky", kind: "agent" }))
        yield* Human.say("bob", "anyone there?")
        const settle = Effect.gen(function*() {
          for (let turn = 0; turn < 20; turn++) yield* Effect.yieldNow()
        })
        yield* settle
        const first = yield* Ref.get(wakes)
        // The reaper passivates the idle instance (it checks every 5 s), before the wake's 10 s patience ends.
        for (let i = 0; i < 7; i++) {
          yield* TestClock.adjust("1 second")
          yield* settle
        }
        const afterPassivation = yield* Ref.get(wakes)
        // The next request builds a new instance, from the journal: the agent has not acted since bob spoke.
        const last = yield* env.lastSequence
        for (let i = 0; i < 5 && (yield* Ref.get(wakes)) < 2; i++) {
          yield* TestClock.adjust("100 millis")
          yield* settle
        }
        const afterRebuild = yield* Ref.get(wakes)
        // The clock ticks while the cluster shuts down: the unanswered wake holds its entity until
        // entityTerminationTimeout. (Started before the assertions, so that a failed one does not hang instead.)
        yield* Effect.forkIn(Effect.forever(Effect.zipRight(TestClock.adjust("1 second"), realMillisecond)), outer)
        assert.strictEqual(first, 1)
        assert.strictEqual(afterPassivation, 1, "not sent again by the instance that sent it: it is gone")
        assert.strictEqual(last, 2)
        assert.strictEqual(afterRebuild, 2, "sent again by the instance that replaced it")
      }).pipe(Effect.provide(ClusterEnvironment.layer("wake-2").pipe(Layer.provideMerge(cluster))), Effect.scoped)
    }).pipe(Effect.scoped))
})

describe("a busy agent that goes silent", () => {
  it.effect("is woken again while it stays busy and silent (its run may have been cut), and no more once it settles", () =>
    Effect.gen(function*() {
      const outer = yield* Effect.scope
      const wakes = yield* Ref.make(0)
      const agent = AgentEntity.toLayer(Effect.succeed(AgentEntity.of({
        Wake: () => Effect.as(Ref.update(wakes, (n) => n + 1), "here"),
        Leave: () => Effect.void,
        Where: () => Effect.succeed("here")
      })))
      const cluster = clusterOf(agent, ClusterEnvironment.layerEntity())
      yield* Effect.gen(function*() {
        yield* TestClock.adjust(1)
        const env = yield* Environment.Environment
        const settle = Effect.gen(function*() {
          for (let turn = 0; turn < 20; turn++) yield* Effect.yieldNow()
        })
        const advance = (seconds: number) =>
          Effect.gen(function*() {
            for (let i = 0; i < seconds; i++) {
              yield* TestClock.adjust("1 second")
              yield* settle
            }
          })
        yield* env.publish(Environment.author, new Event.ParticipantJoined({ participant: "flaky", kind: "agent" }))
        yield* env.publish("flaky", new Event.StateChanged({ participant: "flaky", runId: "r1", from: "idle", to: "function_calls" }))
        yield* advance(10)
        const quiet = yield* Ref.get(wakes)
        // Silent past 15 s while busy: woken, wherever its shard is now (a lost instance is rebuilt and resumes),
        // and again every 15 s while it stays silent (checked every 5 s): at about 20, 35 and 50 s.
        yield* advance(12)
        const silent = yield* Ref.get(wakes)
        yield* advance(30)
        const stillSilent = yield* Ref.get(wakes)
        // Settled: no more wakes.
        yield* env.publish("flaky", new Event.StateChanged({ participant: "flaky", runId: "r1", from: "function_calls", to: "idle" }))
        yield* settle
        yield* advance(40)
        const settled = yield* Ref.get(wakes)
        yield* Effect.forkIn(Effect.forever(Effect.zipRight(TestClock.adjust("1 second"), realMillisecond)), outer)
        assert.strictEqual(quiet, 0, "busy for less than 15 s: nothing to do")
        assert.strictEqual(silent, 1, "woken once silent for 15 s")
        assert.strictEqual(stillSilent, 3, "woken again every 15 s, not at every check")
        assert.strictEqual(settled, stillSilent, "not woken once idle")
      }).pipe(Effect.provide(ClusterEnvironment.layer("wake-3").pipe(Layer.provideMerge(cluster))), Effect.scoped)
    }).pipe(Effect.scoped))
})
