/**
 * Cluster: what `@chorus/cluster` costs over an environment in one process.
 *
 * - **Per event**: one publisher publishes events one at a time (each `publish` waits for its reply) while
 *   one subscriber reads them all; then `flush`. Local: core's `Environment` in this process. Clustered: the
 *   same program on `ClusterEnvironment.layer` — on the cluster's in-memory test runner (journals in memory),
 *   on one runner in this process (sockets, cluster storage and journals in Postgres), and from a client-only
 *   node to an environment on one of three runner processes. Postgres figures are compared with the local
 *   environment on the same `PgJournal`.
 * - **Batched**: the same with `publishAll` of 100 events per call, to separate the cost per message (a
 *   cluster request) from the cost per event.
 * - **10,000 environments** on three runner processes: the time to place them (one request each, 100 at a
 *   time, from a client node: the entity is built and its journal opened) and the runners' RSS growth per
 *   environment. No agents: agents are not entities yet.
 * - **SIGKILL → answering again**: the runner that owns an environment is killed; the time until a publish
 *   to that environment is answered by another runner (failure detection tuned as in the tests: heartbeat
 *   2 s, expiration 9 s).
 * - **SIGKILL → its agent answering again**: three runner processes host the agent "ops"
 *   (test/cluster/support/opsAgent.ts); mid-stream, the runner that runs it is killed; the time until another
 *   runner has rebuilt it and closed the cut run (its `RunEnded`), twice. With CHORUS_BENCH_CLUSTER=agents only
 *   this figure is measured.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { TestRunner } from "@effect/cluster"
import { PgClient } from "@effect/sql-pg"
import { Effect, Layer, Redacted, Stream } from "effect"
import { Environment, Event, Human } from "@chorus/core"
import { ClusterAgent, ClusterEnvironment, Journals, PgJournal } from "@chorus/cluster"
import * as Postgres from "../test/support/postgres.js"
import { joinHuman } from "../test/support/agents.js"
import { clientLayer, runnerLayer } from "../test/cluster/support/cluster.js"
import { freePort, type RunnerProcess, startRunner, stopRunner } from "../test/cluster/support/processes.js"
import { compare, type Figure, now } from "./support.js"

const events = 2_000
const environments = 10_000

// Not a delta: a lagging reader would receive deltas coalesced, fewer events than were published.
const payload = (i: number) => new Event.InterruptRequested({ participant: `p${i}`, runId: null })

/** Microseconds per event: publish one at a time, a subscriber reads them all, then flush. */
const perEvent = (count: number) =>
  Effect.gen(function*() {
    const env = yield* Environment.Environment
    yield* env.publish("bench", payload(-1))
    yield* env.flush
    const subscription = yield* env.subscribe()
    const reader = yield* Effect.fork(Stream.runDrain(Stream.take(subscription.stream, count)))
    const started = now()
    for (let i = 0; i < count; i++) yield* env.publish("bench", payload(i))
    yield* env.flush
    yield* reader.await
    return ((now() - started) * 1_000) / count
  }).pipe(Effect.scoped)

/** The same with `publishAll` of 100 events per call: the cost is per message, not per event. */
const perEventBatched = (count: number) =>
  Effect.gen(function*() {
    const env = yield* Environment.Environment
    yield* env.publish("bench", payload(-1))
    yield* env.flush
    const subscription = yield* env.subscribe()
    const reader = yield* Effect.fork(Stream.runDrain(Stream.take(subscription.stream, count)))
    const started = now()
    for (let i = 0; i < count; i += 100) yield* env.publishAll("bench", Array.from({ length: 100 }, (_, j) => payload(i + j)))
    yield* env.flush
    yield* reader.await
    return ((now() - started) * 1_000) / count
  }).pipe(Effect.scoped)

const run = <A, E>(effect: Effect.Effect<A, E, Environment.Environment>, layer: Layer.Layer<Environment.Environment, unknown>) =>
  Effect.runPromise(Effect.provide(effect, layer).pipe(Effect.orDie) as Effect.Effect<A>)

const rssOf = (pid: number | undefined): number => {
  const status = readFileSync(`/proc/${pid}/status`, "utf8")
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0)
  return kb * 1024
}

