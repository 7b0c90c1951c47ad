/**
 * Scale.
 *
 * - **Agents streaming at once**: N agents in one environment (in-memory
 *   journal), each with its own scripted model of 1,000 text deltas (no
 *   latency), all started by one user message, and one observer counting the
 *   text. Agents use `visibility: { scope: "triggers" }`, so none keeps the
 *   other agents' messages in its context (they only react to the user's
 *   message anyway). Timed from the user message to the observer seeing the
 *   N-th `RunEnded`; total deltas per second, CPU time, and the peak RSS
 *   sampled every 10 ms and the process's high-water mark (and the rise over
 *   the RSS before the run). Each run is in a fresh process of its own, on
 *   plain `node` (the bench's TypeScript stripped: no loader), after a warm-up
 *   run of 20 agents there; the models make their parts as they are pulled.
 *   A lagging observer receives deltas coalesced (the
 *   environment's backpressure), so it is checked on the text, not on the
 *   number of delta events.
 * - **Idle agents**: N idle agents joined to one environment; after a full
 *   GC before and after, the growth of the V8 heap (and of RSS) divided by N.
 *   It includes each agent's fiber, state and mailbox, its entries in the
 *   fan-out's index, the layers provided to it, and its `ParticipantJoined`
 *   event in the in-memory journal. The time until the process is idle again
 *   is reported too.
 *
 * - **Membership churn**: 10,000 narrow participants (each takes only the
 *   interrupts addressed to it, declared with `kinds`) join one environment,
 *   then all leave: the time of the joins and of the leaves, and a 1 ms timer
 *   measured while the joins settle (how long the event loop was held). Two
 *   kinds of member, one after the other: observers (`Participant.observer`,
 *   read in a plain loop over their mailbox), and participants whose `run`
 *   drains the inbox stream (`.stream` figures: a Stream pipeline each).
 *
 * Agents as `Agent.make` builds them take only the kinds of event they fold
 * and act on (`Participant.kinds`: items done, runs, inferences, input
 * dispositions, calls and answers — never deltas), indexed by the
 * environment's fan-out, so other agents' deltas cost them nothing. By
 * default (`resume: true`) they replay, when they join, only the events their
 * fold takes, from the first one the environment's index of the journal knows
 * (`Participant.replayTaken`): nothing for an agent new to the journal. The
 * **lean** runs use `resume: false`. Default agents are measured beside them.
 */
import { Deferred, Effect, Layer, Stream } from "effect"
import { Agent, ContextItem, Environment, Event, InferenceRunner, Participant, Toolkit } from "@chorus/core"
import {
  compare,
  type Figure,
  freshProcess,
  gc,
  maxRss,
  now,
  reply,
  sampleRss,
  type Script,
  script,
  taskArguments
} from "./support.js"

const deltasPerAgent = 1_000

type Kind = "default" | "lean"

/**
 * An agent; `lean`: no journal replay (`resume: false`). Both take only the kinds of event the agent
 * folds and acts on (`Agent.make` declares them: `Participant.kinds`), so deltas of other agents
 * cost them nothing.
 */
const agent = (options: Agent.Options, kind: Kind) => Agent.make(kind === "default" ? options : { ...options, resume: false })

/**
 * Waits until the burst of work is over: less than 50 ms of CPU time over
 * 200 ms (the GC's background threads may still sweep a large heap), at
 * most 10 minutes.
 */
const quiesce = Effect.gen(function*() {
  for (let i = 0; i < 3_000; i++) {
    const before = process.cpuUsage()
    yield* Effect.sleep("200 millis")
    const used = process.cpuUsage(before)
    if ((used.user + used.system) / 1000 < 50) return
  }
})

const cpuSeconds = (since: NodeJS.CpuUsage) => {
  const used = process.cpuUsage(since)
  return (used.user + used.system) / 1e6
}

/**
 * An agent's scripted model: the parts of one message of the script's deltas, made as the stream
 * is pulled, {@link partsPerPull} at a time (as a provider makes them from the wire:
 * `Event.unsafeTextDelta`), not held ready beforehand — 1,000 agents' prebuilt parts were 1M
 * objects of bench scaffolding on the heap before the run, which no user holds. The delta strings
 * are the script's, shared by every agent (as they were).
 */
