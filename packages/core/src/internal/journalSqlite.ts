/**
 * The SQL journal on a SQLite file, through `@effect/sql-sqlite-node`.
 * Loaded on demand by `Journal.layerSqlite`, so the native driver is loaded
 * only by applications that use it.
 *
 * @internal
 */
import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import { Cause, Layer } from "effect"
import * as Journal from "../Journal.js"
import * as JournalSql from "./journalSql.js"

/** The SQL journal on a SQLite file that this layer opens and closes. */
export const layerSqlite = (options: Journal.SqliteOptions): Layer.Layer<Journal.Journal, Journal.JournalError | Journal.JournalCorrupted> =>
  Layer.effect(Journal.Journal, JournalSql.make(options)).pipe(
    Layer.provide(
      SqliteClient.layer({ filename: options.filename }).pipe(
        // better-sqlite3 throws when the file cannot be opened (missing directory, not a database...).
        Layer.catchAllCause((cause) => {
          const error = Cause.squash(cause)
          return Layer.fail(
            new Journal.JournalError({
              operation: "open",
              detail: `${options.filename}: ${error instanceof Error ? error.message : Cause.pretty(cause)}`,
              cause: error
            })
          )
        })
      )
    )
  )
