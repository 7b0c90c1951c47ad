/**
 * A runner process (tsx test/cluster/support/runner.ts): DATABASE_URL, CHORUS_PORT; with CHORUS_WATCH=<id> it
 * also subscribes to that environment from sequence 0 and prints `seen <sequence>` for every event it receives.
 * Prints `ready` once its layers are up. With CHORUS_CALLS_FILE=<path> it hosts the agent "ops" (support/opsAgent.ts).
 * CHORUS_RUNNER_LOG_LEVEL=Debug lowers its minimum log level (see also CHORUS_RUNNER_LOGS in processes.ts).
 */
import { NodeRuntime } from "@effect/platform-node"
import { Effect, Layer, Logger, LogLevel, Stream } from "effect"
import { Environment } from "@chorus/core"
import { ClusterEnvironment } from "@chorus/cluster"
import { runnerLayer } from "./cluster.js"
import { opsAgents } from "./opsAgent.js"

const url = process.env.DATABASE_URL ?? ""
const port = Number(process.env.CHORUS_PORT)
const watch = process.env.CHORUS_WATCH
const calls = process.env.CHORUS_CALLS_FILE

const write = (line: string) => Effect.sync(() => process.stdout.write(`${line}\n`))

const program = Effect.gen(function*() {
  yield* write("ready")
  if (watch === undefined || watch === "") return yield* Effect.never
  const env = yield* Environment.Environment
  const subscription = yield* env.subscribe({ from: 0 })
  yield* Stream.runForEach(subscription.stream, (event) => write(`seen ${event.sequence}`))
}).pipe(Effect.scoped)

// Without CHORUS_WATCH the program never asks for the environment it is given.
const layer = ClusterEnvironment.layer(watch || "unwatched").pipe(Layer.provideMerge(runnerLayer(url, port, calls ? { agents: opsAgents(calls) } : undefined)))

// Debugging: CHORUS_RUNNER_LOG_LEVEL=Debug (or All, Trace, ...) shows the cluster's own logs too.
const level = LogLevel.allLevels.find((candidate) => candidate._tag === process.env.CHORUS_RUNNER_LOG_LEVEL) ?? LogLevel.Info

NodeRuntime.runMain(program.pipe(Effect.provide(layer), Logger.withMinimumLogLevel(level)))
