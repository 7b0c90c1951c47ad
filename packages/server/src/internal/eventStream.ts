/**
 * The environment's events as a Server-Sent Events stream of OpenResponses
 * payloads, resumable and tied to the journal it reads.
 *
 * Each frame's `id:` is `<journal>.<sequence>`. A client that reconnects
 * with a `Last-Event-ID` (or `?journal=&after=`) naming this journal resumes
 * right after that sequence: no gap, no duplicate. A client naming another
 * journal — the server restarted on a new one — first receives a
 * `chorus.stream.reset` frame, then the whole history from sequence 0, so it
 * resets instead of mixing two histories.
 *
 * @internal
 */
import { Event } from "@chorus/core"
import type { Environment, Journal } from "@chorus/core"
import { Effect, Option, Schema, Stream } from "effect"
import * as Crypto from "node:crypto"
import * as OpenResponses from "./openResponses.js"

const encodeJson = Schema.encodeSync(Event.Json)

/**
 * A journal's identity, derived from its first event (the same bytes in every
 * reader of that journal; two journals differ as soon as their first events do
 * — they carry a `Clock` timestamp).
 */
export const journalIdentity = (first: Event.Event): string =>
  Crypto.createHash("sha256").update(encodeJson(first)).digest("base64url").slice(0, 16)

/** The environment's journal identity, or none while it holds no event. */
export const currentIdentity = (
  env: Environment.Service
): Effect.Effect<Option.Option<string>, Journal.JournalError | Journal.JournalCorrupted | Environment.WaitAbandoned> =>
  Effect.gen(function*() {
    if ((yield* env.lastSequence) < 0) return Option.none<string>()
    const first = yield* env.waitFor(() => true, { from: 0 })
    return Option.some(journalIdentity(first))
  })

/** Where a client asks to resume: after `sequence` of `journal` (unknown journal: from `sequence`+1 as is). */
export interface Resume {
  readonly journal: string | undefined
  readonly after: number
}

/** Parses `Last-Event-ID` (`<journal>.<sequence>`); `undefined` when it is not one of ours. */
export const parseEventId = (id: string): Resume | undefined => {
  const match = /^([A-Za-z0-9_-]{1,64})\.(\d{1,15})$/.exec(id)
  return match === null ? undefined : { journal: match[1]!, after: Number(match[2]) }
}

const frame = (name: string, data: unknown, id?: string) =>
  `event: ${name}\n${id === undefined ? "" : `id: ${id}\n`}data: ${JSON.stringify(data)}\n\n`

/**
 * The frames of one connection. Subscribes from sequence 0 (the encoder's
 * output indexes are a fold over the whole history) and sends what the client
 * has not seen.
 */
export const frames = (
  env: Environment.Service,
  resume: Resume
): Stream.Stream<string, Journal.JournalError | Journal.JournalCorrupted> =>
  Stream.unwrapScoped(Effect.map(env.subscribe({ from: 0 }), (subscription) => {
    const encoder = OpenResponses.initial()
    let journal = ""
    let sendFrom = resume.after + 1
    return Stream.concat(
      // Written once subscribed: from then on nothing published is missed.
      Stream.make("retry: 1000\n\n"),
      Stream.mapConcat(subscription.stream, (event) => {
        const out: Array<string> = []
        if (event.sequence === 0 || journal === "") {
          journal = journalIdentity(event)
          if (resume.journal !== undefined && resume.journal !== journal) {
            sendFrom = 0
            out.push(frame("chorus.stream.reset", {
              type: "chorus.stream.reset",
              journal,
              previous_journal: resume.journal,
              reason: "the server now serves another journal: drop what you have and read this stream from the start"
            }))
          }
          out.push(frame("chorus.stream.opened", { type: "chorus.stream.opened", journal, from: sendFrom }))
        }
        const wire = OpenResponses.encode(encoder, event)
        if (event.sequence >= sendFrom) out.push(frame(wire.type, wire, `${journal}.${event.sequence}`))
        return out
      })
    )
  }))