const scriptedRunner = (scripted: Script, author: string): InferenceRunner.Service => {
  const itemId = `msg_${author}`
  const start = new InferenceRunner.ItemStart({ itemId, kind: "message", callId: null, name: null })
  const end = new InferenceRunner.ItemEnd({ itemId, final: ContextItem.modelText({ id: itemId, author, text: scripted.text }) })
  const finished = new InferenceRunner.Finished({
    usage: new Event.Usage({
      inputTokens: 1,
      outputTokens: scripted.deltas.length,
      totalTokens: scripted.deltas.length + 1,
      cachedInputTokens: 0,
      reasoningTokens: 0
    }),
    incompleteReason: null,
    model: "bench"
  })
  function* parts(): Generator<InferenceRunner.Part> {
    yield start
    for (const delta of scripted.deltas) yield Event.unsafeTextDelta(itemId, 0, delta)
    yield end
    yield finished
  }
  return { model: "bench", stream: () => Stream.suspend(() => Stream.fromIteratorSucceed(parts(), partsPerPull)) }
}

/** Parts the scripted model has ready per pull (a provider's chunk of the wire), made as they are pulled. */
const partsPerPull = 64

/** A runner for agents that never run. */
const idleRunner: InferenceRunner.Service = { model: "bench", stream: () => Stream.empty }

/** A human's message, as the environment carries it. */
const userMessage = (id: string, author: string, text: string): ReadonlyArray<Event.Payload> => {
  const item = ContextItem.userText({ id, author, text })
  return [new Event.ItemAdded({ item, runId: null }), new Event.ItemDone({ item, runId: null })]
}

const mib = (bytes: number) => Math.round((bytes / 2 ** 20) * 10) / 10

const concurrent = (agents: number, kind: Kind) =>
  Effect.gen(function*() {
    const env = yield* Environment.Environment
    const scripted = script(deltasPerAgent)
    const runners = Array.from({ length: agents }, (_, i) => scriptedRunner(scripted, `agent-${i}`))
    let chars = 0
    let ended = 0
    const allEnded = yield* Deferred.make<number>()
    yield* env.join(Participant.observer("observer", (event) => {
      const payload = event.payload
      if (payload._tag === "TextDelta") {
        chars += payload.delta.length
      } else if (payload._tag === "RunEnded" && ++ended === agents) {
        return Deferred.succeed(allEnded, now())
      }
      return Effect.void
    }))
    for (let i = 0; i < agents; i++) {
      yield* env.join(agent({ id: `agent-${i}`, visibility: { scope: "triggers" } }, kind)).pipe(
        Effect.provide(Layer.succeed(InferenceRunner.InferenceRunner, runners[i]!)),
        Effect.provide(Toolkit.empty.layer)
      )
    }
    // Every agent has started and read the join events before the clock starts.
    yield* quiesce
    gc()
    const before = process.memoryUsage().rss
    const heapBefore = process.memoryUsage().heapUsed
    const rss = sampleRss()
    const cpu = process.cpuUsage()
    const start = now()
    yield* env.publishAll("alice", userMessage("question", "alice", "Everybody, go."))
    const end = yield* Deferred.await(allEnded)
    const peak = rss.stop()
    const cpuUsed = cpuSeconds(cpu)
    if (chars !== agents * scripted.text.length) {
      return yield* Effect.dieMessage(`the observer saw ${chars} chars of text, expected ${agents * scripted.text.length}`)
    }
    const seconds = (end - start) / 1000
    gc()
    const heapAfter = process.memoryUsage().heapUsed
    return { seconds, rate: (agents * deltasPerAgent) / seconds, cpu: cpuUsed, peak, before, heapBefore, heapAfter, maxRss: maxRss() }
  }).pipe(Effect.provide(Environment.layerMemory()), Effect.scoped)

type Streamed = Effect.Effect.Success<ReturnType<typeof concurrent>>

/** Agents warmed up on, in each fresh process, before the measured run (the JIT's work is not the run's). */
const warmUpAgents = 20

/**
 * Each streaming run in a process of its own (`freshProcess`): its peak RSS is the run's, not that of
 * the sections before it in this process (their heaps, 473 MiB before the run when it ran here). A
 * warm-up run of {@link warmUpAgents} agents first, in another environment; the kernel's high-water
 * mark of the process (`maxRss`) covers it too, and any peak the 10 ms sampling misses.
 */
const streamedAlone = (agents: number, kind: Kind): Promise<Streamed> =>
  freshProcess<Streamed>(import.meta.url, [String(agents), kind])

const asked = taskArguments(import.meta.url)
if (asked !== undefined) {
  const [agents, kind] = [Number(asked[0]), asked[1] as Kind]
  reply(Effect.runPromise(Effect.zipRight(concurrent(warmUpAgents, kind), Effect.suspend(() => {
    gc()
    return concurrent(agents, kind)
  }))))
}

/**
 * `layers`: each join provides the runner's and the toolkit's layers (built per agent, as
 * `Effect.provide(model.layer)` does); `context`: the services are built once and every agent
 * shares them (what the agent itself costs).
 */
type Services = "layers" | "context"

