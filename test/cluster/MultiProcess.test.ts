/**
 * Three runner processes on 127.0.0.1 and a throwaway Postgres; this process is a client-only node. Placement,
 * subscriptions across nodes, and a runner's SIGKILL while events are published.
 *
 * History: History on this shared 2-core machine:
 * - round 1: 2 of 6 runs passed (load 8-15): shards never spread, requests unanswered for minutes;
 * - round 3, after noDelay and a 5 s connection open timeout (support/cluster.ts): passed at load ~6, placement
 *   3 s instead of 81 s, but failed 4 of 5 runs at load 8-12 (two with row locks or a 1 s
 *   entityTerminationTimeout, no change): shards stayed on one runner, survivors' watchers stalled;
 * - after the clustered client resubscribes / re-sends what the cluster interrupts (it closes its client to a
 *   runner it declares unavailable, which interrupted the watchers' subscriptions for good): 3 of 3 runs
 *   passed at load 7-16, one of them beside MultiProcessAgents.test.ts.
 * In the default suite again since round 4 (it was opt-in while the agents' approval case below was flaky): the
 * whole of test/cluster with the multi-process files passed 7 runs in a row after the wake fixes.
 */
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { Chunk, Effect, Fiber, Layer, Stream } from "effect"
import { Environment, Event } from "@chorus/core"
import { ClusterEnvironment } from "@chorus/cluster"
import * as Postgres from "../support/postgres.js"
import { clientLayer } from "./support/cluster.js"
import { type RunnerProcess, startRunner, stopRunner } from "./support/processes.js"

const conversation = "conversation-1"
let server: Postgres.Postgres | undefined
let runners: Array<RunnerProcess> = []

// Part of the default suite; `CHORUS_CLUSTER_PROCESSES=0` skips it (three runner processes and a PostgreSQL).
const enabled = process.env.CHORUS_CLUSTER_PROCESSES !== "0"

beforeAll(async () => {
  if (!enabled) return
  server = await Postgres.start()
  // One at a time: three tsx processes compiling at once on two cores take long.
  for (let i = 0; i < 3; i++) runners.push(await startRunner(server.url, { watch: conversation }))
}, 240_000)

afterAll(async () => {
  for (const runner of runners) if (runner.output.some((line) => !line.includes("Listening on"))) console.error(`runner ${runner.port}:\n${runner.output.join("\n").slice(-3000)}`)
  await Promise.all(runners.map((runner) => stopRunner(runner)))
  server?.stop()
})

const say = (text: string) => new Event.InterruptRequested({ participant: text, runId: null })
const Client = () => clientLayer(server!.url)

const where = (id: string) =>
  Effect.flatMap(ClusterEnvironment.EnvironmentEntity.client, (client) => client(id).Where()).pipe(Effect.orDie)

const contiguous = (sequences: ReadonlyArray<number>, count: number) =>
  sequences.length === count && sequences.every((sequence, i) => sequence === i)

describe.runIf(enabled)("three runner processes on Postgres", () => {
  it.live("environments are spread over the runners, each lives on exactly one", () =>
    Effect.gen(function*() {
      const ids = Array.from({ length: 30 }, (_, i) => `placed-${i}`)
      // The first runner takes every shard until the others register; then shards are handed over.
      // Settled: every runner holds some, and two rounds a second apart agree.
      let previous: ReadonlyArray<string> = []
      let placed = yield* Effect.forEach(ids, where, { concurrency: 10 })
      for (let attempt = 0; attempt < 60 && (new Set(placed).size < 3 || previous.join() !== placed.join()); attempt++) {
        yield* Effect.sleep("1 second")
        previous = placed
        placed = yield* Effect.forEach(ids, where, { concurrency: 10 })
      }
      const ports = new Set(placed.map((address) => Number(address.split(":")[1])))
      assert.isTrue(ports.size >= 2, `30 environments all on ${[...ports].join(", ")}`)
      for (const port of ports) assert.isTrue(runners.some((runner) => runner.port === port))
      // Asked again, each answers from the same place.
      assert.deepStrictEqual(yield* Effect.forEach(ids, where), placed)
    }).pipe(Effect.provide(Client())), 120_000)

  it.live("a SIGKILLed runner: its environment moves, publishing resumes, every node sees one continuous history", () =>
    Effect.gen(function*() {
      const env = yield* Environment.Environment
      const subscription = yield* env.subscribe({ from: 0 })
      const before = 40
      const after = 40
      for (let i = 0; i < before; i++) yield* env.publish("client", say(`before-${i}`))
      yield* env.flush
      const owner = Number((yield* where(conversation)).split(":")[1])
      const victim = runners.find((runner) => runner.port === owner)!
      const survivors = runners.filter((runner) => runner !== victim)

      // Killed while a publisher is publishing: its publishes wait for the new owner.
      const publisher = yield* Effect.fork(Effect.forEach(Array.from({ length: after }, (_, i) => i), (i) =>
        Effect.zipRight(env.publish("client", say(`after-${i}`)), Effect.sleep("20 millis")), { discard: true }))
      yield* Effect.sleep("100 millis")
      yield* Effect.promise(() => stopRunner(victim))
      runners = survivors
      yield* Fiber.join(publisher)
      // Whatever the dead runner had not written is reported by flush, never silently dropped.
      const flushed = yield* Effect.either(env.flush)
      const newOwner = Number((yield* where(conversation)).split(":")[1])
      assert.notStrictEqual(newOwner, owner)
      assert.isTrue(survivors.some((runner) => runner.port === newOwner))

      const last = yield* env.lastSequence
      const events = Chunk.toReadonlyArray(yield* subscription.stream.pipe(Stream.take(last + 1), Stream.runCollect))
      assert.isTrue(contiguous(events.map((event) => event.sequence), last + 1))
      const texts = events.flatMap((event) => event.payload._tag === "InterruptRequested" ? [event.payload.participant] : [])
      // Everything flushed before the kill is there, in order, once.
      assert.deepStrictEqual(texts.slice(0, before), Array.from({ length: before }, (_, i) => `before-${i}`))
      // After it: the publisher's events in its order (one lost or re-sent around the kill at most).
      const afterTexts = texts.slice(before)
      const indices = afterTexts.map((text) => Number(text.split("-")[1]))
      assert.isTrue(indices.every((index, i) => i === 0 || index >= indices[i - 1]!), afterTexts.join(","))
      // An event lost with the dead runner is reported by flush.
      const lost = after - new Set(afterTexts).size
      assert.strictEqual(flushed._tag === "Left", lost > 0, `${lost} lost; flush: ${flushed._tag}`)
      if (flushed._tag === "Left") assert.include(flushed.left.message, "was lost")
      assert.strictEqual(indices.at(-1), after - 1)

      // The watchers on the surviving runners saw the same history, each event once.
      yield* Effect.promise(() =>
        waitUntil(
          () => survivors.every((runner) => runner.seen.length >= last + 1),
          30_000,
          () => survivors.map((runner) => `runner ${runner.port} saw ${runner.seen.length} of ${last + 1}`).join("; ")
        )
      )
      for (const runner of survivors) {
        assert.isTrue(contiguous(runner.seen.slice(0, last + 1), last + 1), `runner ${runner.port}: ${runner.seen.join(",")}`)
      }
    }).pipe(Effect.scoped, Effect.provide(ClusterEnvironment.layer(conversation).pipe(Layer.provideMerge(Client())))), 180_000)
})

const waitUntil = async (condition: () => boolean, timeout: number, state: () => string) => {
  const started = performance.now()
  while (!condition()) {
    if (performance.now() - started > timeout) throw new Error(`timed out: ${state()}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}
