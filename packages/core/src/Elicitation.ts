/**
 * Elicitation: an MCP server asks a person for input during a call, and a
 * person (or code) answers accept, decline or cancel.
 *
 * The MCP client publishes {@link Event.ElicitationRequested} (keyed by an
 * elicitation id and the call that caused it); a front end shows the message
 * and a form built from `requestedSchema`, and answers with {@link answer}.
 * The MCP side checks who answered and the content ({@link validate}: the
 * schema's defaults applied, enums and bounds checked), then publishes
 * {@link Event.ElicitationResolved} and sends the answer back, or refuses it
 * visibly ({@link Event.ElicitationAnswerRefused}). An interrupted call, or a
 * lost server, ends a pending elicitation with {@link Event.ElicitationCancelled}.
 *
 * @example
 * import { Effect } from "effect"
 * import { Elicitation } from "@chorus/core"
 *
 * // In a front end, when the person submits the form of elicitation "eli_1":
 * const submit = Elicitation.answer("alice", { elicitationId: "eli_1", action: "accept", content: { name: "Ada" } })
 *
 * @since 0.1.0
 */
import { Effect, Either, HashMap, HashSet, Schema } from "effect"
import * as Environment from "./Environment.js"
import * as Event from "./Event.js"
import * as form from "./internal/elicitation/form.js"
import * as Reducer from "./Reducer.js"

/** An answer, as a front end or code gives it. */
export interface Answer {
  readonly elicitationId: string
  readonly action: Event.ElicitationAction
  /** The form's values, for `accept` (omitted fields get the schema's defaults). */
  readonly content?: Event.ElicitationContent | null | undefined
}

/** A pending elicitation, with who asked (the participant that published the request). */
export interface Pending {
  readonly request: Event.ElicitationRequested
  readonly requester: string
}

/** The elicitations of an environment: those waiting for an answer, and those that ended. */
export interface State {
  readonly pending: HashMap.HashMap<string, Pending>
  readonly ended: HashSet.HashSet<string>
}

/** Pending and ended elicitations, folded from the events. */
export const reducer: Reducer.Reducer<State> = Reducer.make<State>(
  { pending: HashMap.empty(), ended: HashSet.empty() },
  (state, event) => {
    const payload = event.payload
    switch (payload._tag) {
      case "ElicitationRequested":
        return { ...state, pending: HashMap.set(state.pending, payload.elicitationId, { request: payload, requester: event.author }) }
      case "ElicitationResolved":
      case "ElicitationCancelled":
        return {
          pending: HashMap.remove(state.pending, payload.elicitationId),
          ended: HashSet.add(state.ended, payload.elicitationId)
        }
      default:
        return state
    }
  }
)

/** The content does not fit the requested schema; lists every problem. */
export class ElicitationContentInvalid extends Schema.TaggedError<ElicitationContentInvalid>()(
  "ElicitationContentInvalid",
  { problems: Schema.Array(Schema.String) }
) {
  override get message() {
    return `The answer does not fit the form: ${this.problems.join("; ")}.`
  }
}

/** Checks content against a requested schema; gives it back with the schema's defaults filled in. */
export const validate = (
  requestedSchema: Readonly<Record<string, unknown>>,
  content: Readonly<Record<string, unknown>>
): Either.Either<Event.ElicitationContent, ElicitationContentInvalid> =>
  Either.mapLeft(form.validate(requestedSchema, content), (problems) => new ElicitationContentInvalid({ problems }))

/**
 * Answers an elicitation as `author`. An answer for an elicitation nobody asked about, or one that already
 * ended, is refused visibly (`ElicitationAnswerRefused`); the MCP side checks the rest.
 */
export const answer = Effect.fn("Elicitation.answer")(function*(author: string, input: Answer) {
  const env = yield* Environment.Environment
  const state = yield* Effect.orDie(env.snapshot(reducer))
  if (!HashMap.has(state.pending, input.elicitationId)) {
    const reason = HashSet.has(state.ended, input.elicitationId) ? "already_answered" : "unknown_request"
    return yield* env.publish(
      author,
      new Event.ElicitationAnswerRefused({ elicitationId: input.elicitationId, by: author, reason, detail: null })
    )
  }
  return yield* env.publish(
    author,
    new Event.ElicitationAnswered({
      elicitationId: input.elicitationId,
      action: input.action,
      content: input.action === "accept" ? input.content ?? {} : null
    })
  )
})
