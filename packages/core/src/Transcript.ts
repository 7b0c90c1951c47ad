/**
 * Transcripts in and out: export an environment's items as OpenResponses
 * input items (JSON), and start a new environment from such a file.
 *
 * Items in progress are not exported; every other item keeps its id, author
 * and status (the `chorus` extension of the wire shape), so a transcript
 * exported and imported again gives the same items.
 *
 * @since 0.1.0
 */
import { Effect, ParseResult, Schema } from "effect"
import * as ContextItem from "./ContextItem.js"
import * as Environment from "./Environment.js"
import * as Event from "./Event.js"
import * as Reducer from "./Reducer.js"

/** A transcript file could not be read as OpenResponses input items. */
export class TranscriptInvalid extends Schema.TaggedError<TranscriptInvalid>()("TranscriptInvalid", {
  detail: Schema.String
}) {
  override get message() {
    return `invalid transcript: ${this.detail}`
  }
}

/** A transcript: a JSON array of OpenResponses input items. */
export const Json = Schema.parseJson(Schema.Array(ContextItem.Wire))

/** The finished items of the environment, in order. */
export const items = Effect.gen(function*() {
  const env = yield* Environment.Environment
  const state = yield* env.snapshot(Reducer.transcript)
  return Reducer.items(state).filter((item) => item.status !== "in_progress")
})

/** The environment's transcript as OpenResponses input items, JSON-encoded. */
export const exportJson = Effect.flatMap(items, (all) => Effect.orDie(Schema.encode(Json)(all)))

/** Reads a transcript from JSON; garbage is a {@link TranscriptInvalid} naming what is wrong. */
export const decodeJson = (json: string): Effect.Effect<ReadonlyArray<ContextItem.ContextItem>, TranscriptInvalid> =>
  Schema.decodeUnknown(Json, { errors: "all" })(json).pipe(
    Effect.mapError((error) => new TranscriptInvalid({ detail: ParseResult.TreeFormatter.formatErrorSync(error) }))
  )

/**
 * Publishes items into the environment, each as added then done by its
 * author, so that agents joining afterwards resume with them as context.
 */
export const seed = (items: ReadonlyArray<ContextItem.ContextItem>) =>
  Effect.gen(function*() {
    const env = yield* Environment.Environment
    for (const item of items) {
      yield* env.publishAll(item.author, [
        new Event.ItemAdded({ item, runId: null }),
        new Event.ItemDone({ item, runId: null })
      ])
    }
  })

/** Starts from a transcript file's JSON: decodes it and seeds the environment with its items. */
export const importJson = (json: string) => Effect.flatMap(decodeJson(json), seed)