const idleAgents = (agents: number, kind: Kind, services: Services = "layers") =>
  Effect.gen(function*() {
    const env = yield* Environment.Environment
    const runner = Layer.succeed(InferenceRunner.InferenceRunner, idleRunner)
    const shared = yield* Layer.build(Layer.merge(runner, Toolkit.empty.layer))
    const provide = <A, E, R>(join: Effect.Effect<A, E, R>) =>
      services === "context"
        ? Effect.provide(join, shared)
        : join.pipe(Effect.provide(runner), Effect.provide(Toolkit.empty.layer))
    yield* quiesce
    gc()
    const heapBefore = process.memoryUsage().heapUsed
    const rssBefore = process.memoryUsage().rss
    const cpu = process.cpuUsage()
    const start = now()
    for (let i = 0; i < agents; i++) {
      yield* provide(env.join(agent({ id: `idle-${i}` }, kind)))
    }
    yield* quiesce
    // The quiet period that ends `quiesce` is not joining time.
    const seconds = (now() - start) / 1000 - 0.2
    const cpuUsed = cpuSeconds(cpu)
    gc()
    const heapAfter = process.memoryUsage().heapUsed
    const rssAfter = process.memoryUsage().rss
    const members = (yield* env.members).length
    if (members !== agents) return yield* Effect.dieMessage(`${members} members, expected ${agents}`)
    return { heap: (heapAfter - heapBefore) / agents, rss: (rssAfter - rssBefore) / agents, seconds, cpu: cpuUsed }
  }).pipe(Effect.provide(Environment.layerMemory()), Effect.scoped)

const narrowMember = (id: string, stream: boolean) => {
  const accepts = (event: Event.Event) => event.payload._tag === "InterruptRequested" && event.payload.participant === id
  return stream
    ? Participant.make({ id, kind: "observer", kinds: ["InterruptRequested"], accepts, run: (inbox) => Stream.runDrain(inbox) })
    : Participant.observer(id, () => Effect.void, { kinds: ["InterruptRequested"], accepts })
}

const churn = (members: number, stream: boolean) =>
  Effect.gen(function*() {
    const env = yield* Environment.Environment
    const cpu = process.cpuUsage()
    const start = now()
    for (let i = 0; i < members; i++) yield* env.join(narrowMember(`member-${i}`, stream))
    const joined = now()
    const timer = yield* Effect.promise(() => {
      const set = now()
      return new Promise<number>((resolve) => setTimeout(() => resolve(now() - set), 1))
    })
    const leaving = now()
    for (let i = 0; i < members; i++) yield* env.leave(`member-${i}`)
    const left = now()
    if ((yield* env.members).length !== 0) return yield* Effect.dieMessage("members left behind")
    return { join: (joined - start) / 1000, leave: (left - leaving) / 1000, timer, cpu: cpuSeconds(cpu) }
  }).pipe(Effect.provide(Environment.layerMemory()), Effect.scoped)

export const membershipBench = async (log: (line: string) => void): Promise<Array<Figure>> => {
  const members = 10_000
  const figures: Array<Figure> = []
  for (const stream of [false, true]) {
    gc()
    const run = await Effect.runPromise(churn(members, stream))
    const suffix = stream ? ".stream" : ""
    log(
      `scale: ${members} ${stream ? "stream-draining participants" : "observers"}: joins in ${run.join.toFixed(2)} s, ` +
        `leaves in ${run.leave.toFixed(2)} s (${run.cpu.toFixed(1)} s CPU); a 1 ms timer after the joins fired after ` +
        `${run.timer.toFixed(1)} ms`
    )
    figures.push(
      {
        name: `scale.${members}-joins-and-leaves${suffix}`,
        unit: "s",
        value: Math.round((run.join + run.leave) * 100) / 100,
        ...(stream ? {} : { target: { text: "< 1 s", holds: run.join + run.leave < 1 } })
      },
      { name: `scale.${members}-joins${suffix}`, unit: "s", value: Math.round(run.join * 100) / 100 },
      { name: `scale.${members}-leaves${suffix}`, unit: "s", value: Math.round(run.leave * 100) / 100 },
      { name: `scale.${members}-members.timer-1ms${suffix}`, unit: "ms", value: Math.round(run.timer * 10) / 10 }
    )
  }
  return figures
}

