/**
 * @chorus/cluster — Chorus on `@effect/cluster`: environments as entities, journals in Postgres.
 *
 * @since 0.1.0
 */
export * as PgJournal from "./PgJournal.js"
