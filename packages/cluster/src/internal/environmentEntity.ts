/**
 * The environment as an entity: one live instance per environment id in the whole cluster, which owns the
 * sequence and the journal. Its handlers run core's own `Environment.make` on the journal the `Journals`
 * service opens for that id, so stamping, journaling, replay and coalescing are core's, unchanged.
 *
 * Subscriber streams are durable before visible: a chunk leaves the entity only once it is in the journal, so
 * a subscriber never sees an event that a runner's death could take back.
 *
 * @internal
 */
import { Entity, Sharding } from "@effect/cluster"
import { Rpc } from "@effect/rpc"
import { Chunk, Clock, Deferred, Duration, Effect, Option, Random, Schedule, Schema, Stream } from "effect"
import { Environment, Event, Journal } from "@chorus/core"
import * as Journals from "../Journals.js"
import { AgentEntity, agentEntityId, AgentRegistry, isBusy, mayWake, wakes } from "./agentProtocol.js"
import { deliver } from "./retry.js"

const JournalFailure = Schema.Union(Journal.JournalError, Journal.JournalCorrupted)

const Member = Schema.Struct({ id: Schema.String, kind: Event.ParticipantKind })

/** The protocol of an environment entity. */
export const EnvironmentEntity = Entity.make("chorus/Environment", [
  // `instance` names the entity instance that stamped the events (a new one after a move or a passivation).
  // `key`: the caller's idempotency key; a publish retried with the same key is applied once (see Journals).
  Rpc.make("Publish", {
    payload: { author: Schema.String, payloads: Schema.Array(Event.Payload), key: Schema.optional(Schema.String) },
    success: Schema.Struct({ instance: Schema.String, events: Schema.Array(Event.Event) })
  }),
  Rpc.make("Subscribe", {
    payload: { from: Schema.NonNegativeInt },
    success: Event.Event,
    error: JournalFailure,
    stream: true
  }),
  // `published`: the last event the caller published through each instance since its last flush. An instance
  // writes a prefix of what it stamped, so if that event is in the journal, so is everything the instance
  // stamped before it; if its runner died before writing it, the sequence may belong to another event now,
  // and flush fails rather than let the caller believe it is kept.
  Rpc.make("Flush", { payload: { published: Schema.Array(Event.Event) }, error: Journal.JournalError }),
  Rpc.make("LastSequence", { success: Schema.Number }),
  // `rejoin`: a hosted agent taking its place again after its entity was passivated or moved (a member already).
  Rpc.make("Join", {
    payload: { participant: Schema.String, kind: Event.ParticipantKind, rejoin: Schema.optional(Schema.Boolean) },
    // `seen`, on a rejoin: the last event the participant published or joined at (later ones are news to it).
    success: Schema.Struct({ sequence: Schema.Number, seen: Schema.optional(Schema.Number) }),
    error: Environment.ParticipantAlreadyJoined
  }),
  Rpc.make("Leave", { payload: { participant: Schema.String } }),
  Rpc.make("Members", { success: Schema.Array(Member) }),
  Rpc.make("Where", { success: Schema.String })
])

/**
 * Who is in the environment, the last event each participant published or joined at, the last event of a
 * waking kind (see `mayWake`) each author published, the agents whose last state is busy (inference, function
 * calls) and when each author last published.
 */
export interface Roster {
  readonly members: Map<string, Event.ParticipantKind>
  readonly kinds: Map<string, Event.ParticipantKind>
  readonly lastSeen: Map<string, number>
  readonly lastWaking: Map<string, number>
  readonly busy: Set<string>
  readonly lastAt: Map<string, number>
}

export const emptyRoster = (): Roster => ({
  members: new Map(),
  kinds: new Map(),
  lastSeen: new Map(),
  lastWaking: new Map(),
  busy: new Set(),
  lastAt: new Map()
})

/** Member agents whose last state is busy and that published nothing since `before` (ms): their run may be cut. */
export const stalled = (roster: Roster, before: number): Array<string> =>
  [...roster.busy].filter((agent) => roster.members.get(agent) === "agent" && (roster.lastAt.get(agent) ?? 0) < before)