/** Seconds from the SIGKILL of a busy agent's runner to its cut run ending on another runner, twice. */
const agentFailover = async (log: (line: string) => void): Promise<ReadonlyArray<number>> => {
  const postgres = await Postgres.start()
  const directory = mkdtempSync(join(tmpdir(), "chorus-bench-calls-"))
  let runners: Array<RunnerProcess> = []
  try {
    for (let i = 0; i < 3; i++) runners.push(await startRunner(postgres.url, { calls: join(directory, "calls.log") }))
    const client = clientLayer(postgres.url)
    const seconds: Array<number> = []
    for (let round = 0; round < 2; round++) {
      const measured = await Effect.runPromise(Effect.gen(function*() {
        // An environment whose entity runs apart from its agent: the kill takes the agent only.
        let id = ""
        for (let i = 0; i < 100 && id === ""; i++) {
          const candidate = `bench-agent-${round}-${i}`
          const env = yield* Effect.orDie(Effect.flatMap(ClusterEnvironment.EnvironmentEntity.client, (make) => make(candidate).Where()))
          if (env !== (yield* ClusterAgent.where(candidate, "ops"))) id = candidate
        }
        return yield* Effect.gen(function*() {
          const env = yield* Environment.Environment
          const address = yield* ClusterAgent.add(id, "ops")
          yield* joinHuman("alice")
          yield* Human.say("alice", "explain yourself")
          yield* env.waitFor((event) => event.payload._tag === "TextDelta" && event.author === "ops")
          const victim = runners.find((runner) => runner.port === Number(address.split(":")[1]))!
          const killed = now()
          yield* Effect.promise(() => stopRunner(victim))
          runners = runners.filter((runner) => runner !== victim)
          yield* env.waitFor((event) => event.payload._tag === "RunEnded" && event.author === "ops")
          return (now() - killed) / 1_000
        }).pipe(Effect.scoped, Effect.provide(ClusterEnvironment.layer(id)))
      }).pipe(Effect.provide(client), Effect.orDie))
      log(`SIGKILL of a busy agent's runner → its run closed on another runner: ${measured.toFixed(1)} s`)
      seconds.push(measured)
    }
    return seconds
  } finally {
    await Promise.all(runners.map((runner) => stopRunner(runner)))
    postgres.stop()
    rmSync(directory, { recursive: true, force: true })
  }
}

