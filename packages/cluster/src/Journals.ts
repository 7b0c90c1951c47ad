/**
 * Where clustered environments keep their journals: a service that opens the journal of an environment by its
 * id, on whichever runner the cluster places that environment.
 *
 * - {@link layerMemory}: journals in this process's memory (single-process tests: they survive an entity's
 *   passivation, not the process).
 * - `PgJournal.layer`: every environment's journal in one Postgres table, for runners on several machines.
 *
 * Publish keys: a clustered environment stamps each publish with its caller's idempotency key, and the journal
 * writes the key with the first event of the publish, in the same append, so an environment rebuilt on another
 * runner still knows which publishes it applied (see {@link PublishKey}).
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer } from "effect"
import { Journal } from "@chorus/core"

/** A publish's idempotency key: its first event's sequence and how many events it stamped. */
export interface PublishKey {
  readonly key: string
  readonly sequence: number
  readonly count: number
}

/** How an opened journal learns the publish keys of the events it appends. */
export interface Keys {
  /** The key of the publish whose first event has this sequence. */
  readonly at: (sequence: number) => PublishKey | undefined
}

/** Opens the journal of an environment. */
export interface Service {
  /** With `keys`, each appended event that starts a keyed publish is written with its key. */
  readonly open: (
    environmentId: string,
    keys?: Keys
  ) => Effect.Effect<Journal.Service, Journal.JournalError | Journal.JournalCorrupted>
  /** The keys of the last `limit` keyed publishes written for the environment, oldest first. */
  readonly recentKeys: (
    environmentId: string,
    limit: number
  ) => Effect.Effect<ReadonlyArray<PublishKey>, Journal.JournalError>
}

/** The journals tag. */
export class Journals extends Context.Tag("@chorus/cluster/Journals")<Journals, Service>() {}

/** Journals in memory, one per environment id, kept for the life of the layer. */
export const layerMemory: Layer.Layer<Journals> = Layer.sync(Journals, () => {
  const journals = new Map<string, Journal.Service>()
  const written = new Map<string, Array<PublishKey>>()
  const keysOf = (environmentId: string) => {
    let keys = written.get(environmentId)
    if (keys === undefined) written.set(environmentId, keys = [])
    return keys
  }
  return Journals.of({
    open: (environmentId, keys) =>
      Effect.gen(function*() {
        let journal = journals.get(environmentId)
        if (journal === undefined) {
          journal = yield* Journal.makeMemory
          journals.set(environmentId, journal)
        }
        if (keys === undefined) return journal
        const inner = journal
        // The keys are recorded once the append succeeded, as a database writes them in the same statement.
        return {
          ...inner,
          append: (events) =>
            Effect.tap(inner.append(events), () =>
              Effect.sync(() => {
                for (const event of events) {
                  const key = keys.at(event.sequence)
                  if (key !== undefined) keysOf(environmentId).push(key)
                }
              }))
        } satisfies Journal.Service
      }),
    recentKeys: (environmentId, limit) => Effect.sync(() => keysOf(environmentId).slice(-limit))
  })
})

/** The journal of one environment, as core's `Journal` (an environment in one process on these journals). */
export const layerJournal = (
  environmentId: string
): Layer.Layer<Journal.Journal, Journal.JournalError | Journal.JournalCorrupted, Journals> =>
  Layer.effect(Journal.Journal, Effect.flatMap(Journals, (journals) => journals.open(environmentId)))
