/**
 * Fan-out: the same 200,000 text-delta payloads published one by one through
 * the Environment and through a bare, unbounded Effect `PubSub`, to 1, 10 and
 * 100 subscribers that each count what they receive, chunk by chunk.
 *
 * The Environment does what it always does: it stamps each payload into an
 * `Event` (sequence, author, `Clock` timestamp), hands it to the in-memory
 * journal's writer and to every subscriber's mailbox. The `PubSub` side
 * publishes the payloads as they are: it is the limit of this design. The
 * clock starts before the first publish and stops when every subscriber has
 * counted every event. One warm-up round, then rounds alternating the
 * sides; the median is reported.
 *
 * A third side, `pubsub-stamped`, is the bare `PubSub` carrying what the
 * Environment carries: its publisher stamps each payload into a new `Event`
 * (sequence, author, `Clock` time) before publishing it. It is the floor of
 * any design that stamps what it publishes, and shows what the comparison
 * with the bare `PubSub` is made of: a new object per event that subscribers
 * hold until they have read it costs garbage collection (V8 promotes most of
 * those alive at a young-generation collection, and Effect's `Stream` keeps
 * the last chunk it emitted until the next one), where the bare `PubSub`
 * hands out payloads that already exist.
 *
 * Beside the wall-clock rate, `.cpu` is the
 * rate per CPU-second of the process (every thread: garbage collection too):
 * on a shared, loaded machine the wall-clock ratio also measures how the
 * operating system shared the cores during each round; the CPU ratio only
 * what each side costs.
 */
import { Chunk, Deferred, Effect, Fiber, PubSub, Stream } from "effect"
import type { Scope } from "effect"
import { Environment, Event } from "@chorus/core"
import { compare, type Figure, gc, median, now } from "./support.js"

const events = 200_000
const subscriberCounts = [1, 10, 100] as const
const rounds = 5

const payloads: ReadonlyArray<Event.Payload> = Array.from(
  { length: events },
  (_, i) => new Event.TextDelta({ itemId: `msg_${i >> 12}`, contentIndex: 0, delta: `token${i & 1023} ` })
)

const totalText = payloads.reduce((sum, payload) => sum + (payload as Event.TextDelta).delta.length, 0)

/**
 * Reads the stream chunk by chunk, adding up the text of the deltas it
 * receives, and resolves `done` once it has all of it: a lagging Environment
 * subscriber may receive deltas coalesced (fewer events, the same text).
 */
const consume = <A, E>(
  stream: Stream.Stream<A, E>,
  deltaOf: (element: A) => Event.TextDelta,
  done: Deferred.Deferred<number>
): Effect.Effect<Fiber.RuntimeFiber<void, E>, never, Scope.Scope> => {
  let text = 0
  let received = 0
  return stream.pipe(
    Stream.runForEachChunk((chunk) =>
      Effect.suspend(() => {
        for (const element of chunk) text += deltaOf(element).delta.length
        received += Chunk.size(chunk)
        return text === totalText ? Deferred.succeed(done, received) : Effect.void
      })
    ),
    Effect.forkScoped
  )
}

interface Round {
  /** Published events per second, until every subscriber had everything. */
  readonly rate: number
  /** Published events per CPU-second of the process (set by `runSide`). */
  readonly cpuRate?: number
  /** Events each subscriber received, on average (fewer than published when deltas were coalesced). */
  readonly received: number
}

const finish = (start: number, done: ReadonlyArray<Deferred.Deferred<number>>) =>
  Effect.map(Effect.forEach(done, Deferred.await), (received): Round => ({
    rate: events / ((now() - start) / 1000),
    received: received.reduce((sum, n) => sum + n, 0) / received.length
  }))

/** One round through the Environment (`coalesceAfter` as given, the default when undefined). */
const throughEnvironment = (subscribers: number, coalesceAfter: number | undefined) =>
  Effect.gen(function*() {
    const env = yield* Environment.Environment
    const done = yield* Effect.forEach(Array.from({ length: subscribers }), () => Deferred.make<number>())
    for (const deferred of done) {
      const subscription = yield* env.subscribe()
      yield* consume(subscription.stream, (event) => event.payload as Event.TextDelta, deferred)
    }
    const start = now()
    for (const payload of payloads) yield* env.publish("bench", payload)
    return yield* finish(start, done)
  }).pipe(Effect.provide(Environment.layerMemory({ coalesceAfter })), Effect.scoped)

