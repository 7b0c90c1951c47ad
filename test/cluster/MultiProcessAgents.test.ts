/**
 * A hosted agent across three runner processes on Postgres; this process is a client-only node where the
 * human "alice" takes part. The runner that runs the agent is SIGKILLed twice:
 * - while an approval is pending: another runner rebuilds the agent when alice answers; the call runs once;
 * - mid-stream: the persisted keep-alive of the busy agent brings it back on another runner at once, and the
 *   cut run ends interrupted with its partial output.
 * Calls are counted in a file every runner appends to, so a call run twice by any process shows.
 *
 * History: it passed 4 of 5 runs (load 5-11; the failure: "All
 * fibers interrupted without errors" in the approval case), then 3 of 3 (load 7-16) once the clustered client
 * re-sends what the cluster interrupts.
 * It was opt-in for a round: in the lead's fresh-clone CI run at 9507194 (Node 20, load ~3) the approval case
 * timed out after 180 s while the mid-stream case passed.
 * Round 4: reproduced twice with all of test/cluster at once. The environment's wake of the agent was lost when
 * cut by the cluster (a defect or an interruption), then, per this test's step log, when it got no answer at all
 * (routed to the dead runner); both fixed (Wake.test.ts). Since: 7 of 7 runs of the whole of test/cluster, and the
 * suite runs it by default again (`CHORUS_CLUSTER_PROCESSES=0` skips it).
 * Round 5: the CI timed out once more (Node 24, loaded). Reproduced here 3 of 7 runs of this file on Node 24 beside
 * four busy loops (load 11-14); with CHORUS_RUNNER_LOGS (support/processes.ts) the runners' debug logs showed it:
 * after the kill the cluster moved the environment between the two survivors too; the wake in flight died with
 * the old environment instance, and the agent rebuilt on the new owner waited for good on its `Members` request.
 * Fixed in the library: every idempotent request is sent again after 10 s unanswered (Retry.test.ts), and a new
 * environment instance wakes the agents with an unanswered waking event (Wake.test.ts).
 */
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { Effect, Stream } from "effect"
import { ContextItem, Environment, Event, Human, InputStream } from "@chorus/core"
import { ClusterAgent, ClusterEnvironment } from "@chorus/cluster"
import * as Postgres from "../support/postgres.js"
import { events, joinHuman, payloads } from "../support/agents.js"
import { clientLayer } from "./support/cluster.js"
import { explanation } from "./support/opsAgent.js"
import { type RunnerProcess, startRunner, stopRunner } from "./support/processes.js"

let server: Postgres.Postgres | undefined
let runners: Array<RunnerProcess> = []
let directory = ""
let calls = ""

// Part of the default suite; `CHORUS_CLUSTER_PROCESSES=0` skips it (three runner processes and a PostgreSQL).
const enabled = process.env.CHORUS_CLUSTER_PROCESSES !== "0"

beforeAll(async () => {
  if (!enabled) return
  server = await Postgres.start()
  directory = mkdtempSync(join(tmpdir(), "chorus-calls-"))
  calls = join(directory, "calls.log")
  for (let i = 0; i < 3; i++) runners.push(await startRunner(server.url, { calls }))
}, 240_000)

afterAll(async () => {
  for (const runner of runners) if (runner.output.some((line) => !line.includes("Listening on"))) console.error(`runner ${runner.port}:\n${runner.output.join("\n").slice(-3000)}`)
  await Promise.all(runners.map((runner) => stopRunner(runner)))
  server?.stop()
  if (directory !== "") rmSync(directory, { recursive: true, force: true })
})

const Client = () => clientLayer(server!.url)
const port = (address: string) => Number(address.split(":")[1])
const callsRun = () => readFileSync(calls, { encoding: "utf8", flag: "a+" }).split("\n").filter((line) => line !== "")

const whereEnvironment = (id: string) =>
  Effect.flatMap(ClusterEnvironment.EnvironmentEntity.client, (client) => client(id).Where()).pipe(Effect.orDie)

/** An environment id whose entity runs on another runner than its agent "ops" (so killing one spares the other). */
const apart = (prefix: string) =>
  Effect.gen(function*() {
    for (let i = 0; i < 100; i++) {
      const id = `${prefix}-${i}`
      if ((yield* whereEnvironment(id)) !== (yield* ClusterAgent.where(id, "ops"))) return id
    }
    return yield* Effect.dieMessage("no environment placed apart from its agent")
  })

/** Runs the program in environment `id`, seen from this client node. */
const inEnvironment = <A, E, R>(id: string, program: Effect.Effect<A, E, R>) =>
  program.pipe(Effect.provide(ClusterEnvironment.layer(id)))