/** Whether someone else published an event that may make `agent` act after it last published or joined. */
export const wakePending = (roster: Roster, agent: string): boolean => {
  const seen = roster.lastSeen.get(agent) ?? -1
  for (const [author, sequence] of roster.lastWaking) if (author !== agent && sequence > seen) return true
  return false
}

/** One fold for the journal's history and for live events. */
export const foldRoster = (roster: Roster, event: Event.Event): void => {
  const { busy, kinds, lastAt, lastSeen, lastWaking, members } = roster
  if (kinds.has(event.author)) lastSeen.set(event.author, event.sequence)
  if (mayWake(event)) lastWaking.set(event.author, event.sequence)
  lastAt.set(event.author, event.timestamp)
  const payload = event.payload
  switch (payload._tag) {
    case "StateChanged":
      if (isBusy(payload.to)) busy.add(payload.participant)
      else busy.delete(payload.participant)
      return
    case "ParticipantJoined":
      members.set(payload.participant, payload.kind)
      kinds.set(payload.participant, payload.kind)
      lastSeen.set(payload.participant, event.sequence)
      lastAt.set(payload.participant, event.timestamp)
      return
    case "ParticipantLeft":
    case "ParticipantFailed":
      members.delete(payload.participant)
      busy.delete(payload.participant)
      return
    case "ParticipantRestarted": {
      const kind = kinds.get(payload.participant)
      if (kind !== undefined) members.set(payload.participant, kind)
      lastSeen.set(payload.participant, event.sequence)
      lastAt.set(payload.participant, event.timestamp)
      return
    }
  }
}

/** Options of the entity. */
export interface Options extends Environment.Options {
  /** An environment with no request for this long is passivated (its events stay in the journal). Default 1 minute. */
  readonly maxIdleTime?: Duration.DurationInput | undefined
  /** How many keyed publishes it remembers (a retry older than that is applied again). Default 10,000. */
  readonly publishKeys?: number | undefined
  /** How often an instance with subscribers checks that its runner still owns it. Default 500 ms. */
  readonly releaseCheckInterval?: Duration.DurationInput | undefined
  /** A busy hosted agent that publishes nothing for this long is woken, and again every as long (see `stalled`). Default 15 s. */
  readonly stallTime?: Duration.DurationInput | undefined
}