/** One round through a bare unbounded PubSub, of the payloads as they are or (`stamped`) of a new `Event` for each. */
const throughPubSub = (subscribers: number, stamped: boolean) =>
  Effect.gen(function*() {
    const pubsub = yield* PubSub.unbounded<Event.Payload | Event.Event>()
    const done = yield* Effect.forEach(Array.from({ length: subscribers }), () => Deferred.make<number>())
    const deltaOf = (element: Event.Payload | Event.Event) =>
      (element instanceof Event.Event ? element.payload : element) as Event.TextDelta
    for (const deferred of done) {
      // Subscribed before anything is published (EFFECT_NOTES: a lazy subscription loses messages).
      const queue = yield* PubSub.subscribe(pubsub)
      yield* consume(Stream.fromQueue(queue), deltaOf, deferred)
    }
    const clock = yield* Effect.clock
    const start = now()
    if (stamped) {
      let sequence = 0
      for (const payload of payloads) {
        const event = Event.unsafeMake({ sequence: sequence++, author: "bench", timestamp: clock.unsafeCurrentTimeMillis(), payload })
        yield* PubSub.publish(pubsub, event)
      }
    } else {
      for (const payload of payloads) yield* PubSub.publish(pubsub, payload)
    }
    return yield* finish(start, done)
  }).pipe(Effect.scoped)

type Side = "environment" | "environment-uncoalesced" | "pubsub" | "pubsub-stamped"

const runSide = async (side: Side, subscribers: number): Promise<Round> => {
  const cpu = process.cpuUsage()
  const round = await runRound(side, subscribers)
  const used = process.cpuUsage(cpu)
  return { ...round, cpuRate: events / ((used.user + used.system) / 1e6) }
}

const runRound = (side: Side, subscribers: number): Promise<Round> => {
  switch (side) {
    case "environment":
      return Effect.runPromise(throughEnvironment(subscribers, undefined))
    case "environment-uncoalesced":
      return Effect.runPromise(throughEnvironment(subscribers, Number.POSITIVE_INFINITY))
    case "pubsub":
      return Effect.runPromise(throughPubSub(subscribers, false))
    case "pubsub-stamped":
      return Effect.runPromise(throughPubSub(subscribers, true))
  }
}

/** Runs the fan-out benchmark. */
export const fanoutBench = async (log: (line: string) => void): Promise<Array<Figure>> => {
  const figures: Array<Figure> = []
  const sides: ReadonlyArray<Side> = ["environment", "environment-uncoalesced", "pubsub", "pubsub-stamped"]
  for (const subscribers of subscriberCounts) {
    const results = new Map<Side, Array<Round>>(sides.map((side) => [side, []]))
    // Warm-up round, not counted.
    for (const side of sides) await runSide(side, subscribers)
    for (let round = 0; round < rounds; round++) {
      // Each round starts with a different side.
      const order = sides.map((_, i) => sides[(i + round) % sides.length]!)
      for (const side of order) {
        gc()
        results.get(side)!.push(await runSide(side, subscribers))
      }
    }
    const rate = (side: Side) => median(results.get(side)!.map((round) => round.rate))
    const cpuRate = (side: Side) => median(results.get(side)!.map((round) => round.cpuRate ?? 0))
    const received = (side: Side) => median(results.get(side)!.map((round) => round.received))
    log(
      `fan-out, ${subscribers} subscriber(s): ` +
        sides.map((side) => `${side} ${results.get(side)!.map((round) => Math.round(round.rate)).join("/")}`).join("; ") +
        ` events/s; default environment delivered ${Math.round(received("environment"))} events per subscriber; per CPU-second ` +
        sides.map((side) => `${side} ${Math.round(cpuRate(side))}`).join(", ")
    )
    const baseline = { name: "bare PubSub", value: rate("pubsub") }
    figures.push(compare(
      { name: `fanout.environment.${subscribers}-subscribers`, unit: "events/s", value: rate("environment") },
      baseline,
      subscribers <= 10 ? { text: ">= 0.8x bare PubSub", atLeast: 0.8 } : undefined
    ))
    figures.push(compare(
      { name: `fanout.environment-uncoalesced.${subscribers}-subscribers`, unit: "events/s", value: rate("environment-uncoalesced") },
      baseline,
      subscribers <= 10 ? { text: ">= 0.8x bare PubSub", atLeast: 0.8 } : undefined
    ))
    figures.push(compare(
      { name: `fanout.environment.${subscribers}-subscribers.cpu`, unit: "events/CPU-s", value: cpuRate("environment") },
      { name: "bare PubSub", value: cpuRate("pubsub") }
    ))
    figures.push(compare(
      { name: `fanout.pubsub-stamped.${subscribers}-subscribers`, unit: "events/s", value: rate("pubsub-stamped") },
      baseline
    ))
    figures.push(compare(
      { name: `fanout.environment.${subscribers}-subscribers.vs-stamped`, unit: "events/s", value: rate("environment") },
      { name: "PubSub of stamped events", value: rate("pubsub-stamped") }
    ))
    figures.push({
      name: `fanout.environment.${subscribers}-subscribers.delivered`,
      unit: "events/subscriber",
      value: received("environment")
    })
  }
  return figures
}