/** Records the steps a test reached, printed with the events if it fails (a time-out says nothing else). */
const stepsOf = (context: { readonly onTestFailed: (handler: () => void) => void }) => {
  const reached: Array<string> = []
  const seen: Array<string> = []
  let following = false
  context.onTestFailed(() => console.error(`steps:\n${reached.join("\n")}\nevents:\n${seen.join("\n")}\ncalls run: ${callsRun().join(", ")}`))
  // Debugging: with CHORUS_RUNNER_LOGS=<directory> (see support/processes.ts) the steps go to <directory>/steps.log too.
  const logs = process.env.CHORUS_RUNNER_LOGS
  return (step: string) =>
    Effect.gen(function*() {
      reached.push(`${new Date().toISOString()} ${step}`)
      if (logs !== undefined && logs !== "") appendFileSync(join(logs, "steps.log"), `${reached.at(-1)}\n`)
      const env = yield* Effect.serviceOption(Environment.Environment)
      if (env._tag === "None" || following) return
      following = true
      const subscription = yield* env.value.subscribe({ from: 0 })
      yield* Stream.runForEach(subscription.stream, (event) =>
        Effect.sync(() => seen.push(`${new Date().toISOString()} ${event.sequence} ${event.author} ${event.payload._tag}`))).pipe(
        Effect.scoped,
        Effect.forkDaemon
      )
    }).pipe(Effect.scoped)
}

const kill = (address: string) =>
  Effect.promise(async () => {
    const victim = runners.find((runner) => runner.port === port(address))!
    await stopRunner(victim)
    runners = runners.filter((runner) => runner !== victim)
  })

describe.runIf(enabled)("a hosted agent on three runner processes", () => {
  it.live("its runner is SIGKILLed while an approval is pending: answered once on another runner, the call runs once", (context) =>
    Effect.gen(function*() {
      const steps = stepsOf(context)
      const id = yield* apart("deploy")
      yield* steps("placed apart")
      yield* inEnvironment(id, Effect.gen(function*() {
        const env = yield* Environment.Environment
        const alice = yield* joinHuman("alice")
        const before = yield* ClusterAgent.add(id, "ops")
        yield* steps(`ops added on ${before}`)
        yield* Human.say("alice", "please deploy prod")
        yield* env.waitFor((event) => event.payload._tag === "ApprovalRequested")
        yield* steps("approval requested")
        yield* kill(before)
        yield* steps("killed")
        // The answer wakes the agent wherever its shard goes now.
        yield* alice.offer(new InputStream.Approval({ callId: "d1", approved: true, reason: null }))
        yield* steps("answered")
        const ended = yield* env.waitFor((event) => event.payload._tag === "RunEnded" && event.author === "ops")
        yield* steps("run ended")
        assert.strictEqual((ended.payload as Event.RunEnded).outcome, "completed")
        const after = yield* ClusterAgent.where(id, "ops")
        assert.notStrictEqual(after, before, "rebuilt on another runner")
        assert.deepStrictEqual(callsRun(), ["prod"])
        // A second answer is refused; nothing runs again.
        yield* alice.offer(new InputStream.Approval({ callId: "d1", approved: true, reason: null }))
        yield* env.waitFor((event) => event.payload._tag === "ApprovalAnswerRefused")
        assert.deepStrictEqual(callsRun(), ["prod"])
        const said = payloads(yield* events, "ItemDone").map((done) => done.item).filter((item) => item.author === "ops" && item._tag === "ModelMessage")
        assert.deepStrictEqual(said.map(ContextItem.text), ["prod is deployed"])
      }))
    }).pipe(Effect.provide(Client())), 180_000)

  it.live("its runner is SIGKILLed mid-stream: another runner resumes it at once, the cut run ends interrupted with its partial output", (context) =>
    Effect.gen(function*() {
      const steps = stepsOf(context)
      const id = yield* apart("explain")
      yield* steps("placed apart")
      yield* inEnvironment(id, Effect.gen(function*() {
        const env = yield* Environment.Environment
        yield* joinHuman("alice")
        const before = yield* ClusterAgent.add(id, "ops")
        yield* steps(`ops added on ${before}`)
        yield* Human.say("alice", "explain yourself")
        // Two words are out (and durable: subscribers see only what the journal holds).
        let words = 0
        yield* env.waitFor((event) => event.payload._tag === "TextDelta" && event.author === "ops" && ++words === 2)
        yield* steps("two words out")
        yield* kill(before)
        yield* steps("killed")
        // Nobody publishes anything: the agent comes back by itself (its keep-alive is redelivered).
        const ended = yield* env.waitFor((event) => event.payload._tag === "RunEnded" && event.author === "ops")
        yield* steps("run ended")
        const outcome = ended.payload as Event.RunEnded
        assert.strictEqual(outcome.outcome, "interrupted")
        const after = yield* ClusterAgent.where(id, "ops")
        assert.notStrictEqual(after, before)
        const message = payloads(yield* events, "ItemDone").map((done) => done.item).find((item) => item.author === "ops" && item._tag === "ModelMessage")!
        assert.strictEqual(message.status, "incomplete")
        const text = ContextItem.text(message)
        assert.isTrue(text.length >= "half an ".length && explanation.join("").startsWith(text), `partial output: ${text}`)
        assert.isBelow(text.length, explanation.join("").length)
      }))
    }).pipe(Effect.provide(Client())), 180_000)
})