const handlers = (options: Options) =>
  Effect.gen(function*() {
    const { entityId } = yield* Entity.CurrentAddress
    const runner = yield* Entity.CurrentRunnerAddress
    const instance = `${runner.host}:${runner.port}/${yield* Clock.currentTimeMillis}/${yield* Random.nextInt}`
    // Publish keys: the last `publishKeys` keyed publishes applied, rebuilt from the journal (which writes each
    // key with its publish's first event), so a retry after a move or a passivation is applied once too.
    const journals = yield* Journals.Journals
    const pending = new Map<number, Journals.PublishKey>()
    const journal = yield* Effect.orDie(journals.open(entityId, { at: (sequence) => pending.get(sequence) }))
    const maxKeys = options.publishKeys ?? 10_000
    const applied = new Map<string, Journals.PublishKey>()
    const remember = (key: Journals.PublishKey) => {
      applied.set(key.key, key)
      if (applied.size > maxKeys) applied.delete(applied.keys().next().value!)
    }
    for (const key of yield* Effect.orDie(journals.recentKeys(entityId, maxKeys))) remember(key)
    const env = yield* Environment.make(options).pipe(Effect.provideService(Journal.Journal, journal), Effect.orDie)

    // Owned by this instance; with the entity's concurrency of 1 only one handler touches them at a time.
    const roster = emptyRoster()
    const members = roster.members
    yield* Stream.runForEach(journal.read(), (event) => Effect.sync(() => foldRoster(roster, event))).pipe(Effect.orDie)
    // Hosted agents (members of kind agent that this node's registry names) are woken by the events that may
    // make them act: their entity rebuilds them wherever the cluster places it. One wake in flight per agent.
    const registry = yield* Effect.serviceOption(AgentRegistry)
    const agents = yield* AgentEntity.client
    const waking = new Set<string>()
    const scope = yield* Effect.scope
    const wakeAll = (woken: ReadonlyArray<string>) =>
      Effect.forEach(woken, (id) => {
        waking.add(id)
        // Sent again when the cluster cuts it, or when it gets no answer (the agent's runner died with the wake
        // in flight): a lost wake left an answered approval unseen, as no other event would come.
        return deliver(Effect.suspend(() => agents(agentEntityId(entityId, id)).Wake()), { scope }).pipe(
          Effect.tap((where) => Effect.logDebug(`environment ${entityId}: woke agent ${id} on ${where}`)),
          Effect.catchAllCause((cause) => Effect.logWarning(`environment ${entityId}: waking agent ${id} failed`, cause)),
          Effect.ensuring(Effect.sync(() => waking.delete(id))),
          Effect.forkIn(scope)
        )
      }, { discard: true })
    const hosted = (id: string, kind: Event.ParticipantKind) =>
      kind === "agent" && !waking.has(id) && Option.isSome(registry) && registry.value.agents.has(id)
    const wake = (events: ReadonlyArray<Event.Event>) =>
      Effect.suspend(() => {
        const woken: Array<string> = []
        for (const [id, kind] of members) {
          if (hosted(id, kind) && events.some((event) => wakes(id, event))) woken.push(id)
        }
        return wakeAll(woken)
      })
    // A wake in flight dies with the instance that sent it (its fibers are in this scope): when a move or a
    // passivation closed that instance before the agent answered, nothing else would wake the agent. So a new
    // instance wakes every hosted agent that has not published nor joined since an event that may make it act.
    yield* wakeAll([...members].filter(([id, kind]) => hosted(id, kind) && (wakePending(roster, id) || roster.busy.has(id))).map(([id]) => id))
    // A busy agent that has gone silent may have lost its run: its keep-alive (see agentEntity.ts) is what brings
    // it back when its runner dies or its shard moves, but the cluster can mark that keep-alive processed while the
    // agent still runs (delivered twice to the same instance, as a runner refreshes its shards, the second
    // delivery is answered at once). A wake reaches it wherever its shard is now: a live instance answers it at
    // once, a lost one is rebuilt and resumes (the cut run ends interrupted). Woken again every `stallTime`.
    const stallTime = Duration.toMillis(options.stallTime ?? "15 seconds")
    const stallWoken = new Map<string, number>()
    const wakeStalled = Effect.flatMap(Clock.currentTimeMillis, (now) => {
      const woken = stalled(roster, now - stallTime).filter((id) =>
        hosted(id, "agent") && (stallWoken.get(id) ?? Number.NEGATIVE_INFINITY) <= now - stallTime
      )
      for (const id of woken) stallWoken.set(id, now)
      return wakeAll(woken)
    })
    yield* wakeStalled.pipe(Effect.repeat(Schedule.spaced(Math.max(stallTime / 3, 100))), Effect.delay(Math.max(stallTime / 3, 100)), Effect.forkIn(scope))

    const publishAll = (author: string, payloads: Iterable<Event.Payload>) =>
      Effect.flatMap(env.publishAll(author, payloads), (events) => {
        for (const event of events) foldRoster(roster, event)
        return Effect.as(wake(events), events)
      })

    // Completed once this runner no longer owns the instance's shard (a move, a shutdown). The cluster closes
    // an instance only when its open requests end, or after `entityTerminationTimeout` (15 s): a subscriber's
    // stream never ends by itself, so it ends here. Polled, one fiber per instance, while there are subscribers.
    const leaving = yield* Deferred.make<void>()
    const sharding = yield* Sharding.Sharding
    const { shardId } = yield* Entity.CurrentAddress
    const interval = options.releaseCheckInterval ?? "500 millis"
    let watching = false
    const leavingWatched = Effect.suspend(() => {
      if (watching) return Deferred.await(leaving)
      watching = true
      const watch = Effect.gen(function*() {
        while (sharding.hasShardId(shardId)) yield* Effect.sleep(interval)
        yield* Deferred.succeed(leaving, undefined)
      })
      return Effect.zipRight(Effect.forkIn(watch, scope), Deferred.await(leaving))
    })
    const encode = Schema.encodeSync(Schema.parseJson(Event.Event))
    const kept = (event: Event.Event) =>
      Stream.runHead(journal.read({ from: event.sequence, to: event.sequence })).pipe(
        Effect.mapError((error) => new Journal.JournalError({ operation: "flush", detail: error.message, cause: error })),
        Effect.flatMap((stored) =>
          Option.isSome(stored) && encode(stored.value) === encode(event) ? Effect.void : Effect.fail(
            new Journal.JournalError({
              operation: "flush",
              detail: `event ${event.sequence} of environment ${entityId} was lost: its runner stopped before writing it`
            })
          )
        )
      )

    return EnvironmentEntity.of({
      Publish: ({ payload }) => {
        const key = payload.key
        if (key === undefined) return Effect.map(publishAll(payload.author, payload.payloads), (events) => ({ instance, events }))
        const seen = applied.get(key)
        // Applied already: the same events again, once they are in the journal.
        if (seen !== undefined) {
          return env.flush.pipe(
            Effect.zipRight(Stream.runCollect(journal.read({ from: seen.sequence, to: seen.sequence + seen.count - 1 }))),
            Effect.map((events) => ({ instance, events: Chunk.toReadonlyArray(events) })),
            Effect.orDie
          )
        }
        return Effect.gen(function*() {
          const written = yield* Effect.orDie(journal.lastSequence)
          for (const sequence of pending.keys()) if (sequence <= written) pending.delete(sequence)
          const first = (yield* env.lastSequence) + 1
          const stamped = { key, sequence: first, count: payload.payloads.length }
          if (stamped.count > 0) pending.set(first, stamped)
          const events = yield* publishAll(payload.author, payload.payloads)
          remember(stamped)
          return { instance, events }
        })
      },
      Subscribe: ({ payload }) =>
        Rpc.fork(Stream.unwrapScoped(Effect.map(env.subscribe({ from: payload.from }), (subscription) =>
          subscription.stream.pipe(
            Stream.filter((event) => event.sequence >= payload.from),
            Stream.mapChunksEffect((chunk) => Effect.as(env.flush, chunk)),
            // Ends when this runner gives the environment up: its client subscribes again from its cursor,
            // wherever the environment goes, and the instance closes without waiting for its subscribers.
            Stream.interruptWhen(leavingWatched)
          )))),
      Flush: ({ payload }) => Rpc.fork(Effect.zipRight(env.flush, Effect.forEach(payload.published, kept, { discard: true }))),
      LastSequence: () => env.lastSequence,
      Join: ({ payload }) => {
        const rejoining = payload.rejoin === true && members.get(payload.participant) === payload.kind
        if (members.has(payload.participant) && !rejoining) {
          return Effect.fail(new Environment.ParticipantAlreadyJoined({ participant: payload.participant }))
        }
        // What was published after it last published (or joined) reaches it as live, not as history: it did not
        // see it before it stopped (an approval answered while a passivated agent slept decides, as if live).
        const seen = rejoining ? roster.lastSeen.get(payload.participant) : undefined
        return Effect.map(
          publishAll(Environment.author, [new Event.ParticipantJoined({ participant: payload.participant, kind: payload.kind })]),
          (events) => ({ sequence: events[0]!.sequence, seen })
        )
      },
      Leave: ({ payload }) =>
        members.has(payload.participant)
          ? Effect.asVoid(publishAll(Environment.author, [new Event.ParticipantLeft({ participant: payload.participant })]))
          : Effect.void,
      Members: () => Effect.sync(() => [...members].map(([id, kind]) => ({ id, kind }))),
      Where: () => Effect.succeed(`${runner.host}:${runner.port}`)
    })
  })

/** The entity's handlers, to register on every runner. */
export const layer = (options?: Options) =>
  EnvironmentEntity.toLayer(handlers(options ?? {}), { maxIdleTime: options?.maxIdleTime ?? "1 minute" })
