/**
 * @chorus/cluster — Chorus on `@effect/cluster`: environments and agents as entities, journals in Postgres.
 *
 * @since 0.1.0
 */
export * as ClusterAgent from "./ClusterAgent.js"
export * as ClusterEnvironment from "./ClusterEnvironment.js"
export * as ClusterSocket from "./ClusterSocket.js"
export * as Journals from "./Journals.js"
export * as PgJournal from "./PgJournal.js"
