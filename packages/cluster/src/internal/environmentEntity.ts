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
import { Entity } from "@effect/cluster"
import { Rpc } from "@effect/rpc"
import type { Duration } from "effect"
import { Clock, Effect, Option, Random, Schema, Stream } from "effect"
import { Environment, Event, Journal } from "@chorus/core"
import * as Journals from "../Journals.js"

const JournalFailure = Schema.Union(Journal.JournalError, Journal.JournalCorrupted)

const Member = Schema.Struct({ id: Schema.String, kind: Event.ParticipantKind })

/** The protocol of an environment entity. */
export const EnvironmentEntity = Entity.make("chorus/Environment", [
  // `instance` names the entity instance that stamped the events (a new one after a move or a passivation).
  Rpc.make("Publish", {
    payload: { author: Schema.String, payloads: Schema.Array(Event.Payload) },
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
  Rpc.make("Join", {
    payload: { participant: Schema.String, kind: Event.ParticipantKind },
    success: Schema.Number,
    error: Environment.ParticipantAlreadyJoined
  }),
  Rpc.make("Leave", { payload: { participant: Schema.String } }),
  Rpc.make("Members", { success: Schema.Array(Member) }),
  Rpc.make("Where", { success: Schema.String })
])

/** Who is in the environment: one fold for the journal's history and for live events. */
export const foldMembers = (
  members: Map<string, Event.ParticipantKind>,
  kinds: Map<string, Event.ParticipantKind>,
  event: Event.Event
): void => {
  const payload = event.payload
  switch (payload._tag) {
    case "ParticipantJoined":
      members.set(payload.participant, payload.kind)
      kinds.set(payload.participant, payload.kind)
      return
    case "ParticipantLeft":
    case "ParticipantFailed":
      members.delete(payload.participant)
      return
    case "ParticipantRestarted": {
      const kind = kinds.get(payload.participant)
      if (kind !== undefined) members.set(payload.participant, kind)
      return
    }
  }
}

/** Options of the entity. */
export interface Options extends Environment.Options {
  /** An environment with no request for this long is passivated (its events stay in the journal). Default 1 minute. */
  readonly maxIdleTime?: Duration.DurationInput | undefined
}

const handlers = (options: Options) =>
  Effect.gen(function*() {
    const { entityId } = yield* Entity.CurrentAddress
    const runner = yield* Entity.CurrentRunnerAddress
    const instance = `${runner.host}:${runner.port}/${yield* Clock.currentTimeMillis}/${yield* Random.nextInt}`
    const journal = yield* Effect.orDie(Effect.flatMap(Journals.Journals, (journals) => journals.open(entityId)))
    const env = yield* Environment.make(options).pipe(Effect.provideService(Journal.Journal, journal), Effect.orDie)

    // Owned by this instance; with the entity's concurrency of 1 only one handler touches them at a time.
    const members = new Map<string, Event.ParticipantKind>()
    const kinds = new Map<string, Event.ParticipantKind>()
    yield* Stream.runForEach(journal.read(), (event) => Effect.sync(() => foldMembers(members, kinds, event))).pipe(
      Effect.orDie
    )
    const publishAll = (author: string, payloads: Iterable<Event.Payload>) =>
      Effect.map(env.publishAll(author, payloads), (events) => {
        for (const event of events) foldMembers(members, kinds, event)
        return events
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
      Publish: ({ payload }) => Effect.map(publishAll(payload.author, payload.payloads), (events) => ({ instance, events })),
      Subscribe: ({ payload }) =>
        Rpc.fork(Stream.unwrapScoped(Effect.map(env.subscribe({ from: payload.from }), (subscription) =>
          subscription.stream.pipe(
            Stream.filter((event) => event.sequence >= payload.from),
            Stream.mapChunksEffect((chunk) => Effect.as(env.flush, chunk))
          )))),
      Flush: ({ payload }) => Rpc.fork(Effect.zipRight(env.flush, Effect.forEach(payload.published, kept, { discard: true }))),
      LastSequence: () => env.lastSequence,
      Join: ({ payload }) =>
        members.has(payload.participant)
          ? Effect.fail(new Environment.ParticipantAlreadyJoined({ participant: payload.participant }))
          : Effect.map(
            publishAll(Environment.author, [new Event.ParticipantJoined({ participant: payload.participant, kind: payload.kind })]),
            (events) => events[0]!.sequence
          ),
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