export const clusterBench = async (log: (line: string) => void): Promise<ReadonlyArray<Figure>> => {
  const figures: Array<Figure> = []
  try {
    const agents = await agentFailover(log)
    figures.push({
      name: "cluster: SIGKILL of a busy agent's runner → the agent answers again elsewhere (mean of 2)",
      unit: "s",
      value: agents.reduce((sum, value) => sum + value, 0) / agents.length
    })
  } catch (error) {
    log(`the agent failover part failed: ${error instanceof Error ? error.message : String(error)}`)
  }
  if (process.env.CHORUS_BENCH_CLUSTER === "agents") return figures
  const us = (name: string, value: number, baseline: { name: string; value: number }) => {
    const figure = compare({ name, unit: "µs/event", value }, baseline)
    log(`${name}: ${value.toFixed(1)} µs/event (${figure.ratio!.toFixed(1)}× ${baseline.name})`)
    figures.push(figure)
  }

  // In memory.
  const local = await run(perEvent(events), Environment.layerMemory())
  log(`local environment, memory journal: ${local.toFixed(1)} µs/event`)
  figures.push({ name: "cluster: local environment, memory journal", unit: "µs/event", value: local })
  const testRunner = await run(
    perEvent(events),
    ClusterEnvironment.layer("bench-memory").pipe(
      Layer.provide(ClusterEnvironment.layerEntity().pipe(Layer.provide(Journals.layerMemory), Layer.provideMerge(TestRunner.layer)))
    )
  )
  us("cluster: clustered, in-memory test runner", testRunner, { name: "local, memory journal", value: local })
  const localBatched = await run(perEventBatched(events * 5), Environment.layerMemory())
  figures.push({ name: "cluster: local environment, memory journal, publishAll(100)", unit: "µs/event", value: localBatched })
  const testRunnerBatched = await run(
    perEventBatched(events * 5),
    ClusterEnvironment.layer("bench-memory-batched").pipe(
      Layer.provide(ClusterEnvironment.layerEntity().pipe(Layer.provide(Journals.layerMemory), Layer.provideMerge(TestRunner.layer)))
    )
  )
  us("cluster: clustered, in-memory test runner, publishAll(100)", testRunnerBatched, {
    name: "local, memory journal, publishAll(100)",
    value: localBatched
  })

  const postgres = await Postgres.start()
  const runners: Array<RunnerProcess> = []
  try {
    const sql = PgClient.layer({ url: Redacted.make(postgres.url) })
    const localPg = await run(
      perEvent(events),
      Environment.layer().pipe(Layer.provide(Journals.layerJournal("bench-local")), Layer.provide(PgJournal.layer()), Layer.provide(sql))
    )
    log(`local environment, PgJournal: ${localPg.toFixed(1)} µs/event`)
    figures.push({ name: "cluster: local environment, PgJournal", unit: "µs/event", value: localPg })
    const port = await freePort()
    const oneRunner = await run(
      perEvent(events),
      ClusterEnvironment.layer("bench-one-runner").pipe(Layer.provide(runnerLayer(postgres.url, port)))
    )
    us("cluster: clustered, one runner in process, Postgres", oneRunner, { name: "local, PgJournal", value: localPg })

    // Three runner processes; this process is a client-only node.
    for (let i = 0; i < 3; i++) runners.push(await startRunner(postgres.url))
    const client = clientLayer(postgres.url)
    const where = (id: string) =>
      Effect.flatMap(ClusterEnvironment.EnvironmentEntity.client, (make) => make(id).Where()).pipe(Effect.orDie)
    // Let the shards settle on the three runners before measuring.
    await Effect.runPromise(Effect.gen(function*() {
      for (let attempt = 0; attempt < 60; attempt++) {
        const placed = yield* Effect.forEach(Array.from({ length: 30 }, (_, i) => `settle-${i}`), where, { concurrency: 10 })
        if (new Set(placed).size === 3) return
        yield* Effect.sleep("1 second")
      }
    }).pipe(Effect.provide(client)))
    const threeRunners = await run(perEvent(events), ClusterEnvironment.layer("bench-three").pipe(Layer.provide(client)))
    us("cluster: clustered, client node → one of three runner processes, Postgres", threeRunners, {
      name: "local, PgJournal",
      value: localPg
    })
    const localPgBatched = await run(
      perEventBatched(events * 5),
      Environment.layer().pipe(Layer.provide(Journals.layerJournal("bench-local-batched")), Layer.provide(PgJournal.layer()), Layer.provide(sql))
    )
    figures.push({ name: "cluster: local environment, PgJournal, publishAll(100)", unit: "µs/event", value: localPgBatched })
    const threeBatched = await run(perEventBatched(events * 5), ClusterEnvironment.layer("bench-three-batched").pipe(Layer.provide(client)))
    us("cluster: clustered, client node → one of three runner processes, Postgres, publishAll(100)", threeBatched, {
      name: "local, PgJournal, publishAll(100)",
      value: localPgBatched
    })

    const rssBefore = runners.reduce((sum, runner) => sum + rssOf(runner.child.pid), 0)
    const placeStarted = now()
    await Effect.runPromise(Effect.provide(
      Effect.flatMap(ClusterEnvironment.EnvironmentEntity.client, (make) =>
        Effect.forEach(Array.from({ length: environments }, (_, i) => `env-${i}`), (id) => make(id).LastSequence(), {
          concurrency: 100,
          discard: true
        })).pipe(Effect.orDie),
      client
    ))
    const placeSeconds = (now() - placeStarted) / 1_000
    const rssAfter = runners.reduce((sum, runner) => sum + rssOf(runner.child.pid), 0)
    const perEnvironment = (rssAfter - rssBefore) / environments
    log(`${environments} environments placed on 3 runners in ${placeSeconds.toFixed(1)} s; RSS +${(perEnvironment / 1024).toFixed(1)} KiB each`)
    figures.push({ name: `cluster: place ${environments} environments on 3 runners`, unit: "s", value: placeSeconds })
    figures.push({ name: "cluster: runner RSS per live environment", unit: "KiB", value: perEnvironment / 1024 })

    const victimPort = await Effect.runPromise(Effect.provide(Effect.map(where("bench-three"), (address) => Number(address.split(":")[1])), client))
    const victim = runners.find((runner) => runner.port === victimPort)!
    const killed = now()
    await stopRunner(victim)
    await run(Effect.flatMap(Environment.Environment, (env) => env.publish("bench", payload(0))), ClusterEnvironment.layer("bench-three").pipe(Layer.provide(client)))
    const answering = (now() - killed) / 1_000
    log(`SIGKILL of the owner → answering again: ${answering.toFixed(1)} s`)
    figures.push({ name: "cluster: SIGKILL of a runner → its environment answers again", unit: "s", value: answering })
  } catch (error) {
    log(`the multi-process part failed: ${error instanceof Error ? error.message : String(error)}`)
  } finally {
    await Promise.all(runners.map((runner) => stopRunner(runner)))
    postgres.stop()
  }
  return figures
}
