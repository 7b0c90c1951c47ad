/**
 * Where clustered environments keep their journals: a service that opens the journal of an environment by its
 * id, on whichever runner the cluster places that environment.
 *
 * - {@link layerMemory}: journals in this process's memory (single-process tests: they survive an entity's
 *   passivation, not the process).
 * - `PgJournal.layer`: every environment's journal in one Postgres table, for runners on several machines.
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer } from "effect"
import { Journal } from "@chorus/core"

/** Opens the journal of an environment. */
export interface Service {
  readonly open: (environmentId: string) => Effect.Effect<Journal.Service, Journal.JournalError | Journal.JournalCorrupted>
}

/** The journals tag. */
export class Journals extends Context.Tag("@chorus/cluster/Journals")<Journals, Service>() {}

/** Journals in memory, one per environment id, kept for the life of the layer. */
export const layerMemory: Layer.Layer<Journals> = Layer.sync(Journals, () => {
  const journals = new Map<string, Journal.Service>()
  return Journals.of({
    open: (environmentId) =>
      Effect.suspend(() => {
        const existing = journals.get(environmentId)
        if (existing !== undefined) return Effect.succeed(existing)
        return Effect.tap(Journal.makeMemory, (journal) => Effect.sync(() => journals.set(environmentId, journal)))
      })
  })
})

/** The journal of one environment, as core's `Journal` (an environment in one process on these journals). */
export const layerJournal = (
  environmentId: string
): Layer.Layer<Journal.Journal, Journal.JournalError | Journal.JournalCorrupted, Journals> =>
  Layer.effect(Journal.Journal, Effect.flatMap(Journals, (journals) => journals.open(environmentId)))