export const scaleBench = async (log: (line: string) => void): Promise<Array<Figure>> => {
  const figures: Array<Figure> = []
  const streaming = async (agents: number, kind: Kind) => {
    const run = await streamedAlone(agents, kind)
    log(
      `scale: ${agents} ${kind} agents x ${deltasPerAgent} deltas in ${run.seconds.toFixed(2)} s ` +
        `(${run.cpu.toFixed(1)} s CPU), in a fresh process; RSS ${mib(run.before)} MiB before, peak ${mib(run.peak)} MiB ` +
        `sampled, ${mib(run.maxRss)} MiB the process's high-water mark; live heap ${mib(run.heapBefore)} MiB before, ` +
        `${mib(run.heapAfter)} MiB after`
    )
    return run
  }
  const idle = async (agents: number, kind: Kind, services: Services = "layers") => {
    gc()
    const run = await Effect.runPromise(idleAgents(agents, kind, services))
    log(
      `scale: ${agents} idle ${kind} agents (${services}) joined and settled in ${run.seconds.toFixed(2)} s (${run.cpu.toFixed(1)} s CPU); ` +
        `${(run.heap / 1024).toFixed(2)} KiB heap, ${(run.rss / 1024).toFixed(2)} KiB RSS each`
    )
    return run
  }
  const round = (value: number, digits = 0) => Math.round(value * 10 ** digits) / 10 ** digits
  const kib = (bytes: number) => round(bytes / 1024, 2)

  const small = 200
  const smallDefault = await streaming(small, "default")
  const smallLean = await streaming(small, "lean")
  figures.push({ name: `scale.${small}-agents.default.throughput`, unit: "deltas/s", value: round(smallDefault.rate) })
  figures.push({ name: `scale.${small}-agents.default.cpu`, unit: "s", value: round(smallDefault.cpu, 1) })
  figures.push(compare(
    { name: `scale.${small}-agents.lean.throughput`, unit: "deltas/s", value: round(smallLean.rate) },
    { name: "default agents", value: round(smallDefault.rate) }
  ))
  const large = await streaming(1_000, "lean")
  figures.push({ name: "scale.1000-agents.lean.throughput", unit: "deltas/s", value: round(large.rate) })
  // Cost per delta is 1 / throughput: 1,000 agents' cost over 200 agents'.
  figures.push(compare(
    { name: "scale.1000-agents.lean.cost-per-delta", unit: "ns/delta", value: round(1e9 / large.rate) },
    { name: `cost at ${small} agents`, value: round(1e9 / smallLean.rate) },
    { text: `<= 1.5x the cost at ${small} agents`, atMost: 1.5 }
  ))
  figures.push({ name: "scale.1000-agents.lean.cpu", unit: "s", value: round(large.cpu, 1) })
  figures.push({
    name: "scale.1000-agents.lean.peak-rss",
    unit: "MiB",
    value: mib(Math.max(large.peak, large.maxRss)),
    target: { text: "< 500 MiB", holds: Math.max(large.peak, large.maxRss) < 500 * 2 ** 20 }
  })
  figures.push({ name: "scale.1000-agents.lean.rss-rise", unit: "MiB", value: mib(Math.max(large.peak, large.maxRss) - large.before) })

  const idleDefault = await idle(1_000, "default")
  figures.push({
    name: "scale.1000-idle-agents.default.heap",
    unit: "KiB/agent",
    value: kib(idleDefault.heap),
    target: { text: "< 10 KB (9.77 KiB)", holds: idleDefault.heap < 10_000 }
  })
  figures.push({ name: "scale.1000-idle-agents.default.join", unit: "s", value: round(idleDefault.seconds, 2) })
  figures.push({ name: "scale.1000-idle-agents.default.join-cpu", unit: "s", value: round(idleDefault.cpu, 1) })
  const idleLean = await idle(10_000, "lean")
  figures.push({
    name: "scale.10000-idle-agents.lean.heap",
    unit: "KiB/agent",
    value: kib(idleLean.heap),
    target: { text: "< 10 KB (9.77 KiB)", holds: idleLean.heap < 10_000 }
  })
  figures.push({ name: "scale.10000-idle-agents.lean.rss", unit: "KiB/agent", value: kib(idleLean.rss) })
  figures.push({ name: "scale.10000-idle-agents.lean.join", unit: "s", value: round(idleLean.seconds, 2) })
  figures.push({ name: "scale.10000-idle-agents.lean.join-cpu", unit: "s", value: round(idleLean.cpu, 1) })
  const idleShared = await idle(10_000, "default", "context")
  figures.push({
    name: "scale.10000-idle-agents.default.shared-services.join",
    unit: "s",
    value: round(idleShared.seconds, 2),
    target: { text: "< 1 s", holds: idleShared.seconds < 1 }
  })
  figures.push({ name: "scale.10000-idle-agents.default.shared-services.join-cpu", unit: "s", value: round(idleShared.cpu, 1) })
  figures.push({ name: "scale.10000-idle-agents.default.shared-services.heap", unit: "KiB/agent", value: kib(idleShared.heap) })
  return figures
}
